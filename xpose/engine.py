"""The local engine of ``xpose predict``, and the job description both engines take.

A :class:`PredictJob` says what to read, which model to run and where the results go. The
local engine (:func:`run_local`) runs it in this process: inputs in the order given
(:func:`xpose.inputs.collect_inputs`), image files read in threads a few batches ahead and
inferred in batches (:func:`xpose.pipeline.predict_files`, :meth:`Estimator.predict_batch
<xpose.estimator.Estimator.predict_batch>`), videos and cameras with :meth:`Estimator.track_frames
<xpose.estimator.Estimator.track_frames>`; the Ray engine (:func:`xpose.distributed.run_job`)
runs the same job on a pool of actors calling the same methods. Both write the records of
:func:`xpose.output.build_record` and tell the caller what happened through a
:class:`Reporter`, which prints (the engines print nothing themselves).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
from tqdm import tqdm

from xpose.atomic import check_outputs
from xpose.draw import draw_poses
from xpose.errors import OutputError
from xpose.estimator import DEFAULT_BATCH, Estimator, load
from xpose.inputs import Input, collect_inputs, shown
from xpose.models import MODELS, ModelSpec
from xpose.output import RecordWriter, coco_image_id, estimator_record, open_writer, write_image
from xpose.pipeline import predict_files
from xpose.results import Poses
from xpose.video import FrameSource, VideoWriter

__all__ = [
    "InputSummary",
    "Overlays",
    "PredictJob",
    "Reporter",
    "RunResult",
    "coco_named",
    "load_estimator",
    "run_local",
]

#: Suffixes ``draw`` treats as an overlay picture file name (for one image input).
DRAW_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: Suffixes ``draw`` treats as an annotated-video file name (anything else: a folder).
DRAW_VIDEO_SUFFIXES = (".mp4", ".avi")


@dataclass(frozen=True)
class PredictJob:
    """What ``xpose predict`` is asked to do; each field is the option of the same name.

    Attributes:
        inputs: image files, folders and video files, in order; ``camera`` a camera index.
        model, backend, precision, store, threads: the model, as :func:`xpose.load` takes it.
        out, format: where the records go (``"-"``: standard output) and as what
            (``"jsonl"`` or ``"coco"``); ``None``: no records, summaries instead.
        draw, threshold: where overlays go, and the keypoint score they need to be drawn.
        overwrite: outputs may replace existing files (never inputs).
        multi_pose, max_poses, min_pose_score: the model options and the selection of people.
        multipose_long_side, multipose_aspect: MultiPose's input size (default 256x256).
        device: where the backend runs (``None``: the CPU).
        batch_size: images per model run (``None``: the engine's default, 8 locally, 16 per
            Ray task).
        tracker, smooth, camera_motion: video mode.
        progress: show progress bars.
        address, actors, threads_per_actor, chunk_frames, ship_model: the Ray engine's.
    """

    inputs: Sequence[str] = ()
    camera: int | None = None
    model: str = "movenet-lightning"
    backend: str = "onnxruntime"
    precision: str = "fp32"
    store: str | None = None
    threads: int | None = None
    out: str | None = None
    format: str = "jsonl"
    draw: str | None = None
    threshold: float = 0.3
    overwrite: bool = False
    multi_pose: bool = False
    max_poses: int | None = None
    min_pose_score: float | None = None
    multipose_long_side: int | None = None
    multipose_aspect: bool = False
    device: str | None = None
    batch_size: int | None = None
    tracker: str | None = None
    smooth: bool = True
    camera_motion: bool = True
    progress: bool = False
    address: str | None = None
    actors: int | None = None
    threads_per_actor: int | None = None
    chunk_frames: int | None = None
    ship_model: bool = False

    @classmethod
    def from_namespace(cls, namespace: Any, **changes: Any) -> PredictJob:
        """The job of parsed command-line arguments (fields read by name, where present)."""
        values = {
            f.name: getattr(namespace, f.name) for f in fields(cls) if hasattr(namespace, f.name)
        }
        return cls(**{**values, **changes})

    def model_options(self, spec: ModelSpec) -> dict[str, Any]:
        """The options of ``spec``'s model that ``multi_pose``, ``max_poses`` and
        ``min_pose_score`` ask for (the model decodes with them, then :meth:`select` applies).

        Raises:
            ValueError: ``multi_pose`` for a model other than PoseNet.
        """
        names = spec.head.Options.names() if spec.head is not None else ()
        wanted: dict[str, Any] = {}
        if self.multi_pose:
            if "multi_pose" not in names:
                does = "always finds several people" if spec.multi_person else "finds one person"
                raise ValueError(f"--multi-pose applies to posenet only; {spec.name} {does}")
            wanted["multi_pose"] = True
        for flag, key, value in (
            ("--multipose-long-side", "multipose_long_side", self.multipose_long_side),
            ("--multipose-aspect", "multipose_square", False if self.multipose_aspect else None),
        ):
            if value is None:
                continue
            if key not in names:
                raise ValueError(f"{flag} applies to movenet-multipose only, not {spec.name}")
            wanted[key] = value
        if self.max_poses is not None and "max_poses" in names:
            wanted["max_poses"] = self.max_poses
        if self.min_pose_score is not None:
            key = next((k for k in ("min_pose_score", "score_threshold") if k in names), None)
            if key is not None:
                wanted[key] = self.min_pose_score
        return wanted

    def select(self, poses: Poses) -> Poses:
        """``min_pose_score`` and ``max_poses`` applied to a model's poses."""
        return poses.select(self.min_pose_score, self.max_poses)


