from __future__ import annotations

import numpy as np
import pytest

from xpose.results import Poses
from xpose.smoothing import OneEuroFilter, PoseSmoother

FPS = 30.0


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def _walk(n: int = 150) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps (n,) and a smooth 2-D path (n, 17, 2) in pixels: slow drift plus a sway."""
    t = np.arange(n) / FPS
    base = np.stack([200 + 40 * t + 20 * np.sin(2 * np.pi * 0.3 * t), 150 + 10 * t], axis=1)
    offsets = np.linspace(-30, 30, 17 * 2).reshape(17, 2)
    return t, base[:, None, :] + offsets[None]


def test_one_euro_reduces_jitter() -> None:
    t, truth = _walk()
    noisy = truth + np.random.default_rng(0).normal(0.0, 2.0, truth.shape)
    filt = OneEuroFilter(min_cutoff=1.0, beta=0.05, speed="filtered")
    smoothed = np.stack([filt(noisy[i], t[i]) for i in range(len(t))])
    assert smoothed.shape == noisy.shape
    assert _rmse(smoothed, truth) < 0.8 * _rmse(noisy, truth)


def test_pose_smoother_defaults_reduce_jitter() -> None:
    t, truth = _walk()
    noisy = (truth + np.random.default_rng(1).normal(0.0, 2.0, truth.shape)).astype(np.float32)
    smoother = PoseSmoother()
    scores = np.ones((1, 17), np.float32)
    out = np.stack(
        [
            smoother(Poses(noisy[i][None], scores), t[i], (480, 640)).keypoints[0]
            for i in range(len(t))
        ]
    )
    assert _rmse(out, truth) < 0.8 * _rmse(noisy, truth)


def test_pose_smoother_image_units_equal_pixels_with_scaled_beta() -> None:
    """Filtering x / width, y / height with beta B is filtering pixels with beta B / size."""
    t, truth = _walk(40)
    noisy = (truth + np.random.default_rng(2).normal(0.0, 2.0, truth.shape)).astype(np.float32)
    scores = np.ones((1, 17), np.float32)
    image = PoseSmoother(1.0, 64.0, 1.0)
    x_only = PoseSmoother(1.0, 0.1, 1.0, units="pixels")  # 64 / 640 for x
    for i in range(len(t)):
        a = image(Poses(noisy[i][None], scores), t[i], (480, 640))
        b = x_only(Poses(noisy[i][None], scores), t[i])
        np.testing.assert_allclose(a.keypoints[..., 0], b.keypoints[..., 0], rtol=0, atol=1e-3)


def test_pose_smoother_image_units_need_the_frame_size() -> None:
    poses = Poses(np.zeros((1, 17, 2), np.float32), np.ones((1, 17), np.float32))
    with pytest.raises(ValueError, match="needs the frame size"):
        PoseSmoother()(poses, 0.0)
    with pytest.raises(ValueError, match="units must be one of"):
        PoseSmoother(units="mm")


def test_one_euro_speed_from_raw_follows_a_step_sooner() -> None:
    """After a step, the filtered-speed form keeps seeing its own lag as speed; the raw form
    sees no more speed once the input is still, so it smooths the flat part harder (and both
    end up at the step's value)."""
    out = {}
    for speed in ("raw", "filtered"):
        filt = OneEuroFilter(min_cutoff=1.0, beta=0.1, d_cutoff=1.0, speed=speed)
        xs = [0.0] * 5 + [10.0] * 25
        out[speed] = np.array([filt(np.array([x]), i / FPS)[0] for i, x in enumerate(xs)])
    assert out["raw"][6] < out["filtered"][6]  # less overshoot of the cutoff after the step
    assert abs(out["raw"][-1] - 10.0) < 1.0 and abs(out["filtered"][-1] - 10.0) < 1.0


def test_one_euro_first_call_and_constant_signal() -> None:
    filt = OneEuroFilter(min_cutoff=0.5, beta=0.1)
    x = np.array([[3.0, -4.5], [100.25, 7.0]], np.float32)
    first = filt(x, 0.0)
    np.testing.assert_array_equal(first, x)
    assert first.dtype == np.float32
    assert first is not x
    for i in range(1, 20):
        np.testing.assert_allclose(filt(x, i / FPS), x, rtol=0, atol=1e-6)


def test_one_euro_does_not_alias_input() -> None:
    filt = OneEuroFilter()
    x = np.zeros(3)
    out = filt(x, 0.0)
    out[:] = 99.0
    np.testing.assert_array_equal(filt(x, 0.1), np.zeros(3))


@pytest.mark.parametrize("dt", [0.0, -0.5])
def test_one_euro_non_increasing_time(dt: float) -> None:
    """dt <= 0 reuses the last positive step: finite output, between old and new value."""
    filt = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    filt(np.array([0.0]), 1.0)
    a = filt(np.array([10.0]), 1.0 + 1 / FPS)
    b = filt(np.array([20.0]), 1.0 + 1 / FPS + dt)
    assert np.isfinite(b).all()
    assert a[0] < b[0] < 20.0
    # the same step as a regular one: the same gain
    ref = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    ref(np.array([0.0]), 1.0)
    ref(np.array([10.0]), 1.0 + 1 / FPS)
    np.testing.assert_allclose(b, ref(np.array([20.0]), 1.0 + 2 / FPS))


def test_one_euro_beta_reduces_lag() -> None:
    t = np.arange(60) / FPS
    ramp = 300.0 * t  # 300 px/s
    lags = {}
    for beta in (0.0, 0.05):
        filt = OneEuroFilter(min_cutoff=1.0, beta=beta)
        out = np.array([filt(np.array([v]), ti)[0] for v, ti in zip(ramp, t, strict=True)])
        lags[beta] = ramp[-1] - out[-1]
    assert 0 < lags[0.05] < lags[0.0] / 3


def test_one_euro_shape_change_and_reset() -> None:
    filt = OneEuroFilter()
    filt(np.zeros(2), 0.0)
    with pytest.raises(ValueError, match=r"expected a sample of shape \(2,\)"):
        filt(np.zeros(3), 0.1)
    filt.reset()
    np.testing.assert_array_equal(filt(np.ones(3), 0.2), np.ones(3))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"min_cutoff": 0}, "min_cutoff"), ({"beta": -1}, "beta"), ({"d_cutoff": 0}, "d_cutoff")],
)
def test_one_euro_bad_parameters(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        OneEuroFilter(**kwargs)
    with pytest.raises(ValueError, match=match):
        PoseSmoother(**kwargs)


def _pose_at(x: float, y: float, track_ids: list[int] | None = None, n: int = 1) -> Poses:
    kp = np.zeros((n, 17, 2), np.float32)
    kp[..., 0] = x
    kp[..., 1] = y
    for i in range(n):
        kp[i] += 100 * i
    tids = None if track_ids is None else np.array(track_ids)
    return Poses(kp, np.ones((n, 17), np.float32), track_ids=tids)


def test_pose_smoother_keeps_state_per_track() -> None:
    smoother = PoseSmoother(min_cutoff=1.0, beta=0.0, units="pixels")
    first = smoother(_pose_at(0, 0, [5, 9], n=2), 0.0)
    np.testing.assert_array_equal(first.keypoints, _pose_at(0, 0, [5, 9], n=2).keypoints)
    assert set(smoother.tracks) == {5, 9}

    # The frame lists the tracks in the other order: each keeps its own state.
    kp = np.zeros((2, 17, 2), np.float32)
    kp[0] = 100 + 10  # track 9 moved by 10
    kp[1] = 0 + 10  # track 5 moved by 10
    out = smoother(Poses(kp, np.ones((2, 17), np.float32), track_ids=np.array([9, 5])), 1 / FPS)
    np.testing.assert_array_equal(out.track_ids, [9, 5])
    step9 = out.keypoints[0] - 100
    step5 = out.keypoints[1]
    assert np.all((step9 > 0) & (step9 < 10))
    np.testing.assert_allclose(step9, step5, atol=1e-4)

    # Track 9 disappears: its state is dropped and it starts afresh when it returns.
    smoother(_pose_at(10, 10, [5]), 2 / FPS)
    assert smoother.tracks == (5,)
    back = smoother(_pose_at(500, 500, [9]), 3 / FPS)
    np.testing.assert_array_equal(back.keypoints, _pose_at(500, 500).keypoints)


def test_pose_smoother_single_untracked_stream() -> None:
    smoother = PoseSmoother(min_cutoff=1.0, beta=0.0, units="pixels")
    smoother(_pose_at(0, 0), 0.0)
    out = smoother(_pose_at(10, 10), 1 / FPS)
    assert smoother.tracks == (("index", 0),)
    assert np.all((out.keypoints > 0) & (out.keypoints < 10))
    np.testing.assert_array_equal(out.track_ids, [-1])


def test_pose_smoother_does_not_mutate_and_keeps_other_fields() -> None:
    smoother = PoseSmoother(units="pixels")
    poses = _pose_at(1, 2, [3])
    poses = poses.replace(score=np.array([0.7], np.float32))
    smoother(poses, 0.0)
    moved = _pose_at(11, 12, [3]).replace(score=np.array([0.6], np.float32))
    before = moved.keypoints.copy()
    out = smoother(moved, 1 / FPS)
    assert isinstance(out, Poses) and out is not moved
    np.testing.assert_array_equal(moved.keypoints, before)
    np.testing.assert_array_equal(out.scores, moved.scores)
    np.testing.assert_array_equal(out.score, moved.score)
    assert out.boxes.shape == (1, 4)


def test_pose_smoother_empty_and_reset() -> None:
    smoother = PoseSmoother(units="pixels")
    smoother(_pose_at(0, 0, [1]), 0.0)
    assert len(smoother(Poses.empty(), 0.1)) == 0
    assert smoother.tracks == ()
    smoother(_pose_at(0, 0, [1]), 0.2)
    smoother.reset()
    assert smoother.tracks == ()


def test_pose_smoother_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="duplicate track ids"):
        PoseSmoother(units="pixels")(_pose_at(0, 0, [4, 4], n=2), 0.0)
