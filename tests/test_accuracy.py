"""Accuracy on real labelled photos: keypoints land near COCO's labels.

Uses the 4 COCO val2017 photos in ``../shared/data/coco_val2017`` (12 labelled people) and the
converted model store; skips when either is absent.

Distances are Euclidean, in image pixels, divided by the person's size ``sqrt(area)`` of the
COCO segmentation area (the scale COCO's OKS uses), over the keypoints labelled visible or
occluded (``v > 0``).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from tests.helpers import COCO_DIR, EstimatorCache
from xpose.estimator import Estimator
from xpose.preprocess import CropBox, to_rgb_uint8
from xpose.results import Poses

COCO = COCO_DIR
LABELS = COCO / "person_keypoints.json"

pytestmark = [
    pytest.mark.convert,
    pytest.mark.skipif(not LABELS.is_file(), reason=f"shared COCO photos not found at {COCO}"),
]


@pytest.fixture(scope="module")
def coco() -> dict[str, Any]:
    """The labels, plus ``photos``: image id -> RGB array."""
    data = json.loads(LABELS.read_text())
    data["photos"] = {im["id"]: to_rgb_uint8(COCO / im["file_name"]) for im in data["images"]}
    return data


def _people(coco: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in coco["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]


def _labels(ann: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    kp = np.asarray(ann["keypoints"], np.float64).reshape(17, 3)
    return kp[:, :2], kp[:, 2] > 0


def _distances(pose: Poses, ann: dict[str, Any]) -> np.ndarray:
    """Distances of the labelled keypoints, in units of the person's ``sqrt(area)``."""
    xy, labelled = _labels(ann)
    d = np.linalg.norm(pose.keypoints[0].astype(np.float64) - xy, axis=1)
    return d[labelled] / np.sqrt(ann["area"])


# --- MoveNet single-pose on crops around each labelled person ---------------------------------

#: Measured (fp32, both backends identical, 12 people, 182 labelled keypoints; distances in
#: sqrt(area) units): median over all keypoints 0.050 (Lightning) / 0.044 (Thunder); PCK@0.2
#: 0.84 / 0.89; per-person median at most 0.066 / 0.056, except one person (see NEIGHBOUR).
#: Bounds, about 1.5x to 2x the measured figures: a model that is off by a few input pixels, or
#: mis-decodes x/y or the crop mapping, fails them by far.
MEDIAN_ALL = 0.08
PCK_02_ALL = 0.75
MEDIAN_PER_PERSON = 0.10
#: One person (id 467657 in 000000197388.jpg, small and behind a larger player) has a crop
#: dominated by the player in front, and both MoveNet models pose that player instead: the
#: prediction lies closer (median 0.12) to the neighbour's labels than to the person's own
#: (0.75 / 0.94). Single-pose MoveNet assumes one person per crop, so such a crop may be
#: "taken" by a neighbour; the test allows at most one such person and checks that it is
#: really a neighbour's pose, not noise.
NEIGHBOUR = 1


def _single_pose(est: Estimator, photo: np.ndarray, ann: dict[str, Any]) -> Poses:
    crop = CropBox.square(ann["bbox"], photo.shape[:2], 1.25)  # the box enlarged, made square
    return crop.poses_to_image(est.predict(crop.apply(photo)))


@pytest.mark.parametrize("backend", ["onnxruntime", "tflite"])
@pytest.mark.parametrize("model", ["movenet-lightning", "movenet-thunder"])
def test_movenet_keypoints_land_near_labels(
    coco: dict[str, Any], estimators: EstimatorCache, model: str, backend: str
) -> None:
    est = estimators(model, backend)
    people = _people(coco)
    pooled: list[np.ndarray] = []
    taken_by_neighbour: list[int] = []
    for ann in people:
        pose = _single_pose(est, coco["photos"][ann["image_id"]], ann)
        d = _distances(pose, ann)
        pooled.append(d)
        if np.median(d) <= MEDIAN_PER_PERSON:
            continue
        others = [o for o in people if o["image_id"] == ann["image_id"] and o["id"] != ann["id"]]
        nearest = min(np.median(_distances(pose, o) * np.sqrt(o["area"])) for o in others)
        # The pose belongs to a neighbour: closer to the neighbour's labels than 0.2 of this
        # person's size, while far from this person's own labels.
        assert nearest / np.sqrt(ann["area"]) < 0.2, (
            f"person {ann['id']} in image {ann['image_id']}: median distance {np.median(d):.3f}"
        )
        taken_by_neighbour.append(ann["id"])
    assert len(taken_by_neighbour) <= NEIGHBOUR, taken_by_neighbour
    every = np.concatenate(pooled)
    assert every.size >= 150
    assert np.median(every) <= MEDIAN_ALL
    assert (every < 0.2).mean() >= PCK_02_ALL


