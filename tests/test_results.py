"""Tests of :class:`xpose.results.Poses` and its one serialized form (API and CLI alike)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import ASTRONAUT, require_store
from xpose.cli import main
from xpose.keypoints import KEYPOINT_NAMES
from xpose.output import build_record, coco_entries
from xpose.preprocess import to_rgb_uint8
from xpose.results import Poses


def _poses(n: int = 2) -> Poses:
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 100, (n, 17, 2)).astype(np.float32)
    return Poses(kp, rng.uniform(0, 1, (n, 17)).astype(np.float32))


# --- the type ---------------------------------------------------------------------------------


def test_defaults_are_derived_from_the_keypoints() -> None:
    kp = np.zeros((1, 17, 2), np.float32)
    kp[0, :, 0] = np.arange(17)  # x 0..16
    kp[0, :, 1] = 50.0
    scores = np.full((1, 17), 0.5, np.float32)
    scores[0, 16] = 0.1  # below 0.2: not in the box
    poses = Poses(kp, scores)
    assert poses.score.tolist() == [pytest.approx((16 * 0.5 + 0.1) / 17)]
    assert poses.boxes.tolist() == [[0.0, 50.0, 15.0, 50.0]]
    assert poses.track_ids.tolist() == [-1]
    assert poses.keypoints.dtype == np.float32 and poses.track_ids.dtype == np.int64


def test_shapes_are_checked_with_expected_and_got() -> None:
    with pytest.raises(ValueError, match=r"Poses.keypoints: expected shape \(N, 17, 2\), got"):
        Poses(np.zeros((2, 16, 2)), np.zeros((2, 16)))
    with pytest.raises(ValueError, match=r"Poses.scores: expected shape \(2, 17\), got \(1, 17\)"):
        Poses(np.zeros((2, 17, 2)), np.zeros((1, 17)))
    with pytest.raises(ValueError, match=r"Poses.boxes: expected shape \(1, 4\)"):
        Poses(np.zeros((1, 17, 2)), np.zeros((1, 17)), boxes=np.zeros((1, 3)))


def test_arrays_are_read_only_and_not_shared_with_the_caller() -> None:
    kp = np.zeros((1, 17, 2), np.float64)
    poses = Poses(kp, np.zeros((1, 17)))
    kp[0, 0, 0] = 5.0  # cast to float32, so a copy
    assert poses.keypoints[0, 0, 0] == 0.0
    with pytest.raises(ValueError, match="read-only"):
        poses.keypoints[0, 0, 0] = 1.0


def test_indexing_keeps_the_type_and_the_leading_axis() -> None:
    poses = _poses(3).replace(track_ids=np.array([7, 8, 9]))
    assert len(poses) == 3 and len(Poses.empty()) == 0
    one = poses[1]
    assert isinstance(one, Poses) and one.keypoints.shape == (1, 17, 2)
    assert one.track_ids.tolist() == [8]
    assert poses[-1].track_ids.tolist() == [9]
    assert poses[1:].track_ids.tolist() == [8, 9]
    assert poses[poses.track_ids != 8].track_ids.tolist() == [7, 9]
    with pytest.raises(IndexError, match="pose index 3 out of range for 3 poses"):
        poses[3]


def test_replace_checks_the_new_arrays() -> None:
    poses = _poses(2)
    assert poses.replace(score=np.array([0.1, 0.2])).score.tolist() == pytest.approx([0.1, 0.2])
    with pytest.raises(ValueError, match="Poses.track_ids"):
        poses.replace(track_ids=np.array([1]))


def test_select_keeps_the_best_in_their_order() -> None:
    poses = _poses(4).replace(score=np.array([0.5, 0.9, 0.1, 0.7]), track_ids=np.arange(4))
    assert poses.select() is poses
    assert poses.select(min_pose_score=0.5).track_ids.tolist() == [0, 1, 3]
    assert poses.select(max_poses=2).track_ids.tolist() == [1, 3]
    assert poses.select(min_pose_score=0.6, max_poses=1).track_ids.tolist() == [1]
    assert len(poses.select(min_pose_score=0.95)) == 0


# --- the one serialized form -----------------------------------------------------------------


def test_to_dict_rounds_and_writes_null_for_nan_and_untracked() -> None:
    kp = np.full((2, 17, 2), 10.123456, np.float32)
    kp[0, 3] = np.nan
    scores = np.full((2, 17), 0.987654, np.float32)
    poses = Poses(kp, scores, track_ids=np.array([-1, 4]))
    people = poses.to_dict()["poses"]
    assert [p["track_id"] for p in people] == [None, 4]
    first = people[0]["keypoints"]
    assert [k["name"] for k in first] == list(KEYPOINT_NAMES)
    assert first[0] == {"name": "nose", "x": 10.12, "y": 10.12, "score": 0.9877}
    assert first[3]["x"] is None and first[3]["y"] is None
    assert people[0]["score"] == 0.9877
    json.dumps(people, allow_nan=False)  # JSON as it is, no NaN left


def test_api_and_records_serialize_alike() -> None:
    """``to_dict`` is a record's ``poses``; ``to_coco`` is the COCO writer's entries."""
    kp = np.array(_poses(2).keypoints)
    kp[1, 5] = np.nan
    poses = _poses(2).replace(keypoints=kp)
    record = build_record(
        poses, source="a.jpg", width=100, height=100, model="m", backend="b", precision=None
    )
    assert record["poses"] == poses.to_dict()["poses"]
    assert coco_entries(record, 42, 3) == poses.to_coco(42, 3)
    entry = poses.to_coco(42)[1]
    assert entry["keypoints"][15:18] == [0.0, 0.0, 0.0]  # COCO has no null
    assert len(entry["keypoints"]) == 51 and entry["image_id"] == 42
    assert entry["keypoints"][:3] == [
        round(float(kp[1, 0, 0]), 2),
        round(float(kp[1, 0, 1]), 2),
        round(float(poses.scores[1, 0]), 4),
    ]


@pytest.mark.convert
@pytest.mark.parametrize("fmt", ["jsonl", "coco"])
def test_api_and_cli_give_identical_output(estimators, tmp_path: Path, fmt: str) -> None:
    """``xpose predict`` writes exactly what ``est.predict(image)`` serializes to."""
    require_store("movenet-multipose")
    est = estimators("movenet-multipose")
    poses = est.predict(to_rgb_uint8(ASTRONAUT))
    assert len(poses) >= 1
    out = tmp_path / f"out.{fmt}"
    argv = ["predict", str(ASTRONAUT), "-m", "movenet-multipose", "--threads", "2"]
    assert main([*argv, "--format", fmt, "--out", str(out), "--quiet"]) == 0
    if fmt == "coco":
        assert json.loads(out.read_text()) == poses.to_coco(0)
    else:
        (record,) = [json.loads(line) for line in out.read_text().splitlines()]
        assert record["poses"] == poses.to_dict()["poses"]
