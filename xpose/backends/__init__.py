"""Runtime backends behind one small protocol, chosen by name.

The registry maps a canonical name to ``"module:Class"``; the class, and the runtime it wraps,
are imported only when that backend is opened, so importing this package imports none of
onnxruntime, ai_edge_litert or tensorflow.

>>> from xpose.backends import open_backend
>>> with open_backend("ort", "model.onnx", threads=2) as backend:  # doctest: +SKIP
...     outputs = backend.run({"x": image})
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from xpose.backends.base import Backend, TensorInfo
from xpose.errors import MissingExtraError

__all__ = [
    "Backend",
    "MissingExtraError",
    "TensorInfo",
    "backend_class",
    "backend_label",
    "backend_status",
    "canonical_backend",
    "list_backends",
    "open_backend",
    "split_device",
]

#: Canonical backend name -> ``"module:Class"``, in the order ``list_backends`` reports them.
_BACKENDS: dict[str, str] = {
    "onnxruntime": "xpose.backends.onnxruntime:OnnxRuntimeBackend",
    "tflite": "xpose.backends.tflite:TFLiteBackend",
    "tensorflow": "xpose.backends.tensorflow:TensorFlowBackend",
    "openvino": "xpose.backends.openvino:OpenVINOBackend",
    "opencv": "xpose.backends.opencv:OpenCVBackend",
}

#: Alias -> canonical name.
_ALIASES: dict[str, str] = {
    "ort": "onnxruntime",
    "onnx": "onnxruntime",
    "litert": "tflite",
    "tfl": "tflite",
    "tf": "tensorflow",
    "ov": "openvino",
    "cv2": "opencv",
    "cv": "opencv",
}


def list_backends() -> list[str]:
    """Return every canonical backend name, installed or not (see ``backend_status``)."""
    return list(_BACKENDS)


def canonical_backend(name: str) -> str:
    """Return the canonical name for a backend name or alias (case-insensitive).

    Raises:
        ValueError: an unknown name; the message lists the valid names and aliases.
        TypeError: ``name`` is not a string.
    """
    if not isinstance(name, str):
        raise TypeError(f"backend name must be a string, got {type(name).__name__}")
    key = name.strip().lower()
    if key in _BACKENDS:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    aliases = ", ".join(f"{alias} -> {target}" for alias, target in _ALIASES.items())
    raise ValueError(
        f"unknown backend {name!r}; valid backends: {list(_BACKENDS)} (aliases: {aliases})"
    )


def split_device(label: str) -> tuple[str, str | None]:
    """Split a ``"backend:device"`` label (as ``xpose parity`` and ``xpose bench`` take it).

    >>> split_device("ov:GPU")
    ('openvino', 'GPU')
    >>> split_device("onnxruntime")
    ('onnxruntime', None)

    Returns:
        The canonical backend name, and the device (``None`` when none is given).

    Raises:
        ValueError: an unknown backend name; the message lists the valid ones.
    """
    if not isinstance(label, str):
        raise TypeError(f"backend label must be a string, got {type(label).__name__}")
    name, _, device = label.partition(":")
    return canonical_backend(name), device.strip() or None


def backend_label(label: str) -> str:
    """The canonical form of a ``"backend"`` or ``"backend:device"`` label."""
    name, device = split_device(label)
    return name if device is None else f"{name}:{device}"


def backend_class(name: str) -> type[Any]:
    """Import and return the class of a backend (by name or alias).

    Importing the class does not import its runtime; opening it does.
    """
    module_name, _, class_name = _BACKENDS[canonical_backend(name)].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def backend_status() -> dict[str, str | None]:
    """Return, per canonical backend, ``None`` when its runtime is installed, else why not.

    The reason names the package and the pip extra to install. Runtimes are looked up, not
    imported, so this is cheap and imports no tensorflow.
    """
    return {
        name: backend_class(name).requirement.missing(f"the {name!r} backend") for name in _BACKENDS
    }


def open_backend(
    name: str, path: str | Path, *, threads: int | None = None, **options: Any
) -> Backend:
    """Open a model file on a backend chosen by name or alias.

    Args:
        name: ``"onnxruntime"``, ``"tflite"``, ``"tensorflow"``, ``"openvino"``, ``"opencv"``
            or an alias (``ort``, ``onnx``, ``litert``, ``tfl``, ``tf``, ``ov``, ``cv2``, ``cv``).
        path: The model file (``.onnx``, ``.tflite``) or SavedModel directory.
        threads: Threads for the runtime; ``None`` for its default.
        **options: Backend-specific keyword arguments (e.g. ``providers`` or ``device`` for
            onnxruntime, ``device`` and ``hint`` for openvino, ``device`` for opencv,
            ``signature`` for tflite and tensorflow).

    Returns:
        The opened backend; use it as a context manager or call ``close()``.

    Raises:
        ValueError: an unknown backend name, or a file the backend cannot read.
        FileNotFoundError: ``path`` does not exist.
        MissingExtraError: the backend's runtime is not installed; the message names the extra.
    """
    return backend_class(name)(path, threads=threads, **options)