# --- PoseNet multi-pose finds everyone MultiPose finds ----------------------------------------

#: PoseNet people scoring at least this are taken as found. With the default options PoseNet
#: also returns low-scoring near-duplicates of found people (pose scores 0.01 to 0.22 seen on
#: these photos) because ``score_threshold`` filters the seed part, not the pose; every real
#: person scored 0.64 to 0.91.
POSENET_MIN_SCORE = 0.5
#: Measured: each MultiPose person's partner lies at a median 0.015 to 0.080 of the MultiPose
#: box size sqrt(w * h) (over keypoints both score above 0.3); bound with about 2x margin.
SAME_PERSON = 0.15


def _person_distance(a: Poses, i: int, b: Poses, j: int) -> float:
    both = (a.scores[i] > 0.3) & (b.scores[j] > 0.3)
    if both.sum() < 3:
        return float("inf")
    x1, y1, x2, y2 = a.boxes[i]
    size = np.sqrt(max(float((x2 - x1) * (y2 - y1)), 1.0))
    d = np.linalg.norm(a.keypoints[i] - b.keypoints[j], axis=1)[both]
    return float(np.median(d) / size)


@pytest.mark.parametrize(
    "file_name",
    ["000000040083.jpg", "000000197388.jpg", "000000196141.jpg", "000000000785.jpg"],
)
def test_posenet_multi_finds_every_multipose_person(
    coco: dict[str, Any], estimators: EstimatorCache, file_name: str
) -> None:
    (image_id,) = (im["id"] for im in coco["images"] if im["file_name"] == file_name)
    photo = coco["photos"][image_id]
    multipose = estimators("movenet-multipose").predict(photo)
    posenet = estimators("posenet", multi_pose=True).predict(photo)
    posenet = posenet[posenet.score >= POSENET_MIN_SCORE]
    assert len(multipose) >= 1
    # Greedy one-to-one matching, closest pairs first.
    d = np.array(
        [
            [_person_distance(multipose, i, posenet, j) for j in range(len(posenet))]
            for i in range(len(multipose))
        ]
    ).reshape(len(multipose), len(posenet))
    matched: dict[int, int] = {}
    for flat in np.argsort(d, axis=None, kind="stable"):
        i, j = (int(v) for v in np.unravel_index(flat, d.shape))
        if i not in matched and j not in matched.values() and d[i, j] <= SAME_PERSON:
            matched[i] = j
    missed = [i for i in range(len(multipose)) if i not in matched]
    assert not missed, (
        f"PoseNet missed MultiPose people {missed} (boxes {multipose.boxes[missed].tolist()}); "
        f"distances {np.round(d, 3).tolist()}"
    )


#: Measured: MultiPose's nearest pose lies at a median 0.036 to 0.101 of each labelled person's
#: size for every person of area >= 5000 px^2 (9 people), and 0.075 / 0.111 for the two small
#: ones (1870, 2789 px^2); the occluded person 467657 is not found by MultiPose either (1.09).
MULTIPOSE_PER_PERSON = 0.2


def test_multipose_finds_the_labelled_people(
    coco: dict[str, Any], estimators: EstimatorCache
) -> None:
    """The reference of the PoseNet test is itself right: MultiPose poses each larger person."""
    est = estimators("movenet-multipose")
    anns = [a for a in _people(coco) if a["area"] >= 5000]
    assert len(anns) == 9
    for ann in anns:
        poses = est.predict(coco["photos"][ann["image_id"]])
        best = min(np.median(_distances(poses[i], ann)) for i in range(len(poses)))
        assert best <= MULTIPOSE_PER_PERSON, f"person {ann['id']}: {best:.3f}"
