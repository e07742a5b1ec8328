"""``xpose parity``: do the backends give the same keypoints for each converted model?

Runs every model x precision on every backend over the same photos (:mod:`xpose.parity`) and
prints one row per pair of backends: the largest keypoint distance in image pixels and
normalized to the model input, the largest score difference, and OK/FAIL against the
tolerance of the precision (:func:`xpose.parity.tolerance_for`). Exit status 1 if any pair
fails, 2 if a model file is missing (and none failed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from xpose.backends import backend_label, backend_status
from xpose.commands import add_store
from xpose.models import get_spec, list_models
from xpose.parity import default_images, measure_parity, tolerance_for
from xpose.store import PRECISIONS

#: Runs the fp32 SavedModel only; added to the default backends when installed.
_FP32_ONLY = "tensorflow"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "parity",
        help="check that the backends give the same keypoints for each converted model",
        description=(
            "Run each model x precision on each backend over the same photos and compare the "
            "decoded keypoints pairwise (the first backend is the reference). Keypoint "
            "distances are Euclidean, in image pixels and normalized to the model input "
            "(pixels / the image's long side), over keypoints the reference scores above 0.3; "
            "score differences are over all keypoints. MultiPose people are matched by mean "
            "keypoint distance. Tolerances: fp32 and fp16 max distance 1e-4 and max score "
            "difference 1e-3; int8 the measured bounds of docs/parity.md. The int8 ONNX and "
            "int8 TFLite files are different quantizations (onnxruntime's static QDQ of the "
            "fp32 ONNX; the TFLite converter's int8), each checked against fp32 when converted "
            "(store manifest, 'parity'); here they are compared with each other. Exit status 1 "
            "if any pair fails, 2 if a model is not converted."
        ),
    )
    p.add_argument(
        "--models",
        nargs="+",
        default=None,
        metavar="MODEL",
        help=f"models to check (default: all of {', '.join(list_models())})",
    )
    p.add_argument(
        "--precisions",
        nargs="+",
        default=list(PRECISIONS),
        choices=PRECISIONS,
        metavar="PRECISION",
        help=f"precisions to check (default: {' '.join(PRECISIONS)})",
    )
    p.add_argument(
        "--backends",
        nargs="+",
        default=None,
        metavar="BACKEND",
        help=(
            "backends to compare, the first being the reference (default: every installed "
            "backend, onnxruntime first; BACKEND:DEVICE picks a device, e.g. onnxruntime:cuda, "
            "openvino:GPU, opencv:cuda; tensorflow runs fp32 only and is left out of the "
            "other precisions). A backend known to compute a model wrong is reported as "
            "REFUSED with the reason, not compared"
        ),
    )
    p.add_argument(
        "--images",
        nargs="+",
        default=None,
        type=Path,
        metavar="PATH",
        help=(
            "photos to compare on (default: tests/data/*.png, xpose/data/*.jpg and "
            "../shared/data/coco_val2017/*.jpg where present)"
        ),
    )
    add_store(p)
    p.add_argument("--threads", type=int, default=None, help="runtime threads per backend")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(run=run)


def _backends(requested: list[str] | None) -> list[str]:
    if requested is not None:
        return list(dict.fromkeys(backend_label(b) for b in requested))
    return [name for name, missing in backend_status().items() if missing is None]


def _fmt(value: float) -> str:
    return f"{value:.2e}" if value < 1e-2 else f"{value:.3f}"


def run(args: argparse.Namespace) -> int:
    models = [get_spec(m).name for m in (args.models or list_models())]
    backends = _backends(args.backends)
    images = args.images if args.images is not None else default_images()
    if not images:
        raise ValueError("no images to compare on: pass --images PATH...")
    missing = [str(p) for p in images if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"no such image(s): {', '.join(missing)}")

    records: list[dict[str, Any]] = []
    rows: list[tuple[str, ...]] = []
    failed = not_converted = 0
    for model in models:
        for precision in args.precisions:
            names = [b for b in backends if precision == "fp32" or b != _FP32_ONLY]
            tol = tolerance_for(precision)
            try:
                result = measure_parity(
                    model, precision, names, images, args.store, threads=args.threads
                )
            except FileNotFoundError as err:
                not_converted += 1
                rows.append((model, precision, " vs ".join(names), "", "", "", "", "MISSING"))
                records.append({"model": model, "precision": precision, "error": str(err)})
                print(f"{model} {precision}: {err}", file=sys.stderr)
                continue
            record = result.to_dict()
            record["tolerance"] = tol.describe()
            for name, why in result.refused.items():
                rows.append(
                    (model, precision, f"{result.backends[0]} vs {name}", *[""] * 4, "REFUSED")
                )
                print(f"{model} {precision} {name}: {why}", file=sys.stderr)
            for pair, pair_record in zip(result.pairs, record["pairs"], strict=True):
                failures = pair.failures(tol)
                failed += bool(failures)
                pair_record["ok"] = not failures
                pair_record["failures"] = failures
                rows.append(
                    (
                        model,
                        precision,
                        f"{pair.reference} vs {pair.candidate}",
                        _fmt(pair.max_px),
                        _fmt(pair.max_norm),
                        _fmt(pair.quantile(0.95)),
                        _fmt(pair.max_score),
                        "OK" if not failures else "FAIL: " + "; ".join(failures),
                    )
                )
            records.append(record)

    if args.json:
        print(json.dumps({"images": [str(p) for p in images], "results": records}, indent=2))
    else:
        header = ("model", "precision", "backends", "max px", "max norm", "p95 norm", "max score")
        table = [(*header, "result"), *rows]
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        for row in table:
            cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)]
            print("  ".join([*cells, row[-1]]))
        print(
            f"\n{len(images)} images; distances normalized to the model input (pixels / image "
            "long side) over keypoints the reference scores > 0.3."
        )
        for precision in args.precisions:
            print(f"tolerance {precision}: {tolerance_for(precision).describe()}")
    if failed:
        return 1
    return 2 if not_converted else 0
