"""PoseNet pre-processing and decoding on synthetic heatmaps, offsets and displacements."""

from __future__ import annotations

import numpy as np
import pytest

from xpose.keypoints import Keypoint as K
from xpose.models import get_spec, posenet
from xpose.models.posenet import POSE_CHAIN
from xpose.preprocess import Letterbox

SPEC = get_spec("posenet")
STRIDE = 16
CELLS = 25
BACKGROUND = -8.0  # logit of the empty heatmap: sigmoid ~ 3e-4


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


# --- prepare ----------------------------------------------------------------------------


def test_prepare_scales_to_minus_one_one() -> None:
    image = np.full((100, 200, 3), 255, np.uint8)
    image[:, :100] = 0
    feeds, lb = posenet.prepare(image, SPEC)
    x = feeds["image"]
    assert x.shape == (1, 385, 385, 3) and x.dtype == np.float32
    assert x.min() == -1.0 and x.max() == 1.0
    assert (x[0, :50] == -1.0).all()  # letterbox padding (pixel 0) becomes -1
    assert lb == Letterbox.fit((100, 200), (385, 385))


def test_prepare_refuses_movenet_spec() -> None:
    with pytest.raises(ValueError, match="expected a PoseNet model spec, got 'movenet-thunder'"):
        posenet.prepare(np.zeros((4, 4, 3), np.uint8), get_spec("movenet-thunder"))


def test_pose_chain_is_a_tree_over_all_keypoints() -> None:
    assert len(POSE_CHAIN) == 16
    children = [c for _, c in POSE_CHAIN]
    assert sorted([*children, K.NOSE]) == list(range(17))
    assert POSE_CHAIN[0] == (K.NOSE, K.LEFT_EYE) and POSE_CHAIN[-1] == (K.RIGHT_KNEE, K.RIGHT_ANKLE)


# --- single pose ------------------------------------------------------------------------


def test_decode_single_peak_plus_offset() -> None:
    heat = np.full((1, CELLS, CELLS, 17), BACKGROUND, np.float32)
    offs = np.zeros((1, CELLS, CELLS, 34), np.float32)
    rng = np.random.default_rng(3)
    cells = rng.integers(0, CELLS, (17, 2))
    deltas = rng.uniform(-8, 8, (17, 2))  # dy, dx
    for k, ((r, c), (dy, dx)) in enumerate(zip(cells, deltas, strict=True)):
        heat[0, r, c, k] = 2.0
        heat[0, (r + 3) % CELLS, c, k] = 1.0  # a lower second peak is ignored
        offs[0, r, c, k], offs[0, r, c, 17 + k] = dy, dx
    lb = Letterbox.fit((385, 770), (385, 385))
    poses = posenet.decode_single(heat, offs, lb)
    assert len(poses) == 1
    model_xy = np.stack(
        [cells[:, 1] * STRIDE + deltas[:, 1], cells[:, 0] * STRIDE + deltas[:, 0]], -1
    )
    np.testing.assert_allclose(poses.keypoints[0], lb.to_image(model_xy), atol=1e-3)
    np.testing.assert_allclose(poses.scores[0], _sigmoid(2.0), rtol=1e-6)
    np.testing.assert_allclose(poses.score, [_sigmoid(2.0)], rtol=1e-6)


def test_decode_single_refuses_wrong_shapes() -> None:
    lb = Letterbox.fit((385, 385), (385, 385))
    with pytest.raises(
        ValueError, match=r"heatmaps: expected shape \(1, H, W, 17\), got \(1, 25, 25, 34\)"
    ):
        posenet.decode_single(np.zeros((1, 25, 25, 34)), np.zeros((1, 25, 25, 34)), lb)
    with pytest.raises(ValueError, match="expected 25x25 cells like the heatmaps"):
        posenet.decode_single(np.zeros((1, 25, 25, 17)), np.zeros((1, 13, 13, 34)), lb)


