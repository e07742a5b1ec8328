"""The work of the Ray engine: the tasks of :func:`plan_tasks`, the rows they give
(:data:`RECORD_SCHEMA`, :func:`error_record`), and the :class:`PoseActor` that runs them."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from xpose.distributed.model import ModelSource
from xpose.output import SCHEMA_VERSION, estimator_record
from xpose.results import Poses

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CHUNK_FRAMES",
    "RECORD_SCHEMA",
    "PoseActor",
    "error_record",
    "plan_tasks",
]

#: Frames per video task: 10 s at 30 fps.
DEFAULT_CHUNK_FRAMES = 300

#: Images per task (and rows per actor call for a Dataset input).
DEFAULT_BATCH_SIZE = 16

_KEYPOINT = pa.struct(
    [
        ("name", pa.string()),
        ("x", pa.float64()),
        ("y", pa.float64()),
        ("score", pa.float64()),
    ]
)
_POSE = pa.struct(
    [
        ("score", pa.float64()),
        ("box", pa.list_(pa.float64())),
        ("track_id", pa.int64()),
        ("keypoints", pa.list_(_KEYPOINT)),
    ]
)

#: The Arrow schema of the rows of :func:`predict_dataset`: a record's fields, then ``error``.
RECORD_SCHEMA = pa.schema(
    [
        ("schema", pa.int64()),
        ("source", pa.string()),
        ("frame", pa.int64()),
        ("timestamp", pa.float64()),
        ("width", pa.int64()),
        ("height", pa.int64()),
        ("model", pa.string()),
        ("backend", pa.string()),
        ("precision", pa.string()),
        ("poses", pa.list_(_POSE)),
        ("error", pa.string()),
    ]
)

#: Task kinds of :func:`plan_tasks`.
_IMAGES, _VIDEO, _PROBLEM = "images", "video", "problem"


def error_record(source: str, err: BaseException | str, frame: int = 0) -> dict[str, Any]:
    """The row of an input that could not be read: ``error`` is ``"<Type>: <message>"``.

    The record fields it cannot know are ``None`` and ``poses`` is empty.
    """
    message = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    return {
        "schema": SCHEMA_VERSION,
        "source": str(source),
        "frame": int(frame),
        "timestamp": None,
        "width": None,
        "height": None,
        "model": None,
        "backend": None,
        "precision": None,
        "poses": [],
        "error": message,
    }


# --- tasks ------------------------------------------------------------------------------------


def _task(
    kind: str,
    sources: list[str],
    paths: list[str],
    start: int = 0,
    stop: int = -1,
    message: str = "",
) -> dict[str, Any]:
    return {
        "kind": kind,
        "sources": sources,
        "paths": paths,
        "start": start,
        "stop": stop,
        "message": message,
    }


def _video_frame_count(path: Path) -> int | None:
    """The frame count the video's header gives (an estimate for some containers), or ``None``."""
    from xpose.video import FrameSource

    try:
        with FrameSource(path) as reader:
            return reader.frame_count
    except (OSError, ValueError):
        return None


def plan_tasks(
    inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    chunk_frames: int | None = DEFAULT_CHUNK_FRAMES,
) -> list[dict[str, Any]]:
    """Cut paths into tasks, as :func:`predict_dataset` does (the rows it maps over).

    A folder contributes its images recursively (the extensions of ``xpose predict``), sorted;
    a file with a video extension becomes ``ceil(frames / chunk_frames)`` tasks (the last one
    reads to the end, so a wrong frame count loses nothing); other files are images, grouped
    ``batch_size`` to a task. A missing path or a folder with no images becomes a task that
    yields an error row. Sources keep the spelling given (as the local engine writes them);
    the paths read are absolute.
    """
    from xpose.inputs import collect_inputs

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if chunk_frames is not None and chunk_frames < 1:
        raise ValueError(f"chunk_frames must be >= 1 or None, got {chunk_frames}")
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    found, problems = collect_inputs(inputs)
    tasks = [
        _task(_PROBLEM, [p.name], [p.name], message=f"{type(p.error).__name__}: {p.error}")
        for p in problems
    ]
    images = [item.path for item in found if item.kind == "image" and item.path is not None]
    for i in range(0, len(images), batch_size):
        group = images[i : i + batch_size]
        tasks.append(_task(_IMAGES, [str(p) for p in group], [str(p.absolute()) for p in group]))
    for item in found:
        if item.kind != "video" or item.path is None:
            continue
        name, absolute = str(item.path), str(item.path.absolute())
        count = _video_frame_count(item.path) if chunk_frames is not None else None
        if count is None or chunk_frames is None or count <= chunk_frames:
            tasks.append(_task(_VIDEO, [name], [absolute]))
            continue
        starts = list(range(0, count, chunk_frames))
        for k, start in enumerate(starts):
            stop = -1 if k == len(starts) - 1 else start + chunk_frames
            tasks.append(_task(_VIDEO, [name], [absolute], start, stop))
    return tasks


# --- the actor --------------------------------------------------------------------------------


