"""The one result type: :class:`Poses`, a frozen set of arrays for N people, and its JSON form.

Naming, throughout xpose: ``score`` is one pose's confidence (:attr:`Poses.score`, ``(N,)``;
``min_pose_score`` filters on it), ``scores`` are the keypoints' (:attr:`Poses.scores`,
``(N, 17)``; keypoint thresholds are called ``threshold`` or say ``keypoint``). In the JSON
form each person and each keypoint has its own ``"score"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from xpose.keypoints import KEYPOINT_NAMES, NUM_KEYPOINTS

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def _as(arr: Any, dtype: type, shape: tuple[int | None, ...], what: str) -> np.ndarray:
    """``arr`` as a read-only contiguous array of ``dtype`` and ``shape`` (``None``: any size);
    an array that already is one is kept as it is."""
    if type(arr) is np.ndarray and arr.dtype == dtype and arr.flags.c_contiguous:
        out = arr
    else:
        out = np.ascontiguousarray(np.asarray(arr, dtype=dtype))
    if len(out.shape) != len(shape) or any(
        s is not None and s != d for s, d in zip(shape, out.shape)
    ):
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"Poses.{what}: expected shape {want}, got {out.shape}")
    out.setflags(write=False)
    return out


def boxes_from_keypoints(
    keypoints: FloatArray, scores: FloatArray, threshold: float = 0.0
) -> FloatArray:
    """Boxes ``(N, 4)`` x1, y1, x2, y2 spanning each pose's keypoints scoring above ``threshold``.

    A pose with no keypoint above the threshold spans all of its keypoints.
    """
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.shape[0] == 0:
        return np.zeros((0, 4), np.float32)
    mask = np.asarray(scores) > threshold
    mask[~mask.any(axis=1)] = True
    mask = mask[..., None]
    big = np.float32(np.inf)
    low = np.where(mask, kp, big).min(axis=1)  # (N, 2): x1, y1
    high = np.where(mask, kp, -big).max(axis=1)  # x2, y2
    return np.concatenate([low, high], axis=1)


@dataclass(frozen=True)
class Poses:
    """Poses of N people in one image, as read-only arrays.

    Attributes:
        keypoints: ``(N, 17, 2)`` float32, x then y, in pixels of the input image.
        scores: ``(N, 17)`` float32 keypoint confidences in [0, 1].
        score: ``(N,)`` float32 pose confidences.
        boxes: ``(N, 4)`` float32 x1, y1, x2, y2 in pixels. Models without a box output
            get the box spanning the pose's confident keypoints.
        track_ids: ``(N,)`` int64 track identities in video (``-1`` where untracked).
    """

    keypoints: FloatArray
    scores: FloatArray
    score: FloatArray = field(default=None)  # type: ignore[assignment]
    boxes: FloatArray = field(default=None)  # type: ignore[assignment]
    track_ids: IntArray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        kp = _as(self.keypoints, np.float32, (None, NUM_KEYPOINTS, 2), "keypoints")
        n = kp.shape[0]
        sc = _as(self.scores, np.float32, (n, NUM_KEYPOINTS), "scores")
        score = sc.mean(axis=1) if self.score is None else self.score
        boxes = boxes_from_keypoints(kp, sc, 0.2) if self.boxes is None else self.boxes
        tids = np.full(n, -1, np.int64) if self.track_ids is None else self.track_ids
        object.__setattr__(self, "keypoints", kp)
        object.__setattr__(self, "scores", sc)
        object.__setattr__(self, "score", _as(score, np.float32, (n,), "score"))
        object.__setattr__(self, "boxes", _as(boxes, np.float32, (n, 4), "boxes"))
        object.__setattr__(self, "track_ids", _as(tids, np.int64, (n,), "track_ids"))

    @classmethod
    def empty(cls) -> Poses:
        """No people."""
        return cls(
            np.zeros((0, NUM_KEYPOINTS, 2), np.float32), np.zeros((0, NUM_KEYPOINTS), np.float32)
        )

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    def __getitem__(self, index: int | slice | npt.ArrayLike) -> Poses:
        """Select people; an integer index keeps the leading axis (a Poses of one)."""
        if isinstance(index, (int, np.integer)):
            n = len(self)
            if not -n <= index < n:
                raise IndexError(f"pose index {index} out of range for {n} poses")
            index = slice(index, index + 1 if index != -1 else None)
        return Poses(
            self.keypoints[index],
            self.scores[index],
            self.score[index],
            self.boxes[index],
            self.track_ids[index],
        )

    def replace(self, **changes: Any) -> Poses:
        """A copy with some arrays replaced."""
        fields = {
            "keypoints": self.keypoints,
            "scores": self.scores,
            "score": self.score,
            "boxes": self.boxes,
            "track_ids": self.track_ids,
        }
        fields.update(changes)
        return Poses(**fields)

    def select(self, min_pose_score: float | None = None, max_poses: int | None = None) -> Poses:
        """The people scoring at least ``min_pose_score``, at most ``max_poses`` of the best.

        The order is kept; with neither limit (or none binding) ``self`` itself is returned.
        """
        keep = np.ones(len(self), bool) if min_pose_score is None else self.score >= min_pose_score
        if max_poses is not None and keep.sum() > max_poses:
            order = np.argsort(-np.where(keep, self.score, -np.inf), kind="stable")
            keep[:] = False
            keep[order[:max_poses]] = True
        return self if keep.all() else self[np.flatnonzero(keep)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"poses": [...]}``, one entry per person (see :func:`pose_entries`).

        The same entries make the ``"poses"`` of every ``xpose predict`` record.
        """
        return {"poses": pose_entries(self)}

    def to_coco(self, image_id: int, category_id: int = 1) -> list[dict[str, Any]]:
        """COCO keypoint *results* entries (one per person) for pycocotools' ``loadRes``.

        Made from :meth:`to_dict`'s entries by :func:`coco_results`, so they hold the same
        numbers as ``xpose predict --format coco``.
        """
        return coco_results(pose_entries(self), image_id, category_id)