def load_estimator(job: PredictJob, threads: int | None = None) -> Estimator:
    """The job's model with the options it asks for (loaded once for a catalogue name; a file
    is loaded again only when its model turns out to take options the job sets)."""
    spec = MODELS.get(job.model)
    options = job.model_options(spec) if spec is not None else {}
    threads = job.threads if threads is None else threads

    def load_with(**opts: Any) -> Estimator:
        return load(
            job.model,
            job.backend,
            job.precision,
            store=job.store,
            threads=threads,
            device=job.device,
            **opts,
        )

    est = load_with(**options)
    if spec is None:
        try:
            options = job.model_options(est.spec)
        except ValueError:
            est.close()
            raise
        if options:
            est.close()
            est = load_with(**options)
    return est


# --- what the engines tell their caller --------------------------------------------------------


@dataclass(frozen=True)
class InputSummary:
    """What one input gave: an image's size and people, or a video's frames and tracks."""

    source: str
    frames: int
    people: int
    tracks: int = 0
    size: tuple[int, int] | None = None  # (width, height) of an image; None for a video
    scores: tuple[float, ...] = ()  # an image's pose scores

    @classmethod
    def of_records(cls, source: str, records: Sequence[dict[str, Any]]) -> InputSummary:
        """The summary of one input's records (:func:`xpose.output.build_record`'s)."""
        people = sum(len(r["poses"]) for r in records)
        if len(records) == 1 and records[0]["timestamp"] is None:
            rec = records[0]
            scores = tuple(float(p["score"]) for p in rec["poses"])
            return cls(source, 1, people, size=(rec["width"], rec["height"]), scores=scores)
        tracks = {p["track_id"] for r in records for p in r["poses"] if p["track_id"] is not None}
        return cls(source, len(records), people, len(tracks))

    def line(self) -> str:
        """One line for people: ``a.jpg: 640x480, 1 person (pose score 0.71)``."""
        name = shown(self.source)
        if self.size is not None:
            found = "no people"
            if self.people:
                scores = " ".join(f"{s:.2f}" for s in self.scores)
                found = f"{self.people} {'person' if self.people == 1 else 'people'}"
                found += f" (pose score {scores})"
            return f"{name}: {self.size[0]}x{self.size[1]}, {found}"
        tracked = f", {self.tracks} track(s)" if self.tracks else ""
        rate = self.people / self.frames if self.frames else 0.0
        return f"{name}: {self.frames} frames, {rate:.1f} people per frame{tracked}"


class Reporter(Protocol):
    """Where an engine says what happened; the command prints it."""

    def problem(self, message: str) -> None:
        """An input that failed (``name: reason``); the run goes on."""

    def summary(self, summary: InputSummary) -> None:
        """One input done."""

    def note(self, message: str) -> None:
        """Anything else worth a line (records written, kept on Ctrl-C...)."""


@dataclass(frozen=True)
class RunResult:
    """How a run ended: the records written and the inputs that failed."""

    records: int
    failures: int


def coco_named(sources: Sequence[str | os.PathLike[str] | None]) -> bool:
    """Whether every source is an image file with a distinct COCO-style number (COCO output
    then uses those numbers as image ids; else the running index)."""
    ids = [None if s is None else coco_image_id(s) for s in sources]
    return bool(ids) and None not in ids and len(set(ids)) == len(ids)


# --- outputs ----------------------------------------------------------------------------------


