"""Pre- and post-processing as a share of ``predict``, on the 640x480 benchmark frame.

For every model x precision x backend, timed in the same rounds (so that they share the
machine's noise): the head's ``prepare`` (letterbox: halvings by area, then one bilinear
resize; then the cast), the ``decode``, the whole ``predict``, and, for comparison, the
letterbox xpose used before (one ``cv2.resize`` by the scale, ``INTER_AREA`` below 0.5,
bilinear above; PoseNet's scaling by numpy indexing) followed by the same cast. The share is
``(prepare + decode) / predict``; the issue that set this up asks for 10% or less, and each
row asserts that budget after writing itself into ``results/pytest_prepost.md`` (a ratio
measured in one run, not a time).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest

from xpose.models import list_models
from xpose.store import PRECISIONS

from .common import BACKENDS, one_resize_prepare, open_estimator

ROUNDS = 60
GOAL = 0.10


def _ms(work: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    work()
    return 1000.0 * (time.perf_counter() - t0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("model", list_models())
def test_prepost_share(benchmark, table, closing, image, model, precision, backend):
    est = closing(open_estimator(model, precision, backend))
    head = est.head
    x, lb = head.prepare(image)
    outputs = est.binding.results(est.backend.run(est.binding.feed(x)))

    def one_resize() -> object:
        return one_resize_prepare(head, image, lb)

    parts = {
        "prepare": lambda: head.prepare(image),
        "one-resize prepare": one_resize,
        "decode": lambda: head.decode(outputs, lb),
        "predict": lambda: est.predict(image),
    }
    for work in parts.values():
        work()
    times: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(ROUNDS):
        for name, work in parts.items():
            times[name].append(_ms(work))
    med = {name: statistics.median(t) for name, t in times.items()}
    benchmark.group = f"predict {model}"
    benchmark.pedantic(parts["predict"], rounds=5, warmup_rounds=1)
    share = (med["prepare"] + med["decode"]) / med["predict"]
    before = (med["one-resize prepare"] + med["decode"]) / (
        med["predict"] - med["prepare"] + med["one-resize prepare"]
    )
    table(
        "prepost",
        [
            "model",
            "precision",
            "backend",
            "prepare ms",
            "one-resize prepare ms",
            "decode ms",
            "predict ms",
            "pre+post share",
            "share with one resize",
            "goal <= 10%",
        ],
        [
            model,
            precision,
            backend,
            med["prepare"],
            med["one-resize prepare"],
            med["decode"],
            med["predict"],
            f"{100 * share:.1f}%",
            f"{100 * before:.1f}%",
            "met" if share <= GOAL else "missed",
        ],
    )
    # the budget, asserted here (never in tests/) once the row is in the table
    assert share <= GOAL, (
        f"{model} {precision} on {backend}: prepare + decode are {100 * share:.1f}% of "
        f"predict, over the {100 * GOAL:.0f}% budget"
    )
