"""Which int8 scheme keeps each model's accuracy: calibration methods and float-kept layers.

Usage (from the project root, with a converted store in ``$XPOSE_HOME``)::

    python -m benchmarks.int8_sensitivity methods     [--models M ...]   # MinMax/Entropy/Percentile
    python -m benchmarks.int8_sensitivity heads       [--models M ...]   # last N convolutions float
    python -m benchmarks.int8_sensitivity layers      [--models M ...]   # per-layer error ranking
    python -m benchmarks.int8_sensitivity schemes     [--models M ...]   # the chosen SCHEMES
    python -m benchmarks.int8_sensitivity tflite      [--models M ...]   # the store's TFLite int8
    python -m benchmarks.int8_sensitivity tflite --float-layers kpt_heatmap_0/   # TFLite variant
    python -m benchmarks.int8_sensitivity custom --method Percentile --views 60 --float-convs -1 -2

Each variant is quantized from the store's fp32 ONNX (:func:`converters.quantize.quantize`)
into a temporary folder and measured against fp32:

* **AP** on the labelled COCO photos (``../shared/data/coco_val2017``, 12 people) with the
  model's protocol (single-pose crops; whole images for MultiPose), and its loss against fp32;
* **agreement** on every shared photo, whole: median and 95th percentile of the keypoint
  distance, normalized to the input size, over the keypoints fp32 scores above 0.3
  (:func:`xpose.parity.compare_predictions`; PoseNet with its multi-pose decoding, see
  :data:`AGREEMENT_OPTIONS`);
* the **op mix** of onnxruntime's optimized graph (QLinearConv, float Conv, Q + DQ).

``layers`` ranks convolutions by the quantization error of their own output
(``onnxruntime.quantization.qdq_loss_debug``: SQNR of each QDQ'd activation against its
float value in the same QDQ model), then measures keeping the worst ones float.
The tables are printed and appended to ``benchmarks/results/int8_sensitivity.md``. This is
exploration, not part of the build: the build uses the scheme chosen here, recorded as data
in :data:`converters.quantize.SCHEMES`. Entropy and Percentile keep every activation of every
view in memory (260 Thunder views went past 24 GB): they run on at most 60 views.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from converters import quantize as Q
from converters.samples import calibration_feeds, default_folders
from xpose.estimator import load
from xpose.evaluate import evaluate, load_coco
from xpose.models import get_spec, list_models
from xpose.parity import compare_predictions
from xpose.preprocess import to_rgb_uint8
from xpose.store import locate

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
COCO = DATA / "coco_val2017"
RESULTS = Path(__file__).resolve().parent / "results" / "int8_sensitivity.md"
#: Entropy and Percentile hold every activation of every view in memory.
MAX_HISTOGRAM_VIEWS = 60
PROTOCOL = {"movenet-multipose": "multi"}
#: Load options for the agreement photos. PoseNet's single-pose decoding takes each keypoint's
#: maximum over the whole image, so on photos of several people a keypoint jumps from one
#: person to another at the smallest change; its multi-pose decoding keeps people apart.
AGREEMENT_OPTIONS: dict[str, dict[str, Any]] = {"posenet": {"multi_pose": True}}


def shared_photos() -> list[Path]:
    """Every photo of the project and of ``../shared/data`` (whole images)."""
    folders = default_folders()
    suffixes = (".jpg", ".jpeg", ".png")
    return [p for f in folders for p in sorted(f.rglob("*")) if p.suffix.lower() in suffixes]


@dataclass(frozen=True)
class Measure:
    """One variant's figures against fp32."""

    label: str
    ap: float
    ap_loss: float
    median: float
    p95: float
    qlinear_conv: int
    float_conv: int
    qdq: int

    def row(self) -> str:
        return (
            f"| {self.label} | {100 * self.ap:.1f} | {100 * self.ap_loss:+.1f} | "
            f"{self.median:.4f} | {self.p95:.4f} | {self.qlinear_conv} | {self.float_conv} | "
            f"{self.qdq} |"
        )


HEADER = (
    "| variant | AP | loss vs fp32 | median dist | p95 dist | QLinearConv | float Conv | Q+DQ |\n"
    "|---|---|---|---|---|---|---|---|"
)


