"""TF.js graph model (``model.json`` + weight shards) -> TensorFlow GraphDef -> SavedModel.

TF refuses two TF.js-only fused ops as they are: ``_FusedConv2D`` (TF.js omits attr
``TArgs``) and ``FusedDepthwiseConv2dNative`` (not a TF op). They are rewritten into
``Conv2D`` / ``DepthwiseConv2dNative`` + ``BiasAdd`` (+ ``Relu`` / ``Relu6``), the only
``fused_ops`` lists these models use.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from converters.errors import ConversionError

log = logging.getLogger(__name__)

_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_, "uint8": np.uint8}
_ACTIVATIONS = {"Relu": "Relu", "Relu6": "Relu6"}


def _tf():
    try:
        import tensorflow as tf
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "converting models needs TensorFlow: pip install 'xpose[convert]'"
        ) from err
    return tf


def read_weights(model_json: Mapping, folder: Path) -> dict[str, np.ndarray]:
    """Decode the weight shards described by ``weightsManifest`` into float32/int32 arrays."""
    weights: dict[str, np.ndarray] = {}
    for group in model_json["weightsManifest"]:
        blob = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            shape = [int(s) for s in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = w.get("quantization")
            if quant is None:
                dtype = np.dtype(_DTYPES[w["dtype"]])
                raw = np.frombuffer(blob, dtype=dtype.newbyteorder("<"), count=count, offset=offset)
                arr = raw.astype(dtype)
            elif quant.get("dtype") == "float16":
                raw = np.frombuffer(blob, dtype="<f2", count=count, offset=offset)
                arr = raw.astype(np.float32)
                dtype = np.dtype(np.float16)
            elif quant.get("dtype") in ("uint8", "uint16"):
                qd = np.dtype("<u1" if quant["dtype"] == "uint8" else "<u2")
                raw = np.frombuffer(blob, dtype=qd, count=count, offset=offset)
                arr = (raw.astype(np.float32) * quant["scale"] + quant["min"]).astype(np.float32)
                dtype = qd
            else:
                raise ConversionError(f"weight {w['name']}: unsupported quantization {quant}")
            offset += count * dtype.itemsize
            weights[w["name"]] = arr.reshape(shape)
        if offset != len(blob):
            raise ConversionError(
                f"weight shards {group['paths']} hold {len(blob)} bytes, the manifest describes "
                f"{offset}: the files are truncated or do not belong to this model.json"
            )
    return weights


def _fused_ops(node) -> list[str]:
    return [s.decode() for s in node.attr["fused_ops"].list.s]


def _rewrite_fused(graph_def):
    """Replace TF.js fused conv nodes with standard TF ops, keeping the output node names."""
    tf = _tf()
    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.op not in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
            out.node.add().CopyFrom(node)
            continue
        fused = _fused_ops(node)
        if (
            not fused
            or fused[0] != "BiasAdd"
            or any(op not in _ACTIVATIONS for op in fused[1:])
            or len(fused) > 2
        ):
            raise ConversionError(f"node {node.name}: unsupported fused_ops {fused}")
        data, kernel, bias = node.input[0], node.input[1], node.input[2]
        conv_op = "Conv2D" if node.op == "_FusedConv2D" else "DepthwiseConv2dNative"
        conv = out.node.add(name=f"{node.name}/xpose_conv", op=conv_op, input=[data, kernel])
        keep = ["T", "strides", "padding", "data_format", "dilations", "explicit_paddings"]
        if conv_op == "Conv2D":
            keep.append("use_cudnn_on_gpu")
        for key in keep:
            if key in node.attr:
                conv.attr[key].CopyFrom(node.attr[key])
        if "padding" in node.attr and node.attr["padding"].s != b"EXPLICIT":
            conv.attr.pop("explicit_paddings", None)
        act = fused[1] if len(fused) > 1 else None
        bias_name = f"{node.name}/xpose_bias" if act else node.name
        badd = out.node.add(name=bias_name, op="BiasAdd", input=[conv.name, bias])
        badd.attr["T"].CopyFrom(node.attr["T"])
        if "data_format" in node.attr:
            badd.attr["data_format"].CopyFrom(node.attr["data_format"])
        if act:
            a = out.node.add(name=node.name, op=_ACTIVATIONS[act], input=[badd.name])
            a.attr["T"].CopyFrom(node.attr["T"])
    return out


def load_graph_def(model_json_path: Path):
    """Parse a TF.js graph model into a standard ``tf.compat.v1.GraphDef`` with weights inlined."""
    tf = _tf()
    from google.protobuf import json_format

    path = Path(model_json_path)
    try:
        model_json = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConversionError(f"{path}: not a readable TF.js model.json ({err})") from err
    if model_json.get("format") != "graph-model" or "modelTopology" not in model_json:
        raise ConversionError(
            f"{path}: not a TF.js graph model (format {model_json.get('format')!r})"
        )
    graph_def = tf.compat.v1.GraphDef()
    json_format.ParseDict(model_json["modelTopology"], graph_def, ignore_unknown_fields=True)
    weights = read_weights(model_json, path.parent)
    nodes = {n.name: n for n in graph_def.node}
    for name, arr in weights.items():
        node = nodes.get(name)
        if node is None:
            raise ConversionError(f"{path}: weight {name} has no Const node in the graph")
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(arr))
        node.attr["dtype"].type = tf.as_dtype(arr.dtype).as_datatype_enum
    missing = [n.name for n in graph_def.node if n.op == "Const" and "value" not in n.attr]
    if missing:
        raise ConversionError(f"{path}: constants without weights: {missing[:5]}")
    return _rewrite_fused(graph_def)


def _placeholder_shape(graph_def, tensor_name: str) -> list[int | None]:
    node_name = tensor_name.split(":")[0]
    for n in graph_def.node:
        if n.name == node_name:
            dims = [d.size for d in n.attr["shape"].shape.dim]
            return [None if d < 0 else d for d in dims]
    raise ConversionError(f"input {tensor_name} is not in the graph")


def graph_function(graph_def, inputs: Mapping[str, str], outputs: Mapping[str, str]):
    """A TF function of the graph: named inputs (keyword args) -> dict of named outputs."""
    tf = _tf()

    def _import():
        tf.compat.v1.import_graph_def(graph_def, name="")

    wrapped = tf.compat.v1.wrap_function(_import, [])
    g = wrapped.graph
    pruned = wrapped.prune(
        feeds=[g.as_graph_element(t) for t in inputs.values()],
        fetches={k: g.as_graph_element(t) for k, t in outputs.items()},
    )
    return pruned


def build_module(graph_def, inputs: Mapping[str, str], outputs: Mapping[str, str]):
    """A ``tf.Module`` whose ``serve`` function has one named input and a dict of named outputs."""
    tf = _tf()
    pruned = graph_function(graph_def, inputs, outputs)
    ((in_name, in_tensor),) = inputs.items()
    node_name = in_tensor.split(":")[0]
    node = next(n for n in graph_def.node if n.name == node_name)
    dtype = tf.as_dtype(node.attr["dtype"].type)
    shape = _placeholder_shape(graph_def, in_tensor)
    module = tf.Module()
    module._pruned = pruned  # keep the graph alive and tracked

    @tf.function(input_signature=[tf.TensorSpec(shape, dtype, name=in_name)])
    def serve(x):
        res = module._pruned(x)
        return {k: tf.identity(v, name=k) for k, v in res.items()}

    module.serve = serve
    return module


def save_saved_model(module, dst: Path) -> Path:
    """Save with a ``serving_default`` signature, atomically (temp folder, then rename)."""
    tf = _tf()
    dst = Path(dst)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": module.serve})
        if dst.exists():
            shutil.rmtree(dst)
        os.replace(tmp, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dst


def pin_input_shape(graph_def, tensor_name: str, shape) -> None:
    """Fix a placeholder's shape in place (TFLite needs MultiPose at a fixed size)."""
    node_name = tensor_name.split(":")[0]
    for n in graph_def.node:
        if n.name == node_name:
            dims = n.attr["shape"].shape.dim
            if len(dims) != len(shape):
                raise ConversionError(f"{tensor_name} has rank {len(dims)}, not {len(shape)}")
            for d, size in zip(dims, shape):
                d.size = int(size)
            return
    raise ConversionError(f"input {tensor_name} is not in the graph")


def tfjs_to_saved_model(
    model_json: Path,
    dst: Path,
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    fixed_shape: tuple[int, ...] | None = None,
) -> Path:
    """Convert a TF.js graph model into a SavedModel with stable tensor names.

    ``fixed_shape`` pins the (single) input's shape inside the graph itself.
    """
    graph_def = load_graph_def(model_json)
    if fixed_shape is not None:
        (tensor,) = inputs.values()
        pin_input_shape(graph_def, tensor, fixed_shape)
    module = build_module(graph_def, inputs, outputs)
    return save_saved_model(module, dst)
