from __future__ import annotations

import numpy as np
import pytest

from xpose.draw import PALETTE, color_for, draw_poses
from xpose.keypoints import Keypoint
from xpose.results import Poses

H, W = 120, 160


def _poses(track_ids: list[int] | None = None) -> Poses:
    """One pose: keypoints on a 4 x 5 grid inside the image, all confident but the nose."""
    grid = np.array([(20 + 30 * (k % 5), 15 + 28 * (k // 5)) for k in range(17)], np.float32)
    scores = np.full((1, 17), 0.9, np.float32)
    scores[0, Keypoint.NOSE] = 0.1
    tids = None if track_ids is None else np.array(track_ids)
    return Poses(grid[None], scores, track_ids=tids)


def _image() -> np.ndarray:
    return np.full((H, W, 3), 40, np.uint8)


def _changed(a: np.ndarray, b: np.ndarray, x: float, y: float, r: int = 1) -> bool:
    xi, yi = round(x), round(y)
    win = (slice(yi - r, yi + r + 1), slice(xi - r, xi + r + 1))
    return bool((a[win] != b[win]).any())


def test_input_unchanged_and_new_array() -> None:
    image = _image()
    before = image.copy()
    out = draw_poses(image, _poses())
    np.testing.assert_array_equal(image, before)
    assert out is not image and not np.shares_memory(out, image)
    assert out.shape == image.shape and out.dtype == np.uint8


def test_read_only_and_non_contiguous_input() -> None:
    image = _image()
    image.setflags(write=False)
    out = draw_poses(image, _poses())
    assert out.flags.writeable and (out != image).any()
    strided = np.full((H, 2 * W, 3), 40, np.uint8)[:, ::2]
    assert draw_poses(strided, _poses()).shape == (H, W, 3)


def test_confident_keypoints_drawn_low_score_skipped() -> None:
    image = _image()
    poses = _poses()
    out = draw_poses(image, poses, threshold=0.3)
    for k in range(1, 17):
        x, y = poses.keypoints[0, k]
        assert _changed(out, image, x, y), f"keypoint {k} not drawn"
    # the nose (score 0.1) is left out, and so are its edges: where it lies changes nothing
    nx, ny = poses.keypoints[0, Keypoint.NOSE]
    assert not _changed(out, image, nx, ny, r=4)
    moved = poses.keypoints.copy()
    moved[0, Keypoint.NOSE] = (W - 10, H - 5)
    np.testing.assert_array_equal(draw_poses(image, poses.replace(keypoints=moved)), out)


def test_threshold_zero_draws_everything_and_one_draws_nothing() -> None:
    image = _image()
    poses = _poses()
    nx, ny = poses.keypoints[0, Keypoint.NOSE]
    assert _changed(draw_poses(image, poses, threshold=0.0), image, nx, ny)
    np.testing.assert_array_equal(draw_poses(image, poses, threshold=0.95), image)


def test_skeleton_edge_drawn_between_confident_keypoints() -> None:
    image = _image()
    poses = _poses()
    out = draw_poses(image, poses)
    a, b = Keypoint.LEFT_SHOULDER, Keypoint.LEFT_HIP
    mid = (poses.keypoints[0, a] + poses.keypoints[0, b]) / 2
    assert _changed(out, image, *mid)


def test_colour_per_track_id() -> None:
    image = _image()
    x, y = _poses().keypoints[0, Keypoint.LEFT_HIP]
    c3 = draw_poses(image, _poses([3]), radius=4)[round(y), round(x)]
    c4 = draw_poses(image, _poses([4]), radius=4)[round(y), round(x)]
    untracked = draw_poses(image, _poses(), radius=4)[round(y), round(x)]
    assert tuple(c3) == PALETTE[3] and tuple(c4) == PALETTE[4]
    assert tuple(untracked) == PALETTE[0]
    assert color_for(3, 0) == PALETTE[3]
    assert color_for(-1, 2) == PALETTE[2]
    assert color_for(len(PALETTE) + 1, 0) == PALETTE[1]


def test_boxes_optional() -> None:
    image = _image()
    poses = Poses(
        np.full((1, 17, 2), 60, np.float32),
        np.zeros((1, 17), np.float32),
        boxes=np.array([[10, 10, 100, 90]], np.float32),
        track_ids=np.array([2]),
    )
    np.testing.assert_array_equal(draw_poses(image, poses), image)
    boxed = draw_poses(image, poses, draw_boxes=True)
    assert _changed(boxed, image, 55, 10) and _changed(boxed, image, 10, 50)
    assert not _changed(boxed, image, 55, 50, r=5)


def test_empty_and_off_image_poses() -> None:
    image = _image()
    np.testing.assert_array_equal(draw_poses(image, Poses.empty()), image)
    far = Poses(np.full((1, 17, 2), 1e9, np.float32), np.ones((1, 17), np.float32))
    np.testing.assert_array_equal(draw_poses(image, far), image)
    nan = Poses(np.full((1, 17, 2), np.nan, np.float32), np.ones((1, 17), np.float32))
    np.testing.assert_array_equal(draw_poses(image, nan), image)


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (np.zeros((10, 10), np.uint8), ValueError, r"expected shape \(H, W, 3\)"),
        (np.zeros((10, 10, 4), np.uint8), ValueError, r"expected shape \(H, W, 3\)"),
        (np.zeros((10, 10, 3), np.float32), ValueError, "expected dtype uint8"),
        ([[[0, 0, 0]]], TypeError, "expected a numpy array"),
    ],
)
def test_bad_image(image: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        draw_poses(image, Poses.empty())  # type: ignore[arg-type]
