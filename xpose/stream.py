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
from xpose.motion import CameraMotion, FrameMotion
from xpose.preprocess import to_rgb_uint8
from xpose.results import Poses
from xpose.tracking import Tracker

if TYPE_CHECKING:
    from xpose.estimator import Estimator
    from xpose.video import FrameSource

__all__ = ["FIRST_CROPS", "PoseStream", "Smoother", "Tracker", "drop_frames", "follow"]


class Smoother(Protocol):
    """Smooths poses over time (e.g. :class:`xpose.smoothing.PoseSmoother`).

    A smoother may also offer ``warp(matrix, image_hw)`` (and a tracker ``warp(matrix)``):
    :class:`PoseStream` calls it with the camera's motion before each frame, so the state
    moves with the picture (:mod:`xpose.motion`). Without it the state stays where it is.
    """

    def __call__(
        self, poses: Poses, t: float, image_hw: tuple[int, int] | None = None
    ) -> Poses: ...


#: How :class:`PoseStream` frames the first frame of a single-pose video (see there).
FIRST_CROPS = ("pad", "centre")


class PoseStream(Closing):
    """Video mode of an :class:`Estimator`: state carried from one frame to the next.

    First, with ``camera_motion`` on, the camera's motion since the previous frame is measured
    from the background (:class:`~xpose.motion.CameraMotion`, the previous frame's people
    masked out) and everything carried from that frame (crop region, tracks, smoother state)
    is moved with the picture; at a scene cut the crop region and the smoother's state are
    dropped.

    For MoveNet single-pose models (Lightning, Thunder), each frame then:

    1. is cropped to the current crop region and run through the model;
    2. if the pose scores below the model's ``min_pose_score``, no pose is returned and
       everything is reset (crop region, tracker, smoother), so the next frame starts afresh;
    3. the keypoints are smoothed (``smoother``), and the next crop region is sized from the
       *smoothed* keypoints (:func:`~xpose.models.movenet.determine_crop_region`: a square
       around the hips sized from the torso and body; the whole frame padded to a square when
       the torso is not seen);
    4. the crop region is low-pass filtered between frames
       (:func:`~xpose.models.movenet.blend_crop_regions`, weight ``crop_smoothing``).

    The first frame (and the first after a reset or a change of frame size) is framed by
    ``first_crop``: ``"pad"``, the whole frame padded to a square, or ``"centre"``, the
    largest centred square inside the frame (tfjs's guess; it uses the pixels better but cuts
    off a person near the sides). For other models each frame is predicted on its own, then
    ``tracker.update(poses)`` assigns track ids and ``smoother`` smooths, in that order.

    One stream follows one video; calls to :meth:`update` are serialized by a lock. The stream
    does not own the estimator: leaving its ``with`` block resets the stream, it does not close
    the estimator.

    Args:
        estimator: the estimator to run.
        smoother: optional, called as ``smoother(poses, t, image_hw)`` with ``t`` in seconds
            and ``image_hw`` the frame's ``(height, width)``.
        tracker: optional, called as ``tracker.update(poses)``.
        fps: frame rate used to make ``t = frame_index / fps`` when ``update`` gets no timestamp.
        crop_smoothing: weight of the newest crop region, in (0, 1]; 1.0 turns the crop
            filter off.
        first_crop: ``"pad"`` or ``"centre"`` (see above).
        camera_motion: follow the camera's motion between frames (see above); ``False``
            treats every frame as taken from where the previous one was.
    """

    def __init__(
        self,
        estimator: Estimator,
        *,
        smoother: Smoother | None = None,
        tracker: Tracker | None = None,
        fps: float = 30.0,
        crop_smoothing: float = movenet.CROP_SMOOTHING,
        first_crop: str = "centre",
        camera_motion: bool = True,
    ) -> None:
        if not float(fps) > 0.0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if not 0.0 < float(crop_smoothing) <= 1.0:
            raise ValueError(f"crop_smoothing must be in (0, 1], got {crop_smoothing}")
        if first_crop not in FIRST_CROPS:
            raise ValueError(f"first_crop must be one of {FIRST_CROPS}, got {first_crop!r}")
        if not isinstance(camera_motion, (bool, np.bool_)):
            raise ValueError(f"camera_motion must be True or False, got {camera_motion!r}")
        self.estimator = estimator
        self.smoother = smoother
        self.tracker = tracker
        self.fps = float(fps)
        self.crop_smoothing = float(crop_smoothing)
        self.first_crop = first_crop
        self.camera_motion = bool(camera_motion)
        self._motion = CameraMotion() if camera_motion else None
        self._lock = threading.Lock()
        self._crop: CropRegion | None = None
        self._frame_hw: tuple[int, int] | None = None
        self._people: npt.NDArray[np.float32] | None = None  # last frame's boxes, pixels
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
        hw = (int(image.shape[0]), int(image.shape[1]))
        with self._lock:
            t = self._frames / self.fps if timestamp is None else float(timestamp)
            if self._motion is not None:
                self._follow_camera(self._motion.update(image, ignore=self._people), hw)
            if self.crop_tracking:
                poses = self._update_crop(image, hw, t)
            else:
                poses = self._follow(
                    self.estimator.infer(*self.estimator.head.prepare(image)), hw, t
                )
            self._frames += 1
            self._people = poses.boxes if len(poses) else None
            return poses

    def _follow_camera(self, motion: FrameMotion, hw: tuple[int, int]) -> None:
        """Move the state carried from the previous frame with the picture; at a scene cut,
        drop the crop region and the smoother's state (a tracker keeps its tracks: its own
        matching tells a new scene from an old one, and a wrongly seen cut costs no ids)."""
        if motion.scene_cut:
            self._crop = None
            reset = getattr(self.smoother, "reset", None)
            if callable(reset):
                reset()
            return
        if motion.matrix is None:  # unknown (also the first frame of a new size)
            return
        if self._crop is not None:
            self._crop = movenet.warp_crop_region(self._crop, motion.matrix, *hw)
        # trackers and smoothers without a ``warp`` method keep their state as it is
        warp_tracks = getattr(self.tracker, "warp", None)
        if callable(warp_tracks):
            warp_tracks(motion.matrix)
        warp_smoother = getattr(self.smoother, "warp", None)
        if callable(warp_smoother):
            warp_smoother(motion.matrix, hw)

    def _follow(self, poses: Poses, hw: tuple[int, int], t: float) -> Poses:
        """Track, then smooth, one frame's poses."""
        if self.tracker is not None:
            poses = self.tracker.update(poses)
        if self.smoother is not None:
            poses = self.smoother(poses, t, hw)
        return poses

    def _update_crop(self, image: npt.NDArray[np.uint8], hw: tuple[int, int], t: float) -> Poses:
        h, w = hw
        if self._frame_hw != hw:
            if self._frame_hw is not None:  # the frame size changed: start afresh
                self._reset_state()
            self._frame_hw = hw
        crop = self._crop
        if crop is None:
            crop = movenet.init_crop_region(h, w, first_frame=self.first_crop == "centre")
        est = self.estimator
        poses = est.infer(*est.head.prepare_in_crop(image, crop.as_box()))
        if not len(poses):  # below min_pose_score: no pose, and start afresh
            self._reset_state()
            return poses
        poses = self._follow(poses, hw, t)
        target = movenet.determine_crop_region(poses.keypoints[0], poses.scores[0], h, w)
        self._crop = movenet.blend_crop_regions(self._crop, target, self.crop_smoothing)
        return poses

    def _reset_state(self) -> None:
        """Forget the crop region and the tracker's and smoother's state."""
        self._crop = None
        for part in (self.tracker, self.smoother):
            reset = getattr(part, "reset", None)
            if callable(reset):
                reset()

    def reset(self) -> None:
        """Forget everything about past frames (crop region, frame count, tracker, smoother)."""
        with self._lock:
            self._reset_state()
            self._frame_hw = None
            self._people = None
            self._frames = 0
            if self._motion is not None:
                self._motion.reset()

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
