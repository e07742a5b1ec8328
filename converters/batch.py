"""Dynamic batch for converted ONNX files: ``[N, H, W, 3]`` in, checked against batch 1.

tf2onnx writes MoveNet's single-pose graphs with a batch of 1 baked in: the backbone reshapes
to ``[1, 48, 48, 1]``, and the decoding at the end of the graph (arg-max over the centre
heatmap, ``GatherND`` with a batch index of 0, reshapes to ``[17, -1]``) handles one image.
:func:`dynamic_batch` rewrites such a graph in two parts:

* the **per-image part**: every node that computes each image on its own along axis 0
  (convolutions, element-wise ops, transposes, concatenations and reshapes that keep axis 0,
  ...). It runs on the whole batch; a reshape whose target starts with a hard 1 gets a 0
  there instead (ONNX ``Reshape``: copy that axis from the input).
* the **tail**: the nodes that assume one image. They run once per image inside an ONNX
  ``Loop`` over the batch, on ``[i:i+1]`` slices of the per-image tensors they read, so each
  image goes through exactly the arithmetic of the batch-1 graph; the loop stacks the results.

A graph with no tail (PoseNet) only has its batch axis freed. :func:`check_batch` runs a
rewritten file at batch N and requires exactly the N batch-1 results, stacked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converters.errors import ConversionError, ParityError
from xpose.compat import BATCH_LOOP

log = logging.getLogger(__name__)

__all__ = [
    "BATCH_ATOL",
    "BATCH_DIM",
    "RECIPE",
    "check_batch",
    "checked",
    "dynamic_batch",
    "has_loop",
    "rewrite",
]

#: Recorded in the manifest with each ONNX file; bumped when the rewrite changes.
RECIPE = "2"  # 2: files with a Loop carry xpose.compat.BATCH_LOOP
#: Name of the free batch dimension in the rewritten inputs and outputs.
BATCH_DIM = "batch"
#: Largest difference allowed between a batch-N output and the batch-1 output of that image.
BATCH_ATOL = 1e-5
#: Batch sizes :func:`check_batch` tries.
CHECK_SIZES = (2, 5)

_MIN_OPSET = 13  # Squeeze, Unsqueeze and Slice take their axes as inputs

#: One output per input, element by element (extra inputs are per-tensor parameters).
_ELEMENTWISE_UNARY = frozenset(
    [
        "Abs",
        "Cast",
        "Ceil",
        "Clip",
        "Cos",
        "Dropout",
        "Elu",
        "Erf",
        "Exp",
        "Floor",
        "HardSigmoid",
        "HardSwish",
        "Identity",
        "IsNaN",
        "LeakyRelu",
        "Log",
        "Neg",
        "Not",
        "Reciprocal",
        "Relu",
        "Round",
        "Selu",
        "Sigmoid",
        "Sign",
        "Sin",
        "Softplus",
        "Softsign",
        "Sqrt",
        "Tanh",
        "ThresholdedRelu",
    ]
)
#: Several inputs broadcast against each other.
_ELEMENTWISE_NARY = frozenset(
    [
        "Add",
        "And",
        "BitShift",
        "Div",
        "Equal",
        "Greater",
        "GreaterOrEqual",
        "Less",
        "LessOrEqual",
        "Max",
        "Mean",
        "Min",
        "Mod",
        "Mul",
        "Or",
        "PRelu",
        "Pow",
        "Sub",
        "Sum",
        "Where",
        "Xor",
    ]
)
#: The first input is the image batch (N first); the other inputs are weights.
_PER_IMAGE = frozenset(
    [
        "AveragePool",
        "BatchNormalization",
        "Conv",
        "ConvInteger",
        "ConvTranspose",
        "DepthToSpace",
        "GlobalAveragePool",
        "GlobalMaxPool",
        "InstanceNormalization",
        "LpNormalization",
        "LRN",
        "MaxPool",
        "QLinearConv",
        "SpaceToDepth",
    ]
)
#: Quantize / dequantize: per-tensor, or per-channel on an axis other than the batch.
_QUANTIZE = frozenset(("QuantizeLinear", "DequantizeLinear"))
#: An ``axis`` attribute that must not be the batch axis.
_AXIS_OPS = {
    "ArgMax": 0,
    "ArgMin": 0,
    "Concat": None,
    "Hardmax": -1,
    "LogSoftmax": -1,
    "Softmax": -1,
    "Split": 0,
}


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("rewriting ONNX graphs needs onnx: pip install 'xpose[convert]'") from err
    return onnx


class _Graph:
    """What the classification needs to know about a batch-1 graph: ranks, shapes, constants."""

    def __init__(self, model: Any) -> None:
        onnx = _onnx()
        from onnx import numpy_helper

        inferred = onnx.shape_inference.infer_shapes(model)
        self.shapes: dict[str, list[int | None]] = {}
        self.types: dict[str, int] = {}
        g = inferred.graph
        for vi in list(g.input) + list(g.output) + list(g.value_info):
            tt = vi.type.tensor_type
            self.types[vi.name] = tt.elem_type
            if tt.HasField("shape"):
                self.shapes[vi.name] = [
                    d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim
                ]
        self.values: dict[str, np.ndarray] = {
            t.name: numpy_helper.to_array(t) for t in model.graph.initializer
        }
        for t in model.graph.initializer:
            self.shapes.setdefault(t.name, list(t.dims))
            self.types.setdefault(t.name, t.data_type)
        for node in model.graph.node:
            if node.op_type == "Constant":
                for a in node.attribute:
                    if a.name == "value":
                        value = numpy_helper.to_array(a.t)
                        self.values[node.output[0]] = value
                        self.shapes.setdefault(node.output[0], list(value.shape))

    def rank(self, name: str) -> int | None:
        shape = self.shapes.get(name)
        return None if shape is None else len(shape)

    def const(self, name: str) -> np.ndarray | None:
        return self.values.get(name)


def _attr(node: Any, name: str, default: Any = None) -> Any:
    onnx = _onnx()
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _axes(node: Any, graph: _Graph, index: int) -> list[int] | None:
    """A node's ``axes``, from its attribute or its constant input ``index`` (``None``: unknown)."""
    axes = _attr(node, "axes")
    if axes is None and len(node.input) > index and node.input[index]:
        value = graph.const(node.input[index])
        if value is None:
            return None
        axes = value.reshape(-1).tolist()
    return None if axes is None else [int(a) for a in axes]


