"""Video mode: :class:`PoseStream` carries state from one frame of a video to the next.

An :class:`~xpose.estimator.Estimator` is stateless; :meth:`Estimator.stream
<xpose.estimator.Estimator.stream>` gives the stream that crops each frame around the person
found in the previous one (MoveNet single-pose models), then tracks and smooths the poses.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from xpose._closing import Closing
from xpose.models import movenet
from xpose.models.movenet import CropRegion
from xpose.preprocess import to_rgb_uint8
from xpose.results import Poses
from xpose.tracking import Tracker

if TYPE_CHECKING:
    from xpose.estimator import Estimator
    from xpose.video import FrameSource

__all__ = ["PoseStream", "Smoother", "Tracker", "drop_frames", "follow"]


class Smoother(Protocol):
    """Smooths poses over time (e.g. :class:`xpose.smoothing.PoseSmoother`)."""

    def __call__(self, poses: Poses, t: float) -> Poses: ...


class PoseStream(Closing):
    """Video mode of an :class:`Estimator`: state carried from one frame to the next.

    For MoveNet single-pose models (Lightning, Thunder) each frame is cropped around the person
    found in the previous frame, following tfjs pose-detection: the first frame (and any frame
    after the torso was lost, or after a change of frame size) uses the whole frame padded to a
    square (:func:`~xpose.models.movenet.init_crop_region`); the next region is a square around
    the hips sized from the torso and body (:func:`~xpose.models.movenet.determine_crop_region`).
    For other models each frame is predicted on its own.

    Then, when given, ``tracker.update(poses)`` assigns track ids and ``smoother(poses, t)``
    smooths keypoints over time, in that order.

    One stream follows one video; calls to :meth:`update` are serialized by a lock. The stream
    does not own the estimator: leaving its ``with`` block resets the stream, it does not close
    the estimator.

    Args:
        estimator: the estimator to run.
        smoother: optional, called as ``smoother(poses, t)`` with ``t`` in seconds.
        tracker: optional, called as ``tracker.update(poses)``.
        fps: frame rate used to make ``t = frame_index / fps`` when ``update`` gets no timestamp.
    """

    def __init__(
        self,
        estimator: Estimator,
        *,
        smoother: Smoother | None = None,
        tracker: Tracker | None = None,
        fps: float = 30.0,
    ) -> None:
        if not float(fps) > 0.0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.estimator = estimator
        self.smoother = smoother
        self.tracker = tracker
        self.fps = float(fps)
        self._lock = threading.Lock()
        self._crop: CropRegion | None = None
        self._frame_hw: tuple[int, int] | None = None
        self._frames = 0

    @property
    def crop_tracking(self) -> bool:
        """Whether this stream crops frames around the person (MoveNet single-pose models)."""
        return self.estimator.head.crops

    @property
    def crop_region(self) -> CropRegion | None:
        """The region the next frame will be cropped to (normalized), or ``None`` if unset."""
        return self._crop

    @property
    def frames(self) -> int:
        """How many frames have been processed since the start or the last :meth:`reset`."""
        return self._frames

    def update(self, frame: Any, timestamp: float | None = None) -> Poses:
        """Estimate the poses in the next frame of the video.

        Args:
            frame: the frame, as :meth:`Estimator.predict` takes it (RGB, not BGR).
            timestamp: the frame's time in seconds; ``None`` uses ``frame_index / fps``.

        Returns:
            :class:`~xpose.results.Poses`, keypoints x, y in pixels of ``frame``.
        """
        image = to_rgb_uint8(frame)
        with self._lock:
            t = self._frames / self.fps if timestamp is None else float(timestamp)
            if self.crop_tracking:
                poses = self._update_crop(image)
            else:
                poses = self.estimator.infer(*self.estimator.head.prepare(image))
            if self.tracker is not None:
                poses = self.tracker.update(poses)
            if self.smoother is not None:
                poses = self.smoother(poses, t)
            self._frames += 1
            return poses

    def _update_crop(self, image: npt.NDArray[np.uint8]) -> Poses:
        h, w = image.shape[:2]
        if self._crop is None or self._frame_hw != (h, w):
            self._crop = movenet.init_crop_region(h, w)
            self._frame_hw = (h, w)
        est = self.estimator
        poses = est.infer(*est.head.prepare_in_crop(image, self._crop.as_box()))
        self._crop = movenet.determine_crop_region(poses.keypoints[0], poses.scores[0], h, w)
        return poses

    def reset(self) -> None:
        """Forget everything about past frames (crop region, frame count, tracker, smoother)."""
        with self._lock:
            self._crop = None
            self._frame_hw = None
            self._frames = 0
            for part in (self.tracker, self.smoother):
                reset = getattr(part, "reset", None)
                if callable(reset):
                    reset()

    def close(self) -> None:
        """What leaving the stream's ``with`` block does: :meth:`reset` (the estimator stays open)."""
        self.reset()

    def __repr__(self) -> str:
        return (
            f"PoseStream(model={self.estimator.spec.name!r}, crop_tracking={self.crop_tracking}, "
            f"frames={self._frames})"
        )


def follow(
    reader: FrameSource, stream: PoseStream
) -> Iterator[tuple[int, float, npt.NDArray[np.uint8], Poses]]:
    """Run ``stream`` over the frames of ``reader`` (a FrameSource); close it when done."""
    with reader, stream:
        for index, timestamp, frame in reader:
            yield index, timestamp, frame, stream.update(frame, timestamp)


def drop_frames(
    frames: Iterator[tuple[int, float, npt.NDArray[np.uint8], Poses]],
) -> Iterator[tuple[int, Poses]]:
    """``(index, poses)`` of :meth:`Estimator.track_frames`'s items; closing it closes them."""
    try:
        for index, _, _, poses in frames:
            yield index, poses
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()
