"""Tests of :meth:`xpose.Estimator.track` and :meth:`~xpose.Estimator.track_frames`.

The plumbing tests (order, early close, eager errors, tracker choice) use a fake backend and run
everywhere. Tests on real models need the converted files in the model store (``$XPOSE_HOME``)
and skip with "run `xpose convert` first" otherwise.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import xpose
from tests.helpers import ASTRONAUT, DATA, fake_lightning, require_store, rgb
from xpose.estimator import Estimator
from xpose.results import Poses
from xpose.tracking import IoUTracker, OKSTracker, resolve_tracker
from xpose.video import FrameSource


@pytest.fixture
def fake() -> Estimator:
    return Estimator(fake_lightning())


def _frames(n: int, h: int = 96, w: int = 128) -> list[np.ndarray]:
    """``n`` RGB crops of the astronaut photo, sliding right by 3 px per frame."""
    photo = rgb(ASTRONAUT)
    return [np.ascontiguousarray(photo[80 : 80 + h, 40 + 3 * i : 40 + 3 * i + w]) for i in range(n)]


def test_track_iterable_in_order(fake: Estimator) -> None:
    frames = _frames(7)
    out = list(fake.track(frames))
    assert [i for i, _ in out] == list(range(7))
    assert all(isinstance(p, Poses) and len(p) == 1 for _, p in out)
    # single-pose models follow their person by cropping; no tracker, so no ids
    assert all(p.track_ids.tolist() == [-1] for _, p in out)
    assert fake.backend.runs == 7


def test_track_frames_gives_frames_and_timestamps(fake: Estimator) -> None:
    frames = _frames(4)
    out = list(fake.track_frames(frames, fps=10.0, smooth=False))
    assert [i for i, _, _, _ in out] == [0, 1, 2, 3]
    np.testing.assert_allclose([t for _, t, _, _ in out], [0.0, 0.1, 0.2, 0.3])
    for (_, _, frame, _), want in zip(out, frames, strict=True):
        np.testing.assert_array_equal(frame, want)


def test_track_named_tracker_gives_ids(fake: Estimator) -> None:
    ids = [p.track_ids.tolist() for _, p in fake.track(_frames(5), tracker="iou")]
    assert ids == [[0]] * 5
    ids = [p.track_ids.tolist() for _, p in fake.track(_frames(5), tracker=OKSTracker())]
    assert ids == [[0]] * 5


def test_track_closes_source_when_closed_early(fake: Estimator) -> None:
    reader = FrameSource(_frames(20), queue_size=2)
    gen = fake.track(reader)
    for index, _ in gen:
        if index == 2:
            break
    gen.close()
    assert reader.closed
    assert fake.backend.runs == 3


def test_track_video_file_and_early_close(fake: Estimator, tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 20.0, (128, 96))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write .avi")
    for frame in _frames(10):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    out = list(fake.track_frames(path, smooth=False))
    assert [i for i, _, _, _ in out] == list(range(10))
    np.testing.assert_allclose([t for _, t, _, _ in out], np.arange(10) / 20.0, atol=1e-3)
    assert out[0][2].shape == (96, 128, 3)

    reader = FrameSource(path)
    gen = fake.track(reader)
    assert next(gen)[0] == 0
    gen.close()
    assert reader.closed


def test_track_errors_are_raised_at_the_call(fake: Estimator, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="video not found"):
        fake.track(tmp_path / "missing.mp4")
    with pytest.raises(ValueError, match="unknown tracker 'sort'"):
        fake.track(_frames(2), tracker="sort")
    with pytest.raises(ValueError, match="min_cutoff"):
        fake.track(_frames(2), smoother_options={"min_cutoff": 0.0})
    with pytest.raises(TypeError, match="update"):
        fake.track(_frames(2), tracker=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fps"):
        fake.track(FrameSource(_frames(2)), fps=10.0)


def test_track_default_tracker_follows_the_model(fake: Estimator) -> None:
    assert not fake.multi_person
    assert resolve_tracker("auto", multi_person=fake.multi_person) is None
    assert isinstance(resolve_tracker("auto", multi_person=True), IoUTracker)
    assert resolve_tracker("iou", max_age=5, multi_person=False).max_age == 5  # type: ignore[union-attr]
    assert resolve_tracker("none") is None
    with pytest.raises(TypeError, match="update"):
        resolve_tracker(object())  # type: ignore[arg-type]


# --- real models ------------------------------------------------------------------------------


@pytest.mark.convert
def test_track_multipose_on_iterable() -> None:
    require_store("movenet-multipose")
    with xpose.load("movenet-multipose") as est:
        assert est.multi_person
        out = list(est.track(_frames(6, 256, 256)))
    assert [i for i, _ in out] == list(range(6))
    ids = [p.track_ids.tolist() for _, p in out]
    assert all(len(i) >= 1 and min(i) >= 0 for i in ids), ids
    assert ids[0][0] == 0 and all(0 in i for i in ids), "the one person keeps id 0"


def _shaken(
    image: np.ndarray, n: int, seed: int, sigma: float
) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` frames of ``image`` shifted by a known random sub-pixel path, with sensor noise.

    Returns the frames and the path ``(n, 2)`` (x, y shift in pixels; frame 0 unshifted).
    """
    rng = np.random.default_rng(seed)
    path = rng.uniform(-0.5, 0.5, (n, 2))
    path[0] = 0.0
    h, w = image.shape[:2]
    frames = []
    for dx, dy in path:
        matrix = np.float32([[1, 0, dx], [0, 1, dy]])
        moved = cv2.warpAffine(
            image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        ).astype(np.float32)
        moved += rng.normal(0.0, sigma, moved.shape)
        frames.append(np.clip(moved, 0, 255).astype(np.uint8))
    return frames, path


@pytest.mark.convert
def test_smoothing_lowers_keypoint_error_against_known_motion() -> None:
    """A still person filmed with camera shake and sensor noise: smoothed keypoints follow the
    known motion better than raw ones (errors against frame 0's detection moved by the path)."""
    require_store("movenet-lightning")
    image = cv2.resize(rgb(DATA / "camera.png"), (256, 256), interpolation=cv2.INTER_AREA)
    frames, path = _shaken(image, 30, seed=0, sigma=8.0)
    errors = {}
    with xpose.load("movenet-lightning") as est:
        for smooth in (False, True):
            poses = [p for _, p in est.track(frames, smooth=smooth)]
            kp = np.stack([p.keypoints[0] for p in poses]).astype(np.float64)
            first = poses[0]
            confident = first.scores[0] > 0.3
            assert confident.sum() >= 8
            expected = first.keypoints[0][None, confident] + (path[:, None, :] - path[0])
            errors[smooth] = float(np.linalg.norm(kp[1:, confident] - expected[1:], axis=-1).mean())
    # Both runs share frame 0 (the smoother passes the first frame through unchanged).
    assert errors[True] < 0.9 * errors[False], errors