def _not_batch_axis(axes: Iterable[int] | None, rank: int | None) -> bool:
    """Whether none of ``axes`` (negative counted from the end of ``rank``) is axis 0."""
    if axes is None or rank is None:
        return False
    return all((a + rank if a < 0 else a) != 0 for a in axes)


def _reshape_target(node: Any, graph: _Graph) -> np.ndarray | None:
    """The new target shape that keeps axis 0 for a batch-1 ``Reshape``, or ``None`` if none.

    ``[1, ...]`` becomes ``[0, ...]`` (copy axis 0); ``[0, ...]`` is kept; ``[-1, a, b]`` is kept
    when ``a * b`` is the size of one image's input, so that the -1 is the batch.
    """
    target = graph.const(node.input[1])
    source = graph.shapes.get(node.input[0])
    if target is None or source is None or not source or source[0] != 1 or target.ndim != 1:
        return None
    if target.size == 0 or _attr(node, "allowzero", 0):
        return None
    first = int(target[0])
    if first == 1:
        out = target.copy()
        out[0] = 0
        return out
    if first == 0:
        return target
    rest = [int(v) for v in target[1:]]
    known = all(v > 0 for v in rest) and all(d is not None for d in source[1:])
    if first == -1 and known and int(np.prod(rest)) == int(np.prod(source[1:])):
        return target
    return None


