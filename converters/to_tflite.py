"""SavedModel -> TFLite at fp32, fp16 or int8.

int8 keeps the network (convolutions, adds, resizes) in int8 while everything else, among it
the in-graph keypoint decoding of MoveNet (ArgMax, GatherNd, Sqrt, Div...), stays float: a full-integer MoveNet moves every confident keypoint. Activations are calibrated on real
photos of people (:mod:`converters.samples`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from converters.errors import ConversionError
from converters.tfjs import _tf

log = logging.getLogger(__name__)

#: The only TFLite ops quantized in the int8 flavour: the network's convolutions, additions
#: and resizes. Everything else (MoveNet's in-graph decoding: ArgMax, GatherNd, Sqrt, Div,
#: TopK, the multiplications that scale offsets...) stays float.
QUANTIZED_OPS: tuple[str, ...] = ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "RESIZE_BILINEAR")


#: How each model's int8 file is made. Static int8 (calibrated activations) costs MultiPose
#: 20 AP points on the COCO photos (0.45 -> 0.27, duplicate people in the int8 ONNX) where
#: int8 weights with float activations keep it (0.44); the single-pose models and PoseNet keep
#: their accuracy with static int8 (docs/accuracy.md).
INT8_SCHEMES: dict[str, str] = {"movenet-multipose": "dynamic"}


#: Layers of each model whose convolutions stay float in the int8 TFLite file, by name
#: fragment of the convolution's output tensor (benchmarks/int8_sensitivity.py, docs/accuracy.md).
#: Lightning's four output heads float: AP -6.4 -> -3.4 against fp32 on the labelled photos, p95
#: keypoint distance 0.041 -> 0.025. Thunder's: AP -4.6 -> -3.4 but p95 0.23 -> 0.81, so it
#: keeps every convolution int8.
FLOAT_LAYERS: dict[str, tuple[str, ...]] = {
    "movenet-lightning": ("center_0/", "kpt_heatmap_0/", "kpt_offset_0/", "kpt_regress_0/"),
}


def float_layers(model: str) -> tuple[str, ...]:
    """Name fragments of ``model``'s convolutions kept float in its int8 TFLite file."""
    return FLOAT_LAYERS.get(model, ())


def conv_outputs(tflite_path: Path, fragments: Iterable[str]) -> list[str]:
    """Output tensor names of the convolutions of a TFLite file whose name contains one of
    ``fragments`` (the names int8 conversion of the same SavedModel gives them too)."""
    fragments = list(fragments)
    if not fragments:
        return []
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = _tf().lite.Interpreter
    it = Interpreter(model_path=str(tflite_path))
    names = {t["index"]: t["name"] for t in it.get_tensor_details()}
    outs = [
        names[op["outputs"][0]]
        for op in it._get_ops_details()
        if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D")
    ]
    missing = [f for f in fragments if not any(f in o for o in outs)]
    if missing:
        raise ConversionError(
            f"{tflite_path.name}: no convolution named like {missing} to keep float: fix "
            "converters/to_tflite.py FLOAT_LAYERS for this model"
        )
    return [o for o in outs if any(f in o for f in fragments)]


def int8_scheme(model: str) -> str:
    """``static`` or ``dynamic``: how ``model``'s int8 flavour is quantized."""
    return INT8_SCHEMES.get(model, "static")


def float_ops() -> list[str]:
    """Every TFLite builtin op name except :data:`QUANTIZED_OPS`."""
    from tensorflow.lite.python.schema_py_generated import BuiltinOperator

    names = [k for k in vars(BuiltinOperator) if k.isupper()]
    return [n for n in names if n not in QUANTIZED_OPS]


Calibration = Callable[[], Iterable[Mapping[str, np.ndarray]]]


def saved_model_to_tflite(
    saved_model: Path,
    precision: str,
    *,
    calibration: Calibration | None = None,
    int8_scheme: str = "static",
    float_nodes: Sequence[str] = (),
) -> bytes:
    """Convert a SavedModel (``serving_default``) into TFLite flatbuffer bytes.

    Args:
        saved_model: folder of a SavedModel with a ``serving_default`` signature.
        precision: ``fp32``, ``fp16`` (float16 weights) or ``int8`` (int8 network, float
            decoding; needs ``calibration``).
        calibration: for int8, a callable returning an iterable of feeds (name -> array).
        int8_scheme: ``static`` (activations calibrated, int8 kernels for
            :data:`QUANTIZED_OPS`) or ``dynamic`` (int8 weights; LiteRT quantizes activations
            on the fly, other runtimes compute in float). See :data:`INT8_SCHEMES`.
        float_nodes: for static int8, output tensor names of operators kept float besides
            those of :func:`float_ops` (:func:`conv_outputs`).

    MultiPose converts only from a SavedModel whose input size is fixed in the graph
    (:func:`converters.tfjs.tfjs_to_saved_model` with ``fixed_shape``).
    """
    tf = _tf()
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    if precision == "fp32":
        return conv.convert()
    if precision == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
        return conv.convert()
    if precision != "int8":
        raise ValueError(f"unknown precision {precision!r}; valid: fp32, fp16, int8")
    if int8_scheme == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        return conv.convert()
    if int8_scheme != "static":
        raise ValueError(f"unknown int8 scheme {int8_scheme!r}; valid: static, dynamic")
    if calibration is None:
        raise ConversionError("int8 conversion needs calibration images of people")
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = calibration
    options = tf.lite.experimental.QuantizationDebugOptions(
        denylisted_ops=float_ops(), denylisted_nodes=list(float_nodes) or None
    )
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=conv, debug_dataset=calibration, debug_options=options
    )
    return debugger.get_nondebug_quantized_model()
