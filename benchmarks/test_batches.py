"""Batches: images per second at batch 1, 4 and 16, beside the inference-only bound.

For each model and backend (fp32, 2 runtime threads), three ways of handling ``IMAGES`` copies
of the 640x480 benchmark frame are timed at each batch size, interleaved round by round so
that they share the machine's noise:

``inference``
    ``backend.run`` on the prepared batch alone: the bound the others are measured against;
``predict_batch``
    :meth:`~xpose.Estimator.predict_batch` on the decoded frames (letterbox, cast, inference,
    decoding);
``folder``
    :func:`xpose.pipeline.predict_files` on the frames written as JPEG files: decoding and
    letterboxing in 2 threads, read ahead, then inference and decoding of the outputs on the
    calling thread (what ``xpose predict FOLDER`` runs).

The table (``results/pytest_batches.md``) gives images per second, the folder's share of the
bound at the same batch, and the gain per image of each batch over batch 1, in wall-clock time
and in the CPU time of inference (all threads of the process: on a shared machine it shows
whether a batch does less work per image when the wall clock is dominated by other load). The
TFLite files take a batch of 1, so their batches run image by image.

Reading a file (JPEG decoding and letterbox) costs CPU time that inference cannot use when it
already keeps every core busy; the ``CPU ceiling`` is the most images per second the cores can
give when each costs the inference's CPU time plus its reading's (measured alone, one file
after another): ``cores * 1000 / (inference CPU ms + reading CPU ms)``. A folder near
``min(bound, ceiling)`` overlaps its reading with inference as well as the cores allow.

Goals of the issue that set this up: the folder at 90% or more of the bound, and batches on
onnxruntime CPU at least 1.2x faster per image than batch 1. The folder's budget is asserted
(after the rows are written); the batch gain is reported only, since the issue accepts a CPU
that gains nothing from batches (the table says so).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from xpose.models import list_models
from xpose.pipeline import predict_files, prepare_file

from .common import BACKENDS, open_estimator

PRECISION = "fp32"
BATCHES = (1, 4, 16)
IMAGES = 16
ROUNDS = 9
FOLDER_GOAL = 0.9
BATCH_GOAL = 1.2


def _seconds(work: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (this process, every thread) of ``work()``."""
    t0, c0 = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - t0, time.process_time() - c0


@pytest.fixture(scope="module")
def frame_files(tmp_path_factory: pytest.TempPathFactory, image: np.ndarray) -> list[Path]:
    folder = tmp_path_factory.mktemp("frames")
    paths = []
    for i in range(IMAGES):
        path = folder / f"frame{i:02d}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(np.roll(image, 2 * i, axis=1), cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("model", list_models())
def test_batches(benchmark, table, closing, image, frame_files, model, backend):
    est = closing(open_estimator(model, PRECISION, backend))
    frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in frame_files]
    size = est.head.input_size(frames[0].shape[:2])
    feeds = {}
    for n in BATCHES:
        step = n if est.batch_limit is None else min(n, est.batch_limit)
        x, _ = est.head.prepare_batch(frames[:step], size)
        feeds[n] = est.binding.feed(x)

    def infer(n: int) -> None:
        step = len(next(iter(feeds[n].values())))
        for _ in range(IMAGES // step):
            est.backend.run(feeds[n])

    ways = {
        "inference": infer,
        "predict_batch": lambda n: est.predict_batch(frames, batch_size=n),
        "folder": lambda n: list(predict_files(est, frame_files, batch_size=n)),
    }
    for n in BATCHES:  # warm up every shape
        for way in ways.values():
            way(n)
    times: dict[tuple[str, int], list[float]] = {}
    cpu: dict[int, list[float]] = {}
    for _ in range(ROUNDS):
        for n in BATCHES:
            for name, way in ways.items():
                wall, used = _seconds(lambda way=way, n=n: way(n))
                times.setdefault((name, n), []).append(wall)
                if name == "inference":
                    cpu.setdefault(n, []).append(used)
    rate = {key: IMAGES / statistics.median(t) for key, t in times.items()}
    cpu_ms = {n: 1000.0 * statistics.median(t) / IMAGES for n, t in cpu.items()}
    reading = [
        _seconds(lambda: [prepare_file(p, est.head) for p in frame_files])[1] for _ in range(3)
    ]
    read_ms = 1000.0 * statistics.median(reading) / IMAGES
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    benchmark.group = f"batches {model}"
    benchmark.pedantic(lambda: ways["folder"](BATCHES[-1]), rounds=1, warmup_rounds=0)
    for n in BATCHES:
        share = rate[("folder", n)] / rate[("inference", n)]
        gain = rate[("inference", n)] / rate[("inference", 1)]
        ceiling = 1000.0 * (cores or 1) / (cpu_ms[n] + read_ms)
        reachable = min(rate[("inference", n)], ceiling)
        table(
            "batches",
            [
                "model",
                "backend",
                "batch",
                "inference img/s",
                "predict_batch img/s",
                "folder img/s",
                "folder / bound",
                "reading CPU ms/img",
                "CPU ceiling img/s",
                "folder / min(bound, ceiling)",
                "inference gain vs batch 1",
                "inference CPU ms/img",
                "CPU gain vs batch 1",
                "goals",
            ],
            [
                model,
                backend,
                n,
                rate[("inference", n)],
                rate[("predict_batch", n)],
                rate[("folder", n)],
                f"{100 * share:.0f}%",
                read_ms,
                ceiling,
                f"{100 * rate[('folder', n)] / reachable:.0f}%",
                f"{gain:.2f}x",
                cpu_ms[n],
                f"{cpu_ms[1] / cpu_ms[n]:.2f}x",
                _goals(share, gain, n, backend),
            ],
        )

    missed = [
        f"batch {n}: {100 * rate[('folder', n)] / rate[('inference', n)]:.0f}%"
        for n in BATCHES
        if rate[("folder", n)] < FOLDER_GOAL * rate[("inference", n)]
    ]
    assert not missed, (
        f"{model} on {backend}: a folder reaches less than {100 * FOLDER_GOAL:.0f}% of the "
        f"inference-only bound ({', '.join(missed)})"
    )


def _goals(share: float, gain: float, n: int, backend: str) -> str:
    said = ["folder " + ("met" if share >= FOLDER_GOAL else "missed")]
    if n > 1 and backend == "onnxruntime":
        said.append("batch gain " + ("met" if gain >= BATCH_GOAL else "missed"))
    return ", ".join(said)
