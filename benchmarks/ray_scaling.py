"""Images per second of ``xpose predict``'s Ray engine (1 and 2 actors) against the local engine.

Run from the project root (needs ``pip install 'xpose[ray]'`` and a converted store)::

    XPOSE_HOME=/path/to/store python benchmarks/ray_scaling.py [--images 100] [--repeat 4]

Every engine reads the same folder of real-photo JPEGs (made from the shared COCO photos and
``tests/data``, 320 to 640 px) from disk, predicts and returns the records, as ``xpose predict
--out`` does. Two sizes are timed: ``--images`` and ``--repeat`` times as many (the same files
copied), so the start-up cost (Ray actors loading the model) and the steady rate can be told
apart: steady rate = extra images / extra seconds. Each time is the best of 2 runs. Ray itself is started once, outside the
timings (its start time is reported on its own). The table goes to
``benchmarks/results/ray_scaling.md``; nothing is asserted.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "coco_val2017"
RESULTS = ROOT / "benchmarks" / "results"
MODEL, BACKEND, PRECISION = "movenet-lightning", "onnxruntime", "fp32"


def make_images(folder: Path, count: int) -> None:
    """``count`` JPEGs: crops, flips and resizes of the real photos."""
    from xpose.preprocess import to_rgb_uint8

    photos = [
        to_rgb_uint8(p)
        for p in sorted(SHARED.glob("*.jpg")) + sorted((ROOT / "tests" / "data").glob("*.png"))
    ]
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        ch, cw = int(h * rng.uniform(0.7, 1.0)), int(w * rng.uniform(0.7, 1.0))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = photo[y : y + ch, x : x + cw]
        if i % 2:
            crop = crop[:, ::-1]
        scale = int(rng.integers(320, 641)) / max(crop.shape[:2])
        size = (round(crop.shape[1] * scale), round(crop.shape[0] * scale))
        image = cv2.resize(np.ascontiguousarray(crop), size, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / f"img{i:04d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def replicate(src: Path, dst: Path, times: int) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for k in range(times):
        for path in src.iterdir():
            shutil.copyfile(path, dst / f"r{k}_{path.name}")


def local_engine(folder: Path, threads: int | None) -> int:
    """What ``xpose predict FOLDER --out`` does: read, predict, build records."""
    import xpose
    from xpose.inputs import folder_images
    from xpose.output import build_record
    from xpose.preprocess import to_rgb_uint8

    records = []
    with xpose.load(MODEL, BACKEND, PRECISION, threads=threads) as est:
        for path in folder_images(folder):
            image = to_rgb_uint8(path)
            records.append(
                build_record(
                    est.predict(image),
                    source=str(path),
                    width=image.shape[1],
                    height=image.shape[0],
                    model=MODEL,
                    backend=BACKEND,
                    precision=PRECISION,
                )
            )
    return len(records)


def ray_engine(folder: Path, actors: int) -> int:
    from xpose.distributed import gather, predict_dataset

    records, errors = gather(
        predict_dataset([folder], MODEL, BACKEND, PRECISION, actors=actors, threads_per_actor=1)
    )
    if errors:
        raise RuntimeError(f"{len(errors)} error rows, first: {errors[0]}")
    return len(records)


def timed(run: Callable[[], int], rounds: int = 2) -> tuple[float, int]:
    """The best wall time of ``rounds`` runs, and the record count."""
    best, n = float("inf"), 0
    for _ in range(rounds):
        start = time.perf_counter()
        n = run()
        best = min(best, time.perf_counter() - start)
    return best, n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=4)
    args = parser.parse_args()

    import ray

    work = Path(tempfile.mkdtemp(prefix="xpose-ray-bench-"))
    try:
        small, large = work / "small", work / "large"
        make_images(small, args.images)
        replicate(small, large, args.repeat)
        start = time.perf_counter()
        ray.init(
            num_cpus=os.cpu_count(),
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
        ray_start = time.perf_counter() - start
        ray.data.DataContext.get_current().enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        ray_engine(small, 1)  # warm-up: Ray Data's first execution sets itself up
        engines: list[tuple[str, Callable[[Path], int]]] = [
            ("local, 1 thread", lambda f: local_engine(f, 1)),
            ("local, runtime default threads", lambda f: local_engine(f, None)),
            ("ray, 1 actor x 1 thread", lambda f: ray_engine(f, 1)),
            ("ray, 2 actors x 1 thread", lambda f: ray_engine(f, 2)),
        ]
        rows = []
        for name, run in engines:
            t_small, n_small = timed(lambda run=run: run(small))
            t_large, n_large = timed(lambda run=run: run(large))
            steady = (n_large - n_small) / (t_large - t_small)
            rows.append((name, n_small, t_small, n_large, t_large, steady))
            print(
                f"{name}: {n_small} in {t_small:.2f} s, {n_large} in {t_large:.2f} s",
                file=sys.stderr,
            )
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base = rows[0][5]
    lines = [
        f"# Ray engine scaling ({MODEL} {PRECISION} {BACKEND})",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores; "
        f"Ray started in {ray_start:.1f} s (not counted below). JPEGs of 320-640 px.",
        "",
        f"| engine | {args.images} images: s | img/s | {args.images * args.repeat} images: s "
        "| img/s | steady img/s | steady vs local 1 thread |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, n_s, t_s, n_l, t_l, steady in rows:
        lines.append(
            f"| {name} | {t_s:.2f} | {n_s / t_s:.0f} | {t_l:.2f} | {n_l / t_l:.0f} "
            f"| {steady:.0f} | {steady / base:.2f}x |"
        )
    table = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ray_scaling.md").write_text(table)
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
