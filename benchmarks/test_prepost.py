"""Pre- and post-processing as a share of ``predict``, on the 640x480 benchmark frame.

For every model x precision x backend, timed in the same rounds (so that they share the
machine's noise): the head's ``prepare`` (letterbox in one resize, then one cast), the
``decode``, the whole ``predict``, and, for comparison, the two-pass letterbox xpose used
before (``INTER_AREA`` to a near size, then a bilinear ``warpAffine``) followed by the same
cast. The share is ``(prepare + decode) / predict``; the issue that set this up asks for 10%
or less. Writes ``results/pytest_prepost.md``; asserts no timing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest

from xpose.models import list_models
from xpose.preprocess import _resample
from xpose.store import PRECISIONS

from .common import BACKENDS, open_estimator

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

    def two_pass() -> object:
        canvas = _resample(image, lb.scale, lb.scale, lb.pad_x, lb.pad_y, (lb.height, lb.width))
        return head.cast(canvas[None])

    parts = {
        "prepare": lambda: head.prepare(image),
        "two-pass prepare": two_pass,
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
    before = (med["two-pass prepare"] + med["decode"]) / (
        med["predict"] - med["prepare"] + med["two-pass prepare"]
    )
    table(
        "prepost",
        [
            "model",
            "precision",
            "backend",
            "prepare ms",
            "two-pass prepare ms",
            "decode ms",
            "predict ms",
            "pre+post share",
            "share with two-pass",
            "goal <= 10%",
        ],
        [
            model,
            precision,
            backend,
            med["prepare"],
            med["two-pass prepare"],
            med["decode"],
            med["predict"],
            f"{100 * share:.1f}%",
            f"{100 * before:.1f}%",
            "met" if share <= GOAL else "missed",
        ],
    )