def _keeps_batch(node: Any, graph: _Graph, batched: set[str]) -> bool:
    """Whether ``node`` computes each image on its own along axis 0, every dynamic input of it
    being batched (checked by the caller)."""
    op = node.op_type
    inputs = [i for i in node.input if i]
    out_rank = graph.rank(node.output[0]) if node.output else None
    if op in _ELEMENTWISE_UNARY:
        return all(i not in batched for i in inputs[1:])
    if op in _QUANTIZE:
        axis = _attr(node, "axis", 1)
        scale = graph.shapes.get(inputs[1]) if len(inputs) > 1 else None
        per_tensor = scale is not None and int(np.prod(scale or [1])) == 1
        return all(i not in batched for i in inputs[1:]) and (
            per_tensor or _not_batch_axis([axis], out_rank)
        )
    if op in _ELEMENTWISE_NARY:
        if out_rank is None:
            return False
        for i in inputs:
            shape = graph.shapes.get(i)
            if shape is None:
                return False
            if i in batched:
                if len(shape) != out_rank:  # axis 0 would broadcast onto another axis
                    return False
            elif len(shape) == out_rank and shape[0] != 1:
                return False
        return True
    if op in _PER_IMAGE:
        return all(i not in batched for i in inputs[1:])
    if op == "Split" and len(node.output) == 1:
        return True  # one piece: the whole tensor (tf2onnx's form of unstacking a batch of 1)
    if op in _AXIS_OPS:
        rank = graph.rank(inputs[0])
        axis = _attr(node, "axis", _AXIS_OPS[op])
        if axis is None:
            return False
        if op == "Concat" and not all(i in batched for i in inputs):
            return False  # a constant piece would have 1 where the batch has N
        if op == "Split" and any(i in batched for i in inputs[1:]):
            return False
        return _not_batch_axis([axis], rank)
    if op == "Transpose":
        perm = _attr(node, "perm")
        return perm is not None and int(perm[0]) == 0
    if op == "Unsqueeze":
        return _not_batch_axis(_axes(node, graph, 1), out_rank)
    if op == "Squeeze":
        return _not_batch_axis(_axes(node, graph, 1), graph.rank(inputs[0]))
    if op.startswith("Reduce"):
        return _not_batch_axis(_axes(node, graph, 1), graph.rank(inputs[0]))
    if op == "Slice":
        axes = _axes(node, graph, 3)
        if axes is None and len(inputs) <= 3:
            return False  # every axis from 0
        return _not_batch_axis(axes, graph.rank(inputs[0])) and all(
            i not in batched for i in inputs[1:]
        )
    if op == "Gather":
        return inputs[1] not in batched and _not_batch_axis(
            [_attr(node, "axis", 0)], graph.rank(inputs[0])
        )
    if op == "Flatten":
        return _attr(node, "axis", 1) == 1
    if op == "Pad":
        pads = graph.const(inputs[1]) if len(inputs) > 1 else None
        rank = graph.rank(inputs[0])
        return pads is not None and rank is not None and not pads[0] and not pads[rank]
    if op == "Resize":
        scales = graph.const(inputs[2]) if len(inputs) > 2 else None
        sizes = len(inputs) > 3
        return scales is not None and scales.size > 0 and scales[0] == 1.0 and not sizes
    if op == "Reshape":
        return _reshape_target(node, graph) is not None
    return False


def _drop_batch_squeezes(model: Any, graph: _Graph) -> None:
    """Skip squeezes of a batch of 1 that a broadcast puts back at once (in place).

    tf2onnx turns the TFLite graphs' ``unstack`` of the batch into ``Squeeze(axis 0)`` followed
    by element-wise ops with a ``[1, 1, 1, 3]`` constant, whose broadcast restores the axis.
    When every consumer of such a squeeze is element-wise with an output of the squeeze
    input's rank, reading the squeeze input instead gives the same values, with axis 0 kept.
    """
    consumers: dict[str, list[Any]] = {}
    for node in model.graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)
    graph_outputs = {o.name for o in model.graph.output}
    for node in model.graph.node:
        if node.op_type != "Squeeze" or node.output[0] in graph_outputs:
            continue
        source = graph.shapes.get(node.input[0])
        if not source or source[0] != 1 or _axes(node, graph, 1) not in ([0], [-len(source)]):
            continue
        users = consumers.get(node.output[0], [])
        if users and all(
            u.op_type in _ELEMENTWISE_NARY and graph.rank(u.output[0]) == len(source) for u in users
        ):
            for u in users:
                u.input[:] = [node.input[0] if i == node.output[0] else i for i in u.input]


