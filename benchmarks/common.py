"""Helpers shared by the benchmark suites (imported by them and by ``conftest.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import xpose
from xpose import store as _store
from xpose.models.posenet import _TO_UNIT, PoseNetHead
from xpose.preprocess import Letterbox, interpolation

RESULTS = Path(__file__).resolve().parent / "results"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
THREADS = 2
BACKENDS = ("onnxruntime", "tflite")
FORMATS = {"onnxruntime": "onnx", "tflite": "tflite"}


def open_estimator(model: str, precision: str, backend: str, **kw: Any) -> xpose.Estimator:
    """Load from the store, or skip with "run `xpose convert` first"."""
    try:
        _store.locate(model, precision, FORMATS[backend])
    except FileNotFoundError as err:
        pytest.skip(f"run `xpose convert` first: {err}")
    if backend == "tflite":
        pytest.importorskip("ai_edge_litert", reason="the tflite backend needs xpose[tflite]")
    kw.setdefault("threads", THREADS)
    return xpose.load(model, backend=backend, precision=precision, **kw)


def one_resize_prepare(head: Any, image: np.ndarray, lb: Letterbox) -> np.ndarray:
    """The ``prepare`` xpose used before the halving letterbox: one ``cv2.resize`` by the
    letterbox's scale into its place (``INTER_AREA`` below 0.5, bilinear above), then the cast
    (PoseNet's by numpy indexing). The baseline of the pre/post and AP-resolution benchmarks."""
    out = np.zeros((lb.height, lb.width, 3), np.uint8)
    y0, x0, h, w = lb.placement()
    view = out[y0 : y0 + h, x0 : x0 + w]
    method = interpolation(lb.scale)
    cv2.resize(image, (0, 0), dst=view, fx=lb.scale, fy=lb.scale, interpolation=method)
    if isinstance(head, PoseNetHead):
        return _TO_UNIT[out[None]]
    return head.cast(out[None])