class PoseActor:
    """The callable class :func:`predict_dataset` maps over its batches, one per actor.

    Loads the model once in ``__init__``. Each call takes a batch of tasks (columns of
    :func:`plan_tasks`) or of images (column ``image``, optional ``source``/``path`` and
    ``frame``) and returns a :class:`pyarrow.Table` of :data:`RECORD_SCHEMA` rows. Subclass
    it (and pass ``actor_class=``) to add per-batch behaviour.

    Args:
        source: how to load the model.
        threads: runtime threads per actor.
        smooth, tracker, smoother_options, max_age, camera_motion: video mode, as
            :meth:`xpose.Estimator.track`.
        pose_filter: applied to every frame's poses (e.g. a partial of :meth:`Poses.select`).
        batch_size: images per model run (:meth:`xpose.Estimator.predict_batch`); image
            files and in-memory images are inferred in batches, video frames one by one.
    """

    def __init__(
        self,
        source: ModelSource,
        threads: int | None = 1,
        smooth: bool = True,
        tracker: str | None = "auto",
        smoother_options: Mapping[str, float] | None = None,
        max_age: int = 30,
        camera_motion: bool = True,
        pose_filter: Callable[[Poses], Poses] | None = None,
        batch_size: int = 8,
    ) -> None:
        self.batch_size = batch_size
        self._workdir = tempfile.mkdtemp(prefix="xpose-actor-")
        self.est = source.open(threads, self._workdir)
        self.smooth = smooth
        self.tracker = tracker
        self.smoother_options = dict(smoother_options or {})
        self.max_age = max_age
        self.camera_motion = camera_motion
        self.pose_filter = pose_filter

    def __del__(self) -> None:
        workdir = getattr(self, "_workdir", None)
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    def __call__(self, batch: dict[str, Any]) -> pa.Table:
        if "kind" in batch:
            rows = [row for task in _task_rows(batch) for row in self.run_task(task)]
        elif "image" in batch:
            rows = list(self.run_images(batch))
        else:
            raise ValueError(
                f"expected a batch of tasks (plan_tasks) or of images (column 'image'), got "
                f"columns {sorted(batch)}"
            )
        return pa.Table.from_pylist(rows, schema=RECORD_SCHEMA)

    # -- pieces ---------------------------------------------------------------------------

    def record(
        self,
        poses: Poses,
        source: str,
        image: npt.NDArray[np.uint8],
        frame: int = 0,
        timestamp: float | None = None,
    ) -> dict[str, Any]:
        """The row of one image or frame (after ``pose_filter``)."""
        if self.pose_filter is not None:
            poses = self.pose_filter(poses)
        rec = estimator_record(
            self.est, poses, image, source=source, frame=frame, timestamp=timestamp
        )
        rec["error"] = None
        return rec

    def run_task(self, task: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The rows of one task of :func:`plan_tasks`."""
        if task["kind"] == _PROBLEM:
            yield error_record(task["sources"][0], task["message"])
        elif task["kind"] == _IMAGES:
            yield from self.run_image_files(task["sources"], task["paths"])
        elif task["kind"] == _VIDEO:
            stop = None if task["stop"] < 0 else int(task["stop"])
            yield from self.run_video(task["sources"][0], task["paths"][0], task["start"], stop)
        else:
            raise ValueError(f"unknown task kind {task['kind']!r}")

    def run_image_files(self, sources: list[str], paths: list[str]) -> Iterator[dict[str, Any]]:
        """The rows of image files, in order, inferred in batches of :attr:`batch_size` while
        the next files are read (:func:`xpose.pipeline.predict_files`); an unreadable file
        gives an error row, as the CLI skips it."""
        from xpose.pipeline import predict_files

        found = predict_files(self.est, paths, batch_size=self.batch_size)
        for source, item in zip(sources, found, strict=True):
            if item.error is not None or item.poses is None or item.image is None:
                yield error_record(source, item.error or "ValueError: unreadable image")
            else:
                yield self.record(item.poses, source, item.image)

    def run_video(
        self, source: str, path: str, start: int = 0, stop: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Frames ``start`` to ``stop`` of a video, in video mode restarted at ``start``: what
        :meth:`Estimator.track_frames <xpose.estimator.Estimator.track_frames>` gives."""
        from xpose.video import FrameSource

        count = 0
        try:
            reader = FrameSource(path, start=start, stop=stop)
            frames = self.est.track_frames(
                reader,
                smooth=self.smooth,
                tracker=self.tracker,
                smoother_options=self.smoother_options,
                max_age=self.max_age,
                camera_motion=self.camera_motion,
            )
            with contextlib.closing(frames):
                for index, t, frame, poses in frames:
                    yield self.record(poses, source, frame, frame=index, timestamp=t)
                    count += 1
        except (OSError, ValueError) as err:
            yield error_record(source, err, frame=start + count)
            return
        if count == 0 and start == 0:
            yield error_record(source, "ValueError: no frame could be read")

    def run_images(self, batch: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Rows of a batch of in-memory images (a :class:`ray.data.Dataset` input), run as
        batches of :attr:`batch_size`."""
        from xpose.preprocess import to_rgb_uint8

        images = batch["image"]
        n = len(images)
        sources = batch.get("source", batch.get("path"))
        frames = batch.get("frame")
        read: list[tuple[str, int, npt.NDArray[np.uint8] | Exception]] = []
        for i in range(n):
            source = "<dataset>" if sources is None else str(sources[i])
            frame = 0 if frames is None else int(frames[i])
            try:
                read.append((source, frame, to_rgb_uint8(np.asarray(images[i]))))
            except (TypeError, ValueError) as err:
                read.append((source, frame, err))
        good = [image for _, _, image in read if isinstance(image, np.ndarray)]
        found = iter(self.est.predict_batch(good, batch_size=self.batch_size))
        for source, frame, image in read:
            if isinstance(image, np.ndarray):
                yield self.record(next(found), source, image, frame=frame)
            else:
                yield error_record(source, image, frame=frame)


def _task_rows(batch: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The rows of a numpy batch of tasks, as plain Python values."""
    for i in range(len(batch["kind"])):
        yield {
            "kind": str(batch["kind"][i]),
            "sources": [str(s) for s in batch["sources"][i]],
            "paths": [str(p) for p in batch["paths"][i]],
            "start": int(batch["start"][i]),
            "stop": int(batch["stop"][i]),
            "message": str(batch["message"][i]),
        }
