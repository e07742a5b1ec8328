"""fp32 ONNX -> int8 ONNX made for onnxruntime: static QDQ quantization that fuses.

The int8 ONNX is not tf2onnx's form of the int8 TFLite file (onnxruntime cannot fuse that
graph and runs it no faster than fp32). It is ``onnxruntime.quantization.quantize_static`` of
the fp32 ONNX:

* ``quant_pre_process`` first (shape inference and graph clean-up);
* QDQ format, weights int8 symmetric per output channel, activations uint8 per tensor,
  calibrated on views of photos of people (:func:`converters.samples.calibration_views`);
* only the network is quantized: convolutions, additions, resizes and concatenations. The
  decoding after the network (MoveNet's in-graph ArgMax, GatherND, Sqrt, Div...) stays float:
  every node that feeds no convolution is excluded (:func:`decoding_nodes`);
* a few convolutions that measurement showed too sensitive stay float too, chosen per model
  in :data:`SCHEMES` (found with ``benchmarks/int8_sensitivity.py``; docs/accuracy.md).

onnxruntime then fuses each ``DequantizeLinear -> Conv -> QuantizeLinear`` into one integer
kernel (``QLinearConv``); :func:`op_mix` and :func:`inner_nodes` read the optimized graph to
check it.
"""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converters.errors import ConversionError

log = logging.getLogger(__name__)

#: Node types onnxruntime quantizes in the network. Clip and Relu after a convolution are
#: folded into its output range; the rest of the graph stays float.
QUANTIZED_TYPES: tuple[str, ...] = (
    "Conv",
    "Clip",
    "Relu",
    "Add",
    "Resize",
    "Concat",
    "MaxPool",
    "AveragePool",
)

#: Calibration methods of ``onnxruntime.quantization.CalibrationMethod`` this module offers.
METHODS: tuple[str, ...] = ("MinMax", "Entropy", "Percentile")


@dataclass(frozen=True)
class Scheme:
    """How one model's int8 ONNX is made.

    Attributes:
        method: calibration method, one of :data:`METHODS`.
        views: number of calibration views (Entropy and Percentile keep every activation of
            every view in memory: keep it small for them).
        float_convs: convolutions kept float, by position among the graph's ``Conv`` nodes
            in topological order (0 the first, -1 the last).
        float_layers: convolutions kept float, by name: every ``Conv`` whose node name
            contains one of these fragments (e.g. ``"kpt_heatmap_0/"``, a whole output head).
        percentile: the percentile for ``Percentile`` calibration.
    """

    method: str = "MinMax"
    views: int = 96
    float_convs: tuple[int, ...] = ()
    float_layers: tuple[str, ...] = ()
    percentile: float = 99.999

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown calibration method {self.method!r}; valid: {METHODS}")
        if self.views < 1:
            raise ValueError(f"views must be >= 1, got {self.views}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["float_convs"] = list(self.float_convs)
        d["float_layers"] = list(self.float_layers)
        return d


#: MoveNet's output heads: each a depthwise, a 1x1 with ReLU and a 1x1 output convolution.
MOVENET_HEADS = ("center_0/", "kpt_heatmap_0/", "kpt_offset_0/", "kpt_regress_0/")

#: The chosen scheme per model (benchmarks/int8_sensitivity.py measures the alternatives;
#: docs/accuracy.md gives the figures). The output heads stay float: their outputs are the
#: heatmaps and offsets that the decoding reads, and int8 steps there move keypoints.
#: Only layers at the network's edges can stay float: a float Conv between a
#: DequantizeLinear and a QuantizeLinear gets its weights quantized by onnxruntime itself
#: (its WeightBiasQuantization optimizer) and runs in int8 anyway.
SCHEMES: dict[str, Scheme | None] = {
    "movenet-lightning": Scheme(float_layers=MOVENET_HEADS),
    "movenet-thunder": Scheme(float_layers=MOVENET_HEADS),
    # static int8 activations cost MultiPose 7-13 AP points on the labelled photos even with
    # its six heads float (MinMax -12.6, Percentile -7.0): it keeps tf2onnx's form of its
    # int8 TFLite file (int8 weights, float activations), accurate but no faster than fp32
    "movenet-multipose": None,
    # with 96 varied calibration views every PoseNet convolution can be int8 (AP +1.7 against
    # fp32 on the labelled photos; its four output convolutions float: +1.2)
    "posenet": Scheme(),
}


def scheme_for(model: str) -> Scheme | None:
    """The :class:`Scheme` of a catalogue model (the default scheme for other names);
    ``None``: the model's int8 ONNX is tf2onnx's form of its int8 TFLite file instead."""
    return SCHEMES.get(model, Scheme())


def _ort():
    try:
        import onnx
        import onnxruntime
        from onnxruntime import quantization
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "int8 ONNX quantization needs onnx and onnxruntime: pip install 'xpose[convert]'"
        ) from err
    return onnx, onnxruntime, quantization


