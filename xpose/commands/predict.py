"""``xpose predict``: poses in images, folders of images, videos and a live camera.

Inputs are taken in the order given; a folder contributes its images (recursively, sorted by
path); a file with a video extension (:data:`xpose.inputs.VIDEO_EXTENSIONS`) is read as a video, any other
file as an image. Results go to ``--out`` as JSON Lines (one record per image or frame, see
``docs/output-schema.md``) or, with ``--format coco``, as a COCO keypoint results list; without
``--out`` a short summary per input is printed.

What the command writes, and when (``docs/reliability.md``):

- Outputs never replace inputs: an ``--out`` or ``--draw`` path that is one of the inputs is
  refused before any work, and overlays are named ``<stem>.pose.jpg`` / ``.pose.png`` /
  ``.pose.mp4``. An output file that exists is replaced only with ``--overwrite``.
- Partial failure: an input that cannot be read (missing, a broken link, undecodable, above the
  pixel limit, a video cut short) is reported on stderr; the results of every other input are
  written, and the exit status is 1. If no input gave a record, no ``--out`` file is written.
- An error that stops the run leaves ``--out`` as it was. Ctrl-C, SIGTERM and SIGHUP keep the
  complete records so far (at ``--out``, or beside an existing one as ``<stem>.partial<suffix>``)
  and exit with 130, 143 and 129.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import xpose
from xpose import preprocess
from xpose.atomic import check_outputs
from xpose.commands import add_model_choice, add_store
from xpose.draw import draw_poses
from xpose.errors import OutputError
from xpose.estimator import Estimator
from xpose.inputs import IMAGE_EXTENSIONS, folder_images, is_broken_link, is_video, shown
from xpose.output import (
    FORMATS,
    RecordWriter,
    coco_image_id,
    estimator_record,
    open_writer,
    write_image,
)
from xpose.preprocess import to_rgb_uint8
from xpose.results import Poses
from xpose.tracking import TRACKERS
from xpose.video import FrameSource, VideoWriter

#: Suffixes ``--draw`` treats as an overlay picture file name (for one image input).
_DRAW_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: Suffixes ``--draw`` treats as an annotated-video file name (anything else: a folder).
_DRAW_VIDEO_SUFFIXES = (".mp4", ".avi")


def _unit(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def _camera_index(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected a camera number >= 0 (0 is the first camera), got {text}"
        )
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="find poses in images, folders, videos or a camera",
        description=(
            "Find poses in images, folders of images (recursively, sorted), video files or a "
            "live camera. Writes JSON Lines records (one per image or frame; schema in "
            "docs/output-schema.md) or a COCO keypoint results list with --out; prints a short "
            "summary per input without it. Outputs never replace inputs, and an existing output "
            "file is replaced only with --overwrite. Unreadable inputs are reported and skipped "
            "(exit status 1); Ctrl-C, SIGTERM and SIGHUP keep the results so far (exit status "
            "130, 143, 129)."
        ),
    )
    p.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="image files, folders of images, or video files (by extension: "
        ".mp4 .avi .mov .mkv .webm .m4v ...)",
    )
    p.add_argument(
        "--camera", type=_camera_index, metavar="N", help="also read live camera number N (>= 0)"
    )
    p.add_argument(
        "--max-pixels",
        type=_positive,
        metavar="N",
        help="refuse images with more than N pixels, checked before decoding (default "
        f"{preprocess.DEFAULT_MAX_IMAGE_PIXELS:,}, or $XPOSE_MAX_IMAGE_PIXELS)",
    )
    add_model_choice(p)
    add_store(p)
    out = p.add_argument_group("output")
    out.add_argument(
        "--out",
        "-o",
        metavar="FILE",
        help="write results to FILE ('-' for standard output), written atomically",
    )
    out.add_argument(
        "--overwrite",
        action="store_true",
        help="replace output files that exist (--out is replaced only by a complete result)",
    )
    out.add_argument(
        "--format",
        choices=FORMATS,
        default="jsonl",
        help="jsonl: one record per image or frame (default); coco: a COCO keypoint results "
        "list (image_id: the number of COCO-style file names, else the record's running index)",
    )
    out.add_argument(
        "--draw",
        metavar="PATH",
        help="save overlays: a folder for images (<stem>.pose.jpg/.pose.png each) and videos "
        "(<stem>.pose.mp4 each), or an image file name for a single image input, or a .mp4/.avi "
        "file name for a single video or camera input",
    )
    out.add_argument(
        "--threshold",
        type=_unit,
        default=0.3,
        help="keypoints scoring below this are not drawn (default 0.3)",
    )
    out.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")
    model = p.add_argument_group("model")
    model.add_argument(
        "--multi-pose",
        action="store_true",
        help="PoseNet: decode several people (movenet-multipose always does)",
    )
    model.add_argument(
        "--max-poses", type=_positive, metavar="N", help="keep at most N people per image"
    )
    model.add_argument(
        "--min-pose-score",
        type=_unit,
        metavar="S",
        help="drop people whose pose score is below S (MultiPose default 0.2)",
    )
    model.add_argument(
        "--multipose-long-side",
        type=_positive,
        metavar="N",
        help="MultiPose: the input's long side, a multiple of 32 (default 256, on every "
        "backend; 384 or 512 find more people in crowds, with the fp32 ONNX file)",
    )
    model.add_argument(
        "--multipose-aspect",
        action="store_true",
        help="MultiPose: follow the image's aspect instead of a square input (fp32 ONNX)",
    )
    model.add_argument(
        "--device",
        default=None,
        help="where the backend runs: onnxruntime cpu/cuda/tensorrt, openvino CPU/GPU/NPU/AUTO, "
        "opencv cpu/cuda (default: the CPU); an absent device is an error",
    )
    model.add_argument(
        "--tracker",
        choices=sorted(TRACKERS),
        default=None,
        help="track ids across video frames (default: iou for multi-person models, none for "
        "single-pose ones, which follow their person by cropping)",
    )
    model.add_argument(
        "--no-smooth",
        action="store_true",
        help="do not smooth keypoints over time in videos (images are never smoothed)",
    )
    engine = p.add_argument_group("engine")
    engine.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process (default); ray: a pool of Ray actors (pip install "
        "'xpose[ray]'; docs/distributed.md). Both write the same records; ray sorts them by "
        "(source, frame) and restarts video mode every --chunk-frames frames",
    )
    engine.add_argument(
        "--address",
        metavar="ADDR",
        help="ray: the cluster to join ('auto', 'ray://host:10001'); default a local Ray",
    )
    engine.add_argument(
        "--actors", type=_positive, metavar="N", help="ray: actors, one model each (default 2)"
    )
    engine.add_argument(
        "--threads-per-actor",
        type=_positive,
        metavar="N",
        help="ray: runtime threads and CPUs per actor (default 1)",
    )
    engine.add_argument(
        "--chunk-frames",
        type=int,
        metavar="N",
        help="ray: frames per video task (default 300; 0: one task per video, exactly the "
        "local engine's records)",
    )
    engine.add_argument(
        "--ship-model",
        action="store_true",
        help="ray: send the model file through Ray's object store (for clusters whose nodes "
        "do not see the model store)",
    )
    p.set_defaults(run=run)


# --- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Input:
    """One thing to read: ``kind`` is ``image``, ``video`` or ``camera``."""

    kind: str
    path: Path | None = None
    camera: int | None = None

    @property
    def name(self) -> str:
        return f"camera:{self.camera}" if self.path is None else str(self.path)

    @property
    def stem(self) -> str:
        return f"camera{self.camera}" if self.path is None else self.path.stem


def _collect(names: list[str], camera: int | None) -> tuple[list[_Input], list[str]]:
    """The inputs to read, and the problems found (``"name: reason"``)."""
    inputs: list[_Input] = []
    problems: list[str] = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            images = folder_images(path)
            if not images:
                exts = " ".join(sorted(IMAGE_EXTENSIONS))
                problems.append(f"{shown(name)}: no images in this folder (looked for {exts})")
            inputs += [_Input("image", p) for p in images]
        elif is_broken_link(path):
            problems.append(
                f"{shown(name)}: a broken symbolic link (to {shown(os.readlink(path))}, "
                "which does not exist)"
            )
        elif not path.exists():
            problems.append(f"{shown(name)}: no such file or folder")
        else:
            inputs.append(_Input("video" if is_video(path) else "image", path))
    if camera is not None:
        inputs.append(_Input("camera", camera=camera))
    return inputs, problems


# --- drawing targets --------------------------------------------------------------------------


class _Overlays:
    """Where ``--draw`` puts each input's overlay, decided before any work.

    In a folder, an image's overlay is ``<stem>.pose.jpg`` (``.pose.png`` for a PNG) and a
    video's or camera's ``<stem>.pose.mp4``, so that an overlay never takes an input's name;
    names that repeat get ``-1``, ``-2``... With a file name, the one input's overlay goes there.
    """

    def __init__(self, target: str | None, inputs: list[_Input]) -> None:
        self.root = None if target is None else Path(target)
        self.targets: dict[_Input, Path] = {}
        if self.root is None:
            return
        streams = [i for i in inputs if i.kind != "image"]
        suffix = self.root.suffix.lower()
        if suffix in _DRAW_VIDEO_SUFFIXES and not self.root.is_dir():
            if len(streams) != 1 or len(inputs) != 1:
                raise ValueError(
                    f"--draw {target}: a video file name takes exactly one video or camera "
                    "input; give a folder to draw several inputs"
                )
            self.targets = {inputs[0]: self.root}
            return
        if suffix in _DRAW_IMAGE_SUFFIXES and not self.root.is_dir():
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
            if item in self.targets:
                continue
            if item.kind == "image":
                ext = (
                    ".png"
                    if item.path is not None and item.path.suffix.lower() == ".png"
                    else ".jpg"
                )
            else:
                ext = ".mp4"
            candidate, n = self.root / f"{item.stem}.pose{ext}", 1
            while candidate in used:
                candidate = self.root / f"{item.stem}.pose-{n}{ext}"
                n += 1
            used.add(candidate)
            self.targets[item] = candidate

    def path(self, item: _Input) -> Path | None:
        """The overlay file of ``item`` (its folder created), or ``None`` when not drawing."""
        target = self.targets.get(item)
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
        return target


def _check_outputs(args: argparse.Namespace, inputs: list[_Input], overlays: _Overlays) -> None:
    """Refuse, before any work, outputs that would replace an input or, without
    ``--overwrite``, an existing file (see :func:`xpose.atomic.check_outputs`)."""
    outputs: list[tuple[str, Path]] = []
    if args.out is not None and args.out != "-":
        outputs.append((f"--out {shown(args.out)}", Path(args.out)))
    for item, target in overlays.targets.items():
        outputs.append((f"--draw: the overlay of {shown(item.name)}, {shown(target)},", target))
    paths = [item.path for item in inputs if item.path is not None]
    check_outputs(outputs, paths, overwrite=args.overwrite, how_to_overwrite="--overwrite")


# --- running ----------------------------------------------------------------------------------


@dataclass
class _Run:
    """What a run carries from input to input."""

    args: argparse.Namespace
    est: Estimator
    writer: RecordWriter | None
    overlays: _Overlays
    coco_ids: bool
    show_progress: bool
    summary: bool
    failures: int = 0

    def report(self, message: str) -> None:
        """An input problem, on stderr (without breaking a progress bar)."""
        self.failures += 1
        tqdm.write(f"xpose predict: {message}", file=sys.stderr)

    def say(self, message: str) -> None:
        """A summary line, on stdout."""
        if self.summary:
            tqdm.write(message, file=sys.stdout)

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

    def select(self, poses: Poses) -> Poses:
        """Apply ``--min-pose-score`` and ``--max-poses`` (the best-scoring people kept)."""
        return select_poses(poses, self.args.min_pose_score, self.args.max_poses)


def select_poses(
    poses: Poses, min_pose_score: float | None = None, max_poses: int | None = None
) -> Poses:
    """Keep the people scoring at least ``min_pose_score``, at most ``max_poses`` of the best.

    The selection ``--min-pose-score`` and ``--max-poses`` apply after the model.
    """
    keep = np.ones(len(poses), bool)
    if min_pose_score is not None:
        keep &= poses.score >= min_pose_score
    if max_poses is not None and keep.sum() > max_poses:
        order = np.argsort(-np.where(keep, poses.score, -np.inf), kind="stable")
        keep[:] = False
        keep[order[:max_poses]] = True
    return poses if keep.all() else poses[np.flatnonzero(keep)]


def _people(poses: Poses) -> str:
    if not len(poses):
        return "no people"
    scores = " ".join(f"{s:.2f}" for s in poses.score)
    return f"{len(poses)} {'person' if len(poses) == 1 else 'people'} (pose score {scores})"


def _run_images(run: _Run, images: list[Path]) -> None:
    bar = tqdm(
        total=len(images),
        unit="img",
        desc="images",
        file=sys.stderr,
        disable=not run.show_progress or len(images) < 2,
        dynamic_ncols=True,
    )
    with bar:
        for path in images:
            try:
                image = to_rgb_uint8(path)
            except (OSError, ValueError) as err:
                run.report(f"skipped {shown(path)}: {shown(str(err))}")
                bar.update()
                continue
            poses = run.select(run.est.predict(image))
            run.record(poses, str(path), image, image_id=coco_image_id(path))
            target = run.overlays.path(_Input("image", path))
            if target is not None:
                write_image(target, draw_poses(image, poses, run.args.threshold))
            run.say(f"{shown(path)}: {image.shape[1]}x{image.shape[0]}, {_people(poses)}")
            bar.update()


def _run_stream(run: _Run, item: _Input) -> None:
    """One video or camera: track through every frame."""
    try:
        reader = FrameSource(item.camera if item.path is None else item.path)
    except (OSError, ValueError) as err:
        run.report(f"skipped {shown(item.name)}: {shown(str(err))}")
        return
    frames = run.est.track_frames(
        reader, smooth=not run.args.no_smooth, tracker=run.args.tracker or "auto"
    )
    draw_target = run.overlays.path(item)
    video = None if draw_target is None else VideoWriter(draw_target, fps=reader.fps)
    count = people = 0
    tracks: set[int] = set()
    bar = tqdm(
        total=reader.frame_count,
        unit="frame",
        desc=item.stem,
        file=sys.stderr,
        disable=not run.show_progress,
        dynamic_ncols=True,
    )
    try:
        with contextlib.closing(frames), bar:
            for index, timestamp, frame, found in frames:
                poses = run.select(found)
                run.record(poses, item.name, frame, frame=index, timestamp=timestamp)
                if video is not None:
                    video.write(draw_poses(frame, poses, run.args.threshold))
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
        run.report(f"{shown(item.name)}: no frame could be read")
        return
    if reader.frame_count is not None and count < reader.frame_count:
        run.report(
            f"{shown(item.name)}: read {count} of {reader.frame_count} frames; the file is "
            "truncated or damaged (the records of the frames read are kept)"
        )
    tracked = f", {len(tracks)} track(s)" if tracks else ""
    run.say(f"{shown(item.name)}: {count} frames, {people / count:.1f} people per frame{tracked}")


def _load(args: argparse.Namespace) -> Estimator:
    """Load the model with the options the command line asks for."""
    est = xpose.load(
        args.model,
        args.backend,
        args.precision,
        store=args.store,
        threads=args.threads,
        device=getattr(args, "device", None),
    )
    try:
        wanted = _model_options(args, est)
    except ValueError:
        est.close()
        raise
    if not wanted:
        return est
    try:
        return Estimator(est.backend, spec=est.spec, precision=est.precision, **wanted)
    except (ValueError, TypeError):
        est.close()
        raise


def _model_options(args: argparse.Namespace, est: Estimator) -> dict[str, Any]:
    """The model options the command line asks for, given the loaded model's options."""
    wanted: dict[str, Any] = {}
    if args.multi_pose:
        if "multi_pose" not in est.options:
            raise ValueError(
                f"--multi-pose applies to posenet only; {est.spec.name} "
                f"{'always finds several people' if est.multi_person else 'finds one person'}"
            )
        wanted["multi_pose"] = True
    for flag, key, value in (
        ("--multipose-long-side", "multipose_long_side", args.multipose_long_side),
        ("--multipose-aspect", "multipose_square", False if args.multipose_aspect else None),
    ):
        if value is None:
            continue
        if key not in est.options:
            raise ValueError(f"{flag} applies to movenet-multipose only, not {est.spec.name}")
        wanted[key] = value
    if args.max_poses is not None and "max_poses" in est.options:
        wanted["max_poses"] = args.max_poses
    if args.min_pose_score is not None:
        for key in ("min_pose_score", "score_threshold"):
            if key in est.options:
                wanted[key] = args.min_pose_score
                break
    return wanted


