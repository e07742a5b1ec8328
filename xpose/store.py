"""The model store: converted files plus ``manifest.json`` describing each of them.

Layout under the store folder (``$XPOSE_HOME``, default ``~/.cache/xpose``)::

    manifest.json
    <model>/<model>-<precision>.onnx
    <model>/<model>-<precision>.tflite
    sources/         the verified TF.js sources (kept so a re-run needs no download)
    savedmodel/      intermediate TF SavedModels

Every write goes through :class:`xpose.atomic.AtomicFile` (temporary file, then rename): an
interrupted or failed write leaves the store as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from xpose.atomic import AtomicFile
from xpose.errors import ModelFileError, ModelNotConvertedError

__all__ = [
    "FORMATS",
    "MANIFEST",
    "PRECISIONS",
    "Manifest",
    "ModelFileError",
    "ModelNotConvertedError",
    "atomic_path",
    "default_store",
    "locate",
    "relpath",
    "resolve_store",
    "sha256_file",
    "write_json_atomic",
]

PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8")
FORMATS: tuple[str, ...] = ("onnx", "tflite")
MANIFEST = "manifest.json"

#: Canonical backend name -> the store format it reads by catalogue name (``savedmodel``: the
#: SavedModel folder of :func:`savedmodel_dir`).
BACKEND_FORMATS: dict[str, str] = {
    "onnxruntime": "onnx",
    "tflite": "tflite",
    "tensorflow": "savedmodel",
    "openvino": "onnx",
    "opencv": "onnx",
}


def default_store() -> Path:
    """``$XPOSE_HOME``, else ``$XDG_CACHE_HOME/xpose``, else ``~/.cache/xpose``."""
    env = os.environ.get("XPOSE_HOME")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    return (Path(cache) if cache else Path.home() / ".cache") / "xpose"


def resolve_store(store: str | os.PathLike[str] | None) -> Path:
    return default_store() if store is None else Path(store).expanduser()


def relpath(model: str, precision: str, fmt: str) -> str:
    """Where a converted file lives inside the store, e.g. ``posenet/posenet-int8.tflite``."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    return f"{model}/{model}-{precision}.{fmt}"


def savedmodel_dir(name: str, store: str | os.PathLike[str] | None = None) -> Path:
    """The store's SavedModel folder ``savedmodel/<name>`` (built by ``xpose convert``)."""
    return resolve_store(store) / "savedmodel" / name


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` if the block succeeds.

    On any exception, Ctrl-C included, the temporary file is removed and ``target`` is left as
    it was (a half-written model is never kept). See :mod:`xpose.atomic`.
    """
    with AtomicFile(target) as file:
        yield file.path


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


class Manifest:
    """``manifest.json`` of a store: relative path -> entry (model, precision, format, sha256...)."""

    def __init__(self, store: Path, files: dict[str, dict[str, Any]] | None = None) -> None:
        self.store = Path(store)
        self.files: dict[str, dict[str, Any]] = files or {}

    @classmethod
    def load(cls, store: str | os.PathLike[str] | None = None) -> Manifest:
        root = resolve_store(store)
        path = root / MANIFEST
        if not path.exists():
            return cls(root)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ModelFileError(
                f"{path} is unreadable ({err}); delete it and run `xpose convert` again"
            ) from err
        files = data.get("files", {}) if isinstance(data, dict) else None
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) for k, v in files.items()
        ):
            raise ModelFileError(
                f"{path} is not a model store manifest (expected a JSON object whose 'files' maps "
                "paths to entries); delete it and run `xpose convert` again"
            )
        return cls(root, dict(files))

    def save(self) -> None:
        write_json_atomic(self.store / MANIFEST, {"format": 1, "files": self.files})

    def entry(self, rel: str) -> dict[str, Any] | None:
        return self.files.get(rel)

    def is_current(self, rel: str, **expected: Any) -> bool:
        """True when ``rel`` exists, its sha256 matches, and its entry has the ``expected`` values."""
        entry = self.files.get(rel)
        path = self.store / rel
        if entry is None or not path.is_file():
            return False
        if any(entry.get(k) != v for k, v in expected.items()):
            return False
        return path.stat().st_size == entry.get("size") and sha256_file(path) == entry.get("sha256")


def convert_command(model: str, precision: str, store: Path | None = None) -> str:
    cmd = f"xpose convert --models {model} --precisions {precision}"
    if store is not None and store != default_store():
        cmd += f" --store {store}"
    return cmd


def locate(
    model: str,
    precision: str,
    fmt: str,
    store: str | os.PathLike[str] | None = None,
    verify: bool = True,
) -> Path:
    """The path of a converted file, checked against its manifest entry.

    Raises:
        ModelNotConvertedError: not converted yet (a ``FileNotFoundError``; the message gives
            the command that converts it).
        ModelFileError: the file's sha256 no longer matches the manifest (corrupt or tampered).
    """
    root = resolve_store(store)
    rel = relpath(model, precision, fmt)
    path = root / rel
    manifest = Manifest.load(root)
    entry = manifest.entry(rel)
    if entry is None or not path.is_file():
        raise ModelNotConvertedError(
            f"{model} ({precision}, {fmt}) is not in the model store {root}; convert it with "
            f"`{convert_command(model, precision, root if store is not None else None)}`"
        )
    if verify:
        digest = sha256_file(path)
        if digest != entry.get("sha256"):
            raise ModelFileError(
                f"{path}: sha256 {digest} does not match the manifest ({entry.get('sha256')}); "
                f"the file is corrupt or was changed. Rebuild it with "
                f"`{convert_command(model, precision, root if store is not None else None)}`"
            )
    return path
