"""Estimator.predict_batch: the results of predict on each image, in batches the file takes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import xpose
from tests.helpers import (
    ASTRONAUT,
    COCO_DIR,
    DATA,
    FORMATS,
    KEEP_EVERY_POSE,
    EstimatorCache,
    mean_lightning,
)
from xpose.estimator import Estimator
from xpose.preprocess import to_rgb_uint8


def _photos() -> list[np.ndarray]:
    """Photos of several sizes and aspects (the shared COCO ones when present)."""
    files = sorted(COCO_DIR.glob("*.jpg")) + sorted(DATA.glob("*.png"))
    return [to_rgb_uint8(f) for f in files]


@pytest.mark.convert
@pytest.mark.parametrize("backend", list(FORMATS))
@pytest.mark.parametrize("model", xpose.list_models())
def test_predict_batch_equals_predict_on_each(
    model: str, backend: str, estimators: EstimatorCache
) -> None:
    photos = _photos()
    photos += [photos[0][:, ::-1].copy(), photos[-1][::2].copy()]  # a flip, a squashed copy
    est = estimators(model, backend)
    singles = [est.predict(p) for p in photos]
    batched = est.predict_batch(photos, batch_size=3)
    if est.batch_limit is None:  # the store's ONNX files: batches really ran
        assert backend == "onnxruntime"
    assert len(batched) == len(photos)
    for one, many in zip(singles, batched, strict=True):
        assert len(one) == len(many)
        np.testing.assert_allclose(many.keypoints, one.keypoints, atol=1e-3)
        np.testing.assert_allclose(many.scores, one.scores, atol=1e-5)
        np.testing.assert_allclose(many.score, one.score, atol=1e-5)
        np.testing.assert_allclose(many.boxes, one.boxes, atol=1e-3)


@pytest.mark.convert
def test_predict_batch_takes_paths_and_nothing(estimators: EstimatorCache) -> None:
    est = estimators("movenet-lightning")
    (from_path,) = est.predict_batch([ASTRONAUT])
    np.testing.assert_array_equal(from_path.keypoints, est.predict(ASTRONAUT).keypoints)
    assert est.predict_batch([]) == []


# --- batching, with a fake backend ------------------------------------------------------------


def _grey(level: int, hw: tuple[int, int] = (100, 100)) -> np.ndarray:
    return np.full((*hw, 3), level, np.uint8)


def test_a_free_batch_runs_batch_size_images_at_a_time_in_order() -> None:
    backend = mean_lightning(None)
    images = [_grey(v) for v in (10, 60, 110, 160, 210)]
    with Estimator(backend, **KEEP_EVERY_POSE) as est:
        assert est.batch_limit is None
        poses = est.predict_batch(images, batch_size=2)
    assert [len(f["input"]) for f in backend.feeds] == [2, 2, 1]
    np.testing.assert_allclose(
        [p.score[0] for p in poses],
        [10 / 255, 60 / 255, 110 / 255, 160 / 255, 210 / 255],
        rtol=1e-6,
    )


def test_a_batch_of_one_runs_image_by_image() -> None:
    backend = mean_lightning(1)
    with Estimator(backend, **KEEP_EVERY_POSE) as est:
        assert est.batch_limit == 1
        poses = est.predict_batch([_grey(30), _grey(90)], batch_size=8)
    assert [f["input"].shape[0] for f in backend.feeds] == [1, 1]
    assert [round(float(p.score[0]) * 255) for p in poses] == [30, 90]


def test_each_image_gets_its_own_letterbox() -> None:
    """A wide and a tall image in one batch: each is letterboxed, and mapped back, on its own."""
    backend = mean_lightning(None)
    with Estimator(backend, **KEEP_EVERY_POSE) as est:
        wide, tall = est.predict_batch([_grey(200, (100, 400)), _grey(200, (400, 100))])
    (x,) = backend.feeds[0].values()
    assert x.shape == (2, 192, 192, 3)
    assert x[0, :72].max() == 0 and x[0, 72:120].min() == 200  # rows of padding, then image
    assert x[1, :, :72].max() == 0 and x[1, :, 72:120].min() == 200
    np.testing.assert_allclose(wide.keypoints[0, 0], (200, 50), atol=1e-3)
    np.testing.assert_allclose(tall.keypoints[0, 0], (50, 200), atol=1e-3)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_predict_batch_refuses_a_bad_batch_size(bad: object) -> None:
    with (
        Estimator(mean_lightning(None), **KEEP_EVERY_POSE) as est,
        pytest.raises(ValueError, match="batch_size must be an int >= 1"),
    ):
        est.predict_batch([_grey(1)], batch_size=bad)  # type: ignore[arg-type]


def test_predict_batch_names_an_unreadable_image(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image")
    with (
        Estimator(mean_lightning(None), **KEEP_EVERY_POSE) as est,
        pytest.raises(ValueError, match="junk.jpg"),
    ):
        est.predict_batch([_grey(1), junk])


def test_reference_resize_frames_each_image_on_its_own() -> None:
    """``resize="reference"`` cuts each image's centred square (no shared letterbox): a batch
    feeds the model exactly what ``predict`` of each image does."""
    images = [_grey(40, (100, 300)), _grey(200, (300, 100))]
    single, batched = mean_lightning(None), mean_lightning(None)
    with (
        Estimator(single, resize="reference", **KEEP_EVERY_POSE) as one,
        Estimator(batched, resize="reference", **KEEP_EVERY_POSE) as many,
    ):
        want = [one.predict(image) for image in images]
        got = many.predict_batch(images)
    (x,) = batched.feeds[0].values()
    assert x.shape == (2, 192, 192, 3)
    for k, feeds in enumerate(single.feeds):
        np.testing.assert_array_equal(x[k : k + 1], feeds["input"])
    for a, b in zip(want, got, strict=True):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)


@pytest.mark.convert
@pytest.mark.parametrize(
    ("model", "options"),
    [
        ("movenet-lightning", {"resize": "reference"}),
        ("movenet-multipose", {"multipose_pad": "corner"}),
    ],
)
def test_predict_batch_keeps_the_preprocessing_options(
    model: str, options: dict[str, str], estimators: EstimatorCache
) -> None:
    photos = _photos()[:6]
    est = estimators(model, **options)
    for one, many in zip([est.predict(p) for p in photos], est.predict_batch(photos), strict=True):
        assert len(one) == len(many)
        np.testing.assert_allclose(many.keypoints, one.keypoints, atol=1e-3)


def test_infer_batch_decodes_each_prepared_image_with_its_geometry() -> None:
    """What a caller that letterboxes images itself runs: inputs stacked, one Poses each."""
    images = [_grey(50, (100, 400)), _grey(150, (400, 100)), _grey(250)]
    with Estimator(mean_lightning(None), **KEEP_EVERY_POSE) as est:
        prepared = [est.head.prepare(image) for image in images]
        x = np.concatenate([x for x, _ in prepared])
        got = est.infer_batch(x, [g for _, g in prepared])
        want = est.predict_batch(images)
    assert len(got) == 3
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        np.testing.assert_array_equal(a.score, b.score)


def test_infer_batch_runs_a_batch_of_one_file_image_by_image_and_checks_its_arguments() -> None:
    backend = mean_lightning(1)
    with Estimator(backend, **KEEP_EVERY_POSE) as est:
        prepared = [est.head.prepare(_grey(v)) for v in (30, 90, 200)]
        x = np.concatenate([x for x, _ in prepared])
        poses = est.infer_batch(x, [g for _, g in prepared])
        with pytest.raises(ValueError, match="3 inputs but 2 geometries"):
            est.infer_batch(x, [g for _, g in prepared[:2]])
    assert [f["input"].shape[0] for f in backend.feeds] == [1, 1, 1]
    assert [round(float(p.score[0]) * 255) for p in poses] == [30, 90, 200]
