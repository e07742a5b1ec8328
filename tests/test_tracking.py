from __future__ import annotations

import numpy as np
import pytest

from xpose.keypoints import Keypoint
from xpose.results import Poses
from xpose.tracking import (
    COCO_SIGMAS,
    TRACKERS,
    IoUTracker,
    NoTracker,
    OKSTracker,
    box_iou,
    make_tracker,
    oks,
)

# A standing person, keypoints relative to the box centre, for a 60 x 160 px box.
K = Keypoint
_TEMPLATE = {
    K.NOSE: (0, -70),
    K.LEFT_EYE: (4, -74),
    K.RIGHT_EYE: (-4, -74),
    K.LEFT_EAR: (8, -72),
    K.RIGHT_EAR: (-8, -72),
    K.LEFT_SHOULDER: (18, -50),
    K.RIGHT_SHOULDER: (-18, -50),
    K.LEFT_ELBOW: (26, -25),
    K.RIGHT_ELBOW: (-26, -25),
    K.LEFT_WRIST: (30, 0),
    K.RIGHT_WRIST: (-30, 0),
    K.LEFT_HIP: (12, 5),
    K.RIGHT_HIP: (-12, 5),
    K.LEFT_KNEE: (14, 40),
    K.RIGHT_KNEE: (-14, 40),
    K.LEFT_ANKLE: (15, 80),
    K.RIGHT_ANKLE: (-15, 80),
}
TEMPLATE = np.array([_TEMPLATE[k] for k in Keypoint], np.float32)


