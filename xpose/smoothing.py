"""Temporal smoothing of keypoints: a vectorized One Euro filter and a per-track pose smoother.

The One Euro filter (Casiez, Roussel and Vogel, CHI 2012) is a low-pass filter whose cutoff
frequency rises with the signal's speed: slow movements are smoothed hard (little jitter), fast
ones lightly (little lag). Its three parameters:

* ``min_cutoff`` (Hz): the cutoff at rest. Lower means less jitter and more lag.
* ``beta`` (seconds per unit of the signal): how fast the cutoff rises with speed. The cutoff
  is ``min_cutoff + beta * |speed|``, with the speed in the signal's units per second.
* ``d_cutoff`` (Hz): the cutoff of the low-pass filter on the speed estimate itself.

Two details change how it behaves on pose keypoints:

* **Where the speed comes from.** ``speed="raw"`` (the default) takes the speed from the
  previous *raw* sample, as MediaPipe and tfjs pose-detection do; ``speed="filtered"`` takes it
  from the previous *filtered* value, as the authors' first implementation does. The filtered
  form sees the filter's own lag as speed, so after a quick move it keeps the cutoff high for
  a while and smooths less.
* **Units.** :class:`PoseSmoother` filters in *image-normalized* coordinates by default (x / width,
  y / height), so one set of parameters fits any resolution; ``units="pixels"`` filters pixels.

The defaults of :class:`PoseSmoother` (``min_cutoff``, ``beta`` and ``d_cutoff`` in
:data:`DEFAULTS`) were chosen on the clip benchmark (``benchmarks/video_quality.py``; figures in
``docs/video.md``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable

import numpy as np
import numpy.typing as npt

from xpose.motion import affine_matrix
from xpose.results import Poses

logger = logging.getLogger(__name__)

__all__ = ["DEFAULTS", "SPEEDS", "UNITS", "OneEuroFilter", "PoseSmoother"]

#: Time step (seconds) used when no positive step has been seen yet (two calls at one time).
_FALLBACK_DT = 1.0 / 30.0


def _alpha(cutoff: npt.NDArray[np.float64] | float, dt: float) -> npt.NDArray[np.float64]:
    """Smoothing factor of an exponential low-pass filter with ``cutoff`` Hz at step ``dt`` s."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, dtype=np.float64))
    return 1.0 / (1.0 + tau / dt)


#: Where a One Euro filter takes the speed from (see the module's notes).
SPEEDS = ("raw", "filtered")
#: Coordinates :class:`PoseSmoother` filters in.
UNITS = ("image", "pixels")


