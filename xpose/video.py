"""Video input and output: RGB frames from files, cameras or iterables, and RGB frames to files.

:class:`FrameSource` decodes in a background thread into a bounded queue, so decoding the next
frames overlaps the work done on the current one. :class:`VideoWriter` writes to a temporary
file beside the target and renames it into place only when closed without an error.

OpenCV reads and writes BGR; everything here takes and gives **RGB** ``uint8`` frames
``(H, W, 3)``.

Both directions stay in this one module (a little over 500 lines) so that the frame checks, the
frame-rate rule and the BGR/RGB conversions are stated once. There is one reading loop:
:func:`read_frames` runs it in the caller's thread, :class:`FrameSource` in its own.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import queue
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sized
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from xpose._closing import Closing
from xpose.atomic import AtomicFile, CompleteOrNothing

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_FPS", "Frame", "FrameSource", "VideoWriter", "read_frames"]

#: Frame rate assumed where none is known (iterables, and captures that report none).
DEFAULT_FPS = 30.0

#: One frame: its index from 0, its timestamp in seconds, and the ``(H, W, 3)`` uint8 RGB image.
Frame = tuple[int, float, npt.NDArray[np.uint8]]

_END = object()  # end-of-stream marker in the queue
_POLL_S = 0.1  # how often blocked queue operations look at the stop flag
_JOIN_TIMEOUT_S = 5.0


class _Failure:
    """An exception raised while decoding, carried to the consuming thread to be re-raised."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _check_frame(frame: Any, what: str) -> npt.NDArray[np.uint8]:
    arr = np.asarray(frame)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{what}: expected an (H, W, 3) RGB frame, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"{what}: expected dtype uint8, got {arr.dtype}")
    return arr


def _open_video(text: str) -> cv2.VideoCapture:
    """An opened capture of the video file or stream ``text``.

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: a directory, or a video OpenCV cannot open.
    """
    is_url_or_pattern = "://" in text or "%" in text
    if not is_url_or_pattern and not Path(text).exists():
        raise FileNotFoundError(f"video not found: {text}")
    if not is_url_or_pattern and Path(text).is_dir():
        raise ValueError(f"cannot open video {text}: it is a directory")
    capture = cv2.VideoCapture(text)
    if not capture.isOpened():
        capture.release()
        raise ValueError(
            f"cannot open video {text}: OpenCV cannot read it "
            "(not a video, corrupt, or a codec this OpenCV build lacks)"
        )
    return capture


def _capture_fps(capture: cv2.VideoCapture) -> float | None:
    """The frame rate the capture reports, ``None`` when it reports none."""
    native = float(capture.get(cv2.CAP_PROP_FPS))
    return native if math.isfinite(native) and native > 0 else None


def _seek(capture: cv2.VideoCapture, start: int) -> None:
    """Put ``capture`` on frame ``start``: seek, or read frames off where seeking fails."""
    if start <= 0:
        return
    seeked = capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    if seeked and int(capture.get(cv2.CAP_PROP_POS_FRAMES)) == start:
        return
    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
    for _ in range(start):
        if not capture.grab():
            return