class Bench:
    """fp32 reference figures of one model, and the measure of any candidate file."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.spec = get_spec(model)
        self.fp32 = locate(model, "fp32", "onnx")
        self.protocol = PROTOCOL.get(model, "single")
        self.coco = load_coco(COCO / "person_keypoints.json")
        self.pictures = [to_rgb_uint8(p) for p in shared_photos()]
        self.options = AGREEMENT_OPTIONS.get(model, {})
        with load(self.fp32, threads=2) as est:
            self.ref_ap = self._ap(est)
        with load(self.fp32, threads=2, **self.options) as est:
            self.ref_poses = [est.predict(p) for p in self.pictures]
        self.feeds = calibration_feeds(self.spec, count=160)

    def _ap(self, est) -> float:
        return evaluate(est.predict, self.coco, COCO, self.protocol).ap

    def measure(self, label: str, path: Path) -> Measure:
        with load(path, threads=2) as est:
            ap = self._ap(est)
        with load(path, threads=2, **self.options) as est:
            poses = [est.predict(p) for p in self.pictures]
        diff = compare_predictions(self.pictures, self.ref_poses, poses)
        mix = Q.op_mix(path) if path.suffix == ".onnx" else Counter()
        return Measure(
            label,
            ap,
            ap - self.ref_ap,
            diff.quantile(0.5),
            diff.quantile(0.95),
            mix["QLinearConv"],
            mix["Conv"] + mix["FusedConv"],
            mix["QuantizeLinear"] + mix["DequantizeLinear"],
        )

    def quantized(self, label: str, scheme: Q.Scheme, tmp: Path) -> Measure:
        path = tmp / f"{self.model}-int8-variant.onnx"
        Q.quantize(self.fp32, path, self.feeds, scheme)
        out = self.measure(label, path)
        path.unlink()
        print(out.row(), flush=True)
        return out


def _methods(b: Bench, tmp: Path) -> list[Measure]:
    base = Q.scheme_for(b.model) or Q.Scheme()
    n = MAX_HISTOGRAM_VIEWS
    return [
        b.quantized("MinMax 60", replace(base, method="MinMax", views=n), tmp),
        b.quantized("MinMax 160", replace(base, method="MinMax", views=160), tmp),
        b.quantized("Entropy 60", replace(base, method="Entropy", views=n), tmp),
        b.quantized(
            "Percentile 99.99 60",
            replace(base, method="Percentile", views=n, percentile=99.99),
            tmp,
        ),
        b.quantized("Percentile 99.999 60", replace(base, method="Percentile", views=n), tmp),
    ]


def _heads(b: Bench, tmp: Path) -> list[Measure]:
    base = Q.scheme_for(b.model) or Q.Scheme()
    out = []
    for n in (0, 4, 8, 12):
        convs = tuple(range(-n, 0))
        out.append(b.quantized(f"last {n} Conv float", replace(base, float_convs=convs), tmp))
    out.append(b.quantized("first Conv float", replace(base, float_convs=(0,)), tmp))
    return out


def layer_errors(
    b: Bench, scheme: Q.Scheme, tmp: Path, views: int = 16
) -> list[tuple[float, int, str]]:
    """(SQNR in dB, Conv position, name) for every Conv, worst first.

    The SQNR is the lower of the Conv's weights (int8 against float) and of its output
    activation (after QDQ against before, in the QDQ model, over ``views`` views).
    """
    import onnx
    from onnxruntime.quantization import qdq_loss_debug as dbg

    qpath = tmp / "q.onnx"
    Q.quantize(b.fp32, qpath, b.feeds, scheme)
    aug = tmp / "q_aug.onnx"
    dbg.modify_model_output_intermediate_tensors(str(qpath), str(aug))
    acts = dbg.collect_activations(str(aug), Q._Feeds(b.feeds[:views]))
    matched = dbg.create_activation_matching(acts)
    pre = Q.preprocess(b.fp32, tmp / "pre.onnx")
    weight_err = dbg.compute_weight_error(dbg.create_weight_matching(str(pre), str(qpath)))
    model = onnx.load(str(pre))
    out_of = {n.name: n.output[0] for n in model.graph.node if n.op_type == "Conv"}
    # a Conv followed by Clip/Relu: its quantized tensor is the activation's output
    consumers = {i: n for n in model.graph.node for i in n.input}
    ranking = []
    for pos, name in enumerate(Q.conv_nodes(model)):
        tensor = out_of[name]
        nxt = consumers.get(tensor)
        if nxt is not None and nxt.op_type in ("Clip", "Relu") and nxt.output[0] in matched:
            tensor = nxt.output[0]
        pair = matched.get(tensor)
        if not pair or "pre_qdq" not in pair or "post_qdq" not in pair:
            continue
        err = dbg.compute_signal_to_quantization_noice_ratio(pair["pre_qdq"], pair["post_qdq"])
        node = next(n for n in model.graph.node if n.name == name)
        err = min(float(err), weight_err.get(node.input[1], np.inf))
        ranking.append((err, pos, name))
    for p in (qpath, aug, pre):
        p.unlink(missing_ok=True)
    return sorted(ranking)


def _layers(b: Bench, tmp: Path) -> list[Measure]:
    base = Q.scheme_for(b.model) or Q.Scheme()
    ranking = layer_errors(b, replace(base, float_convs=()), tmp)
    n_conv = len(ranking)
    print("worst 10 (SQNR dB, position, node):")
    for err, pos, name in ranking[:10]:
        print(f"  {err:6.1f} dB  Conv #{pos - n_conv} ({pos})  {name}")
    out = []
    for k in (1, 2, 4):
        convs = tuple(sorted({pos - n_conv for _, pos, _ in ranking[:k]} | set(base.float_convs)))
        out.append(
            b.quantized(f"worst {k} float {list(convs)}", replace(base, float_convs=convs), tmp)
        )
    return out


def _custom(b: Bench, tmp: Path, args: argparse.Namespace) -> list[Measure]:
    scheme = Q.Scheme(
        method=args.method,
        views=args.views,
        float_convs=tuple(args.float_convs),
        float_layers=tuple(args.float_layers),
        percentile=args.percentile,
    )
    label = (
        f"{args.method} {args.views} float {list(scheme.float_convs)} {list(scheme.float_layers)}"
    )
    if args.method == "Percentile":
        label += f" p{args.percentile:g}"
    return [b.quantized(label, scheme, tmp)]


def _schemes(b: Bench, tmp: Path) -> list[Measure]:
    scheme = Q.scheme_for(b.model)
    if scheme is None:
        out = b.measure(
            "store int8 ONNX (tf2onnx of the TFLite file)", locate(b.model, "int8", "onnx")
        )
        print(out.row(), flush=True)
        return [out]
    return [b.quantized(f"chosen {scheme.to_dict()}", scheme, tmp)]


def _tflite(b: Bench, tmp: Path, args: argparse.Namespace) -> list[Measure]:
    """The store's int8 TFLite file, or with ``--float-layers`` one made with those layers float."""
    if not args.float_layers:
        out = b.measure("store int8 TFLite", locate(b.model, "int8", "tflite"))
        print(out.row(), flush=True)
        return [out]
    from converters.build import MULTIPOSE_TFLITE_SHAPE
    from converters.to_tflite import conv_outputs, saved_model_to_tflite

    store = locate(b.model, "fp32", "tflite").parents[1]
    name = b.model
    if b.spec.dynamic_size:
        name += "-" + "x".join(map(str, MULTIPOSE_TFLITE_SHAPE))
    keep = conv_outputs(locate(b.model, "fp32", "tflite"), args.float_layers)
    cal = calibration_feeds(b.spec, count=96)
    path = tmp / f"{b.model}-int8.tflite"
    path.write_bytes(
        saved_model_to_tflite(
            store / "savedmodel" / name,
            "int8",
            calibration=lambda: iter(cal),
            float_nodes=keep,
        )
    )
    out = b.measure(f"TFLite float {list(args.float_layers)}", path)
    print(out.row(), flush=True)
    return [out]