def person(cx: float, cy: float, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (17, 2) and box (4,) of the template person centred at (cx, cy)."""
    kp = TEMPLATE * scale + np.array([cx, cy], np.float32)
    box = np.array([cx - 30 * scale, cy - 80 * scale, cx + 30 * scale, cy + 80 * scale])
    return kp, box.astype(np.float32)


def frame(people: list[tuple[np.ndarray, np.ndarray]]) -> Poses:
    if not people:
        return Poses.empty()
    kp = np.stack([p[0] for p in people])
    boxes = np.stack([p[1] for p in people])
    return Poses(kp, np.ones(kp.shape[:2], np.float32), boxes=boxes)


TRACKER_CLASSES = [IoUTracker, OKSTracker]


@pytest.mark.parametrize("tracker_cls", TRACKER_CLASSES)
@pytest.mark.parametrize(("dy", "scale_b"), [(0.0, 1.0), (12.0, 0.9)])
@pytest.mark.parametrize("seed", range(4))
def test_two_people_crossing_keep_ids(
    tracker_cls: type, dy: float, scale_b: float, seed: int
) -> None:
    """A walks left to right, B right to left, 10 px a frame; mid-way, with dy == 0, each
    steps onto the box the other just left, so only the motion tells them apart."""
    tracker = tracker_cls(max_age=5)
    rng = np.random.default_rng(seed)
    n = 30
    seen: dict[str, set[int]] = {"a": set(), "b": set()}
    for i in range(n):
        xa = 100 + 300 * i / (n - 1)
        xb = 400 - 300 * i / (n - 1)
        people = {"a": person(xa, 200), "b": person(xb, 200 + dy, scale_b)}
        order = rng.permutation(["a", "b"]).tolist()  # detection order says nothing
        out = tracker.update(frame([people[name] for name in order]))
        assert len(out) == 2
        for j, name in enumerate(order):
            seen[name].add(int(out.track_ids[j]))
    assert len(seen["a"]) == 1 and len(seen["b"]) == 1
    assert seen["a"] != seen["b"]
    assert seen["a"] | seen["b"] == {0, 1}


@pytest.mark.parametrize("tracker_cls", TRACKER_CLASSES)
def test_track_dropped_after_max_age_and_new_person_new_id(tracker_cls: type) -> None:
    tracker = tracker_cls(max_age=3)
    still = person(400, 200)
    a = person(100, 200)
    for _ in range(3):
        out = tracker.update(frame([a, still]))
    np.testing.assert_array_equal(out.track_ids, [0, 1])

    # A missing for 2 frames (<= max_age): same id when back.
    for _ in range(2):
        np.testing.assert_array_equal(tracker.update(frame([still])).track_ids, [1])
    np.testing.assert_array_equal(tracker.update(frame([a, still])).track_ids, [0, 1])

    # A missing for max_age frames: kept; one more: dropped.
    for _ in range(3):
        tracker.update(frame([still]))
    assert tracker.track_ids == (0, 1)
    tracker.update(frame([still]))
    assert tracker.track_ids == (1,)

    # Someone appears where A was: a new id, never a reused one.
    np.testing.assert_array_equal(tracker.update(frame([still, a])).track_ids, [1, 2])


@pytest.mark.parametrize("tracker_cls", TRACKER_CLASSES)
def test_far_jump_starts_new_track(tracker_cls: type) -> None:
    tracker = tracker_cls()
    tracker.update(frame([person(100, 200)]))
    np.testing.assert_array_equal(tracker.update(frame([person(600, 200)])).track_ids, [1])


@pytest.mark.parametrize("tracker_cls", TRACKER_CLASSES)
def test_update_keeps_poses_and_reset(tracker_cls: type) -> None:
    tracker = tracker_cls()
    poses = frame([person(100, 200), person(300, 200)])
    out = tracker.update(poses)
    np.testing.assert_array_equal(poses.track_ids, [-1, -1])  # input untouched
    np.testing.assert_array_equal(out.keypoints, poses.keypoints)
    np.testing.assert_array_equal(out.boxes, poses.boxes)
    np.testing.assert_array_equal(out.track_ids, [0, 1])
    assert out.track_ids.dtype == np.int64
    assert len(tracker.update(Poses.empty())) == 0
    tracker.reset()
    assert tracker.track_ids == ()
    np.testing.assert_array_equal(tracker.update(poses).track_ids, [0, 1])


def test_oks_ignores_low_score_keypoints() -> None:
    kp, _ = person(100, 200)
    moved = kp.copy()
    moved[K.LEFT_WRIST] += 80  # a wild wrist
    scores = np.ones((1, 17), np.float32)
    low = scores.copy()
    low[0, K.LEFT_WRIST] = 0.1
    area = np.array([60 * 160])
    full = oks(kp[None], scores, area, moved[None], scores)[0, 0]
    masked = oks(kp[None], scores, area, moved[None], low)[0, 0]
    assert full < masked == pytest.approx(1.0)


def test_oks_values() -> None:
    kp, _ = person(100, 200)
    scores = np.ones((1, 17), np.float32)
    area = np.array([60.0 * 160.0])
    assert oks(kp[None], scores, area, kp[None], scores)[0, 0] == pytest.approx(1.0)
    assert oks(kp[None], scores, area, kp[None] + 500, scores)[0, 0] < 1e-6
    # one keypoint off by d: exp(-d² / (2 area (2σ)²)) averaged over 17
    d = 10.0
    off = kp.copy()
    off[K.NOSE, 0] += d
    want = (16 + np.exp(-(d**2) / (2 * area[0] * (2 * COCO_SIGMAS[K.NOSE]) ** 2))) / 17
    assert oks(kp[None], scores, area, off[None], scores)[0, 0] == pytest.approx(want)
    few = np.zeros((1, 17), np.float32)
    few[0, :3] = 1.0
    assert oks(kp[None], few, area, kp[None], few, min_keypoints=4)[0, 0] == 0.0
    assert oks(kp[None], scores, area, np.zeros((0, 17, 2)), np.zeros((0, 17))).shape == (1, 0)


def test_box_iou() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[1 / 3, 0, 1], [0, 0, 0]])


def test_make_tracker() -> None:
    assert set(TRACKERS) == {"iou", "oks", "none"}
    iou = make_tracker("iou", max_age=7, min_similarity=0.4)
    assert isinstance(iou, IoUTracker) and iou.max_age == 7 and iou.min_similarity == 0.4
    assert isinstance(make_tracker("OKS"), OKSTracker)
    none = make_tracker("none")
    assert isinstance(none, NoTracker)
    poses = frame([person(100, 200)])
    assert none.update(poses) is poses
    with pytest.raises(ValueError, match=r"unknown tracker 'sort'.*iou, none, oks"):
        make_tracker("sort")


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"max_age": -1}, "max_age"), ({"min_similarity": 1.5}, "min_similarity")]
)
def test_bad_parameters(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        IoUTracker(**kwargs)