def _to_rgb(bgr: np.ndarray) -> npt.NDArray[np.uint8]:
    if bgr.ndim == 2:
        return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
    if bgr.shape[2] == 4:
        return cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _capture_frames(
    capture: cv2.VideoCapture,
    *,
    start: int = 0,
    stop: int | None = None,
    fps: float | None = None,
    camera: bool = False,
) -> Iterator[Frame]:
    """Frames ``start`` to ``stop`` (exclusive; ``None``: the end) of an opened capture.

    Timestamps as :class:`FrameSource` documents them: ``index / fps`` with ``fps`` given; the
    wall clock since the first frame for a camera; else the capture's position where it is
    valid and increasing, or ``index / (the capture's fps, else 30)``.
    """
    rate = fps or _capture_fps(capture) or DEFAULT_FPS
    _seek(capture, start)
    first: float | None = None
    last_t = -math.inf
    index = start
    while stop is None or index < stop:
        ok, bgr = capture.read()
        if not ok or bgr is None:
            return
        if fps is not None:
            t = index / rate
        elif camera:
            now = time.monotonic()
            first = now if first is None else first
            t = now - first
        else:
            t = float(capture.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
            if not (math.isfinite(t) and t >= 0 and (index == 0 or t > last_t)):
                t = index / rate
        last_t = t
        yield index, t, _to_rgb(bgr)
        index += 1


def read_frames(
    path: str | os.PathLike[str], start: int = 0, stop: int | None = None
) -> Iterator[Frame]:
    """Frames ``start`` to ``stop`` (exclusive; ``None``: the end) of a video, read here.

    The synchronous form of :class:`FrameSource` (which runs the same reading in a thread):
    yields ``(index, timestamp, rgb)`` with ``index`` counted from the video's first frame and
    the timestamps :class:`FrameSource` gives. The video is opened on the first ``next()``
    and released when the generator ends or is closed.

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: a video OpenCV cannot open, or a bad range.
    """
    if start < 0 or (stop is not None and stop < start):
        raise ValueError(f"expected 0 <= start <= stop, got start={start}, stop={stop}")
    capture = _open_video(os.fspath(path))
    try:
        yield from _capture_frames(capture, start=start, stop=stop)
    finally:
        capture.release()


class FrameSource(Closing):
    """Frames from a video file or stream, a camera, or an iterable of RGB frames.

    Iterating yields ``(index, timestamp_seconds, frame_rgb)`` with ``frame_rgb`` an
    ``(H, W, 3)`` uint8 RGB array. Frames are decoded in a background thread into a queue of
    at most ``queue_size`` frames. A source is iterated once; leaving the loop early (``break``
    or an exception), :meth:`close`, or leaving the ``with`` block stops the thread and releases
    the capture.

    Timestamps: with ``fps`` given, ``index / fps``. Otherwise, for a file or stream, the
    capture's position (``CAP_PROP_POS_MSEC``) where it is valid and increasing, else
    ``index / capture FPS``; for a camera, seconds since the first frame by the wall clock;
    for an iterable, ``index / 30``.

    Args:
        source: a path or URL (anything ``cv2.VideoCapture`` opens), a camera index (``int``),
            or an iterable of ``(H, W, 3)`` uint8 RGB frames (e.g. a list, a generator, or a
            ``(T, H, W, 3)`` array).
        fps: frames per second for the timestamps, overriding the capture's.
        start, stop: for a video file, only frames ``start`` to ``stop`` (exclusive; ``None``:
            to the end); indexes count from the video's first frame.
        queue_size: the most decoded frames held ahead of the consumer (>= 1).
        drop_frames: when the queue is full, drop the oldest frame rather than wait for the
            consumer (keeps a live source live). Default: ``True`` for cameras, else ``False``.

    A file that ends before the number of frames its header gives (:attr:`frame_count`) is
    logged as a warning; :attr:`frames_read` then stays below :attr:`frame_count`.

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: a video or camera that cannot be opened, a negative camera index, or a
            bad argument.
        TypeError: a source of an unsupported type.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | int | Iterable[npt.ArrayLike],
        *,
        fps: float | None = None,
        start: int = 0,
        stop: int | None = None,
        queue_size: int = 8,
        drop_frames: bool | None = None,
    ) -> None:
        if fps is not None and not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps}")
        if start < 0 or (stop is not None and stop < start):
            raise ValueError(f"expected 0 <= start <= stop, got start={start}, stop={stop}")
        if (start or stop is not None) and not isinstance(source, (str, os.PathLike)):
            raise ValueError("start and stop apply to video files only")
        self._start, self._stop_at = int(start), stop
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self._capture: cv2.VideoCapture | None = None
        self._frames: Iterable[npt.ArrayLike] | None = None
        self._is_camera = False
        self._fps_override = fps
        self._capture_fps: float | None = None
        self.frame_count: int | None = None
        """Number of frames, where known in advance (``None`` for cameras and streams)."""
        self.frames_read = 0
        """Frames decoded so far; below :attr:`frame_count` at the end if the file is cut short."""

        if isinstance(source, (bool, bytes, bytearray)):
            raise TypeError(
                "source: expected a path, a camera index or an iterable of RGB frames, "
                f"got {type(source).__name__}"
            )
        if isinstance(source, (int, np.integer)):
            if int(source) < 0:
                # OpenCV's VideoCapture(-1) crashes the process on some systems.
                raise ValueError(f"camera index must be >= 0 (0 is the first camera), got {source}")
            self.name = f"camera {int(source)}"
            self._is_camera = True
            self._capture = cv2.VideoCapture(int(source))
            if not self._capture.isOpened():
                self._capture.release()
                raise ValueError(f"cannot open {self.name}: no such camera, or it is busy")
        elif isinstance(source, (str, os.PathLike)):
            self.name = os.fspath(source)
            self._capture = _open_video(self.name)
            count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
            if count > 0:
                end = count if stop is None else min(count, stop)
                self.frame_count = max(0, end - self._start)
        elif isinstance(source, np.ndarray) and source.ndim != 4:
            raise ValueError(
                f"source: an array of frames must be (T, H, W, 3), got shape {source.shape}"
            )
        elif isinstance(source, Iterable):
            self.name = f"<{type(source).__name__} of frames>"
            self._frames = source
            self.frame_count = len(source) if isinstance(source, Sized) else None
        else:
            raise TypeError(
                "source: expected a path, a camera index or an iterable of RGB frames, "
                f"got {type(source).__name__}"
            )
        if self._capture is not None:
            self._capture_fps = _capture_fps(self._capture)
        self._drop = self._is_camera if drop_frames is None else bool(drop_frames)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._iterated = False
        self._closed = False

    @property
    def fps(self) -> float:
        """Frames per second: the ``fps`` given, else the capture's, else 30."""
        return self._fps_override or self._capture_fps or DEFAULT_FPS

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._closed

    @property
    def thread(self) -> threading.Thread | None:
        """The decoding thread, once iteration has started."""
        return self._thread

    def __repr__(self) -> str:
        return f"FrameSource({self.name!r}, fps={self.fps:g}, closed={self._closed})"

    def close(self) -> None:
        """Stop the decoding thread and release the capture. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(_JOIN_TIMEOUT_S)
            if thread.is_alive():
                logger.warning("decoding thread of %s still running after close()", self.name)
        elif thread is None and self._capture is not None:
            self._capture.release()
        while True:  # free the frames still queued
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break

    def __iter__(self) -> Iterator[Frame]:
        if self._closed:
            raise ValueError(f"FrameSource {self.name} is closed")
        if self._iterated:
            raise ValueError(f"FrameSource {self.name} can be iterated only once")
        self._iterated = True
        return self._consume()

    # -- consumer side -------------------------------------------------------------------

    def _consume(self) -> Iterator[Frame]:
        # The thread starts on the first next(), so an iterator dropped unstarted leaks nothing.
        if self._closed:
            return
        self._thread = threading.Thread(
            target=self._produce, name=f"xpose-decode:{self.name}", daemon=True
        )
        self._thread.start()
        try:
            while True:
                try:
                    item = self._queue.get(timeout=_POLL_S)
                except queue.Empty:
                    if self._stop.is_set():
                        return
                    continue
                if item is _END:
                    return
                if isinstance(item, _Failure):
                    raise item.error
                yield item
        finally:
            self.close()

    # -- producer side (background thread) -----------------------------------------------

    def _put(self, item: Any) -> bool:
        """Queue ``item``; False if stopped first. With dropping on, evict the oldest frame."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                if self._drop and item is not _END and not isinstance(item, _Failure):
                    with contextlib.suppress(queue.Empty):
                        self._queue.get_nowait()
        return False

    def _produce(self) -> None:
        try:
            frames = self._read_capture() if self._capture is not None else self._read_iterable()
            for frame in frames:
                if not self._put(frame):
                    return
            self._put(_END)
        except BaseException as err:  # not swallowed: re-raised in the consuming thread
            self._put(_Failure(err))
        finally:
            if self._capture is not None:
                self._capture.release()

    def _read_iterable(self) -> Iterator[Frame]:
        fps = self._fps_override or DEFAULT_FPS
        frames = self._frames if self._frames is not None else ()
        for index, frame in enumerate(frames):
            if self._stop.is_set():
                return
            yield index, index / fps, _check_frame(frame, f"frame {index} of {self.name}")

    def _read_capture(self) -> Iterator[Frame]:
        if self._capture is None:
            return
        frames = _capture_frames(
            self._capture,
            start=self._start,
            stop=self._stop_at,
            fps=self._fps_override,
            camera=self._is_camera,
        )
        for frame in frames:
            self.frames_read += 1
            yield frame
            if self._stop.is_set():
                return
        if self.frame_count is not None and self.frames_read < self.frame_count:
            logger.warning(
                "%s: read %d of %d frames; the file is truncated or damaged",
                self.name,
                self.frames_read,
                self.frame_count,
            )


#: Codec (fourcc) by file extension.
_CODECS = {".mp4": "mp4v", ".avi": "MJPG"}


def _discard(state: dict[str, Any]) -> None:
    """Release the encoder and delete the temporary file (also run if never closed)."""
    writer = state.pop("writer", None)
    if writer is not None:
        writer.release()
    file = state.pop("file", None)
    if file is not None:
        file.discard()


class VideoWriter(CompleteOrNothing):
    """Writes RGB frames to a video file, atomically.

    Frames go to a hidden temporary file in the target's directory, renamed to ``path`` by
    :meth:`close` (see :mod:`xpose.atomic` for the rules). If an error leaves the ``with`` block
    (or the writer is dropped without :meth:`close`), the temporary file is deleted and nothing
    appears under ``path``. On ``KeyboardInterrupt`` the frames so far are kept: at ``path``
    if it did not exist, else beside it as ``<stem>.partial<suffix>``.

    Args:
        path: the target, ``.mp4`` (codec ``mp4v``) or ``.avi`` (``MJPG``); its directory must
            exist. Overwritten if present.
        fps: frames per second recorded in the file.
        fourcc: a four-character codec to use instead of the extension's (then any extension
            OpenCV's backend accepts).

    Every frame must be ``(H, W, 3)`` uint8 RGB of one size (set by the first frame). Some
    codecs need even sizes and crop an odd width or height by one pixel.

    Raises:
        ValueError: an unsupported extension, bad fps or fourcc, or an encoder OpenCV lacks.
        FileNotFoundError: the target's directory does not exist.
    """

    def __init__(
        self, path: str | os.PathLike[str], fps: float = DEFAULT_FPS, *, fourcc: str | None = None
    ) -> None:
        self.path = Path(path)
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps}")
        suffix = self.path.suffix.lower()
        if fourcc is None:
            if suffix not in _CODECS:
                raise ValueError(
                    f"cannot write {self.path}: unsupported extension {suffix or '(none)'!r}; "
                    f"use one of {', '.join(sorted(_CODECS))} or pass fourcc="
                )
            fourcc = _CODECS[suffix]
        if len(fourcc) != 4:
            raise ValueError(f"fourcc must be 4 characters, got {fourcc!r}")
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"cannot write {self.path}: no directory {self.path.parent}")
        self.fps = float(fps)
        self.fourcc = fourcc
        self.frames_written = 0
        self._size: tuple[int, int] | None = None
        file = AtomicFile(self.path, suffix=suffix or ".tmp", partial_ok=True)
        self._state: dict[str, Any] = {"file": file, "writer": None}
        self.saved_to: Path | None = None
        """Where :meth:`close` put the file (``path``, or a partial name beside it)."""
        self._finalizer = weakref.finalize(self, _discard, self._state)
        self._closed = False

    def __repr__(self) -> str:
        return f"VideoWriter({str(self.path)!r}, fps={self.fps:g}, frames={self.frames_written})"

    def write(self, frame_rgb: npt.ArrayLike) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame."""
        if self._closed:
            raise ValueError(f"VideoWriter for {self.path} is closed")
        frame = _check_frame(frame_rgb, f"frame {self.frames_written} for {self.path}")
        h, w = frame.shape[:2]
        if self._size is None:
            writer = cv2.VideoWriter(
                str(self._state["file"].path),
                cv2.VideoWriter_fourcc(*self.fourcc),
                self.fps,
                (w, h),
            )
            if not writer.isOpened():
                writer.release()
                raise ValueError(
                    f"cannot write {self.path}: OpenCV has no {self.fourcc!r} encoder for "
                    f"{self.path.suffix or 'this file type'}; try .avi (MJPG) or .mp4 (mp4v)"
                )
            self._state["writer"] = writer
            self._size = (w, h)
        elif (w, h) != self._size:
            raise ValueError(
                f"frame {self.frames_written} for {self.path}: expected size "
                f"{self._size[0]}x{self._size[1]} (W x H) like the first frame, got {w}x{h}"
            )
        self._state["writer"].write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames_written += 1

    def close(self, *, partial: bool = False) -> None:
        """Finish the file and move it to ``path``. With no frame written, nothing is saved.

        Args:
            partial: the run was interrupted: an existing ``path`` is kept and the frames so
                far go to ``<stem>.partial<suffix>`` beside it.
        """
        if self._closed:
            return
        self._closed = True
        writer = self._state.pop("writer", None)
        if writer is not None:
            writer.release()
        if self.frames_written == 0:
            logger.warning("no frames written: %s not created", self.path)
            self._finalizer()
            return
        file = self._state.pop("file")
        self._finalizer.detach()
        self.saved_to = file.commit(partial=partial)

    def abort(self) -> None:
        """Stop writing and delete the partial file; nothing appears under ``path``."""
        self._closed = True
        self._finalizer()