STUDIES: dict[str, Callable[..., list[Measure]]] = {
    "methods": _methods,
    "heads": _heads,
    "layers": _layers,
    "schemes": _schemes,
    "custom": _custom,
    "tflite": _tflite,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", choices=list(STUDIES))
    parser.add_argument("--models", nargs="+", default=list_models(), choices=list_models())
    custom = parser.add_argument_group("custom: one scheme given here")
    custom.add_argument("--method", default="MinMax", choices=Q.METHODS)
    custom.add_argument("--views", type=int, default=96)
    custom.add_argument("--percentile", type=float, default=99.999)
    custom.add_argument(
        "--float-convs", type=int, nargs="*", default=[], help="Conv positions kept float"
    )
    custom.add_argument(
        "--float-layers", nargs="*", default=[], help="name fragments of Conv nodes kept float"
    )
    args = parser.parse_args(argv)
    if args.method != "MinMax" and args.views > MAX_HISTOGRAM_VIEWS:
        parser.error(f"{args.method} keeps every activation: at most {MAX_HISTOGRAM_VIEWS} views")
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="xpose-int8-") as tmp:
        for model in args.models:
            b = Bench(model)
            head = f"\n## {model}: {args.study} (fp32 AP {100 * b.ref_ap:.1f}, {b.protocol})\n"
            print(head + HEADER, flush=True)
            study = STUDIES[args.study]
            extra = (args,) if args.study in ("custom", "tflite") else ()
            rows = [m.row() for m in study(b, Path(tmp), *extra)]
            lines += [head, HEADER, *rows]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__: list[Any] = ["Bench", "layer_errors", "main", "shared_photos"]
