"""Camera motion (:mod:`xpose.motion`) and how video mode moves its state with it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.helpers import TFHUB_LIGHTNING, FakeBackend, centred_torso, single_pose_outputs
from xpose.estimator import Estimator
from xpose.models.movenet import CropRegion, warp_crop_region
from xpose.motion import CameraMotion, FrameMotion, transform_points
from xpose.preprocess import to_rgb_uint8
from xpose.results import Poses
from xpose.smoothing import OneEuroFilter, PoseSmoother
from xpose.tracking import IoUTracker

HW = (240, 320)


def _scene(seed: int = 0) -> np.ndarray:
    """A textured 3x-larger world to film (blurred noise: corners everywhere)."""
    rng = np.random.default_rng(seed)
    world = rng.integers(0, 256, (HW[0] * 3, HW[1] * 3, 3), dtype=np.uint8)
    return cv2.GaussianBlur(world, (0, 0), 2.0)


def _film(world: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The frame a camera with ``matrix`` (world pixels -> frame pixels) sees."""
    return cv2.warpAffine(world, matrix, (HW[1], HW[0]), flags=cv2.INTER_LINEAR)


def _camera(dx: float = 0.0, dy: float = 0.0, zoom: float = 1.0) -> np.ndarray:
    """World -> frame: the world's centre region, zoomed about the frame centre, then shifted."""
    cx, cy = HW[1] * 1.5, HW[0] * 1.5
    return np.array(
        [
            [zoom, 0.0, HW[1] / 2 - zoom * cx + dx],
            [0.0, zoom, HW[0] / 2 - zoom * cy + dy],
        ]
    )


def _between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Frame a -> frame b pixels, for cameras a and b."""
    a3 = np.vstack([a, [0, 0, 1]])
    b3 = np.vstack([b, [0, 0, 1]])
    return (b3 @ np.linalg.inv(a3))[:2]


@pytest.mark.parametrize(
    ("second", "label"),
    [
        (_camera(dx=7.0, dy=-3.0), "shift"),
        (_camera(dx=2.0, zoom=1.06), "zoom"),
        (_camera(dx=-12.5, dy=4.25), "pan"),
    ],
)
def test_motion_is_measured(second: np.ndarray, label: str) -> None:
    world = _scene()
    first = _camera()
    motion = CameraMotion()
    assert motion.update(_film(world, first)).matrix is None  # nothing to compare yet
    got = motion.update(_film(world, second))
    assert got.matrix is not None and not got.scene_cut, label
    true = _between(first, second)
    grid = np.stack(np.meshgrid(np.linspace(20, 300, 8), np.linspace(20, 220, 6)), -1)
    err = np.linalg.norm(transform_points(got.matrix, grid) - transform_points(true, grid), axis=-1)
    assert err.max() < 0.3, (label, err.max())
    assert got.scale == pytest.approx(np.sqrt(np.linalg.det(true[:, :2])), abs=0.005)


def test_large_frames_are_measured_shrunk_in_full_frame_pixels() -> None:
    world = cv2.resize(_scene(), None, fx=2.0, fy=2.0)
    cam = np.array([[1.0, 0.0, -300.0], [0.0, 1.0, -200.0]])
    moved = cam + np.array([[0.0, 0.0, 9.0], [0.0, 0.0, -5.0]])
    frames = [cv2.warpAffine(world, m, (1280, 720)) for m in (cam, moved)]
    motion = CameraMotion(max_side=320)  # 1280 -> 320: measured at a quarter of the size
    motion.update(frames[0])
    got = motion.update(frames[1]).matrix
    assert got is not None
    np.testing.assert_allclose(got[:, 2], [9.0, -5.0], atol=0.5)
    np.testing.assert_allclose(got[:, :2], np.eye(2), atol=0.005)


def test_people_are_masked_out() -> None:
    """A big textured 'person' walking left while the camera pans right: the background's
    motion once the person's box (in the previous frame) is ignored, not without."""
    world, person = _scene(0), _scene(1)[:200, :200]
    frames = []
    for k in range(2):
        frame = _film(world, _camera(dx=6.0 * k))
        frame[20:220, 80 - 15 * k : 280 - 15 * k] = person
        frames.append(frame)
    box = [[80.0, 20.0, 279.0, 219.0]]
    motion = CameraMotion()
    motion.update(frames[0])
    got = motion.update(frames[1], ignore=box)
    assert got.matrix is not None
    np.testing.assert_allclose(got.matrix[:, 2], [6.0, 0.0], atol=0.3)
    blind = CameraMotion()
    blind.update(frames[0])
    got = blind.update(frames[1])  # the person's corners outvote the background's
    assert got.matrix is None or abs(got.matrix[0, 2] - 6.0) > 1.0
    # nothing but people to follow: unknown
    covered = CameraMotion()
    covered.update(frames[0])
    assert covered.update(frames[1], ignore=[[0.0, 0.0, 320.0, 240.0]]) == FrameMotion()


