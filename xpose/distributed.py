"""Pose extraction over large image and video collections on Ray Data (``pip install 'xpose[ray]'``).

>>> import ray
>>> from xpose.distributed import predict_dataset, gather
>>> ray.init(num_cpus=2)  # doctest: +SKIP
>>> ds = predict_dataset(["photos/", "walk.mp4"], model="movenet-lightning", actors=2)  # doctest: +SKIP
>>> records, errors = gather(ds)  # sorted by (source, frame)  # doctest: +SKIP

:func:`predict_dataset` returns a lazy :class:`ray.data.Dataset` with one row per image or video
frame. Each row holds the fields of a record of ``xpose predict`` (:func:`xpose.output.build_record`,
``docs/output-schema.md``) plus ``error``: ``None`` for a record, else ``"<ExceptionType>:
<message>"`` for an input that could not be read (its other fields are then null and ``poses``
is empty). Rows come in no particular order; :func:`gather` sorts them.

How the work is cut (``docs/distributed.md`` has the details):

- images: ``batch_size`` paths per task, read and predicted inside the actor;
- videos: one task per ``chunk_frames`` frames (``(source, start, stop)``), so one long video is
  processed by several actors at once. Video mode (MoveNet's crop tracking, track ids,
  smoothing) **restarts at the first frame of every chunk**: a chunk gives exactly what the
  local engine gives for that frame range on its own. With ``chunk_frames=None`` each video is
  one task and gives exactly the local engine's records;
- a :class:`ray.data.Dataset` of images: ``batch_size`` rows per call (see
  :func:`predict_dataset` for the columns).

Inference runs in a pool of ``actors`` actors (``map_batches`` with :class:`PoseActor`), each
loading the model once in ``__init__``. Nothing is converted on the workers: the model file is
either read from its path (the store must then be visible to every node) or, with
``ship_model=True``, sent through Ray's object store and written to a temporary file on each
actor; either way its sha256 is checked against the store's manifest before it is loaded.
An actor whose process dies is restarted and its task retried (``max_restarts``), so no record
is lost or duplicated.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from xpose import store as _store
from xpose.engine import PredictJob, Reporter, RunResult
from xpose.errors import MissingExtraError
from xpose.estimator import Estimator
from xpose.output import SCHEMA_VERSION, coco_image_id, estimator_record, open_writer
from xpose.results import Poses

try:
    import pyarrow as pa
    import ray
    import ray.data
except ImportError as _err:
    raise MissingExtraError(
        "xpose.distributed (the Ray engine)", "ray[data]", "ray", module="ray"
    ) from _err

__all__ = [
    "DEFAULT_CHUNK_FRAMES",
    "RECORD_SCHEMA",
    "ModelSource",
    "PoseActor",
    "error_record",
    "gather",
    "plan_tasks",
    "predict_dataset",
]

logger = logging.getLogger(__name__)

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


# --- the model and how it reaches the workers -----------------------------------------------


@dataclass(frozen=True)
class ModelSource:
    """What an actor needs to load the model, without converting anything.

    Attributes:
        path: the model file (or SavedModel folder) as the driver sees it.
        sha256: the file's checksum (the manifest's for a store file); ``None`` for a folder.
        model: the catalogue name (``None`` for a file identified from its tensors).
        backend, precision: as :func:`xpose.load` resolved them.
        options: the model options (checked on the driver).
        blob: an object reference to the file's bytes when shipped through the object store.
    """

    path: str
    sha256: str | None
    model: str | None
    backend: str
    precision: str | None
    options: Mapping[str, Any] = field(default_factory=dict)
    blob: Any = None

    @classmethod
    def resolve(
        cls,
        model: str | os.PathLike[str],
        backend: str,
        precision: str,
        *,
        store: str | os.PathLike[str] | None = None,
        ship_model: bool = False,
        **options: Any,
    ) -> ModelSource:
        """Load the model once on the driver (checking names, options, file and checksum).

        Raises:
            whatever :func:`xpose.load` raises (unknown model, not converted yet, bad option...).
        """
        import xpose

        with xpose.load(model, backend, precision, store=store, **options) as est:
            path = est.path
            spec_name = est.spec.name if _is_catalogue(model) else None
            backend_name, file_precision = est.backend_name, est.precision
        sha = _manifest_sha(spec_name, precision, backend_name, store) if spec_name else None
        if sha is None and path.is_file():
            sha = _store.sha256_file(path)
        blob = None
        if ship_model:
            if not path.is_file():
                raise ValueError(
                    f"ship_model needs a model file, {path} is a folder; put it where every "
                    "node sees it instead"
                )
            blob = ray.put(path.read_bytes())
        return cls(
            path=str(path.resolve()),
            sha256=sha,
            model=spec_name,
            backend=backend_name,
            precision=file_precision,
            options=dict(options),
            blob=blob,
        )

    def open(self, threads: int | None, workdir: str) -> Estimator:
        """Load the estimator on a worker: from the shipped bytes, else from :attr:`path`.

        Raises:
            FileNotFoundError: the path is not visible on this node (the message says what to do).
            xpose.store.ModelFileError: the file's sha256 differs from the driver's.
        """
        from xpose.backends import open_backend
        from xpose.models import get_spec

        if self.blob is not None:
            path = materialize(ray.get(self.blob), Path(self.path).name, self.sha256, workdir)
        else:
            path = Path(self.path)
            if not path.exists():
                raise FileNotFoundError(
                    f"the model {path} is not visible on this node; put the model store on a "
                    "filesystem every node mounts at the same path, or pass ship_model=True "
                    "(--ship-model)"
                )
            if self.sha256 is not None and path.is_file():
                _check_sha(path, self.sha256)
        spec = get_spec(self.model) if self.model is not None else None
        opened = open_backend(self.backend, path, threads=threads)
        try:
            return Estimator(opened, spec=spec, precision=self.precision, **dict(self.options))
        except (ValueError, TypeError):
            opened.close()
            raise


def _is_catalogue(model: str | os.PathLike[str]) -> bool:
    from xpose.models import MODELS

    return isinstance(model, str) and model in MODELS


def _manifest_sha(
    model: str, precision: str, backend: str, store: str | os.PathLike[str] | None
) -> str | None:
    fmt = {"onnxruntime": "onnx", "tflite": "tflite"}.get(backend)
    if fmt is None:
        return None
    entry = _store.Manifest.load(store).entry(_store.relpath(model, precision, fmt))
    return None if entry is None else entry.get("sha256")


def _check_sha(path: Path, sha256: str) -> None:
    digest = _store.sha256_file(path)
    if digest != sha256:
        raise _store.ModelFileError(
            f"{path}: sha256 {digest} does not match the manifest ({sha256}); the file is "
            "corrupt or differs from the driver's copy"
        )


def materialize(data: bytes, name: str, sha256: str | None, folder: str | os.PathLike[str]) -> Path:
    """Write shipped model bytes to ``folder/name`` (atomically) after checking their sha256.

    Raises:
        xpose.store.ModelFileError: the bytes do not match ``sha256``; nothing is written.
    """
    import hashlib

    if sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise _store.ModelFileError(
                f"shipped model {name}: sha256 {digest} does not match the manifest ({sha256})"
            )
    target = Path(folder) / name
    with _store.atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return target


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
        smooth, tracker, smoother_options, max_age: video mode, as
            :meth:`xpose.Estimator.track`.
        pose_filter: applied to every frame's poses (e.g. a partial of :meth:`Poses.select`).
    """

    def __init__(
        self,
        source: ModelSource,
        threads: int | None = 1,
        smooth: bool = True,
        tracker: str | None = "auto",
        smoother_options: Mapping[str, float] | None = None,
        max_age: int = 30,
        pose_filter: Callable[[Poses], Poses] | None = None,
    ) -> None:
        self._workdir = tempfile.mkdtemp(prefix="xpose-actor-")
        self.est = source.open(threads, self._workdir)
        self.smooth = smooth
        self.tracker = tracker
        self.smoother_options = dict(smoother_options or {})
        self.max_age = max_age
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
            for source, path in zip(task["sources"], task["paths"]):
                yield self.run_image_file(source, path)
        elif task["kind"] == _VIDEO:
            stop = None if task["stop"] < 0 else int(task["stop"])
            yield from self.run_video(task["sources"][0], task["paths"][0], task["start"], stop)
        else:
            raise ValueError(f"unknown task kind {task['kind']!r}")

    def run_image_file(self, source: str, path: str) -> dict[str, Any]:
        """One image file's row; an unreadable file gives an error row, as the CLI skips it."""
        from xpose.preprocess import to_rgb_uint8

        try:
            image = to_rgb_uint8(path)
        except (OSError, ValueError) as err:
            return error_record(source, err)
        return self.record(self.est.predict(image), source, image)

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
        """Rows of a batch of in-memory images (a :class:`ray.data.Dataset` input)."""
        from xpose.preprocess import to_rgb_uint8

        images = batch["image"]
        n = len(images)
        sources = batch.get("source", batch.get("path"))
        frames = batch.get("frame")
        for i in range(n):
            source = "<dataset>" if sources is None else str(sources[i])
            frame = 0 if frames is None else int(frames[i])
            try:
                image = to_rgb_uint8(np.asarray(images[i]))
            except (TypeError, ValueError) as err:
                yield error_record(source, err, frame=frame)
                continue
            yield self.record(self.est.predict(image), source, image, frame=frame)


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