def run(args: argparse.Namespace) -> int:
    if not args.inputs and args.camera is None:
        raise ValueError("nothing to read: give image, folder or video INPUTs, or --camera N")
    if getattr(args, "engine", "local") == "ray":
        return _run_ray(args)
    _check_local_only(args)
    limit = preprocess.MAX_IMAGE_PIXELS
    if args.max_pixels is not None:
        preprocess.MAX_IMAGE_PIXELS = args.max_pixels
    try:
        return _run_local(args)
    finally:
        preprocess.MAX_IMAGE_PIXELS = limit


def _run_local(args: argparse.Namespace) -> int:
    """The local engine: every input in this process, in order."""
    inputs, problems = _collect(args.inputs, args.camera)
    overlays = _Overlays(args.draw, inputs)
    _check_outputs(args, inputs, overlays)
    est = _load(args)
    writer: RecordWriter | None = None
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(est)
            if args.out is not None:
                writer = stack.enter_context(open_writer(args.out, args.format))
            state = _run_all(args, est, writer, overlays, inputs, problems)
    except KeyboardInterrupt:
        if writer is not None and writer.saved_to is not None:
            kept = f"{writer.records} record(s) kept in {shown(writer.saved_to)}"
            if writer.path is not None and writer.saved_to != writer.path:
                kept += f" ({shown(writer.path)}, which existed, is unchanged)"
            print(f"xpose predict: {kept}", file=sys.stderr)
        raise
    if state.failures:
        print(f"xpose predict: {state.failures} input(s) failed", file=sys.stderr)
        return 1
    return 0