class Overlays:
    """Where ``draw`` puts each input's overlay, decided before any work.

    In a folder, an image's overlay is ``<stem>.pose.jpg`` (``.pose.png`` for a PNG) and a
    video's or camera's ``<stem>.pose.mp4``, so that an overlay never takes an input's name;
    names that repeat get ``-1``, ``-2``... With a file name, the one input's overlay goes there.
    """

    def __init__(self, target: str | None, inputs: Sequence[Input]) -> None:
        self.root = None if target is None else Path(target)
        self.targets: dict[Input, Path] = {}
        if self.root is None:
            return
        streams = [i for i in inputs if i.kind != "image"]
        suffix = self.root.suffix.lower()
        if suffix in DRAW_VIDEO_SUFFIXES and not self.root.is_dir():
            if len(streams) != 1 or len(inputs) != 1:
                raise ValueError(
                    f"--draw {target}: a video file name takes exactly one video or camera "
                    "input; give a folder to draw several inputs"
                )
            self.targets = {inputs[0]: self.root}
            return
        if suffix in DRAW_IMAGE_SUFFIXES and not self.root.is_dir():
            if len(inputs) != 1 or streams:
                raise ValueError(
                    f"--draw {target}: an image file name takes exactly one image input; "
                    "give a folder to draw several inputs"
                )
            self.targets = {inputs[0]: self.root}
            return
        if self.root.exists() and not self.root.is_dir():
            raise OutputError(
                f"--draw {target}: expected a folder, an image file name (one image input) "
                "or a .mp4/.avi file name (one video input)"
            )
        used: set[Path] = set()
        for item in inputs:
            png = item.path is not None and item.path.suffix.lower() == ".png"
            ext = ".mp4" if item.kind != "image" else ".png" if png else ".jpg"
            candidate, n = self.root / f"{item.stem}.pose{ext}", 1
            while candidate in used:
                candidate = self.root / f"{item.stem}.pose-{n}{ext}"
                n += 1
            used.add(candidate)
            self.targets[item] = candidate

    def path(self, item: Input) -> Path | None:
        """The overlay file of ``item`` (its folder created), or ``None`` when not drawing."""
        target = self.targets.get(item)
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
        return target


def check_job_outputs(job: PredictJob, inputs: Sequence[Input], overlays: Overlays) -> None:
    """Refuse, before any work, outputs that would replace an input or, without ``overwrite``,
    an existing file (see :func:`xpose.atomic.check_outputs`)."""
    outputs: list[tuple[str, Path]] = []
    if job.out is not None and job.out != "-":
        outputs.append((f"--out {shown(job.out)}", Path(job.out)))
    for item, target in overlays.targets.items():
        outputs.append((f"--draw: the overlay of {shown(item.name)}, {shown(target)},", target))
    paths = [item.path for item in inputs if item.path is not None]
    check_outputs(outputs, paths, overwrite=job.overwrite, how_to_overwrite="--overwrite")


# --- the local engine -------------------------------------------------------------------------


@dataclass
class _Run:
    """What a local run carries from input to input."""

    job: PredictJob
    est: Estimator
    writer: RecordWriter | None
    overlays: Overlays
    report: Reporter
    coco_ids: bool
    failures: int = 0

    def problem(self, message: str) -> None:
        self.failures += 1
        self.report.problem(message)

    def record(
        self,
        poses: Poses,
        source: str,
        image: np.ndarray,
        frame: int = 0,
        timestamp: float | None = None,
        image_id: int | None = None,
    ) -> None:
        if self.writer is None:
            return
        rec = estimator_record(
            self.est, poses, image, source=source, frame=frame, timestamp=timestamp
        )
        self.writer.write(rec, image_id if self.coco_ids else None)

    def bar(self, total: int | None, unit: str, desc: str, show: bool = True) -> tqdm:
        return tqdm(
            total=total,
            unit=unit,
            desc=desc,
            file=sys.stderr,
            disable=not (self.job.progress and show),
            dynamic_ncols=True,
        )


