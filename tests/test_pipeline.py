"""xpose.pipeline.predict_files: files read ahead in threads, poses in batches, in order."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers import COCO_DIR, DATA, KEEP_EVERY_POSE, EstimatorCache, mean_lightning, rgb
from xpose.estimator import Estimator
from xpose.pipeline import predict_files


def _write(folder: Path, name: str, level: int) -> Path:
    path = folder / name
    cv2.imwrite(str(path), np.full((64, 64, 3), level, np.uint8))
    return path


def test_files_come_back_in_order_in_batches_with_errors_in_place(tmp_path: Path) -> None:
    paths = [_write(tmp_path, f"{i}.png", 20 * i) for i in range(7)]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    paths.insert(3, bad)
    backend = mean_lightning(None)
    with Estimator(backend, **KEEP_EVERY_POSE) as est:
        results = list(predict_files(est, paths, batch_size=3, readers=2))
    assert [r.path for r in results] == paths
    assert results[3].poses is None and results[3].image is None
    assert "bad.jpg" in str(results[3].error)
    good = [r for r in results if r.error is None]
    assert [round(float(r.poses.score[0]) * 255) for r in good] == [20 * i for i in range(7)]
    assert all(r.image is not None and r.image.shape == (64, 64, 3) for r in good)
    # batches of 3 paths: 3 images, 2 (the bad file left out), 2
    assert [len(f["input"]) for f in backend.feeds] == [3, 2, 2]


def test_closing_early_stops_reading(tmp_path: Path) -> None:
    paths = [_write(tmp_path, f"{i}.png", i) for i in range(40)]
    backend = mean_lightning(None)
    with Estimator(backend, **KEEP_EVERY_POSE) as est:
        results = predict_files(est, paths, batch_size=2)
        first = next(results)
        results.close()
    assert first.path == paths[0]
    assert sum(len(f["input"]) for f in backend.feeds) == 2


@pytest.mark.parametrize(("name", "value"), [("batch_size", 0), ("readers", 0)])
def test_bad_settings_are_refused(name: str, value: int) -> None:
    with (
        Estimator(mean_lightning(None), **KEEP_EVERY_POSE) as est,
        pytest.raises(ValueError, match=f"{name} must be"),
    ):
        list(predict_files(est, [], **{name: value}))


def test_images_are_letterboxed_in_the_reader_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The calling thread only runs the model and decodes: reading and pre-processing overlap
    inference in the pool."""
    paths = [_write(tmp_path, f"{i}.png", 10 * i) for i in range(5)]
    with Estimator(mean_lightning(None), **KEEP_EVERY_POSE) as est:
        real_prepare = est.head.prepare
        threads: list[str] = []

        def prepare(image: np.ndarray) -> object:
            threads.append(threading.current_thread().name)
            return real_prepare(image)

        monkeypatch.setattr(est.head, "prepare", prepare)
        results = list(predict_files(est, paths, batch_size=2))
    assert len(threads) == 5
    assert all(name.startswith("xpose-read") for name in threads)
    assert [round(float(r.poses.score[0]) * 255) for r in results] == [10 * i for i in range(5)]


@pytest.mark.convert
@pytest.mark.parametrize(
    ("model", "options"),
    [("movenet-lightning", {}), ("movenet-multipose", {"multipose_square": False})],
)
def test_files_give_the_poses_of_predict_batch(
    model: str, options: dict[str, object], estimators: EstimatorCache
) -> None:
    """Real photos of several sizes (MultiPose on inputs that follow each photo's aspect, so
    a batch holds inputs of several shapes): the same poses as ``predict_batch``."""
    paths = sorted(COCO_DIR.glob("*.jpg"))[:5] + sorted(DATA.glob("*.png"))
    est = estimators(model, **options)
    want = est.predict_batch(paths, batch_size=3)
    got = [r.poses for r in predict_files(est, paths, batch_size=3)]
    if model == "movenet-multipose":
        assert len({est.head.input_size(rgb(p).shape[:2]) for p in paths}) > 1
    assert len(got) == len(want) == len(paths)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)
        np.testing.assert_allclose(a.score, b.score, atol=1e-5)