def _run_all(
    args: argparse.Namespace,
    est: Estimator,
    writer: RecordWriter | None,
    overlays: _Overlays,
    inputs: list[_Input],
    problems: list[str],
) -> _Run:
    """Read every input into ``writer`` and the overlays; returns the run's state."""
    to_stdout = args.out == "-"
    coco_ids = args.format == "coco" and _all_coco_named(inputs)
    state = _Run(
        args=args,
        est=est,
        writer=writer,
        overlays=overlays,
        coco_ids=coco_ids,
        show_progress=not args.quiet and sys.stderr.isatty(),
        summary=args.out is None and not args.quiet,
    )
    for problem in problems:
        state.report(problem)
    for kind, group in _groups(inputs):
        if kind == "image":
            _run_images(state, [item.path for item in group if item.path is not None])
        else:
            for item in group:
                _run_stream(state, item)
    if writer is not None and writer.records == 0 and state.failures:
        writer.abort()  # nothing read: an existing --out stays as it was
        print(f"xpose predict: no record, {shown(args.out)} not written", file=sys.stderr)
    elif writer is not None and not to_stdout and not args.quiet:
        print(f"xpose predict: {writer.records} record(s) -> {shown(args.out)}", file=sys.stderr)
    return state


def _all_coco_named(inputs: list[_Input]) -> bool:
    """Whether every input is an image with a distinct COCO-style numeric file name."""
    ids = [coco_image_id(i.path) if i.kind == "image" and i.path else None for i in inputs]
    return bool(ids) and None not in ids and len(set(ids)) == len(ids)


