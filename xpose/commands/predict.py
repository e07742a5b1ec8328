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
import sys

from tqdm import tqdm

from xpose import preprocess
from xpose.commands import add_model_choice, add_store, camera_index, positive_int, unit_interval
from xpose.engine import InputSummary, PredictJob, RunResult, run_local
from xpose.inputs import shown
from xpose.output import FORMATS
from xpose.tracking import TRACKERS


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
        "--camera", type=camera_index, metavar="N", help="also read live camera number N (>= 0)"
    )
    p.add_argument(
        "--max-pixels",
        type=positive_int,
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
        type=unit_interval,
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
        "--max-poses", type=positive_int, metavar="N", help="keep at most N people per image"
    )
    model.add_argument(
        "--min-pose-score",
        type=unit_interval,
        metavar="S",
        help="drop people whose pose score is below S (MultiPose default 0.2)",
    )
    model.add_argument(
        "--multipose-long-side",
        type=positive_int,
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
    model.add_argument(
        "--no-camera-motion",
        action="store_true",
        help="in videos, do not measure the camera's motion between frames to move the crop, "
        "tracks and smoothing with the picture (a still camera gains nothing from it)",
    )
    engine = p.add_argument_group("engine")
    engine.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="images per model run (default 8; ray: images per task, default 16); image files "
        "are read and letterboxed in threads a few batches ahead. Files that take one image "
        "(the TFLite files, and ONNX files not converted with `xpose convert --dynamic-batch`) "
        "run a batch image by image. Videos run frame by frame",
    )
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
        "--actors", type=positive_int, metavar="N", help="ray: actors, one model each (default 2)"
    )
    engine.add_argument(
        "--threads-per-actor",
        type=positive_int,
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


class _Printer:
    """Prints what an engine reports: problems and notes on stderr, summaries on stdout."""

    def __init__(self, summaries: bool) -> None:
        self.summaries = summaries

    def problem(self, message: str) -> None:
        tqdm.write(f"xpose predict: {message}", file=sys.stderr)

    def note(self, message: str) -> None:
        tqdm.write(f"xpose predict: {message}", file=sys.stderr)

    def summary(self, summary: InputSummary) -> None:
        if self.summaries:
            tqdm.write(summary.line(), file=sys.stdout)


#: Options that only the Ray engine reads.
_RAY_ONLY = ("address", "actors", "threads_per_actor", "chunk_frames", "ship_model")


def run(args: argparse.Namespace) -> int:
    if not args.inputs and args.camera is None:
        raise ValueError("nothing to read: give image, folder or video INPUTs, or --camera N")
    job = PredictJob.from_namespace(
        args,
        smooth=not args.no_smooth,
        camera_motion=not args.no_camera_motion,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    printer = _Printer(summaries=args.out is None and not args.quiet)
    if args.engine == "ray":
        from xpose import distributed  # raises MissingExtraError naming xpose[ray]

        result = distributed.run_job(job, printer)
    else:
        given = [n for n in _RAY_ONLY if getattr(args, n) not in (None, False)]
        if given:
            flags = ", ".join("--" + n.replace("_", "-") for n in given)
            raise ValueError(f"{flags}: only with --engine ray")
        limit = preprocess.MAX_IMAGE_PIXELS
        if args.max_pixels is not None:
            preprocess.MAX_IMAGE_PIXELS = args.max_pixels
        try:
            result = run_local(job, printer)
        finally:
            preprocess.MAX_IMAGE_PIXELS = limit
    return _finish(args, result)


def _finish(args: argparse.Namespace, result: RunResult) -> int:
    """Say where the records went and how many inputs failed; the exit status."""
    wrote = args.out is not None and not (result.records == 0 and result.failures)
    if wrote and args.out != "-" and not args.quiet:
        print(f"xpose predict: {result.records} record(s) -> {shown(args.out)}", file=sys.stderr)
    if result.failures:
        print(f"xpose predict: {result.failures} input(s) failed", file=sys.stderr)
        return 1
    return 0