#: Flags of the elements of a shape vector (e.g. ``Shape(x)`` of a per-image tensor ``x``).
_FREE, _BATCH, _MIXED = 0, 1, 2


def _shape_flags(
    node: Any, graph: _Graph, flags: Mapping[str, np.ndarray], batched: set[str]
) -> np.ndarray | None:
    """Which elements of a small shape computation's output are the batch size.

    ``flags`` maps each shape vector seen so far to an int8 array of its shape: ``_BATCH``
    where the element is the batch size N, ``_MIXED`` where it was computed from N, ``_FREE``
    where it does not depend on N. Returns the flags of ``node``'s output, or ``None`` when the
    node is not a computation on shape vectors and constants.
    """
    op = node.op_type
    ins = list(node.input)
    if op == "Shape":
        rank = graph.rank(ins[0])
        if ins[0] not in batched or rank is None:
            return None
        dims = np.arange(rank)[_attr(node, "start", 0) : _attr(node, "end", rank)]
        return (dims == 0).astype(np.int8)
    vals: list[np.ndarray | None] = []
    for i in ins:
        if not i:
            vals.append(None)
            continue
        if i in flags:
            vals.append(flags[i])
            continue
        shape = graph.shapes.get(i)  # a constant, or a value of H and W only
        if i in batched or shape is None or None in shape:
            return None
        vals.append(np.zeros(shape, np.int8))
    first = vals[0]
    if first is None:
        return None
    if op in ("Cast", "Identity"):
        return first
    if op == "Gather":
        index = graph.const(ins[1])
        return None if index is None else np.take(first, index, axis=_attr(node, "axis", 0))
    if op == "Concat":
        return np.concatenate(vals, axis=_attr(node, "axis", 0))  # type: ignore[arg-type]
    if op in ("Squeeze", "Unsqueeze"):
        axes = _axes(node, graph, 1)
        if axes is None:
            return None
        return np.squeeze(first, tuple(axes)) if op == "Squeeze" else np.expand_dims(first, axes)
    if op == "Slice":
        starts, ends, axes, steps = (
            graph.const(ins[k]) if len(ins) > k and ins[k] else None for k in range(1, 5)
        )
        if starts is None or ends is None:
            return None
        axes = range(len(starts)) if axes is None else axes
        steps = [1] * len(starts) if steps is None else steps
        index = [slice(None)] * first.ndim
        for a, lo, hi, st in zip(axes, starts, ends, steps, strict=True):
            index[int(a)] = slice(int(lo), int(hi), int(st))
        return first[tuple(index)]
    if op in _ELEMENTWISE_NARY or op in _ELEMENTWISE_UNARY:
        parts = np.broadcast_arrays(*[v for v in vals if v is not None])
        touched = np.any(np.stack(parts) != _FREE, axis=0)
        return np.where(touched, _MIXED, _FREE).astype(np.int8)
    return None


def _keeps_batch_by_shape(node: Any, flags: Mapping[str, np.ndarray], batched: set[str]) -> bool:
    """Whether ``node`` keeps axis 0 given a shape input computed from the batch size.

    A ``Resize`` to ``sizes``, a ``Reshape`` or an ``Expand`` to a shape whose first element is
    the batch size N and whose others do not depend on N keeps each image on its own.
    """
    shapes = {"Resize": 3, "Reshape": 1, "Expand": 1}
    k = shapes.get(node.op_type)
    if k is None or len(node.input) <= k or node.input[0] not in batched:
        return False
    f = flags.get(node.input[k])
    others = [i for j, i in enumerate(node.input) if i and j not in (0, k)]
    return (
        f is not None
        and f.ndim == 1
        and f.size > 0
        and f[0] == _BATCH
        and not f[1:].any()
        and not any(_uses_n(flags, i) or i in batched for i in others)
    )


def _uses_n(flags: Mapping[str, np.ndarray], name: str) -> bool:
    """Whether the shape vector ``name`` holds or was computed from the batch size."""
    return name in flags and bool(flags[name].any())


