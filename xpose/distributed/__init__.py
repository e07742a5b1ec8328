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

- images: ``batch_size`` paths per task, read and predicted inside the actor as one batch;
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

import functools
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from xpose.engine import PredictJob, Reporter, RunResult
from xpose.errors import MissingExtraError
from xpose.output import coco_image_id, open_writer
from xpose.results import Poses

try:
    import pyarrow as pa  # noqa: F401
    import ray
    import ray.data
except ImportError as _err:
    raise MissingExtraError(
        "xpose.distributed (the Ray engine)", "ray[data]", "ray", module="ray"
    ) from _err

from xpose.distributed.model import ModelSource, materialize
from xpose.distributed.tasks import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CHUNK_FRAMES,
    RECORD_SCHEMA,
    PoseActor,
    error_record,
    plan_tasks,
)

__all__ = [
    "DEFAULT_CHUNK_FRAMES",
    "RECORD_SCHEMA",
    "ModelSource",
    "PoseActor",
    "error_record",
    "gather",
    "materialize",
    "plan_tasks",
    "predict_dataset",
    "run_job",
]

logger = logging.getLogger(__name__)


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
    camera_motion: bool = True,
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
        batch_size: images per task / Dataset rows per call, run by the actor as one batch
            (:meth:`xpose.Estimator.predict_batch`).
        chunk_frames: frames per video task; ``None``: one task per video. Video mode
            restarts at each chunk's first frame (see the module docs).
        smooth, tracker, camera_motion: video mode, as :meth:`xpose.Estimator.track`.
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
            "camera_motion": camera_motion,
            "pose_filter": pose_filter,
            "batch_size": batch_size,
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

    for flag, value in (("--camera", job.camera), ("--draw", job.draw), ("--device", job.device)):
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
            camera_motion=job.camera_motion,
            pose_filter=pose_filter,
            ship_model=job.ship_model,
            batch_size=job.batch_size or DEFAULT_BATCH_SIZE,
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
