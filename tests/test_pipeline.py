"""xpose.pipeline.predict_files: files read ahead in threads, poses in batches, in order."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers import KEEP_EVERY_POSE, mean_lightning
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