def conv_nodes(model) -> list[str]:
    """Names of the ``Conv`` nodes of an ``onnx.ModelProto``, in graph (topological) order."""
    return [n.name for n in model.graph.node if n.op_type == "Conv"]


def decoding_nodes(model) -> list[str]:
    """Names of the nodes that feed no ``Conv``: the decoding after the network.

    A node belongs to the network when it is a ``Conv`` or one of its inputs' producers,
    transitively; everything else computes on the network's outputs.
    """
    producer = {out: node for node in model.graph.node for out in node.output}
    network: set[str] = set()
    stack = [n for n in model.graph.node if n.op_type == "Conv"]
    while stack:
        node = stack.pop()
        if node.name in network:
            continue
        network.add(node.name)
        stack += [producer[i] for i in node.input if i in producer]
    return [n.name for n in model.graph.node if n.name not in network]


def resolve_float_convs(
    model, positions: Iterable[int], fragments: Iterable[str] = ()
) -> list[str]:
    """Conv node names at ``positions`` (negative from the end) or containing one of
    ``fragments``, in graph order; an error when a position is out of range or a fragment
    matches nothing."""
    convs = conv_nodes(model)
    names = []
    for fragment in fragments:
        found = [c for c in convs if fragment in c]
        if not found:
            raise ConversionError(
                f"the int8 scheme keeps convolutions named like {fragment!r} float, but no "
                "Conv node's name contains it: fix converters/quantize.py SCHEMES for this model"
            )
        names += found
    for pos in positions:
        if not -len(convs) <= pos < len(convs):
            raise ConversionError(
                f"the int8 scheme keeps Conv #{pos} float, but the model has {len(convs)} "
                "convolutions: fix converters/quantize.py SCHEMES for this model"
            )
        names.append(convs[pos])
    chosen = set(names)
    return [c for c in convs if c in chosen]


def activations_of(model, convs: Iterable[str]) -> list[str]:
    """The Clip / Relu nodes that take the output of one of ``convs``.

    A float convolution keeps its activation float too: between a DequantizeLinear and a
    QuantizeLinear, onnxruntime would quantize its weights itself and run it in int8.
    """
    outputs = {o for n in model.graph.node if n.name in set(convs) for o in n.output}
    return [
        n.name
        for n in model.graph.node
        if n.op_type in ("Clip", "Relu") and any(i in outputs for i in n.input)
    ]


class _Feeds:
    """``onnxruntime.quantization.CalibrationDataReader`` over a list of feeds."""

    def __init__(self, feeds: Sequence[Mapping[str, np.ndarray]]) -> None:
        self._it = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        return self._it  # type: ignore[return-value]

    def rewind(self) -> None:  # pragma: no cover - not used by static calibration
        pass


def preprocess(src: Path, dst: Path) -> Path:
    """``quant_pre_process`` of ``src`` into ``dst`` (shape inference, graph clean-up)."""
    _ort()
    from onnxruntime.quantization.shape_inference import quant_pre_process

    # onnx's own shape inference is enough for these graphs; the symbolic one needs sympy
    quant_pre_process(str(src), str(dst), skip_symbolic_shape=True)
    return dst