# --- the one serialized form of Poses ----------------------------------------------------------

#: Decimals kept for pixel coordinates (x, y, boxes) and for scores when serializing.
XY_DECIMALS = 2
SCORE_DECIMALS = 4


def _number(value: Any, decimals: int) -> float | None:
    """``value`` rounded, or ``None`` when it is not finite (JSON has no NaN or infinity)."""
    v = float(value)
    return round(v, decimals) if math.isfinite(v) else None


def _score(value: Any) -> float:
    """A score rounded to :data:`SCORE_DECIMALS`; a non-finite one is 0."""
    return _number(value, SCORE_DECIMALS) or 0.0


def pose_entries(poses: Poses) -> list[dict[str, Any]]:
    """JSON-ready entries of ``poses``, one per person, as every sink writes them.

    Each entry: ``score``, ``box`` ``[x1, y1, x2, y2]``, ``track_id`` and ``keypoints``, 17 of
    ``{"name", "x", "y", "score"}`` in COCO order. The rules: pixel coordinates rounded to
    :data:`XY_DECIMALS` decimals, scores to :data:`SCORE_DECIMALS`; a non-finite coordinate
    is ``None`` (JSON ``null``) and a non-finite score 0; ``track_id`` is ``None`` where the
    pose is untracked (``-1`` in :attr:`Poses.track_ids`).
    """
    people = []
    for i in range(len(poses)):
        tid = int(poses.track_ids[i])
        people.append(
            {
                "score": _score(poses.score[i]),
                "box": [_number(v, XY_DECIMALS) for v in poses.boxes[i]],
                "track_id": tid if tid >= 0 else None,
                "keypoints": [
                    {
                        "name": KEYPOINT_NAMES[k],
                        "x": _number(poses.keypoints[i, k, 0], XY_DECIMALS),
                        "y": _number(poses.keypoints[i, k, 1], XY_DECIMALS),
                        "score": _score(poses.scores[i, k]),
                    }
                    for k in range(NUM_KEYPOINTS)
                ],
            }
        )
    return people


def coco_results(
    people: list[dict[str, Any]], image_id: int, category_id: int = 1
) -> list[dict[str, Any]]:
    """COCO keypoint *results* of :func:`pose_entries`' entries, as pycocotools' ``loadRes`` reads.

    Each entry: ``image_id``, ``category_id``, ``keypoints`` (51 numbers: x, y, score for the
    17 keypoints; a keypoint without coordinates, ``null`` in the entries, becomes 0, 0 with
    score 0, since COCO has no null) and ``score`` (the pose's).
    """
    out = []
    for person in people:
        flat: list[float] = []
        for kp in person["keypoints"]:
            if kp["x"] is None or kp["y"] is None:
                flat += [0.0, 0.0, 0.0]
            else:
                flat += [kp["x"], kp["y"], kp["score"]]
        out.append(
            {
                "image_id": int(image_id),
                "category_id": int(category_id),
                "keypoints": flat,
                "score": person["score"],
            }
        )
    return out