# --- the entry point --------------------------------------------------------------------------


def predict_dataset(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | ray.data.Dataset,
    model: str | os.PathLike[str] = "movenet-lightning",
    backend: str = "onnxruntime",
    precision: str = "fp32",
    *,
    store: str | os.PathLike[str] | None = None,
    actors: int = 2,
    threads_per_actor: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    chunk_frames: int | None = DEFAULT_CHUNK_FRAMES,
    smooth: bool = True,
    tracker: str | None = "auto",
    pose_filter: Callable[[Poses], Poses] | None = None,
    ship_model: bool = False,
    max_restarts: int | None = None,
    actor_class: type[PoseActor] = PoseActor,
    **model_options: Any,
) -> ray.data.Dataset:
    """Estimate poses over a collection on Ray: one row per image or video frame.

    Connect to Ray first (``ray.init(...)``); otherwise Ray starts a local instance on first
    use. Nothing runs until the dataset is consumed (``take_all``, ``write_json``, :func:`gather`).

    Args:
        inputs: image and video paths and folders (folders recursively, images only, as
            ``xpose predict``), one path, or a :class:`ray.data.Dataset` with column ``image``
            (``(H, W, 3)`` uint8 **RGB**, as :func:`ray.data.read_images` gives) and optional
            ``source`` (str; else ``path``, else ``"<dataset>"``) and ``frame`` (int, default 0).
            Paths are read by the workers: they must see them at the same absolute path.
        model, backend, precision, store: as :func:`xpose.load` (a catalogue name or a path).
        actors: actors in the pool, each holding one model.
        threads_per_actor: runtime threads (and CPUs reserved) per actor.
        batch_size: images per task / Dataset rows per call.
        chunk_frames: frames per video task; ``None``: one task per video. Video mode
            restarts at each chunk's first frame (see the module docs).
        smooth, tracker: video mode, as :meth:`xpose.Estimator.track`.
        pose_filter: applied to every image's poses (e.g. ``functools.partial(Poses.select,
            max_poses=3)``); must be picklable.
        ship_model: send the model file through the object store instead of reading it from
            the store path on each node (for clusters without a shared store).
        max_restarts: times a dead actor is restarted, its tasks retried each time; ``None``
            keeps Ray Data's default (Ray 2.60: restart and retry without limit).
        actor_class: :class:`PoseActor` or a subclass.
        **model_options: model options, as :func:`xpose.load`.

    Returns:
        A lazy :class:`ray.data.Dataset` of :data:`RECORD_SCHEMA` rows, in no set order.

    Raises:
        Whatever :func:`xpose.load` raises for the model, checked on the driver first;
        ValueError: a bad ``actors``, ``threads_per_actor``, ``batch_size`` or ``chunk_frames``.
    """
    for name, value in (("actors", actors), ("threads_per_actor", threads_per_actor)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    restart_options: dict[str, int] = {}
    if max_restarts is not None:
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
            raise ValueError(f"max_restarts must be None or an integer >= 0, got {max_restarts!r}")
        # actor options (Ray >= 2.60 warns that it will take them another way from 2.64)
        restart_options = {"max_restarts": max_restarts, "max_task_retries": max_restarts}
    source = ModelSource.resolve(
        model, backend, precision, store=store, ship_model=ship_model, **model_options
    )
    if isinstance(inputs, ray.data.Dataset):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        dataset, rows_per_call = inputs, batch_size
    else:
        tasks = plan_tasks(inputs, batch_size=batch_size, chunk_frames=chunk_frames)
        if not tasks:
            raise ValueError("nothing to read: no inputs given")
        # one block per task, so the tasks spread over the actors
        dataset = ray.data.from_items(tasks, override_num_blocks=len(tasks))
        rows_per_call = 1
    return dataset.map_batches(
        actor_class,
        fn_constructor_args=(source,),
        fn_constructor_kwargs={
            "threads": threads_per_actor,
            "smooth": smooth,
            "tracker": tracker,
            "pose_filter": pose_filter,
        },
        batch_size=rows_per_call,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=threads_per_actor,
        **restart_options,
    )


def gather(dataset: ray.data.Dataset) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run ``dataset`` and split its rows into records and errors, each sorted by (source, frame).

    Records lose the ``error`` key, so they equal ``xpose predict``'s JSON Lines records.
    Errors are ``{"source", "frame", "error"}``.
    """
    records: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for row in dataset.iter_rows():
        row = dict(row)
        error = row.pop("error", None)
        if error is None:
            records.append(row)
        else:
            errors.append({"source": row["source"], "frame": row["frame"], "error": error})
    key = _order
    return sorted(records, key=key), sorted(errors, key=key)


def _order(row: Mapping[str, Any]) -> tuple[str, int]:
    return (str(row["source"]), int(row["frame"]))


# --- the driver of ``xpose predict --engine ray`` ---------------------------------------------


def run_job(job: PredictJob, report: Reporter) -> RunResult:
    """Run an ``xpose predict`` job on Ray: the local engine's records, sorted by (source, frame).

    Joins the cluster at ``job.address`` (default: starts a local Ray for the run, stopped at
    the end), maps :class:`PoseActor` over :func:`plan_tasks` with ``job.actors`` actors of
    ``job.threads_per_actor`` threads, and writes the records to ``job.out`` (or reports a
    summary per input). An input that cannot be read is reported and skipped.

    Raises:
        ValueError: an option the Ray engine does not take (``camera``, ``draw``), or the errors
            of :func:`xpose.load` and of the outputs' checks.
    """

    from xpose.engine import InputSummary, Overlays, check_job_outputs, coco_named, load_estimator
    from xpose.inputs import collect_inputs, shown

    for flag, value in (("--camera", job.camera), ("--draw", job.draw)):
        if value is not None:
            raise ValueError(f"{flag} is not supported with --engine ray; use --engine local")
    if job.chunk_frames is not None and job.chunk_frames < 0:
        raise ValueError(f"--chunk-frames: expected an integer >= 0, got {job.chunk_frames}")
    check_job_outputs(job, collect_inputs(job.inputs)[0], Overlays(None, []))
    actors, threads = job.actors or 2, job.threads_per_actor or 1
    with load_estimator(job, threads=1) as est:
        options = job.model_options(est.spec)
    pose_filter = None
    if job.min_pose_score is not None or job.max_poses is not None:
        pose_filter = functools.partial(
            Poses.select, min_pose_score=job.min_pose_score, max_poses=job.max_poses
        )
    chunk = DEFAULT_CHUNK_FRAMES if job.chunk_frames is None else job.chunk_frames or None
    started = not ray.is_initialized()
    if started:
        where: dict[str, Any] = (
            {"address": job.address}
            if job.address
            else {"num_cpus": max(os.cpu_count() or 1, actors * threads)}
        )
        ray.init(
            include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False, **where
        )
    ray.data.DataContext.get_current().enable_progress_bars = job.progress
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        dataset = predict_dataset(
            list(job.inputs),
            job.model,
            job.backend,
            job.precision,
            store=job.store,
            actors=actors,
            threads_per_actor=threads,
            chunk_frames=chunk,
            smooth=job.smooth,
            tracker=job.tracker or "auto",
            pose_filter=pose_filter,
            ship_model=job.ship_model,
            **options,
        )
        records, errors = gather(dataset)
    finally:
        if started:
            ray.shutdown()
    for error in errors:
        report.problem(f"skipped {shown(error['source'])}: {shown(error['error'])}")
    written = 0
    if job.out is not None and not records and errors:
        report.note(f"no record, {shown(job.out)} not written")
    elif job.out is not None:
        sources = [r["source"] if r["timestamp"] is None else None for r in records]
        named = job.format == "coco" and coco_named(sources)
        with open_writer(job.out, job.format) as writer:
            for record in records:
                writer.write(record, coco_image_id(record["source"]) if named else None)
        written = writer.records
    else:
        by_source: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            by_source.setdefault(record["source"], []).append(record)
        for source, group in by_source.items():
            report.summary(InputSummary.of_records(source, group))
    return RunResult(written, len(errors))