def run_local(job: PredictJob, report: Reporter) -> RunResult:
    """Run ``job`` in this process: every input in order, records to ``job.out``.

    An input that cannot be read is reported and skipped. If no input gave a record, no
    ``out`` file is written. On ``KeyboardInterrupt`` the records so far are kept (see
    :class:`xpose.output.RecordWriter`) and the interrupt goes on.

    Raises:
        ValueError, OSError, xpose.errors.XposeError: a job that cannot start (nothing to
            read, outputs that would replace inputs, a model that does not load...).
    """
    inputs, problems = collect_inputs(job.inputs, job.camera)
    overlays = Overlays(job.draw, inputs)
    check_job_outputs(job, inputs, overlays)
    est = load_estimator(job)
    writer: RecordWriter | None = None
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(est)
            if job.out is not None:
                writer = stack.enter_context(open_writer(job.out, job.format))
            sources = [i.path if i.kind == "image" else None for i in inputs]
            named = job.format == "coco" and coco_named(sources)
            run = _Run(job, est, writer, overlays, report, coco_ids=named)
            for problem in problems:
                run.problem(str(problem))
            for kind, group in _groups(inputs):
                if kind == "image":
                    _run_images(run, group)
                else:
                    _run_stream(run, group[0])
            if writer is not None and writer.records == 0 and run.failures:
                writer.abort()  # nothing read: an existing out stays as it was
                report.note(f"no record, {shown(job.out)} not written")
    except KeyboardInterrupt:
        if writer is not None and writer.saved_to is not None:
            kept = f"{writer.records} record(s) kept in {shown(writer.saved_to)}"
            if writer.path is not None and writer.saved_to != writer.path:
                kept += f" ({shown(writer.path)}, which existed, is unchanged)"
            report.note(kept)
        raise
    return RunResult(0 if writer is None else writer.records, run.failures)


def _groups(inputs: Sequence[Input]) -> Iterator[tuple[str, list[Input]]]:
    """Consecutive images grouped (one progress bar each); videos and cameras one by one."""
    group: list[Input] = []
    for item in inputs:
        if item.kind == "image":
            group.append(item)
            continue
        if group:
            yield "image", group
            group = []
        yield item.kind, [item]
    if group:
        yield "image", group


def _run_images(run: _Run, items: list[Input]) -> None:
    """Image files, in order: decoded in threads a few batches ahead, inferred in batches."""
    paths = [cast(Path, item.path) for item in items]  # an image input is a file
    found = predict_files(run.est, paths, batch_size=run.job.batch_size or DEFAULT_BATCH)
    bar = run.bar(len(items), "img", "images", show=len(items) > 1)
    with bar, contextlib.closing(found) as results:
        for item, result in zip(items, results, strict=True):
            path, image = result.path, result.image
            if image is None or result.poses is None:
                run.problem(f"skipped {shown(path)}: {shown(str(result.error))}")
                bar.update()
                continue
            poses = run.job.select(result.poses)
            run.record(poses, str(path), image, image_id=coco_image_id(path))
            target = run.overlays.path(item)
            if target is not None:
                write_image(target, draw_poses(image, poses, run.job.threshold))
            scores = tuple(float(s) for s in poses.score)
            size = (image.shape[1], image.shape[0])
            run.report.summary(InputSummary(str(path), 1, len(poses), size=size, scores=scores))
            bar.update()


def _run_stream(run: _Run, item: Input) -> None:
    """One video or camera: track through every frame."""
    try:
        reader = FrameSource(item.camera if item.path is None else item.path)
    except (OSError, ValueError) as err:
        run.problem(f"skipped {shown(item.name)}: {shown(str(err))}")
        return
    frames = run.est.track_frames(
        reader,
        smooth=run.job.smooth,
        tracker=run.job.tracker or "auto",
        camera_motion=run.job.camera_motion,
    )
    draw_target = run.overlays.path(item)
    video = None if draw_target is None else VideoWriter(draw_target, fps=reader.fps)
    count = people = 0
    tracks: set[int] = set()
    try:
        with contextlib.closing(frames), run.bar(reader.frame_count, "frame", item.stem) as bar:
            for index, timestamp, frame, found in frames:
                poses = run.job.select(found)
                run.record(poses, item.name, frame, frame=index, timestamp=timestamp)
                if video is not None:
                    video.write(draw_poses(frame, poses, run.job.threshold))
                count += 1
                people += len(poses)
                tracks.update(int(t) for t in poses.track_ids if t >= 0)
                bar.update()
    except BaseException as err:
        # Ctrl-C keeps the annotated frames so far, as it keeps the records; errors do not.
        if video is not None:
            if isinstance(err, KeyboardInterrupt):
                video.close(partial=True)
            else:
                video.abort()
        raise
    if video is not None:
        video.close()
    if count == 0:
        run.problem(f"{shown(item.name)}: no frame could be read")
        return
    if reader.frame_count is not None and count < reader.frame_count:
        run.problem(
            f"{shown(item.name)}: read {count} of {reader.frame_count} frames; the file is "
            "truncated or damaged (the records of the frames read are kept)"
        )
    run.report.summary(InputSummary(item.name, count, people, len(tracks)))
