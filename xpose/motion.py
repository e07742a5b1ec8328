"""Camera motion between the frames of a video, so that video mode can follow a moving camera.

Video mode carries state from one frame to the next in the previous frame's pixels: the crop
region a single-pose model looks at next, the One Euro filters' last positions and speeds, the
tracker's boxes. When the camera pans, zooms or shakes, everything in the frame moves at once,
and that state is suddenly in the wrong place: the smoother lags behind (error) or lets the
shake through (jitter), and the crop region trails the person.

:class:`CameraMotion` measures that motion, so the state can be moved with the picture before
it is used (:meth:`xpose.smoothing.PoseSmoother.warp`,
:func:`xpose.models.movenet.warp_crop_region`). Per frame:

1. the frame is shrunk to at most :attr:`CameraMotion.max_side` pixels (halving with area
   averaging) and made grey;
2. corners of the previous frame (``cv2.goodFeaturesToTrack``), away from the people found in
   it (their boxes, given by the caller, are masked out: people move on their own, the camera
   moves the background), are followed into this one with pyramidal Lucas-Kanade optical flow
   (``cv2.calcOpticalFlowPyrLK``); the corners that fit (step 3) are followed on into the
   next frame, and new ones are found only when fewer than half of ``max_points`` are left;
3. a similarity transform (shift, rotation, one scale) is fitted to the pairs with RANSAC
   (``cv2.estimateAffinePartial2D``), so the few corners on anything else that moves are left
   out as outliers; it is returned in full-frame pixels.

The result says one of three things (:class:`FrameMotion`): the transform, when at least 60 %
of the followed corners fit it; *unknown* (too few background corners to follow, e.g. a dark
or flat frame or people filling it, or no transform fitting 60 %, e.g. two large things moving
different ways: the state is left where it is); or a **scene cut** (plenty of corners, under
30 % of them moving together: the picture changed).

On the clip benchmark (``benchmarks/video_quality.py``) the transform is within 0.16 px of the
true camera motion of a 640x480 frame, and every cut is found with no false one; on the
hand-held street video at least 82 % of the corners fit it in every frame. It adds 1.0-1.7 ms
to a video frame on a 2-core machine (``python -m benchmarks.camera_motion_cost``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from xpose.preprocess import halve

__all__ = ["CameraMotion", "FrameMotion", "affine_matrix", "transform_points", "zoom"]


@dataclass(frozen=True)
class FrameMotion:
    """How the picture moved from the previous frame to this one.

    Attributes:
        matrix: ``(2, 3)`` float64 similarity transform from previous-frame pixels to this
            frame's (``xy' = matrix[:, :2] @ xy + matrix[:, 2]``), or ``None`` when unknown.
        scene_cut: the picture changed too much to be the same scene moved.
    """

    matrix: npt.NDArray[np.float64] | None = None
    scene_cut: bool = False

    @property
    def scale(self) -> float:
        """The transform's zoom factor (1.0 when unknown)."""
        return 1.0 if self.matrix is None else zoom(self.matrix)


#: The motion of a first frame, of a frame after a reset, or one that could not be measured.
UNKNOWN = FrameMotion()