def test_corners_are_followed_from_frame_to_frame() -> None:
    """A steady pan over 8 frames: measured every frame, the corners found once and followed
    (not found again while enough are left), and the ones that walk onto a person dropped."""
    world = _scene()
    motion = CameraMotion()
    found = 0
    real = cv2.goodFeaturesToTrack

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal found
        found += 1
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cv2, "goodFeaturesToTrack", counting)
        for k in range(8):
            got = motion.update(_film(world, _camera(dx=3.0 * k)))
            if k:
                assert got.matrix is not None
                np.testing.assert_allclose(got.matrix[:, 2], [3.0, 0.0], atol=0.3)
        assert found == 1
        # a person over the whole frame: no corner may be reused, none found: unknown
        assert motion.update(_film(world, _camera(dx=24.0)), ignore=[[0, 0, 320, 240]]) == (
            FrameMotion()
        )
        assert found == 2


def test_flat_frames_give_unknown_motion_not_a_cut() -> None:
    motion = CameraMotion()
    grey = np.full((*HW, 3), 90, np.uint8)
    motion.update(grey)
    got = motion.update(grey)
    assert got == FrameMotion() and got.scale == 1.0


def test_another_scene_is_a_cut() -> None:
    motion = CameraMotion()
    motion.update(_film(_scene(0), _camera()))
    got = motion.update(_film(_scene(1), _camera()))
    assert got.scene_cut and got.matrix is None


def test_new_frame_size_and_reset_give_unknown_motion() -> None:
    world = _scene()
    frame = _film(world, _camera())
    motion = CameraMotion()
    motion.update(frame)
    assert motion.update(cv2.resize(frame, (160, 120))) == FrameMotion()
    motion.reset()
    assert motion.update(frame) == FrameMotion()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_side": 16},
        {"max_side": True},
        {"min_points": 4},
        {"min_agreement": 0.2, "cut_below": 0.3},
        {"threshold": 0.0},
        {"min_points": 300},
    ],
)
def test_bad_settings_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        CameraMotion(**kwargs)


def test_one_euro_state_moves_with_the_picture() -> None:
    """A still point filmed by a camera that jumps: moved with the picture, the filter's output
    follows the jump at once; left alone, it lags behind."""
    shift = np.array([[1.0, 0.0, 10.0], [0.0, 1.0, -4.0]])
    point = np.array([[100.0, 50.0]])
    moved = transform_points(shift, point)
    still, warped = OneEuroFilter(1.0, 0.0, 1.0), OneEuroFilter(1.0, 0.0, 1.0)
    for f in (still, warped):
        f(point, 0.0)
    warped.transform(shift[:, :2], shift[:, 2])
    np.testing.assert_allclose(warped(moved, 1 / 30), moved)
    lagging = still(moved, 1 / 30)
    assert np.linalg.norm(lagging - moved) > 5.0


def test_one_euro_transform_needs_pairs() -> None:
    f = OneEuroFilter()
    f.transform(np.eye(2), np.zeros(2))  # no state yet: nothing to move
    f(np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="pairs"):
        f.transform(np.eye(2), np.zeros(2))


def _moved(matrix: np.ndarray, poses: Poses) -> Poses:
    """The poses as a camera that moved by ``matrix`` sees them (boxes from the keypoints)."""
    return Poses(transform_points(matrix, poses.keypoints), poses.scores)


def _pose(xy: np.ndarray) -> Poses:
    kp = np.repeat(np.asarray(xy, np.float32)[None, None], 17, axis=1)
    kp = kp + np.arange(17, dtype=np.float32)[None, :, None]
    return Poses(kp, np.full((1, 17), 0.9, np.float32))


@pytest.mark.parametrize("units", ["image", "pixels"])
def test_pose_smoother_warp_follows_a_zoom(units: str) -> None:
    zoom = np.array([[1.1, 0.0, -32.0], [0.0, 1.1, -24.0]])
    smoother = PoseSmoother(units=units, beta=0.0)
    first = _pose(np.array([100.0, 80.0]))
    smoother(first, 0.0, HW)
    smoother.warp(zoom, HW)
    second = _moved(zoom, first)
    out = smoother(second, 1 / 30, HW)
    np.testing.assert_allclose(out.keypoints, second.keypoints, atol=1e-3)
    np.testing.assert_allclose(out.boxes, second.boxes, atol=1e-3)
    with pytest.raises(ValueError, match="affine"):
        smoother.warp(np.eye(2), HW)


