"""How far COCO AP on the shared photos moves by chance, and the pre-processing judged by that.

Usage (from the project root, with the converted store in ``$XPOSE_HOME``)::

    python benchmarks/ap_resolution.py

The labelled sample is 4 COCO val2017 photos with 12 people: one keypoint more or less inside
an OKS threshold moves AP by a point or more. To tell a real change of the pre-processing from
that chance, each model (fp32, onnxruntime) is evaluated with the letterbox xpose runs now
(halvings by area, then one bilinear resize) and with the one it ran before (one
``cv2.resize`` by the scale: :func:`benchmarks.common.one_resize_prepare`), each on the
photos as they are and on four copies that differ in nothing a person would see: shifted by
1 px left, 1 px up or 2 px both ways (the poses are shifted back before scoring), and
re-encoded as JPEG at quality 95. The spread of each row is what chance does; the means are
compared.

Writes ``results/ap_resolution.md``.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

import xpose
from benchmarks.common import one_resize_prepare
from xpose.bench import cpu_name
from xpose.evaluate import evaluate, load_coco
from xpose.results import Poses
from xpose.store import atomic_path

COCO_DIR = ROOT.parent / "shared" / "data" / "coco_val2017"
OUT = ROOT / "benchmarks" / "results" / "ap_resolution.md"
PROTOCOLS = {
    "movenet-lightning": "single",
    "movenet-thunder": "single",
    "movenet-multipose": "multi",
    "posenet": "single",
}
Predict = Callable[[np.ndarray], Poses]


def _shifted(predict: Predict, dx: int, dy: int) -> Predict:
    """``predict`` on the image without its first ``dx`` columns and ``dy`` rows, the poses
    moved back into the full image's pixels."""

    def run(image: np.ndarray) -> Poses:
        poses = predict(np.ascontiguousarray(image[dy:, dx:]))
        shift = np.array([dx, dy], np.float32)
        return poses.replace(
            keypoints=poses.keypoints + shift, boxes=poses.boxes + np.tile(shift, 2)
        )

    return run


def _jpeg(predict: Predict, quality: int) -> Predict:
    def run(image: np.ndarray) -> Poses:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        return predict(cv2.imdecode(data, cv2.IMREAD_UNCHANGED))

    return run


VARIANTS: dict[str, Callable[[Predict], Predict]] = {
    "as is": lambda p: p,
    "1 px left": lambda p: _shifted(p, 1, 0),
    "1 px up": lambda p: _shifted(p, 0, 1),
    "2 px both": lambda p: _shifted(p, 2, 2),
    "JPEG q95": lambda p: _jpeg(p, 95),
}


def _pipelines(est: xpose.Estimator) -> dict[str, Predict]:
    head = est.head

    def before(image: np.ndarray) -> Poses:
        lb = head.fit(image.shape[:2], head.input_size(image.shape[:2]))
        return est.infer(one_resize_prepare(head, image, lb), lb)

    return {"now": est.predict, "before": before}


def main() -> None:
    coco = load_coco(COCO_DIR / "person_keypoints.json")
    names = list(VARIANTS)
    lines = [
        "# COCO AP by chance, and the letterbox judged by it",
        "",
        f"`python benchmarks/ap_resolution.py` ({cpu_name()}); fp32, onnxruntime; AP (%) on "
        "the 4 labelled COCO photos (12 people), each on the photos as they are and on four "
        "copies no person would tell apart. `now`: halvings by area, then one bilinear resize; "
        "`before`: one `cv2.resize` by the scale.",
        "",
        "| model | protocol | letterbox | " + " | ".join(names) + " | mean | spread |",
        "|---|---|---|" + "---|" * (len(names) + 2),
    ]
    means: dict[tuple[str, str], float] = {}
    for model, protocol in PROTOCOLS.items():
        with xpose.load(model, backend="onnxruntime", precision="fp32", threads=2) as est:
            for label, predict in _pipelines(est).items():
                aps = [
                    100 * evaluate(VARIANTS[v](predict), coco, COCO_DIR, protocol).stats[0]
                    for v in names
                ]
                means[model, label] = statistics.mean(aps)
                cells: list[Any] = [model, protocol, label, *(f"{a:.1f}" for a in aps)]
                cells += [f"{means[model, label]:.1f}", f"{max(aps) - min(aps):.1f}"]
                lines.append("| " + " | ".join(str(c) for c in cells) + " |")
                print(lines[-1], flush=True)
    lines += ["", "Mean AP, now - before:", ""]
    for model in PROTOCOLS:
        lines.append(f"- {model}: {means[model, 'now'] - means[model, 'before']:+.1f}")
    with atomic_path(OUT) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