class OneEuroFilter:
    """A One Euro filter applied elementwise to arrays of any (fixed) shape.

    Each element of the array is filtered independently, with its own speed estimate and
    cutoff. Internally float64; the output has the input's float dtype (float64 for integer
    input).

    Args:
        min_cutoff: cutoff frequency at rest, in Hz (> 0).
        beta: speed coefficient, in seconds per unit of the signal (>= 0).
        d_cutoff: cutoff frequency for the speed estimate, in Hz (> 0).
        speed: ``"raw"``: the speed is the change from the previous raw sample (MediaPipe's
            and tfjs's form); ``"filtered"``: the change from the previous filtered value.

    Time steps: the first call (or the first after :meth:`reset`) returns ``x`` unchanged. A
    call whose timestamp is not later than the previous one (``dt <= 0``: a repeated or
    out-of-order timestamp) is filtered with the last positive time step seen (1/30 s if there
    was none), as in the authors' reference implementation, so a measurement is never dropped
    and time never runs backwards.
    """

    def __init__(
        self,
        min_cutoff: float = 1.0,
        beta: float = 0.0,
        d_cutoff: float = 1.0,
        *,
        speed: str = "raw",
    ) -> None:
        if not min_cutoff > 0:
            raise ValueError(f"min_cutoff must be > 0 Hz, got {min_cutoff}")
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        if not d_cutoff > 0:
            raise ValueError(f"d_cutoff must be > 0 Hz, got {d_cutoff}")
        if speed not in SPEEDS:
            raise ValueError(f"speed must be one of {SPEEDS}, got {speed!r}")
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.speed = speed
        self._x: npt.NDArray[np.float64] | None = None
        self._raw: npt.NDArray[np.float64] | None = None
        self._dx: npt.NDArray[np.float64] | None = None
        self._t = 0.0
        self._dt = _FALLBACK_DT

    def reset(self) -> None:
        """Forget the state; the next call starts afresh."""
        self._x = None
        self._raw = None
        self._dx = None
        self._dt = _FALLBACK_DT

    def transform(self, linear: npt.ArrayLike, offset: npt.ArrayLike) -> None:
        """Move the state with the picture: ``xy -> linear @ xy + offset``.

        The state is read as ``(x, y)`` pairs (the sample's size must be even): the last
        filtered and raw samples move as points, the speed as a vector (``linear`` only).
        Used when the camera moves between two samples (:meth:`PoseSmoother.warp`), so that
        the filter neither lags behind the shift nor lets it through as speed. Nothing to do
        before the first sample.
        """
        if self._x is None or self._raw is None or self._dx is None:
            return
        if self._x.size % 2:
            raise ValueError(
                f"OneEuroFilter.transform: the state must be (x, y) pairs, got {self._x.size} values"
            )
        a = np.asarray(linear, np.float64).reshape(2, 2)
        b = np.asarray(offset, np.float64).reshape(2)
        shape = self._x.shape
        self._x = (self._x.reshape(-1, 2) @ a.T + b).reshape(shape)
        self._raw = (self._raw.reshape(-1, 2) @ a.T + b).reshape(shape)
        self._dx = (self._dx.reshape(-1, 2) @ a.T).reshape(shape)

    def __call__(self, x: npt.ArrayLike, t: float) -> np.ndarray:
        """Filter one sample.

        Args:
            x: the sample, an array of any shape (the same shape on every call until
                :meth:`reset`).
            t: its timestamp in seconds.

        Returns:
            The filtered sample, a new array of ``x``'s shape.
        """
        arr = np.asarray(x)
        out_dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.dtype(np.float64)
        value = arr.astype(np.float64)
        t = float(t)
        if self._x is None or self._raw is None or self._dx is None:
            self._x = value.copy()
            self._raw = value.copy()
            self._dx = np.zeros_like(value)
            self._t = t
            return value.astype(out_dtype)
        if value.shape != self._x.shape:
            raise ValueError(
                f"OneEuroFilter: expected a sample of shape {self._x.shape} (as before), "
                f"got {value.shape}; call reset() to change shape"
            )
        dt = t - self._t
        if dt > 0:
            self._dt = dt
            self._t = t
        else:
            logger.debug("timestamp %.6f not after %.6f: reusing dt=%.6f", t, self._t, self._dt)
            dt = self._dt
        previous = self._raw if self.speed == "raw" else self._x
        dx = (value - previous) / dt
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (value - self._x)
        self._raw = value
        return self._x.astype(out_dtype)


#: Default One Euro parameters of :class:`PoseSmoother` for image-normalized coordinates.
DEFAULTS: dict[str, float] = {"min_cutoff": 2.0, "beta": 50.0, "d_cutoff": 1.0}


