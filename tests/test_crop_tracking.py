"""Video mode of single-pose MoveNet: crop tracking, dropped poses, cuts and smoothing.

The behaviour tests use a scripted fake model (no model files); the jitter test runs the real
Lightning and skips with "run `xpose convert` first" when the store lacks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
import pytest

import xpose
from xpose.backends import TensorInfo
from xpose.estimator import Estimator
from xpose.models import movenet
from xpose.smoothing import PoseSmoother

from .helpers import require_store, rgb

DATA = Path(__file__).parent / "data"


def _pose(cx: float, cy: float, score: float) -> np.ndarray:
    """A raw ``(1, 1, 17, 3)`` output: keypoints spread around (cx, cy), all scoring ``score``."""
    ys = cy + np.linspace(-0.1, 0.1, 17)
    xs = cx + np.linspace(-0.05, 0.05, 17)
    return np.stack([ys, xs, np.full(17, score)], axis=1).reshape(1, 1, 17, 3).astype(np.float32)


class _ScriptedLightning:
    """Lightning's tensors; the n-th run returns the n-th scripted output (the last repeats)."""

    name = "fake"

    def __init__(self, outputs: list[np.ndarray]) -> None:
        self.path = Path("fake-lightning.tflite")
        self.inputs = (TensorInfo("input", (1, 192, 192, 3), np.dtype(np.uint8)),)
        self.outputs = (TensorInfo("keypoints", (1, 1, 17, 3), np.dtype(np.float32)),)
        self.script = outputs
        self.runs = 0
        self.closed = False

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = self.script[min(self.runs, len(self.script) - 1)]
        self.runs += 1
        return {"keypoints": out}

    def close(self) -> None:
        self.closed = True


def _photo(name: str) -> np.ndarray:
    """A test photo as RGB; skips unless the store has Lightning (the tests using it run it)."""
    require_store("movenet-lightning")
    return rgb(DATA / f"{name}.png")


def _frame() -> np.ndarray:
    return np.full((240, 320, 3), 90, np.uint8)


def test_image_mode_drops_a_weak_pose_and_keeps_a_strong_one() -> None:
    weak = Estimator(_ScriptedLightning([_pose(0.5, 0.5, 0.24)]))
    assert len(weak.predict(_frame())) == 0
    strong = Estimator(_ScriptedLightning([_pose(0.5, 0.5, 0.26)]))
    assert len(strong.predict(_frame())) == 1
    keep_all = Estimator(_ScriptedLightning([_pose(0.5, 0.5, 0.24)]), min_pose_score=0.0)
    assert len(keep_all.predict(_frame())) == 1


def test_dropped_pose_resets_crop_and_smoother() -> None:
    script = [_pose(0.5, 0.5, 0.9)] * 3 + [_pose(0.5, 0.5, 0.1)] + [_pose(0.6, 0.5, 0.9)]
    est = Estimator(_ScriptedLightning(script))
    smoother = PoseSmoother()
    stream = est.stream(smoother=smoother)
    for _ in range(3):
        assert len(stream.update(_frame())) == 1
    assert stream.crop_region is not None and smoother.tracks
    assert len(stream.update(_frame())) == 0  # below min_pose_score: no pose
    assert stream.crop_region is None and not smoother.tracks
    # The next pose starts afresh: found in the first-frame crop, passed through unsmoothed.
    after = stream.update(_frame())
    first = movenet.init_crop_region(240, 320, first_frame=True)  # first_crop="centre"
    raw = movenet.decode_single_in_crop(script[-1], first, 240, 320)
    np.testing.assert_allclose(after.keypoints, raw.keypoints, atol=1e-4)


def test_crop_region_is_low_pass_filtered() -> None:
    """Each next crop blends the region sized from this frame's keypoints into the last crop."""
    script = [_pose(0.5, 0.5, 0.9)] * 2 + [_pose(0.5, 0.8, 0.9)] * 3
    stream = Estimator(_ScriptedLightning(script)).stream(crop_smoothing=0.5)
    previous = None
    for k in range(5):
        poses = stream.update(_frame())
        target = movenet.determine_crop_region(poses.keypoints[0], poses.scores[0], 240, 320)
        expected = target if previous is None else previous
        if previous is not None:
            expected = movenet.CropRegion(
                *(0.5 * (np.array(previous.as_box()) + np.array(target.as_box())))
            )
        assert stream.crop_region is not None
        np.testing.assert_allclose(stream.crop_region.as_box(), expected.as_box(), atol=1e-9)
        if k >= 2:  # after the jump the crop is still between where it was and the target
            assert stream.crop_region.xmin < target.xmin
        previous = stream.crop_region


@pytest.mark.convert
def test_cut_to_an_empty_scene_resets_the_crop() -> None:
    """A person, then a cut to a frame with nobody: the crop goes back to the whole frame."""
    person = cv2.resize(_photo("astronaut"), (320, 320), interpolation=cv2.INTER_AREA)
    empty = np.full_like(person, 128)
    with xpose.load("movenet-lightning") as est:
        stream = est.stream()
        for _ in range(3):
            assert len(stream.update(person)) == 1
        assert stream.crop_region is not None
        assert len(stream.update(empty)) == 0
        assert stream.crop_region is None


@pytest.mark.convert
def test_smoothing_reduces_jitter_on_a_still_person() -> None:
    """A still person under sensor noise: smoothed keypoints wobble far less than raw ones."""
    person = _photo("camera")
    rng = np.random.default_rng(0)
    frames = [
        np.clip(person + rng.normal(0.0, 6.0, person.shape), 0, 255).astype(np.uint8)
        for _ in range(30)
    ]
    jitter = {}
    with xpose.load("movenet-lightning") as est:
        for smooth in (False, True):
            kp = np.stack([p.keypoints[0] for _, p in est.track(frames, smooth=smooth)])
            second = kp[2:] - 2 * kp[1:-1] + kp[:-2]
            jitter[smooth] = float(np.linalg.norm(second, axis=-1).mean())
    assert jitter[True] < 0.6 * jitter[False], jitter