# --- multi pose -------------------------------------------------------------------------

#: A standing person, (y, x) in input pixels, in a box about 300 x 100 px.
TEMPLATE = np.array(
    [
        (60, 82),
        (50, 74),
        (50, 90),
        (55, 62),
        (55, 102),  # nose, eyes, ears
        (110, 58),
        (110, 106),
        (165, 42),
        (165, 122),  # shoulders, elbows
        (222, 35),
        (222, 129),
        (222, 66),
        (222, 98),  # wrists, hips
        (285, 66),
        (285, 98),
        (348, 66),
        (348, 98),  # knees, ankles
    ],
    np.float64,
)


def _cell(p: np.ndarray) -> tuple[int, int]:
    return int(np.round(p[0] / STRIDE)), int(np.round(p[1] / STRIDE))


def _maps(people: list[tuple[np.ndarray, float]]) -> tuple[np.ndarray, ...]:
    """Heatmaps, offsets and displacements of people given as ((17, 2) y, x, peak logit)."""
    heat = np.full((1, CELLS, CELLS, 17), BACKGROUND, np.float32)
    offs = np.zeros((1, CELLS, CELLS, 34), np.float32)
    fwd = np.zeros((1, CELLS, CELLS, 32), np.float32)
    bwd = np.zeros((1, CELLS, CELLS, 32), np.float32)
    for yx, logit in people:
        for k, p in enumerate(yx):
            r, c = _cell(p)
            heat[0, r, c, k] = logit
            offs[0, r, c, k], offs[0, r, c, 17 + k] = p - (r * STRIDE, c * STRIDE)
        for e, (parent, child) in enumerate(POSE_CHAIN):
            d = yx[child] - yx[parent]
            r, c = _cell(yx[parent])
            fwd[0, r, c, e], fwd[0, r, c, 16 + e] = d
            r, c = _cell(yx[child])
            bwd[0, r, c, e], bwd[0, r, c, 16 + e] = -d
    return heat, offs, fwd, bwd


PERSON_A = TEMPLATE + np.array([0.0, 3.0])
PERSON_B = TEMPLATE + np.array([20.0, 200.0])
LB = Letterbox.fit((770, 770), (385, 385))  # scale 0.5, no padding


def test_decode_multi_recovers_two_people() -> None:
    maps = _maps([(PERSON_A, 4.0), (PERSON_B, 2.0)])
    poses = posenet.decode_multi(*maps, LB)
    assert len(poses) == 2
    np.testing.assert_allclose(poses.keypoints[0], LB.to_image(PERSON_A[:, ::-1]), atol=1e-3)
    np.testing.assert_allclose(poses.keypoints[1], LB.to_image(PERSON_B[:, ::-1]), atol=1e-3)
    np.testing.assert_allclose(poses.scores[0], _sigmoid(4.0), rtol=1e-5)
    np.testing.assert_allclose(poses.scores[1], _sigmoid(2.0), rtol=1e-5)
    np.testing.assert_allclose(poses.score, [_sigmoid(4.0), _sigmoid(2.0)], rtol=1e-5)
    assert poses.boxes.shape == (2, 4)
    np.testing.assert_allclose(
        poses.boxes[1], (2 * (35 + 200), 2 * (50 + 20), 2 * (129 + 200), 2 * (348 + 20))
    )


def test_decode_multi_from_a_leaf_root() -> None:
    """Rooted at an ankle, the pose is decoded up the tree (backward) then down (forward)."""
    maps = _maps([(PERSON_B, 2.0)])
    maps[0][0, ..., K.LEFT_ANKLE] += 1.0  # the ankle becomes the best root
    poses = posenet.decode_multi(*maps, LB)
    assert len(poses) == 1
    np.testing.assert_allclose(poses.keypoints[0], LB.to_image(PERSON_B[:, ::-1]), atol=1e-3)