@dataclass
class _Parts:
    """A batch-1 graph sorted into the part that runs on the batch and the per-image tail."""

    batched: set[str]  # tensors with the batch on axis 0
    head: list[Any]  # per-image and constant nodes, and shape computations, in graph order
    tail: list[Any]  # nodes that assume one image, in graph order
    shape_nodes: dict[str, Any]  # output -> node, of the shape computations that use N


def _split(model: Any, graph: _Graph, image: str) -> _Parts:
    """Sort the nodes into the per-image part and the tail."""
    batched = {image}
    flags: dict[str, np.ndarray] = {}
    in_tail: set[str] = set()
    parts = _Parts(batched, [], [], {})
    for node in model.graph.node:
        ins = [i for i in node.input if i]
        if any(i in in_tail for i in ins):
            kind = "tail"
        elif not any(i in batched or _uses_n(flags, i) for i in ins) and node.op_type != "Shape":
            kind = "head"  # a constant, or a value that depends on H and W only
        else:
            f = _shape_flags(node, graph, flags, batched)
            if f is not None:
                kind = "shape"
                flags[node.output[0]] = f
                if f.any():
                    parts.shape_nodes[node.output[0]] = node
            elif any(_uses_n(flags, i) for i in ins):
                kind = "batched" if _keeps_batch_by_shape(node, flags, batched) else "tail"
            else:  # per-image inputs, and constants or values of H and W only
                kind = "batched" if _keeps_batch(node, graph, batched) else "tail"
        if kind == "tail":
            in_tail.update(node.output)
            parts.tail.append(node)
        else:
            if kind == "batched":
                batched.update(node.output)
            parts.head.append(node)
    return parts