def test_tracker_keeps_an_id_across_a_camera_jump() -> None:
    jump = np.array([[1.0, 0.0, 60.0], [0.0, 1.0, 0.0]])
    before = _pose(np.array([50.0, 50.0]))
    after = _moved(jump, before)
    plain, warped = IoUTracker(), IoUTracker()
    for tracker in (plain, warped):
        tracker.update(before)
    warped.warp(jump)
    assert warped.update(after).track_ids.tolist() == [0]
    assert plain.update(after).track_ids.tolist() == [1]  # without the motion: a new person


def test_crop_region_moves_and_scales_with_the_picture() -> None:
    crop = CropRegion(0.25, 0.25, 0.75, 0.5)  # 120 x 80 px, centred at (120, 120)
    zoom = np.array([[2.0, 0.0, -100.0], [0.0, 2.0, 10.0]])
    got = warp_crop_region(crop, zoom, *HW)
    assert ((got.xmin + got.xmax) / 2 * HW[1], (got.ymin + got.ymax) / 2 * HW[0]) == pytest.approx(
        (140.0, 250.0)
    )
    assert (got.width * HW[1], got.height * HW[0]) == pytest.approx((160.0, 240.0))


def test_stream_follows_the_camera_and_resets_at_a_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """The crop region moves with a measured pan and is dropped at a scene cut."""
    yxs = centred_torso()
    est = Estimator(FakeBackend(*TFHUB_LIGHTNING, outputs_fn=single_pose_outputs(yxs)))
    pan = np.array([[1.0, 0.0, 8.0], [0.0, 1.0, 0.0]])
    script = iter([FrameMotion(), FrameMotion(pan), FrameMotion(None, scene_cut=True)])
    monkeypatch.setattr(CameraMotion, "update", lambda self, image, ignore=None: next(script))
    frame = to_rgb_uint8(np.zeros((*HW, 3), np.uint8))
    with est.stream() as stream:
        stream.update(frame)
        before = stream.crop_region
        assert before is not None
        seen: list[CropRegion] = []
        real = stream.estimator.head.prepare_in_crop

        def spy(image: np.ndarray, box: tuple[float, float, float, float]):  # type: ignore[no-untyped-def]
            seen.append(CropRegion(*box))
            return real(image, box)

        monkeypatch.setattr(stream.estimator.head, "prepare_in_crop", spy)
        stream.update(frame)  # panned by 8 px: cropped where the person moved to
        assert seen[0].xmin * HW[1] == pytest.approx(before.xmin * HW[1] + 8.0)
        stream.update(frame)  # a cut: the first-frame crop again
        assert seen[1].as_box() == pytest.approx((0.0, 1 / 8, 1.0, 7 / 8))
    assert est.stream(camera_motion=False).camera_motion is False
    with pytest.raises(ValueError, match="camera_motion must be True or False"):
        est.stream(camera_motion="no")  # type: ignore[arg-type]


def test_absurd_boxes_are_harmless() -> None:
    world = _scene()
    motion = CameraMotion()
    motion.update(_film(world, _camera()))
    boxes = [[0.0, -1.5e308, 0.0, 0.0], [np.nan, 0.0, 1.0, 1.0], [300.0, 200.0, 10.0, 5.0]]
    got = motion.update(_film(world, _camera(dx=5.0)), ignore=boxes)
    assert got.matrix is not None
    np.testing.assert_allclose(got.matrix[:, 2], [5.0, 0.0], atol=0.3)


def test_odd_frame_sizes_are_measured_in_their_own_pixels() -> None:
    """A 641 x 481 frame is halved to 320 x 240 by cropping its last column and row, so one
    pixel of the small copy is exactly two of the frame's, whatever the odd size."""
    world = cv2.resize(_scene(), None, fx=1.5, fy=1.5)
    cam = np.array([[1.0, 0.0, -200.0], [0.0, 1.0, -150.0]])
    zoomed = np.array([[1.02, 0.0, -200.0 * 1.02 + 8.0], [0.0, 1.02, -150.0 * 1.02 - 5.0]])
    frames = [cv2.warpAffine(world, m, (641, 481)) for m in (cam, zoomed)]
    motion = CameraMotion()
    motion.update(frames[0])
    got = motion.update(frames[1]).matrix
    assert got is not None
    true = _between(cam, zoomed)
    grid = np.stack(np.meshgrid(np.linspace(20, 620, 7), np.linspace(20, 460, 5)), -1)
    err = np.linalg.norm(transform_points(got, grid) - transform_points(true, grid), axis=-1)
    assert err.max() < 0.3, err.max()
