"""COCO AP of model options on the labelled photos, and people found on all shared photos.

Usage (from the project root, with the converted store in ``$XPOSE_HOME``)::

    python benchmarks/option_accuracy.py

Measures what the defaults of these options were chosen on (fp32, onnxruntime):

* single-pose MoveNet: ``resize`` (``area`` or ``reference``), ``pose_score`` (``confident``
  or ``mean``: COCO AP ranks results by this score) and ``min_pose_score`` (0.25 or 0), with
  the ``single`` protocol (one crop per labelled person);
* MultiPose ``min_pose_score`` (0.2, 0.25, 0.3) and ``multipose_pad="corner"``: AP with the ``multi`` protocol, and the people
  found on the 4 labelled COCO photos (12 labelled people, 10 with keypoints) and on the 20
  unlabelled photos of ``openpose_media``.

Writes ``results/option_accuracy.md``. The photos are few: one person more or less moves AP by
several points, so small differences mean nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

import xpose
from xpose.bench import cpu_name
from xpose.evaluate import evaluate, load_coco
from xpose.preprocess import to_rgb_uint8

DATA = ROOT.parent / "shared" / "data"
COCO_DIR = DATA / "coco_val2017"
OUT = ROOT / "benchmarks" / "results" / "option_accuracy.md"

SINGLE: tuple[dict[str, Any], ...] = (
    {},
    {"resize": "reference"},
    {"pose_score": "mean"},
    {"min_pose_score": 0.0},
)
MULTI_CUTS = (0.2, 0.25, 0.3)


def _ap(model: str, options: dict[str, Any], protocol: str, coco: Any) -> float:
    with xpose.load(model, precision="fp32", threads=2, **options) as est:
        return evaluate(est.predict, coco, COCO_DIR, protocol=protocol).stats[0]


def main() -> None:
    coco = load_coco(COCO_DIR / "person_keypoints.json")
    lines = [
        "# Option choices measured on the shared photos",
        "",
        f"`python benchmarks/option_accuracy.py` ({cpu_name()}); fp32, onnxruntime. COCO AP "
        "(%) on 4 labelled COCO val2017 photos: indicative only.",
        "",
        "| model | options | protocol | AP |",
        "|---|---|---|---|",
    ]
    for model in ("movenet-lightning", "movenet-thunder"):
        for options in SINGLE:
            ap = _ap(model, options, "single", coco)
            shown = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "defaults"
            lines.append(f"| {model} | {shown} | single | {100 * ap:.1f} |")
            print(lines[-1], flush=True)
    photos = sorted((DATA / "openpose_media").glob("*.jpg"))
    labelled = sorted(COCO_DIR.glob("*.jpg"))
    lines += [
        "",
        "| model | options | multi AP | people on the 4 COCO photos | "
        "people on the 20 other photos |",
        "|---|---|---|---|---|",
    ]
    multi: list[dict[str, Any]] = [{"min_pose_score": cut} for cut in MULTI_CUTS]
    multi.append({"multipose_pad": "corner"})
    for options in multi:
        ap = _ap("movenet-multipose", options, "multi", coco)
        with xpose.load("movenet-multipose", precision="fp32", threads=2, **options) as est:
            found_coco = sum(len(est.predict(to_rgb_uint8(p))) for p in labelled)
            found_other = sum(len(est.predict(to_rgb_uint8(p))) for p in photos)
        lines.append(
            f"| movenet-multipose | {options} | {100 * ap:.1f} | {found_coco} | {found_other} |"
        )
        print(lines[-1], flush=True)
    tmp = OUT.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(OUT)


if __name__ == "__main__":
    main()
