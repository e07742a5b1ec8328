"""Helpers shared by the benchmark suites (imported by them and by ``conftest.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import xpose
from xpose import store as _store

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
