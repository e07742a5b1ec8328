"""Write the benchmark and accuracy tables under ``benchmarks/results/``.

Usage (from the project root, with the converted store in ``$XPOSE_HOME``)::

    XPOSE_HOME=/path/to/store python benchmarks/make_tables.py latency  [--repeat 50]
    XPOSE_HOME=/path/to/store python benchmarks/make_tables.py accuracy [--data DIR]

``latency`` runs :func:`xpose.bench.run_bench` (every model x precision x backend, 2 threads)
into ``results/latency.md``. ``accuracy`` runs :func:`xpose.evaluate.evaluate` for every
model x precision x backend on the shared COCO sample (default ``../shared/data/coco_val2017``)
into ``results/accuracy.md``: AP per combination next to the published figures, whether the
two backends agree to 0.001 for each model and precision, and the int8 loss against fp32.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xpose
from xpose.bench import cpu_name, run_bench, versions
from xpose.evaluate import EvalResult, evaluate, load_coco
from xpose.store import PRECISIONS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "coco_val2017"
BACKENDS = ("onnxruntime", "tflite")

#: AP agreement between backends counted as "identical".
SAME_AP = 1e-3


@dataclass(frozen=True)
class Setting:
    """One evaluated configuration: a model, the protocol and the load options."""

    label: str
    model: str
    protocol: str
    options: dict[str, Any]
    published: dict[str, str]


#: What is evaluated, and the published figures it is compared to (COCO val2017 AP, in %).
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "movenet-lightning",
        "movenet-lightning",
        "single",
        {},
        {"fp16": "63.0", "int8": "57.4", "fp32": "63.0 (as fp16)"},
    ),
    Setting(
        "movenet-thunder",
        "movenet-thunder",
        "single",
        {},
        {"fp16": "72.0", "int8": "68.9", "fp32": "72.0 (as fp16)"},
    ),
    Setting("movenet-multipose", "movenet-multipose", "multi", {}, {}),
    Setting(
        "posenet (single-pose)",
        "posenet",
        "single",
        {},
        {p: "45.6 (single-person subset)" for p in PRECISIONS},
    ),
    Setting("posenet (multi-pose)", "posenet", "multi", {"multi_pose": True}, {}),
)


def _pct(value: float) -> str:
    return "n/a" if value < 0 else f"{100 * value:.1f}"


def accuracy(
    data: Path, out: Path, store: str | None, precisions: tuple[str, ...] = PRECISIONS
) -> str:
    """Evaluate every setting x precision x backend; write and return the Markdown."""
    annotations = data / "person_keypoints.json"
    coco = load_coco(annotations, data)
    results: dict[tuple[str, str, str], EvalResult | str] = {}
    for setting in SETTINGS:
        for precision in precisions:
            for backend in BACKENDS:
                key = (setting.label, precision, backend)
                try:
                    est = xpose.load(
                        setting.model,
                        backend=backend,
                        precision=precision,
                        store=store,
                        threads=2,
                        **setting.options,
                    )
                except FileNotFoundError as err:
                    results[key] = f"not converted ({err})"
                    continue
                with est:
                    res = evaluate(est.predict, coco, data, protocol=setting.protocol)
                results[key] = res
                print(f"{key}: AP {res.ap:.4f} AR {res.ar:.4f}", file=sys.stderr)
    first = next((r for r in results.values() if isinstance(r, EvalResult)), None)
    people = f"{first.num_images} images, {first.num_people} people" if first else "no results"
    lines = [
        "# xpose accuracy on the shared COCO sample",
        "",
        f"- data: {os.path.relpath(annotations, ROOT)} ({people}: indicative only, one person more or less "
        "moves AP by several points)",
        f"- CPU: {cpu_name()}; versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        "- AP, AP50, AR: COCO keypoint AP over OKS 0.50:0.95, AP at OKS 0.50, AR over "
        "0.50:0.95, in %. Published: COCO val2017 figures from the model cards (not this set).",
        "",
        "| model | protocol | precision | backend | AP | AP50 | AR | published AP |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for setting in SETTINGS:
        for precision in precisions:
            for backend in BACKENDS:
                res = results[(setting.label, precision, backend)]
                if isinstance(res, str):
                    lines.append(
                        f"| {setting.label} | {setting.protocol} | {precision} | {backend} "
                        f"| {res} | | | |"
                    )
                    continue
                lines.append(
                    f"| {setting.label} | {setting.protocol} | {precision} | {backend} | "
                    f"{_pct(res.ap)} | {_pct(res.ap50)} | {_pct(res.ar)} | "
                    f"{setting.published.get(precision, '-')} |"
                )
    lines += [
        "",
        "## onnxruntime vs tflite (same converted model)",
        "",
        "| model | precision | AP onnxruntime | AP tflite | abs difference | identical to 0.001 |",
        "|---|---|---|---|---|---|",
    ]
    for setting in SETTINGS:
        for precision in precisions:
            a = results[(setting.label, precision, "onnxruntime")]
            b = results[(setting.label, precision, "tflite")]
            if isinstance(a, str) or isinstance(b, str):
                continue
            diff = abs(a.ap - b.ap)
            lines.append(
                f"| {setting.label} | {precision} | {a.ap:.4f} | {b.ap:.4f} | {diff:.4f} | "
                f"{'yes' if diff <= SAME_AP else 'no'} |"
            )
    lines += [
        "",
        "## int8 loss against fp32 (AP points, same backend)",
        "",
        "| model | backend | AP fp32 | AP int8 | int8 - fp32 |",
        "|---|---|---|---|---|",
    ]
    for setting in SETTINGS:
        for backend in BACKENDS:
            f32 = results.get((setting.label, "fp32", backend), "not evaluated")
            i8 = results.get((setting.label, "int8", backend), "not evaluated")
            if isinstance(f32, str) or isinstance(i8, str):
                continue
            lines.append(
                f"| {setting.label} | {backend} | {_pct(f32.ap)} | {_pct(i8.ap)} | "
                f"{100 * (i8.ap - f32.ap):+.1f} |"
            )
    text = "\n".join(lines) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    lat = sub.add_parser("latency", help="xpose bench over everything -> results/latency.md")
    lat.add_argument("--repeat", type=int, default=50)
    lat.add_argument("--threads", type=int, default=2)
    lat.add_argument("--out", type=Path, default=RESULTS / "latency.md")
    acc = sub.add_parser("accuracy", help="COCO AP of everything -> results/accuracy.md")
    acc.add_argument("--data", type=Path, default=DEFAULT_DATA)
    acc.add_argument("--out", type=Path, default=RESULTS / "accuracy.md")
    acc.add_argument(
        "--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS), metavar="P"
    )
    for p in (lat, acc):
        p.add_argument("--store", default=None, help="model store (default $XPOSE_HOME)")
    args = parser.parse_args(argv)
    if args.what == "latency":
        result = run_bench(
            threads=args.threads,
            repeat=args.repeat,
            store=args.store,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
        text = result.to_markdown()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    else:
        text = accuracy(args.data, args.out, args.store, tuple(args.precisions))
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