def dynamic_batch(model: Any) -> Any:
    """Rewrite a batch-1 ONNX model (one ``[1, H, W, 3]`` image input) to take any batch.

    Args:
        model: an ``onnx.ModelProto`` whose image input has a batch of 1 (opset 13 or later).

    Returns:
        A new ``onnx.ModelProto``: the input and every output have a free first dimension
        named :data:`BATCH_DIM`; output ``i`` of the batch is what the batch-1 model gives for
        image ``i``.

    Raises:
        ConversionError: the model has not one image input of batch 1, an output of the tail
            does not have a batch of 1, or the opset is older than 13.
    """
    onnx = _onnx()
    from onnx import helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    opset = max((o.version for o in out.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset < _MIN_OPSET:
        raise ConversionError(f"a dynamic batch needs opset {_MIN_OPSET} or later, got {opset}")
    inits = {t.name for t in g.initializer}
    inputs = [vi for vi in g.input if vi.name not in inits]
    if len(inputs) != 1:
        raise ConversionError(
            f"a dynamic batch needs one image input, got {[vi.name for vi in inputs]}"
        )
    image = inputs[0]
    dims = image.type.tensor_type.shape.dim
    if len(dims) != 4 or dims[0].dim_value not in (0, 1):
        raise ConversionError(f"input {image.name!r} is not [1, H, W, C]")
    graph = _Graph(out)
    _drop_batch_squeezes(out, graph)
    parts = _split(out, graph, image.name)

    new_nodes: list[Any] = []
    for node in parts.head:
        if node.op_type == "Reshape" and node.input[0] in parts.batched:
            target = _reshape_target(node, graph)
            if target is not None and not np.array_equal(target, graph.const(node.input[1])):
                name = f"{node.output[0]}__batch_shape"
                g.initializer.append(numpy_helper.from_array(target.astype(np.int64), name))
                node.input[1] = name
        new_nodes.append(node)

    outputs = [o.name for o in g.output]
    tail_outputs = [o for o in outputs if o not in parts.batched]
    if parts.tail:
        made_in_tail = {o for node in parts.tail for o in node.output}
        if not set(tail_outputs) <= made_in_tail:
            raise ConversionError(f"outputs {tail_outputs} are neither per-image nor decoded")
        for name in tail_outputs:
            shape = graph.shapes.get(name)
            if not shape or shape[0] != 1:
                raise ConversionError(f"output {name!r} has shape {shape}, not a batch of 1")
        new_nodes += _loop(graph, parts, tail_outputs, image.name)
        props = {p.key: p.value for p in out.metadata_props}
        helper.set_model_props(out, {**props, BATCH_LOOP: str(len(parts.tail))})
        log.info(
            "dynamic batch: %d nodes run on the batch, %d per image",
            len(parts.head),
            len(parts.tail),
        )
    elif tail_outputs:
        raise ConversionError(f"outputs {tail_outputs} are not computed from the image")
    del g.node[:]
    g.node.extend(new_nodes)
    _prune(g)
    dims[0].Clear()
    dims[0].dim_param = BATCH_DIM
    for vi in g.output:
        shape = vi.type.tensor_type.shape
        if shape.dim:
            shape.dim[0].Clear()
            shape.dim[0].dim_param = BATCH_DIM
    del g.value_info[:]  # the batch-1 shapes of the intermediate tensors no longer hold
    return out


def _used(nodes: Iterable[Any]) -> set[str]:
    """Every tensor name read by ``nodes`` or by the nodes of their subgraphs."""
    onnx = _onnx()
    names: set[str] = set()
    for node in nodes:
        names.update(node.input)
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                names.update(_used(a.g.node))
                names.update(o.name for o in a.g.output)
    return names


def _prune(g: Any) -> None:
    """Remove nodes whose outputs nobody reads, then initializers nobody reads (in place)."""
    outputs = {o.name for o in g.output}
    while True:
        used = _used(g.node) | outputs
        keep = [n for n in g.node if any(o in used for o in n.output)]
        if len(keep) == len(g.node):
            break
        del g.node[:]
        g.node.extend(keep)
    used = _used(g.node) | outputs
    keep_init = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep_init)


def _shape_chain(parts: _Parts, names: Iterable[str]) -> list[Any]:
    """The shape computations (in graph order) that the tensors ``names`` come from."""
    wanted: set[int] = set()
    todo = [n for n in names if n in parts.shape_nodes]
    while todo:
        node = parts.shape_nodes[todo.pop()]
        if id(node) not in wanted:
            wanted.add(id(node))
            todo += [i for i in node.input if i in parts.shape_nodes]
    return [n for n in parts.head if id(n) in wanted]


def _loop(graph: _Graph, parts: _Parts, outputs: list[str], image: str) -> list[Any]:
    """Nodes that run the tail once per image and write ``outputs`` stacked along axis 0.

    Shape computations that give the batch size and that the tail reads are repeated inside
    the loop on the image's slice, where they give 1 as in the batch-1 graph.
    """
    from onnx import NodeProto, TensorProto, helper

    def const(name: str, values: Sequence[int]) -> Any:
        return helper.make_node(
            "Constant",
            [],
            [name],
            value=helper.make_tensor(name, TensorProto.INT64, [len(values)], list(values)),
        )

    p = "batch_loop__"
    chain = []
    for node in _shape_chain(parts, {i for n in parts.tail for i in n.input}):
        copy = NodeProto()
        copy.CopyFrom(node)
        copy.name = f"{p}{node.name}"
        chain.append(copy)
    tail = chain + parts.tail
    cuts = sorted({i for node in tail for i in node.input if i in parts.batched})
    body_nodes = [
        const(f"{p}axis0", [0]),
        const(f"{p}one", [1]),
        helper.make_node("Unsqueeze", [f"{p}i", f"{p}axis0"], [f"{p}start"]),
        helper.make_node("Add", [f"{p}start", f"{p}one"], [f"{p}end"]),
        helper.make_node("Identity", [f"{p}cond_in"], [f"{p}cond_out"]),
    ]
    renamed = {}
    for k, cut in enumerate(cuts):
        renamed[cut] = f"{p}slice{k}"
        body_nodes.append(
            helper.make_node("Slice", [cut, f"{p}start", f"{p}end", f"{p}axis0"], [renamed[cut]])
        )
    for node in chain:
        for k, o in enumerate(node.output):
            renamed[o] = node.output[k] = f"{p}{o}"
    for node in tail:
        node.input[:] = [renamed.get(i, i) for i in node.input]
        body_nodes.append(node)
    body_outputs = [helper.make_tensor_value_info(f"{p}cond_out", TensorProto.BOOL, [])]
    body_outputs += [helper.make_tensor_value_info(o, graph.types[o], None) for o in outputs]
    body = helper.make_graph(
        body_nodes,
        "per_image",
        [
            helper.make_tensor_value_info(f"{p}i", TensorProto.INT64, []),
            helper.make_tensor_value_info(f"{p}cond_in", TensorProto.BOOL, []),
        ],
        body_outputs,
    )
    stacked = [f"{p}{o}_stacked" for o in outputs]
    nodes = [
        const(f"{p}axis0_outer", [0]),
        const(f"{p}axis1", [1]),
        helper.make_node("Shape", [image], [f"{p}shape"], end=1),
        helper.make_node("Squeeze", [f"{p}shape", f"{p}axis0_outer"], [f"{p}n"]),
        helper.make_node("Loop", [f"{p}n", ""], stacked, body=body),
    ]
    nodes += [helper.make_node("Squeeze", [s, f"{p}axis1"], [o]) for s, o in zip(stacked, outputs)]
    return nodes


def rewrite(model: Any, enabled: bool) -> Any:
    """:func:`dynamic_batch` of ``model`` when ``enabled``, else ``model`` as it is."""
    return dynamic_batch(model) if enabled else model


def has_loop(path: str | Path) -> bool:
    """Whether the ONNX file at ``path`` runs part of its graph per image in a ``Loop``."""
    onnx = _onnx()
    model = onnx.load(str(path), load_external_data=False)
    return any(node.op_type == "Loop" for node in model.graph.node)


def _stack(feeds: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([f[name] for f in feeds]) for name in feeds[0]}


def check_batch(
    run: Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]],
    feeds: Sequence[Mapping[str, np.ndarray]],
    sizes: Iterable[int] = CHECK_SIZES,
    atol: float = BATCH_ATOL,
) -> float:
    """Check that a batch of N images gives exactly the N batch-1 results, stacked.

    Args:
        run: runs the model on feeds keyed by input name (e.g. a backend's ``run``).
        feeds: batch-1 feeds (``[1, H, W, 3]`` each); consecutive ones of the same shape are
            stacked into batches of each size in ``sizes``.
        sizes: the batch sizes to try.
        atol: the largest difference allowed on any output value.

    Returns:
        The largest difference seen.

    Raises:
        ParityError: an output of a batch differs from its images' batch-1 outputs by more
            than ``atol``, or has the wrong shape; or no batch could be made from ``feeds``.
    """
    single = [dict(run(f)) for f in feeds]
    worst = 0.0
    tried = 0
    for n in sizes:
        for start in range(0, len(feeds) - n + 1, n):
            group = list(feeds[start : start + n])
            shapes = {tuple(v.shape) for f in group for v in f.values()}
            if len({tuple(f[k].shape for k in sorted(f)) for f in group}) != 1:
                continue
            got = run(_stack(group))
            tried += 1
            for name, value in got.items():
                want = np.concatenate([s[name] for s in single[start : start + n]])
                if value.shape != want.shape:
                    raise ParityError(
                        f"at batch {n}, output {name!r} has shape {list(value.shape)}, "
                        f"expected {list(want.shape)} (inputs {sorted(shapes)})"
                    )
                diff = float(np.abs(value.astype(np.float64) - want).max(initial=0.0))
                if diff > atol:
                    raise ParityError(
                        f"at batch {n}, output {name!r} differs from the batch-1 outputs by "
                        f"{diff:.2e} (allowed {atol:.0e})"
                    )
                worst = max(worst, diff)
            break  # one batch of each size
    if tried == 0:
        raise ParityError(f"no batch of sizes {list(sizes)} could be made from {len(feeds)} feeds")
    return worst


def checked(
    measure: Callable[[Path], Any],
    feeds: Sequence[Mapping[str, np.ndarray]],
    backend: str = "onnxruntime",
) -> Callable[[Path], Any]:
    """``measure`` preceded by :func:`check_batch` of the file on ``feeds`` (stable names)."""
    from xpose.backends import open_backend

    def run_checks(path: Path) -> Any:
        with open_backend(backend, path) as be:
            worst = check_batch(be.run, feeds)
        log.info("%s: batch N within %.1e of batch 1", Path(path).name, worst)
        return measure(path)

    return run_checks
