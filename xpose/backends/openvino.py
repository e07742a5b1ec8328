"""The OpenVINO backend: runs the same ``.onnx`` files on OpenVINO (extra ``openvino``).

OpenVINO reads ONNX directly; no conversion to its own IR is needed. One compiled model is
shared by all threads; each calling thread gets its own infer request (an infer request must
not be used by two threads at once), so threads run in parallel.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xpose.backends.base import (
    BackendBase,
    PerThread,
    Requirement,
    TensorInfo,
    check_feeds,
    check_threads,
)

__all__ = ["DEVICES", "HINTS", "OpenVINOBackend"]

logger = logging.getLogger(__name__)

REQUIREMENT = Requirement(module="openvino", package="openvino", extra="openvino")

#: ``hint`` option -> OpenVINO's ``PERFORMANCE_HINT``.
HINTS: dict[str, str] = {"latency": "LATENCY", "throughput": "THROUGHPUT"}

#: Devices named in the error messages; OpenVINO also takes ``GPU.1``, ``AUTO:GPU,CPU``, ...
DEVICES: tuple[str, ...] = ("CPU", "GPU", "NPU", "AUTO")

#: Virtual devices that pick or combine real ones; they are not in ``available_devices``.
_VIRTUAL_DEVICES = ("AUTO", "MULTI", "HETERO", "BATCH")

#: The default ``inference_precision``: f32 everywhere, so that every device computes what
#: onnxruntime computes. OpenVINO's own default is bf16 on CPUs with bf16 support and f16 on
#: GPUs, which moves keypoints.
DEFAULT_INFERENCE_PRECISION = "f32"


def _import_openvino() -> Any:
    return REQUIREMENT.load("the 'openvino' backend")


def _core() -> Any:
    """A new ``openvino.Core`` (tests replace this with a fake that reports other devices)."""
    return _import_openvino().Core()


def _tensor_info(port: Any) -> TensorInfo:
    """Convert a compiled model's input or output port (dynamic dims -> ``None``)."""
    shape = tuple(int(d.get_length()) if d.is_static else None for d in port.get_partial_shape())
    return TensorInfo(
        name=port.get_any_name(), shape=shape, dtype=np.dtype(port.get_element_type().to_dtype())
    )


def check_device(device: str, available: list[str]) -> str:
    """Validate an OpenVINO device name against the devices this machine has.

    ``"GPU"`` matches ``"GPU.0"``, ``"GPU.1"``, ...; virtual devices (``AUTO``, ``MULTI:...``,
    ``HETERO:...``, ``BATCH:...``) are passed on for OpenVINO to resolve.

    Raises:
        TypeError: ``device`` is not a string.
        ValueError: the device is not present; the message lists the ones that are.
    """
    if not isinstance(device, str) or not device.strip():
        raise TypeError(f"device must be a non-empty string such as 'CPU', got {device!r}")
    name = device.strip().upper()
    if name.split(":")[0] in _VIRTUAL_DEVICES:
        return name
    family = name.split(".")[0]
    if name in available or (name == family and any(d.split(".")[0] == family for d in available)):
        return name
    raise ValueError(
        f"OpenVINO device {device!r} is not available on this machine; it has {available} "
        f"(a GPU or NPU needs its driver installed); use device='CPU'"
    )


class OpenVINOBackend(BackendBase):
    """An ``.onnx`` file compiled by OpenVINO.

    Args:
        path: The ``.onnx`` file.
        threads: ``INFERENCE_NUM_THREADS`` (CPU); ``None`` lets OpenVINO choose.
        device: ``"CPU"`` (default), ``"GPU"``, ``"NPU"``, ``"AUTO"`` or any OpenVINO device
            string; an absent device is an error listing the ones present.
        hint: ``"latency"`` (default: one request at a time, as ``predict`` runs) or
            ``"throughput"`` (several streams, for many threads calling ``run`` at once).
        inference_precision: OpenVINO's ``INFERENCE_PRECISION_HINT``: ``"f32"`` (default, the
            same numbers as onnxruntime), ``"f16"`` or ``"bf16"`` (faster where the device has
            them; keypoints move), or ``None`` for the device's own default.
        config: more OpenVINO properties, passed to ``compile_model`` as given (they win over
            the ones above).

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: the file is not a valid ONNX model, an absent device, an unknown hint.
        MissingExtraError: openvino is not installed (``pip install 'xpose[openvino]'``).
    """

    name = "openvino"
    requirement = REQUIREMENT

    def __init__(
        self,
        path: str | Path,
        threads: int | None = None,
        device: str = "CPU",
        hint: str = "latency",
        inference_precision: str | None = DEFAULT_INFERENCE_PRECISION,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(path)
        threads = check_threads(threads)
        _import_openvino()
        if not self.path.is_file():
            raise FileNotFoundError(f"no ONNX model file at {self.path}")
        if hint not in HINTS:
            raise ValueError(f"unknown OpenVINO hint {hint!r}; valid: {list(HINTS)}")
        core = _core()
        self.device = check_device(device, list(core.available_devices))
        properties: dict[str, Any] = {"PERFORMANCE_HINT": HINTS[hint]}
        if threads is not None:
            properties["INFERENCE_NUM_THREADS"] = threads
        if inference_precision is not None:
            properties["INFERENCE_PRECISION_HINT"] = inference_precision
        properties.update(config or {})
        try:
            model = core.read_model(str(self.path))
        except RuntimeError as err:
            raise ValueError(
                f"{self.path} is not a valid ONNX model ({str(err).splitlines()[0]}); it may be "
                "truncated or corrupt: re-run `xpose convert` to rebuild it"
            ) from err
        try:
            self._compiled = core.compile_model(model, self.device, properties)
        except RuntimeError as err:
            raise ValueError(
                f"OpenVINO cannot compile {self.path} for device {self.device!r} with "
                f"{properties}: {str(err).splitlines()[0]}"
            ) from err
        self.properties: dict[str, Any] = properties
        self.inputs = tuple(_tensor_info(port) for port in self._compiled.inputs)
        self.outputs = tuple(_tensor_info(port) for port in self._compiled.outputs)
        self._requests: PerThread[Any] = PerThread(self._compiled.create_infer_request)
        logger.debug("OpenVINO model %s on %s with %s", self.path, self.device, properties)

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """:meth:`~xpose.backends.Backend.run` on the calling thread's infer request; the outputs
        are copies owned by the caller."""
        self._check_open()
        checked = check_feeds(feeds, self.inputs)
        request = self._requests.get()
        values = request.infer(checked, share_outputs=False).to_tuple()
        return {info.name: np.asarray(v) for info, v in zip(self.outputs, values, strict=True)}

    def _release(self) -> None:
        self._requests.clear()
        del self._compiled
