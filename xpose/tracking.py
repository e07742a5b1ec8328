"""Track identities across video frames for multi-person output.

Two trackers share one algorithm and differ in their similarity measure:

* :class:`IoUTracker`: intersection over union of the pose boxes.
* :class:`OKSTracker`: COCO's object keypoint similarity, with the 17 standard per-keypoint
  falloffs and the object's area taken from the track's box.

Each frame, every live track's box and keypoints are moved forward by the track's estimated
velocity (constant-velocity prediction, so people who cross paths keep their identities), the
similarity of every (track, detection) pair is computed, and pairs are matched greedily, the
most similar pair first, down to ``min_similarity``. A matched track takes the detection's
pose; a detection left unmatched starts a new track; a track left unmatched for more than
``max_age`` consecutive frames is dropped.

Track ids are non-negative integers starting at **0**, handed out in increasing order and never
reused until :meth:`~IoUTracker.reset` (``-1`` in :class:`~xpose.results.Poses` means
untracked).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from xpose.motion import affine_matrix, transform_points
from xpose.results import Poses

logger = logging.getLogger(__name__)

__all__ = [
    "COCO_SIGMAS",
    "TRACKERS",
    "IoUTracker",
    "NoTracker",
    "OKSTracker",
    "Tracker",
    "box_iou",
    "make_tracker",
    "oks",
]

FloatArray = npt.NDArray[np.float32]

# fmt: off
#: COCO's per-keypoint OKS standard deviations, in :class:`~xpose.keypoints.Keypoint` order.
COCO_SIGMAS: npt.NDArray[np.float64] = np.array([
    0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72,
    0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89,
]) / 10.0
# fmt: on

#: Weight of the newest displacement in a track's velocity estimate (exponential average).
_VELOCITY_GAIN = 0.5


def box_iou(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Pairwise intersection over union of boxes.

    Args:
        a: ``(M, 4)`` boxes x1, y1, x2, y2.
        b: ``(N, 4)`` boxes x1, y1, x2, y2.

    Returns:
        ``(M, N)`` float64 IoU in [0, 1] (0 where both boxes are empty).
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def oks(
    kp_a: npt.ArrayLike,
    scores_a: npt.ArrayLike,
    areas_a: npt.ArrayLike,
    kp_b: npt.ArrayLike,
    scores_b: npt.ArrayLike,
    *,
    keypoint_threshold: float = 0.3,
    min_keypoints: int = 4,
    sigmas: npt.ArrayLike = COCO_SIGMAS,
) -> npt.NDArray[np.float64]:
    """Pairwise COCO object keypoint similarity between two sets of poses.

    ``OKS = mean over shared keypoints of exp(-d² / (2 · area · (2σ)²))``, where a keypoint is
    shared when it scores at least ``keypoint_threshold`` in both poses, ``d`` is the distance
    between the two positions and ``area`` is the reference object's area (of set ``a``).

    Args:
        kp_a: ``(M, 17, 2)`` keypoints x, y of the reference poses.
        scores_a: ``(M, 17)`` their keypoint scores.
        areas_a: ``(M,)`` their object areas in pixels² (e.g. box width × height).
        kp_b: ``(N, 17, 2)`` keypoints x, y of the other poses.
        scores_b: ``(N, 17)`` their keypoint scores.
        keypoint_threshold: a keypoint counts where it scores at least this in both poses.
        min_keypoints: pairs sharing fewer keypoints get similarity 0.
        sigmas: ``(17,)`` per-keypoint falloffs (COCO's by default).

    Returns:
        ``(M, N)`` float64 similarity in [0, 1].
    """
    kp_a = np.asarray(kp_a, dtype=np.float64)
    kp_b = np.asarray(kp_b, dtype=np.float64)
    var = (2.0 * np.asarray(sigmas, dtype=np.float64)) ** 2  # (17,)
    area = np.maximum(np.asarray(areas_a, dtype=np.float64), 1.0)  # (M,)
    d2 = ((kp_a[:, None] - kp_b[None, :]) ** 2).sum(axis=-1)  # (M, N, 17)
    sim = np.exp(-d2 / (2.0 * area[:, None, None] * var))
    shared = (np.asarray(scores_a)[:, None, :] >= keypoint_threshold) & (
        np.asarray(scores_b)[None, :, :] >= keypoint_threshold
    )
    count = shared.sum(axis=-1)
    total = np.where(shared, sim, 0.0).sum(axis=-1)
    enough = count >= max(min_keypoints, 1)
    return np.divide(total, count, out=np.zeros(total.shape), where=enough)


def _greedy_match(sim: npt.NDArray[np.float64], min_similarity: float) -> list[tuple[int, int]]:
    """Pairs ``(row, col)`` matched greedily, highest similarity first, each row/col once."""
    if sim.size == 0:
        return []
    order = np.argsort(-sim, axis=None, kind="stable")
    rows, cols = np.unravel_index(order, sim.shape)
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    pairs = []
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        if sim[r, c] < min_similarity:
            break
        if r in used_rows or c in used_cols:
            continue
        used_rows.add(r)
        used_cols.add(c)
        pairs.append((r, c))
    return pairs


@dataclass
class _Track:
    track_id: int
    box: npt.NDArray[np.float64]  # (4,) last seen
    keypoints: npt.NDArray[np.float64]  # (17, 2) last seen
    scores: npt.NDArray[np.float32]  # (17,) last seen
    velocity: npt.NDArray[np.float64]  # (2,) box-centre pixels per frame
    missed: int = 0  # consecutive frames without a match

    def predicted_shift(self) -> npt.NDArray[np.float64]:
        """Displacement (2,) from the last seen position to the current frame's prediction."""
        return self.velocity * (self.missed + 1)


def _centre(box: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.array([(box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0])


class Tracker(Protocol):
    """What every tracker offers: ``update`` once per frame, ``reset`` between videos."""

    def update(self, poses: Poses) -> Poses:
        """The frame's poses with ``track_ids`` filled."""
        ...

    def reset(self) -> None:
        """Forget every track; ids start again from 0."""
        ...


class _GreedyTracker:
    """Shared tracking loop; subclasses define :meth:`_similarity`."""

    def __init__(self, max_age: int, min_similarity: float) -> None:
        if max_age < 0:
            raise ValueError(f"max_age must be >= 0 frames, got {max_age}")
        if not 0.0 <= min_similarity <= 1.0:
            raise ValueError(f"min_similarity must be in [0, 1], got {min_similarity}")
        self.max_age = int(max_age)
        self.min_similarity = float(min_similarity)
        self._tracks: list[_Track] = []
        self._next_id = 0

    @property
    def track_ids(self) -> tuple[int, ...]:
        """Ids of the live tracks (seen within the last ``max_age`` frames)."""
        return tuple(t.track_id for t in self._tracks)

    def reset(self) -> None:
        """Forget every track; ids start again from 0."""
        self._tracks = []
        self._next_id = 0

    def _similarity(
        self, boxes: npt.NDArray[np.float64], keypoints: npt.NDArray[np.float64], poses: Poses
    ) -> npt.NDArray[np.float64]:
        """``(T, N)`` similarity of predicted tracks (boxes ``(T, 4)``, keypoints
        ``(T, 17, 2)``, in ``self._tracks`` order) to the frame's N poses."""
        raise NotImplementedError

    def warp(self, matrix: npt.ArrayLike) -> None:
        """Move every track with the picture when the camera moved since the last frame.

        Args:
            matrix: ``(2, 3)`` affine map from the previous frame's pixels to the next
                frame's (:attr:`xpose.motion.FrameMotion.matrix`); boxes move by their
                corners, speeds by the linear part.
        """
        m = affine_matrix(matrix)
        for track in self._tracks:
            track.box = transform_points(m, track.box.reshape(2, 2)).reshape(4)
            track.keypoints = transform_points(m, track.keypoints)
            track.velocity = m[:, :2] @ track.velocity

    def update(self, poses: Poses) -> Poses:
        """Assign track ids to one frame's poses.

        Args:
            poses: the frame's detections (not modified; their ``track_ids`` are ignored).

        Returns:
            The same poses, in the same order, with ``track_ids`` ``(N,)`` filled (all ``>= 0``).
        """
        n = len(poses)
        ids = np.full(n, -1, np.int64)
        if self._tracks and n:
            shifts = np.stack([t.predicted_shift() for t in self._tracks])  # (T, 2)
            boxes = np.stack([t.box for t in self._tracks]) + np.tile(shifts, 2)
            keypoints = np.stack([t.keypoints for t in self._tracks]) + shifts[:, None, :]
            sim = self._similarity(boxes, keypoints, poses)
            pairs = _greedy_match(sim, self.min_similarity)
        else:
            pairs = []

        matched_tracks = set()
        for ti, di in pairs:
            track = self._tracks[ti]
            box = poses.boxes[di].astype(np.float64)
            step = (_centre(box) - _centre(track.box)) / (track.missed + 1)
            track.velocity = track.velocity + _VELOCITY_GAIN * (step - track.velocity)
            track.box = box
            track.keypoints = poses.keypoints[di].astype(np.float64)
            track.scores = poses.scores[di].copy()
            track.missed = 0
            ids[di] = track.track_id
            matched_tracks.add(ti)

        survivors = []
        for ti, track in enumerate(self._tracks):
            if ti not in matched_tracks:
                track.missed += 1
                if track.missed > self.max_age:
                    logger.debug("track %d dropped, unseen %d frames", track.track_id, track.missed)
                    continue
            survivors.append(track)
        self._tracks = survivors

        for di in np.flatnonzero(ids < 0).tolist():
            ids[di] = self._next_id
            self._tracks.append(
                _Track(
                    track_id=self._next_id,
                    box=poses.boxes[di].astype(np.float64),
                    keypoints=poses.keypoints[di].astype(np.float64),
                    scores=poses.scores[di].copy(),
                    velocity=np.zeros(2),
                )
            )
            self._next_id += 1
        return poses.replace(track_ids=ids)


class IoUTracker(_GreedyTracker):
    """Tracks poses by the IoU of their boxes.

    Args:
        max_age: a track unmatched for more than this many consecutive frames is dropped.
        min_similarity: the least IoU for a detection to continue a track.
    """

    def __init__(self, max_age: int = 30, min_similarity: float = 0.3) -> None:
        super().__init__(max_age, min_similarity)

    def _similarity(
        self, boxes: npt.NDArray[np.float64], keypoints: npt.NDArray[np.float64], poses: Poses
    ) -> npt.NDArray[np.float64]:
        return box_iou(boxes, poses.boxes)


class OKSTracker(_GreedyTracker):
    """Tracks poses by COCO object keypoint similarity (see :func:`oks`).

    The object area is the track's box area (width × height, in pixels²).

    Args:
        max_age: a track unmatched for more than this many consecutive frames is dropped.
        min_similarity: the least OKS for a detection to continue a track.
        keypoint_threshold: keypoints scoring below this (in either pose) are not compared.
        min_keypoints: pairs sharing fewer confident keypoints never match.
    """

    def __init__(
        self,
        max_age: int = 30,
        min_similarity: float = 0.2,
        *,
        keypoint_threshold: float = 0.3,
        min_keypoints: int = 4,
    ) -> None:
        super().__init__(max_age, min_similarity)
        self.keypoint_threshold = float(keypoint_threshold)
        self.min_keypoints = int(min_keypoints)

    def _similarity(
        self, boxes: npt.NDArray[np.float64], keypoints: npt.NDArray[np.float64], poses: Poses
    ) -> npt.NDArray[np.float64]:
        areas = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
        scores = np.stack([t.scores for t in self._tracks])
        return oks(
            keypoints,
            scores,
            areas,
            poses.keypoints,
            poses.scores,
            keypoint_threshold=self.keypoint_threshold,
            min_keypoints=self.min_keypoints,
        )


class NoTracker:
    """A tracker that tracks nothing: poses pass through untouched (ids stay as given)."""

    def update(self, poses: Poses) -> Poses:
        """``poses`` unchanged."""
        return poses

    def reset(self) -> None:
        """Nothing to forget."""


#: Tracker names for :func:`make_tracker`.
TRACKERS: dict[str, Callable[..., Any]] = {
    "iou": IoUTracker,
    "oks": OKSTracker,
    "none": NoTracker,
}


def make_tracker(name: str, **kwargs: Any) -> Tracker:
    """A tracker by name: ``"iou"``, ``"oks"`` or ``"none"``; ``kwargs`` go to its class.

    Raises:
        ValueError: for an unknown name (the message lists the valid ones).
    """
    try:
        cls = TRACKERS[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown tracker {name!r}; choose one of: {', '.join(sorted(TRACKERS))}"
        ) from None
    return cls(**kwargs)


def resolve_tracker(
    tracker: str | Tracker | None, *, max_age: int = 30, multi_person: bool = True
) -> Tracker | None:
    """The tracker for a ``tracker`` argument of :meth:`~xpose.estimator.Estimator.track`.

    Args:
        tracker: ``"auto"`` (``"iou"`` for a multi-person model, none for a single-pose one),
            a name of :data:`TRACKERS`, ``None``, or an object with ``update(poses)`` (kept).
        max_age: frames a lost person keeps their track id (named trackers only).
        multi_person: whether the model can find several people.

    Raises:
        TypeError: ``tracker`` is neither a name nor an object with ``update``.
        ValueError: an unknown name (the message lists the valid ones).
    """
    if tracker is None:
        return None
    if not isinstance(tracker, str):
        if not callable(getattr(tracker, "update", None)):
            raise TypeError(
                f"tracker: expected a name or an object with update(poses), got {tracker!r}"
            )
        return tracker
    name = tracker.lower()
    if name == "auto":
        name = "iou" if multi_person else "none"
    if name == "none":
        return None
    return make_tracker(name, max_age=max_age)