def quantize(
    src: Path,
    dst: Path,
    feeds: Sequence[Mapping[str, np.ndarray]],
    scheme: Scheme,
    *,
    extra_float: Iterable[str] = (),
) -> dict[str, Any]:
    """Quantize the fp32 ONNX ``src`` into the int8 ONNX ``dst`` (the caller renames it).

    Args:
        src: an fp32 ONNX file.
        dst: where to write the int8 ONNX.
        feeds: calibration feeds (input name -> array), ``scheme.views`` of them are used.
        scheme: the :class:`Scheme`.
        extra_float: more node names (of the pre-processed graph) to keep float.

    Returns:
        What was done, for the manifest: the scheme, the float-kept convolutions by name and
        the count of decoding nodes left float.
    """
    onnx, _, q = _ort()
    if not feeds:
        raise ConversionError("int8 quantization needs calibration images of people")
    with tempfile.TemporaryDirectory(prefix="xpose-quant-") as tmp:
        pre = preprocess(Path(src), Path(tmp) / "pre.onnx")
        model = onnx.load(str(pre))
        decoding = decoding_nodes(model)
        float_convs = resolve_float_convs(model, scheme.float_convs, scheme.float_layers)
        float_acts = activations_of(model, float_convs)
        extra = {
            "WeightSymmetric": True,
            "ActivationSymmetric": False,
            "CalibMovingAverage": False,
        }
        if scheme.method == "Percentile":
            extra["CalibPercentile"] = scheme.percentile
        q.quantize_static(
            str(pre),
            str(dst),
            _Feeds(list(feeds)[: scheme.views]),
            quant_format=q.QuantFormat.QDQ,
            op_types_to_quantize=list(QUANTIZED_TYPES),
            per_channel=True,
            activation_type=q.QuantType.QUInt8,
            weight_type=q.QuantType.QInt8,
            nodes_to_exclude=decoding + float_convs + float_acts + list(extra_float),
            calibrate_method=getattr(q.CalibrationMethod, scheme.method),
            extra_options=extra,
        )
    return {
        **scheme.to_dict(),
        "float_conv_names": float_convs,
        "float_decoding_nodes": len(decoding),
        "views_used": min(scheme.views, len(feeds)),
    }


def optimized_graph(path: Path, level: str = "extended"):
    """onnxruntime's optimized graph of the ONNX file ``path``, as an ``onnx.ModelProto``.

    ``level`` ``extended`` (the default) applies every fusion that does not depend on the CPU
    (QDQ -> QLinearConv among them), so the graph is the same on every machine; ``all`` adds
    the CPU-specific layout changes.
    """
    onnx, ort, _ = _ort()
    levels = {
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    if level not in levels:
        raise ValueError(f"unknown optimization level {level!r}; valid: {', '.join(levels)}")
    with tempfile.TemporaryDirectory(prefix="xpose-opt-") as tmp:
        opts = ort.SessionOptions()
        opts.graph_optimization_level = levels[level]
        opts.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return onnx.load(opts.optimized_model_filepath)


def op_mix(path: Path, level: str = "extended") -> Counter:
    """Node type -> count in onnxruntime's optimized graph of ``path`` (:func:`optimized_graph`)."""
    return Counter(n.op_type for n in optimized_graph(path, level).graph.node)


def inner_nodes(model, op_type: str, between: str = "QLinearConv") -> list[str]:
    """Nodes of ``op_type`` that lie inside the int8 network: downstream of one ``between``
    node and upstream of another (e.g. a Transpose between two integer convolutions)."""
    producer = {out: n for n in model.graph.node for out in n.output}
    consumers: dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def reach(start, step) -> set[str]:
        seen: set[str] = set()
        stack = list(start)
        while stack:
            n = stack.pop()
            for m in step(n):
                if m.name not in seen:
                    seen.add(m.name)
                    stack.append(m)
        return seen

    anchors = [n for n in model.graph.node if n.op_type == between]
    below = reach(anchors, lambda n: [c for o in n.output for c in consumers.get(o, [])])
    above = reach(anchors, lambda n: [producer[i] for i in n.input if i in producer])
    return [n.name for n in model.graph.node if n.op_type == op_type and n.name in below & above]


__all__ = [
    "METHODS",
    "QUANTIZED_TYPES",
    "SCHEMES",
    "Scheme",
    "conv_nodes",
    "decoding_nodes",
    "inner_nodes",
    "op_mix",
    "optimized_graph",
    "quantize",
    "scheme_for",
]