def affine_matrix(matrix: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``matrix`` as a ``(2, 3)`` float64 affine map (what the ``warp`` methods take).

    Raises:
        ValueError: not a finite ``(2, 3)`` array.
    """
    m = np.asarray(matrix, np.float64)
    if m.shape != (2, 3) or not np.isfinite(m).all():
        raise ValueError(f"warp: expected a finite (2, 3) affine matrix, got {m.shape}")
    return m


def zoom(matrix: npt.ArrayLike) -> float:
    """The scale factor of a ``(2, 3)`` similarity transform (its linear part's
    ``sqrt(|det|)``)."""
    m = np.asarray(matrix, np.float64)
    return float(np.sqrt(abs(np.linalg.det(m[:, :2]))))


def transform_points(matrix: npt.ArrayLike, xy: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Apply a ``(2, 3)`` affine ``matrix`` to points ``(..., 2)``."""
    m = np.asarray(matrix, np.float64)
    pts = np.asarray(xy, np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def _small_grey(image: npt.NDArray[np.uint8], max_side: int) -> tuple[np.ndarray, float]:
    """The image halved (area averaging) until its long side is at most ``max_side``, in grey,
    and the factor from its pixels to the image's (2 per halving: an odd last row or column
    is cropped, not spread over the others)."""
    small, factor = image, 1.0
    while max(small.shape[:2]) > max_side and min(small.shape[:2]) >= 2:
        small, factor = halve(small), 2.0 * factor
    if small.ndim == 3:
        small = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2GRAY)
    return small, factor


#: Share of a person's box added on every side before masking it out: a box spanning the
#: keypoints misses hair, hands, feet and clothing.
PERSON_MARGIN = 0.15


def _mask(shape: tuple[int, ...], boxes: npt.ArrayLike | None, factor: float) -> np.ndarray | None:
    """A uint8 mask of the shrunk frame: 0 inside ``boxes`` (full-frame pixels) grown by
    :data:`PERSON_MARGIN`, else 255."""
    if boxes is None:
        return None
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    b = b[np.isfinite(b).all(axis=1)]
    if not len(b):
        return None
    mask = np.full(shape[:2], 255, np.uint8)
    h, w = shape[:2]
    # far outside the frame is as good as the frame's edge (and keeps the arithmetic finite)
    reach = 4.0 * factor * max(h, w)
    b = np.clip(b, -reach, reach)
    grow = PERSON_MARGIN * np.abs(b[:, 2:] - b[:, :2])
    b = np.concatenate([b[:, :2] - grow, b[:, 2:] + grow], axis=1)
    for x1, y1, x2, y2 in b / factor:
        c0, r0 = max(0, math.floor(x1)), max(0, math.floor(y1))
        c1, r1 = min(w, math.ceil(x2) + 1), min(h, math.ceil(y2) + 1)
        if c1 > c0 and r1 > r0:
            mask[r0:r1, c0:c1] = 0
    return mask


class CameraMotion:
    """Measures the camera's motion from each frame of a video to the next (see the module).

    Call :meth:`update` with every frame, in order; it returns the motion from the frame
    before. Not thread-safe: one per video (a :class:`~xpose.stream.PoseStream` holds one).

    Args:
        max_side: the frames are measured shrunk to this long side, in pixels (>= 32).
        max_points: most corners followed per frame.
        min_points: fewer corners than this (a flat or dark frame): the motion is unknown.
        min_agreement: share of the followed corners the transform must fit (within
            ``threshold``) to be trusted; below it the motion is unknown (e.g. two large
            things moving different ways).
        cut_below: below this share, a scene cut (almost nothing moved together).
        threshold: RANSAC's distance for a corner to fit, in pixels of the shrunk frame.
    """

    def __init__(
        self,
        max_side: int = 320,
        max_points: int = 100,
        min_points: int = 24,
        min_agreement: float = 0.6,
        cut_below: float = 0.3,
        threshold: float = 1.0,
    ) -> None:
        if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 32:
            raise ValueError(f"max_side must be an int >= 32 pixels, got {max_side!r}")
        if not 8 <= int(min_points) <= int(max_points):
            raise ValueError(
                f"expected 8 <= min_points <= max_points, got {min_points} and {max_points}"
            )
        if not 0.0 <= float(cut_below) <= float(min_agreement) <= 1.0:
            raise ValueError(
                "expected 0 <= cut_below <= min_agreement <= 1, got "
                f"{cut_below} and {min_agreement}"
            )
        if not float(threshold) > 0.0:
            raise ValueError(f"threshold must be > 0 pixels, got {threshold}")
        self.max_side = max_side
        self.max_points = int(max_points)
        self.min_points = int(min_points)
        self.min_agreement = float(min_agreement)
        self.cut_below = float(cut_below)
        self.threshold = float(threshold)
        self._previous: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None
        # corners that fit the last transform, where they are in the previous frame
        self._corners: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the previous frame; the next :meth:`update` returns unknown motion."""
        self._previous = None
        self._shape = None
        self._corners = None

    def update(
        self, image: npt.NDArray[np.uint8], ignore: npt.ArrayLike | None = None
    ) -> FrameMotion:
        """The motion from the previous frame to ``image`` ``(H, W, 3)`` uint8 RGB (or grey).

        Args:
            image: the next frame.
            ignore: ``(N, 4)`` boxes x1, y1, x2, y2 in pixels of the *previous* frame whose
                content does not follow the camera (the people found there); no corner is
                taken inside them.

        The first frame, and a frame of another size than the one before, give unknown motion.
        """
        grey, factor = _small_grey(image, self.max_side)
        previous, self._previous = self._previous, grey
        shape, self._shape = self._shape, image.shape
        kept, self._corners = self._corners, None
        if previous is None or shape != image.shape:
            return UNKNOWN
        mask = _mask(previous.shape, ignore, factor)
        corners = self._reuse(kept, mask, previous.shape)
        if corners is None:
            corners = cv2.goodFeaturesToTrack(
                previous,
                maxCorners=self.max_points,
                qualityLevel=0.01,
                minDistance=6,
                blockSize=5,
                mask=mask,
            )
        if corners is None or len(corners) < self.min_points:
            return UNKNOWN
        return self._measure(previous, grey, factor, corners)

    def _reuse(
        self, corners: np.ndarray | None, mask: np.ndarray | None, shape: tuple[int, ...]
    ) -> np.ndarray | None:
        """Last frame's fitting corners still inside the frame and off the people, if at least
        half of :attr:`max_points` are left (finding corners is half the work; following the
        same ones is as good while they last)."""
        if corners is None:
            return None
        xy = np.round(corners.reshape(-1, 2)).astype(np.int64)
        h, w = shape[:2]
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
        if mask is not None:
            inside[inside] = mask[xy[inside, 1], xy[inside, 0]] > 0
        if inside.sum() < max(self.min_points, self.max_points // 2):
            return None
        return corners[inside]

    def _measure(
        self, previous: np.ndarray, grey: np.ndarray, factor: float, corners: np.ndarray
    ) -> FrameMotion:
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            previous, grey, corners, None, winSize=(11, 11), maxLevel=2
        )
        followed = status.ravel() == 1
        if followed.sum() < self.min_points:
            return FrameMotion(None, scene_cut=True)
        matrix, inliers = cv2.estimateAffinePartial2D(
            corners[followed],
            moved[followed],
            method=cv2.RANSAC,
            ransacReprojThreshold=self.threshold,
        )
        agreement = 0.0 if matrix is None else float(inliers.sum()) / float(followed.sum())
        if agreement < self.cut_below:
            return FrameMotion(None, scene_cut=True)
        if agreement < self.min_agreement:
            return UNKNOWN
        self._corners = moved[followed][inliers.ravel() == 1]
        # pixel (i, j) of the shrunk frame is pixel factor * (i, j) + (factor - 1) / 2 here
        offset = (factor - 1.0) / 2.0
        to_full = np.array([[factor, 0.0, offset], [0.0, factor, offset], [0.0, 0.0, 1.0]])
        full = to_full @ np.vstack([matrix, [0.0, 0.0, 1.0]]) @ np.linalg.inv(to_full)
        return FrameMotion(full[:2].copy())
