"""Temporal smoothing of keypoints: a vectorized One Euro filter and a per-track pose smoother.

The One Euro filter (Casiez, Roussel and Vogel, CHI 2012) is a low-pass filter whose cutoff
frequency rises with the signal's speed: slow movements are smoothed hard (little jitter), fast
ones lightly (little lag). Its three parameters:

* ``min_cutoff`` (Hz): the cutoff at rest. Lower means less jitter and more lag.
* ``beta`` (per unit of speed, here seconds per pixel): how fast the cutoff rises with speed.
  The cutoff is ``min_cutoff + beta * |speed|``, with the speed in the signal's units per second.
* ``d_cutoff`` (Hz): the cutoff of the low-pass filter on the speed estimate itself.

The defaults of :class:`PoseSmoother` are for keypoints in *pixels* of a video at around
30 fps: ``min_cutoff=1.0`` Hz, ``beta=0.05`` s/px, ``d_cutoff=1.0`` Hz. On a still keypoint with
2 px of noise they cut the jitter's standard deviation by about half; the cutoff rises to 6 Hz
at 100 px/s and 16 Hz at 300 px/s (a walking person's wrist in a 720p frame), so moving limbs
lag by about a frame rather than several. Raise ``beta`` for less lag, lower ``min_cutoff``
for less jitter. For normalized coordinates (0..1), multiply ``beta`` by the image size in
pixels.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable

import numpy as np
import numpy.typing as npt

from xpose.results import Poses

logger = logging.getLogger(__name__)

__all__ = ["OneEuroFilter", "PoseSmoother"]

#: Time step (seconds) used when no positive step has been seen yet (two calls at one time).
_FALLBACK_DT = 1.0 / 30.0


def _alpha(cutoff: npt.NDArray[np.float64] | float, dt: float) -> npt.NDArray[np.float64]:
    """Smoothing factor of an exponential low-pass filter with ``cutoff`` Hz at step ``dt`` s."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, dtype=np.float64))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """A One Euro filter applied elementwise to arrays of any (fixed) shape.

    Each element of the array is filtered independently, with its own speed estimate and
    cutoff. Internally float64; the output has the input's float dtype (float64 for integer
    input).

    Args:
        min_cutoff: cutoff frequency at rest, in Hz (> 0).
        beta: speed coefficient, in seconds per unit of the signal (>= 0).
        d_cutoff: cutoff frequency for the speed estimate, in Hz (> 0).

    Time steps: the first call (or the first after :meth:`reset`) returns ``x`` unchanged. A
    call whose timestamp is not later than the previous one (``dt <= 0``: a repeated or
    out-of-order timestamp) is filtered with the last positive time step seen (1/30 s if there
    was none), as in the authors' reference implementation, so a measurement is never dropped
    and time never runs backwards.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        if not min_cutoff > 0:
            raise ValueError(f"min_cutoff must be > 0 Hz, got {min_cutoff}")
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        if not d_cutoff > 0:
            raise ValueError(f"d_cutoff must be > 0 Hz, got {d_cutoff}")
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self._x: npt.NDArray[np.float64] | None = None
        self._dx: npt.NDArray[np.float64] | None = None
        self._t = 0.0
        self._dt = _FALLBACK_DT

    def reset(self) -> None:
        """Forget the state; the next call starts afresh."""
        self._x = None
        self._dx = None
        self._dt = _FALLBACK_DT

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
        if self._x is None:
            self._x = value.copy()
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
        dx = (value - self._x) / dt
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (value - self._x)
        return self._x.astype(out_dtype)


class PoseSmoother:
    """Smooths :class:`~xpose.results.Poses` over time, one filter state per track.

    Keypoints ``(N, 17, 2)`` and boxes ``(N, 4)`` are smoothed with One Euro filters; scores
    and track ids pass through. A pose with a track id (``>= 0``) keeps its state under that
    id; an untracked pose (``-1``) is matched by its index in the frame, which suits a
    single-pose model (always index 0) but not untracked multi-person output: put a tracker
    (:mod:`xpose.tracking`) before the smoother there. A track absent from a frame has its
    state dropped, so it starts afresh if it comes back.

    Args:
        min_cutoff: cutoff at rest, Hz. Default 1.0 (see the module's notes).
        beta: speed coefficient, seconds per pixel. Default 0.05, for pixel coordinates.
        d_cutoff: cutoff of the speed estimate, Hz. Default 1.0.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> None:
        # Build one filter to validate the parameters early.
        OneEuroFilter(min_cutoff, beta, d_cutoff)
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self._filters: dict[Hashable, tuple[OneEuroFilter, OneEuroFilter]] = {}

    def _new_filter(self) -> OneEuroFilter:
        return OneEuroFilter(self.min_cutoff, self.beta, self.d_cutoff)

    @property
    def tracks(self) -> tuple[Hashable, ...]:
        """Keys of the states held: track ids, or ``("index", i)`` for untracked poses."""
        return tuple(self._filters)

    def reset(self) -> None:
        """Drop every track's state."""
        self._filters.clear()

    def __call__(self, poses: Poses, t: float) -> Poses:
        """Smooth one frame's poses.

        Args:
            poses: the frame's poses (not modified).
            t: the frame's timestamp in seconds.

        Returns:
            A new :class:`Poses` with smoothed keypoints and boxes, in the same order.
        """
        keys: list[Hashable] = [
            int(tid) if tid >= 0 else ("index", i) for i, tid in enumerate(poses.track_ids)
        ]
        if len(set(keys)) != len(keys):
            raise ValueError(f"PoseSmoother: duplicate track ids in one frame: {poses.track_ids}")
        for gone in set(self._filters) - set(keys):
            del self._filters[gone]
        keypoints = np.empty_like(poses.keypoints)
        boxes = np.empty_like(poses.boxes)
        for i, key in enumerate(keys):
            if key not in self._filters:
                self._filters[key] = (self._new_filter(), self._new_filter())
            kp_filter, box_filter = self._filters[key]
            keypoints[i] = kp_filter(poses.keypoints[i], t)
            boxes[i] = box_filter(poses.boxes[i], t)
        return poses.replace(keypoints=keypoints, boxes=boxes)