def test_decode_multi_nms_suppresses_duplicate_root() -> None:
    heat, offs, fwd, bwd = _maps([(PERSON_A, 4.0), (PERSON_B, 2.0)])
    # A second nose peak two cells to the right of A's, whose offset points back next to A's nose.
    r, c = _cell(PERSON_A[K.NOSE])
    heat[0, r, c + 2, K.NOSE] = 3.0
    target = PERSON_A[K.NOSE] + (3.0, 4.0)
    offs[0, r, c + 2, K.NOSE], offs[0, r, c + 2, 17 + K.NOSE] = target - (
        r * STRIDE,
        (c + 2) * STRIDE,
    )
    assert len(posenet.decode_multi(heat, offs, fwd, bwd, LB, nms_radius=20)) == 2
    poses = posenet.decode_multi(heat, offs, fwd, bwd, LB, nms_radius=1)
    assert len(poses) == 3
    # The duplicate's nose sits on A's within 20 px, so with radius 20 it would not count; with
    # radius 1 the duplicate pose is scored on its own.
    np.testing.assert_allclose(poses.keypoints[1, K.NOSE], LB.to_image(target[::-1]), atol=1e-3)


def test_decode_multi_instance_score_excludes_claimed_keypoints() -> None:
    heat, offs, fwd, bwd = _maps([(PERSON_A, 4.0)])
    # A second nose peak whose offset puts its nose 1 px above A's, in A's nose cell: the walk
    # follows A's displacements, so all its other keypoints land exactly on A's.
    r, c = _cell(PERSON_A[K.NOSE])
    heat[0, r, c + 2, K.NOSE] = 3.0
    nose = PERSON_A[K.NOSE] - (1.0, 0.0)
    assert _cell(nose) == (r, c)
    offs[0, r, c + 2, K.NOSE], offs[0, r, c + 2, 17 + K.NOSE] = nose - (
        r * STRIDE,
        (c + 2) * STRIDE,
    )
    poses = posenet.decode_multi(heat, offs, fwd, bwd, LB, nms_radius=0.5)
    assert len(poses) == 2
    np.testing.assert_allclose(poses.keypoints[1, 1:], poses.keypoints[0, 1:], atol=1e-3)
    np.testing.assert_allclose(poses.keypoints[1, K.NOSE], LB.to_image(nose[::-1]), atol=1e-3)
    # Only its nose (1 px from A's, beyond the 0.5 px radius) counts towards its score.
    np.testing.assert_allclose(poses.score, [_sigmoid(4.0), _sigmoid(3.0) / 17], rtol=1e-5)


def test_decode_multi_limits() -> None:
    maps = _maps([(PERSON_A, 4.0), (PERSON_B, 2.0)])
    assert len(posenet.decode_multi(*maps, LB, max_poses=1)) == 1
    only_a = posenet.decode_multi(*maps, LB, score_threshold=0.95)
    assert len(only_a) == 1
    np.testing.assert_allclose(only_a.keypoints[0], LB.to_image(PERSON_A[:, ::-1]), atol=1e-3)
    empty = posenet.decode_multi(*maps, LB, score_threshold=0.999)
    assert len(empty) == 0 and empty.keypoints.shape == (0, 17, 2)


def test_decode_multi_refuses_bad_input() -> None:
    heat, offs, fwd, bwd = _maps([(PERSON_A, 4.0)])
    with pytest.raises(ValueError, match=r"displacement_fwd: expected shape \(1, H, W, 32\)"):
        posenet.decode_multi(heat, offs, offs, bwd, LB)
    with pytest.raises(ValueError, match="expected nms_radius > 0"):
        posenet.decode_multi(heat, offs, fwd, bwd, LB, nms_radius=0)
    with pytest.raises(ValueError, match="displacement_bwd: expected 25x25 cells"):
        posenet.decode_multi(heat, offs, fwd, bwd[:, :5], LB)
