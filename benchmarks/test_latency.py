"""Latency of every model x precision x backend: one inference, and the whole ``predict``.

Batch 1, 2 threads, on the 640x480 benchmark frame. Writes ``results/pytest_latency.md``.
"""

from __future__ import annotations

import pytest

from xpose.bench import prepared_feeds
from xpose.models import list_models
from xpose.store import PRECISIONS

from .common import BACKENDS, open_estimator

COLUMNS = ["model", "precision", "backend", "what", "median ms", "rounds"]
ROUNDS = 30


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("model", list_models())
@pytest.mark.parametrize("what", ["inference", "predict"])
def test_latency(benchmark, table, median_ms, closing, image, model, precision, backend, what):
    est = closing(open_estimator(model, precision, backend))
    benchmark.group = f"{model} {precision} {what}"
    if what == "inference":
        feeds = prepared_feeds(est, image)
        benchmark.pedantic(est.backend.run, args=(feeds,), rounds=ROUNDS, warmup_rounds=3)
    else:
        benchmark.pedantic(est.predict, args=(image,), rounds=ROUNDS, warmup_rounds=3)
    table("latency", COLUMNS, [model, precision, backend, what, median_ms(benchmark), ROUNDS])
