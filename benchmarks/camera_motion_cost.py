"""What following the camera costs in video mode, measured side by side.

Usage (from the project root, with the converted store in ``$XPOSE_HOME``)::

    python -m benchmarks.camera_motion_cost [--frames 60] [--repeat 3]

Two streams of one estimator, one with ``camera_motion=True`` (the default) and one without,
take the same frames alternately (the benchmark frame panned by 2 px a frame), so both share
the machine's noise; the medians of ``stream.update`` per frame go into
``results/camera_motion_cost.md``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import xpose
from xpose.bench import bench_image, cpu_name, versions
from xpose.store import atomic_path

from .common import BACKENDS, RESULTS

MODELS = ("movenet-lightning", "movenet-thunder", "movenet-multipose", "posenet")


def measure(model: str, backend: str, frames: list[np.ndarray], repeat: int) -> tuple[float, float]:
    """Median ms per frame of ``stream.update`` with and without camera motion."""
    with xpose.load(model, backend=backend, precision="fp32", threads=2) as est:
        streams = {True: est.stream(camera_motion=True), False: est.stream(camera_motion=False)}
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(repeat):
            for frame in frames:
                for on, stream in streams.items():
                    t0 = time.perf_counter()
                    stream.update(frame)
                    times[on].append(time.perf_counter() - t0)
    skip = 5  # the first frames start the crop and the filters
    return (
        1000.0 * float(np.median(times[True][skip:])),
        1000.0 * float(np.median(times[False][skip:])),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    image = bench_image()
    frames = [np.roll(image, 2 * i, axis=1) for i in range(args.frames)]
    rows = []
    for model in MODELS:
        for backend in BACKENDS:
            on, off = measure(model, backend, frames, args.repeat)
            rows.append(
                f"| {model} | {backend} | {on:.2f} | {off:.2f} | {on - off:+.2f} | {on / off:.2f} |"
            )
            print(rows[-1])
    lines = [
        "# Video mode: the cost of following the camera",
        "",
        f"- CPU: {cpu_name()}; " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        f"- `python -m benchmarks.camera_motion_cost --frames {args.frames} --repeat "
        f"{args.repeat}`: fp32, 2 threads, the 640x480 benchmark frame panned by 2 px a frame, "
        "two streams of one estimator updated alternately; medians of `stream.update`, ms",
        "",
        "| model | backend | camera_motion=True | False | cost ms | ratio |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    out = RESULTS / "camera_motion_cost.md"
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(out)


if __name__ == "__main__":
    main()
