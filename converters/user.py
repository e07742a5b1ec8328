"""Convert a user's own TFLite file or SavedModel folder (e.g. TF Hub's MoveNet) into ONNX.

The ONNX file keeps the source's signature names and is checked against the source on real
photos (every output, elementwise) before it is renamed into place.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from converters.errors import ConversionError, ParityError
from converters.samples import augment, person_views
from converters.to_onnx import DEFAULT_OPSET, check_and_save, saved_model_to_onnx, tflite_to_onnx
from xpose.backends import open_backend
from xpose.store import atomic_path

log = logging.getLogger(__name__)

#: Elementwise tolerance on every output (same arithmetic in both runtimes): absolute + relative.
ATOL = 1e-4
RTOL = 1e-3


def _feeds_for(backend, views: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
    import cv2

    feeds = []
    for view in views:
        feed = {}
        for t in backend.inputs:
            if len(t.shape) != 4 or t.shape[3] != 3:
                raise ConversionError(
                    f"input {t.name} has shape {t.shape}; only image models with one "
                    "[1, H, W, 3] input can be checked on photos"
                )
            h = t.shape[1] or 256
            w = t.shape[2] or 256
            img = cv2.resize(view, (w, h), interpolation=cv2.INTER_AREA)
            if np.issubdtype(t.dtype, np.floating):
                arr = img.astype(np.float32) / 127.5 - 1.0
            else:
                arr = img.astype(t.dtype)
            feed[t.name] = arr[None]
        feeds.append(feed)
    return feeds


def convert_to_onnx(src: str | Path, dst: str | Path, opset: int = DEFAULT_OPSET) -> Path:
    """Convert ``src`` (a ``.tflite`` file or a SavedModel folder) into the ONNX file ``dst``.

    Raises:
        FileNotFoundError: ``src`` does not exist.
        ConversionError: tf2onnx failed, or ``onnx.checker`` refused the result.
        ParityError: the ONNX file's outputs differ from the source's beyond tolerance.
    """
    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise FileNotFoundError(f"{src} does not exist")
    if src.is_dir():
        source_backend = "tensorflow"
        model = saved_model_to_onnx(src, opset)
    elif src.suffix == ".tflite":
        source_backend = "tflite"
        model = tflite_to_onnx(src, opset)
    else:
        raise ValueError(f"{src}: expected a .tflite file or a SavedModel folder")
    views = augment(person_views(), 8)
    with atomic_path(dst) as tmp:
        tmp_onnx = tmp.with_suffix(".onnx")
        try:
            check_and_save(model, tmp_onnx)
            with (
                open_backend(source_backend, src) as ref,
                open_backend("onnxruntime", tmp_onnx) as new,
            ):
                for feed in _feeds_for(ref, views):
                    want, got = ref.run(feed), new.run(feed)
                    for name, value in want.items():
                        if name not in got:
                            raise ConversionError(f"the ONNX file lacks output {name!r}")
                        if not np.allclose(got[name], value, atol=ATOL, rtol=RTOL):
                            diff = float(np.abs(got[name] - value).max())
                            raise ParityError(
                                f"{dst.name}: output {name!r} differs from {src.name} by {diff:.2e}"
                            )
            tmp_onnx.replace(tmp)
        finally:
            tmp_onnx.unlink(missing_ok=True)
    return dst