class PoseSmoother:
    """Smooths :class:`~xpose.results.Poses` over time, one filter state per track.

    Keypoints ``(N, 17, 2)`` and boxes ``(N, 4)`` are smoothed with One Euro filters; scores
    and track ids pass through. A pose with a track id (``>= 0``) keeps its state under that
    id; an untracked pose (``-1``) is matched by its index in the frame, which suits a
    single-pose model (always index 0) but not untracked multi-person output: put a tracker
    (:mod:`xpose.tracking`) before the smoother there. A track absent from a frame has its
    state dropped, so it starts afresh if it comes back.

    Args:
        min_cutoff: cutoff at rest, Hz (default :data:`DEFAULTS`).
        beta: speed coefficient, seconds per unit of ``units`` (default :data:`DEFAULTS`, for
            image-normalized units; divide by the image size in pixels for ``units="pixels"``).
        d_cutoff: cutoff of the speed estimate, Hz (default :data:`DEFAULTS`).
        units: ``"image"``: filter x / width and y / height (each call then needs
            ``image_hw``); ``"pixels"``: filter pixel coordinates as they are.
        speed: where the filters take the speed from (:class:`OneEuroFilter`).
    """

    def __init__(
        self,
        min_cutoff: float = DEFAULTS["min_cutoff"],
        beta: float = DEFAULTS["beta"],
        d_cutoff: float = DEFAULTS["d_cutoff"],
        *,
        units: str = "image",
        speed: str = "raw",
    ) -> None:
        # Build one filter to validate the parameters early.
        OneEuroFilter(min_cutoff, beta, d_cutoff, speed=speed)
        if units not in UNITS:
            raise ValueError(f"units must be one of {UNITS}, got {units!r}")
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.units = units
        self.speed = speed
        self._filters: dict[Hashable, tuple[OneEuroFilter, OneEuroFilter]] = {}

    def _new_filter(self) -> OneEuroFilter:
        return OneEuroFilter(self.min_cutoff, self.beta, self.d_cutoff, speed=self.speed)

    @property
    def tracks(self) -> tuple[Hashable, ...]:
        """Keys of the states held: track ids, or ``("index", i)`` for untracked poses."""
        return tuple(self._filters)

    def reset(self) -> None:
        """Drop every track's state."""
        self._filters.clear()

    def _scale(self, image_hw: tuple[int, int] | None) -> npt.NDArray[np.float64]:
        """``(2,)`` divisors of x and y for the filter's units."""
        if self.units == "pixels":
            return np.ones(2)
        if image_hw is None:
            raise ValueError(
                "PoseSmoother(units='image') needs the frame size: call it with "
                "image_hw=(height, width), or make it with units='pixels'"
            )
        h, w = (float(v) for v in image_hw)
        if not (h > 0 and w > 0):
            raise ValueError(f"image_hw must be a positive (height, width), got {image_hw}")
        return np.array([w, h])

    def warp(self, matrix: npt.ArrayLike, image_hw: tuple[int, int] | None = None) -> None:
        """Move every track's state with the picture, before the next frame is smoothed.

        Args:
            matrix: ``(2, 3)`` affine map from the previous frame's pixels to the next
                frame's (:attr:`xpose.motion.FrameMotion.matrix`).
            image_hw: ``(height, width)`` of the frames; needed with ``units="image"``.
        """
        m = affine_matrix(matrix)
        scale = self._scale(image_hw)
        # the same map in the filters' units: u = xy / scale
        linear = m[:, :2] * scale[None, :] / scale[:, None]
        offset = m[:, 2] / scale
        for filters in self._filters.values():
            for one in filters:
                one.transform(linear, offset)

    def __call__(self, poses: Poses, t: float, image_hw: tuple[int, int] | None = None) -> Poses:
        """Smooth one frame's poses.

        Args:
            poses: the frame's poses (not modified).
            t: the frame's timestamp in seconds.
            image_hw: ``(height, width)`` of the frame; needed with ``units="image"``.

        Returns:
            A new :class:`Poses` with smoothed keypoints and boxes, in the same order.
        """
        scale = self._scale(image_hw)
        keys: list[Hashable] = [
            int(tid) if tid >= 0 else ("index", i) for i, tid in enumerate(poses.track_ids)
        ]
        if len(set(keys)) != len(keys):
            raise ValueError(f"PoseSmoother: duplicate track ids in one frame: {poses.track_ids}")
        for gone in set(self._filters) - set(keys):
            del self._filters[gone]
        keypoints = np.empty_like(poses.keypoints)
        boxes = np.empty_like(poses.boxes)
        box_scale = np.tile(scale, 2)
        for i, key in enumerate(keys):
            if key not in self._filters:
                self._filters[key] = (self._new_filter(), self._new_filter())
            kp_filter, box_filter = self._filters[key]
            keypoints[i] = kp_filter(poses.keypoints[i] / scale, t) * scale
            boxes[i] = box_filter(poses.boxes[i] / box_scale, t) * box_scale
        return poses.replace(keypoints=keypoints, boxes=boxes)