def _groups(inputs: list[_Input]) -> Iterator[tuple[str, list[_Input]]]:
    """Consecutive images grouped (one progress bar each); videos and cameras one by one."""
    group: list[_Input] = []
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


# --- the Ray engine ---------------------------------------------------------------------------

#: Options that only the Ray engine reads.
_RAY_ONLY = ("address", "actors", "threads_per_actor", "chunk_frames")


def _check_local_only(args: argparse.Namespace) -> None:
    given = [n for n in _RAY_ONLY if getattr(args, n, None) is not None]
    if getattr(args, "ship_model", False):
        given.append("ship_model")
    if given:
        flags = ", ".join("--" + n.replace("_", "-") for n in given)
        raise ValueError(f"{flags}: only with --engine ray")


def _run_ray(args: argparse.Namespace) -> int:
    """``--engine ray``: the same records, computed by a pool of Ray actors, sorted."""
    for flag, value in (
        ("--camera", args.camera),
        ("--draw", args.draw),
        ("--device", args.device),
    ):
        if value is not None:
            raise ValueError(f"{flag} is not supported with --engine ray; use --engine local")
    if args.chunk_frames is not None and args.chunk_frames < 0:
        raise ValueError(f"--chunk-frames: expected an integer >= 0, got {args.chunk_frames}")
    _check_outputs(args, _collect(args.inputs, None)[0], _Overlays(None, []))
    import functools
    import logging
    import os

    from xpose import distributed  # raises MissingExtraError naming xpose[ray]
    from xpose.distributed import ray

    actors = args.actors or 2
    threads = args.threads_per_actor or 1
    est = xpose.load(args.model, args.backend, args.precision, store=args.store, threads=1)
    with est:
        options = _model_options(args, est)
    pose_filter = None
    if args.min_pose_score is not None or args.max_poses is not None:
        pose_filter = functools.partial(
            select_poses, min_pose_score=args.min_pose_score, max_poses=args.max_poses
        )
    chunk: int | None = args.chunk_frames or None  # 0: one task per video
    if args.chunk_frames is None:
        chunk = distributed.DEFAULT_CHUNK_FRAMES
    started = False
    if not ray.is_initialized():
        init: dict[str, Any] = {
            "include_dashboard": False,
            "logging_level": logging.WARNING,
            "log_to_driver": False,
        }
        if args.address:
            init["address"] = args.address
        else:
            init["num_cpus"] = max(os.cpu_count() or 1, actors * threads)
        ray.init(**init)
        started = True
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = not args.quiet and sys.stderr.isatty()
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        dataset = distributed.predict_dataset(
            args.inputs,
            args.model,
            args.backend,
            args.precision,
            store=args.store,
            actors=actors,
            threads_per_actor=threads,
            chunk_frames=chunk,
            smooth=not args.no_smooth,
            tracker=args.tracker or "auto",
            pose_filter=pose_filter,
            ship_model=args.ship_model,
            **options,
        )
        records, errors = distributed.gather(dataset)
    finally:
        if started:
            ray.shutdown()
    for error in errors:
        print(
            f"xpose predict: skipped {shown(error['source'])}: {shown(error['error'])}",
            file=sys.stderr,
        )
    if args.out is not None and not records and errors:
        print(f"xpose predict: no record, {shown(args.out)} not written", file=sys.stderr)
    elif args.out is not None:
        images = all(r["timestamp"] is None for r in records)
        ids = [coco_image_id(r["source"]) for r in records]
        coco_ids = (
            args.format == "coco" and images and None not in ids and len(set(ids)) == len(ids)
        )
        with open_writer(args.out, args.format) as writer:
            for record, image_id in zip(records, ids):
                writer.write(record, image_id if coco_ids else None)
        if args.out != "-" and not args.quiet:
            print(
                f"xpose predict: {writer.records} record(s) -> {shown(args.out)}", file=sys.stderr
            )
    elif not args.quiet:
        for line in _summaries(records):
            print(line)
    if errors:
        print(f"xpose predict: {len(errors)} input(s) failed", file=sys.stderr)
        return 1
    return 0


def _summaries(records: list[dict[str, Any]]) -> Iterator[str]:
    """The local engine's summary lines, from sorted records (one per image or video)."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_source.setdefault(record["source"], []).append(record)
    for source, group in by_source.items():
        if len(group) == 1 and group[0]["timestamp"] is None:
            rec = group[0]
            people = rec["poses"]
            found = (
                f"{len(people)} {'person' if len(people) == 1 else 'people'} (pose score "
                + " ".join(f"{p['score']:.2f}" for p in people)
                + ")"
                if people
                else "no people"
            )
            yield f"{source}: {rec['width']}x{rec['height']}, {found}"
            continue
        people = sum(len(r["poses"]) for r in group)
        tracks = {p["track_id"] for r in group for p in r["poses"] if p["track_id"] is not None}
        tracked = f", {len(tracks)} track(s)" if tracks else ""
        yield f"{source}: {len(group)} frames, {people / len(group):.1f} people per frame{tracked}"
