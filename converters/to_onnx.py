"""SavedModel or TFLite -> ONNX with tf2onnx, with stable input/output names."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from converters.errors import ConversionError
from converters.tfjs import _tf

log = logging.getLogger(__name__)

DEFAULT_OPSET = 15


def _onnx():
    try:
        import onnx
        import tf2onnx
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "converting to ONNX needs tf2onnx and onnx: pip install 'xpose[convert]'"
        ) from err
    return onnx, tf2onnx


def rename_io(model, inputs: Mapping[str, str], outputs: Mapping[str, str]) -> None:
    """Rename graph inputs/outputs in place (old name -> new name), rewiring every node."""
    mapping = {**inputs, **outputs}
    mapping = {k: v for k, v in mapping.items() if k != v}
    if not mapping:
        return
    g = model.graph
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.name in mapping:
            vi.name = mapping[vi.name]
    for node in g.node:
        node.input[:] = [mapping.get(n, n) for n in node.input]
        node.output[:] = [mapping.get(n, n) for n in node.output]


def name_free_dims(model, names: Mapping[int, str]) -> None:
    """Give free dimensions of each graph input readable names (axis index -> name)."""
    for vi in model.graph.input:
        for axis, dim in enumerate(vi.type.tensor_type.shape.dim):
            if axis in names and not dim.HasField("dim_value"):
                dim.dim_param = names[axis]
    for vi in model.graph.output:
        for dim in vi.type.tensor_type.shape.dim:
            if not dim.HasField("dim_value") and dim.dim_param.startswith("unk__"):
                dim.dim_param = "n"


def saved_model_to_onnx(saved_model: Path, opset: int = DEFAULT_OPSET):
    """Convert a SavedModel's ``serving_default`` signature into an ``onnx.ModelProto``.

    Inputs and outputs keep the signature's names.
    """
    tf = _tf()
    _, tf2onnx = _onnx()
    loaded = tf.saved_model.load(str(saved_model))
    fn = loaded.signatures.get("serving_default")
    if fn is None:
        raise ConversionError(
            f"{saved_model}: no 'serving_default' signature (has {list(loaded.signatures)})"
        )
    specs = fn.structured_input_signature[1]
    signature = [tf.TensorSpec(s.shape, s.dtype, name=name) for name, s in specs.items()]
    # tf2onnx traces a function taking positional tensors
    kw = list(specs)

    @tf.function(input_signature=signature)
    def positional(*args):
        return fn(**dict(zip(kw, args)))

    model, _ = tf2onnx.convert.from_function(positional, input_signature=signature, opset=opset)
    out_names = sorted(fn.structured_outputs)
    if sorted(o.name for o in model.graph.output) != out_names:
        # tf2onnx names dict outputs by key in recent versions; otherwise map by order
        current = [o.name for o in model.graph.output]
        rename_io(model, {}, dict(zip(current, out_names)))
    name_free_dims(model, {1: "height", 2: "width"})
    return model


def tflite_signature_names(tflite_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(tensor name -> signature input name, tensor name -> signature output name) of a TFLite file."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = _tf().lite.Interpreter
    it = Interpreter(model_path=str(tflite_path))
    sigs = it.get_signature_list()
    if not sigs:
        ins = {d["name"]: d["name"] for d in it.get_input_details()}
        outs = {d["name"]: d["name"] for d in it.get_output_details()}
        return ins, outs
    key = "serving_default" if "serving_default" in sigs else next(iter(sigs))
    runner = it.get_signature_runner(key)
    by_index = {d["index"]: d["name"] for d in it.get_tensor_details()}
    ins = {by_index[d["index"]]: n for n, d in runner.get_input_details().items()}
    outs = {by_index[d["index"]]: n for n, d in runner.get_output_details().items()}
    return ins, outs


def _signature_name(onnx_name: str, names: Mapping[str, str]) -> str:
    """The signature name of the TFLite tensor that tf2onnx called ``onnx_name``."""
    for tensor, sig in names.items():
        if onnx_name in (tensor, f"{tensor}:0") or tensor == f"{onnx_name}:0":
            return sig
    raise ConversionError(
        f"tf2onnx produced a tensor {onnx_name!r} that is not in the TFLite signature {dict(names)}"
    )


def tflite_to_onnx(tflite_path: Path, opset: int = DEFAULT_OPSET):
    """Convert a TFLite file into an ``onnx.ModelProto`` named after the file's signature."""
    _, tf2onnx = _onnx()
    tflite_path = Path(tflite_path)
    ins, outs = tflite_signature_names(tflite_path)
    model, _ = tf2onnx.convert.from_tflite(str(tflite_path), opset=opset)
    in_map = {vi.name: _signature_name(vi.name, ins) for vi in model.graph.input}
    out_map = {vi.name: _signature_name(vi.name, outs) for vi in model.graph.output}
    rename_io(model, in_map, out_map)
    return model


def check_and_save(model, dst: Path) -> Path:
    """Run ``onnx.checker`` on ``model`` and save it to ``dst`` (caller handles atomicity)."""
    onnx, _ = _onnx()
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as err:
        raise ConversionError(f"the converted ONNX model fails onnx.checker: {err}") from err
    onnx.save(model, str(dst))
    return Path(dst)
