"""Throughput: many images through ``predict``, and a video end to end.

``test_images``: 32 photos through ``predict`` sequentially (one caller, 2 runtime threads)
against a pipelined path: a pool of 2 threads calling ``predict`` concurrently (estimators are
thread-safe; each call uses 1 runtime thread, so both paths use 2 cores), so that one
image's pre-processing and decoding overlap another's inference.

``test_video``: frames per second end to end with :class:`~xpose.video.FrameSource` (decoding
thread) and :meth:`Estimator.stream` (MoveNet single-pose crop tracking), with the camera's
motion measured (the default) and without (``camera_motion=False``), against the bound set by
inference alone (1000 / median ``backend.run`` ms).

Writes ``results/pytest_throughput.md`` and ``results/pytest_video.md``; asserts no timing.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from xpose.bench import prepared_feeds
from xpose.models import list_models
from xpose.video import FrameSource

from .common import BACKENDS, open_estimator

PRECISION = "fp32"
FRAMES = 60


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("model", list_models())
@pytest.mark.parametrize("mode", ["sequential", "pool-2x1"])
def test_images(benchmark, table, median_ms, closing, photos, model, backend, mode):
    threads = 2 if mode == "sequential" else 1
    est = closing(open_estimator(model, PRECISION, backend, threads=threads))
    benchmark.group = f"throughput {model}"
    if mode == "sequential":

        def work() -> None:
            for photo in photos:
                est.predict(photo)

        benchmark.pedantic(work, rounds=5, warmup_rounds=1)
    else:
        with ThreadPoolExecutor(max_workers=2) as pool:

            def work() -> None:
                list(pool.map(est.predict, photos))

            benchmark.pedantic(work, rounds=5, warmup_rounds=1)
    per_image = median_ms(benchmark) / len(photos)
    table(
        "throughput",
        ["model", "precision", "backend", "mode", "ms per image", "images/s"],
        [model, PRECISION, backend, mode, per_image, 1000.0 / per_image],
    )


def _frames(image: np.ndarray) -> list[np.ndarray]:
    """A short "video": the benchmark frame panned by 2 px per frame."""
    return [np.roll(image, 2 * i, axis=1) for i in range(FRAMES)]


@pytest.mark.parametrize("camera_motion", [True, False])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("model", list_models())
def test_video(benchmark, table, median_ms, closing, image, model, backend, camera_motion):
    est = closing(open_estimator(model, PRECISION, backend))
    frames = _frames(image)
    benchmark.group = f"video {model}"

    def work() -> None:
        with (
            FrameSource(frames, fps=30.0) as source,
            est.stream(camera_motion=camera_motion) as stream,
        ):
            for _, t, frame in source:
                stream.update(frame, t)

    benchmark.pedantic(work, rounds=3, warmup_rounds=1)
    feeds = prepared_feeds(est, image)
    for _ in range(3):
        est.backend.run(feeds)
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        est.backend.run(feeds)
        times.append(time.perf_counter() - t0)
    bound = 1.0 / statistics.median(times)
    fps = FRAMES * 1000.0 / median_ms(benchmark)
    table(
        "video",
        [
            "model",
            "precision",
            "backend",
            "camera motion",
            "end-to-end fps",
            "inference-only fps",
            "share of bound",
        ],
        [model, PRECISION, backend, camera_motion, fps, bound, f"{100 * fps / bound:.0f}%"],
    )
