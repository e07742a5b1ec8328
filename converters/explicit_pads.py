"""Rewrite ``auto_pad="SAME_UPPER"`` into explicit ``pads``, so every ONNX runtime pads alike.

tf2onnx keeps ``auto_pad="SAME_UPPER"`` on convolutions and pools when the input size is free
(MoveNet MultiPose's ONNX file). onnxruntime and OpenVINO pad such a stride-2 convolution at the
end (right and bottom) as ONNX says; OpenCV 5.0's DNN module pads it at the start, so its
MultiPose output is off by up to 0.92 (docs/parity.md). With the padding written out
explicitly, every runtime computes the same thing.

The explicit pads equal ``SAME_UPPER`` whenever each padded axis's size is a multiple of the
stride, which holds throughout MultiPose for input sizes that are multiples of 32 (the only
sizes it takes; the converter checks the rewritten file against its source at such sizes). The
rewritten file carries the metadata key :data:`xpose.compat.EXPLICIT_PADS`, which tells
:mod:`xpose.compat` that OpenCV may run it.
"""

from __future__ import annotations

import logging
from typing import Any

from xpose.compat import EXPLICIT_PADS

__all__ = ["EXPLICIT_PADS", "explicit_pads", "make_pads_explicit"]

logger = logging.getLogger(__name__)

#: Node types whose ``auto_pad`` is rewritten.
_PADDED_OPS = frozenset({"Conv", "ConvInteger", "QLinearConv", "MaxPool", "AveragePool"})


def explicit_pads(
    kernel: list[int], strides: list[int], dilations: list[int], upper: bool = True
) -> list[int]:
    """ONNX ``pads`` (all begins, then all ends) equal to ``SAME_UPPER`` (or ``SAME_LOWER``)
    for axes whose size is a multiple of the stride.

    For such an axis the output size is ``n / s`` and the total padding
    ``max((k - 1) * d + 1 - s, 0)``; ``SAME_UPPER`` puts the odd pixel at the end.

    >>> explicit_pads([3, 3], [2, 2], [1, 1])
    [0, 0, 1, 1]
    >>> explicit_pads([3, 3], [1, 1], [1, 1])
    [1, 1, 1, 1]
    """
    totals = [max((k - 1) * d + 1 - s, 0) for k, s, d in zip(kernel, strides, dilations)]
    small = [t // 2 for t in totals]
    begins = small if upper else [t - b for t, b in zip(totals, small)]
    ends = [t - b for t, b in zip(totals, begins)]
    return begins + ends


def _kernel_shape(node: Any, attrs: dict[str, Any], initializers: dict[str, Any]) -> list[int]:
    if "kernel_shape" in attrs:
        return list(attrs["kernel_shape"])
    weights = initializers.get(node.input[1] if node.op_type != "QLinearConv" else node.input[3])
    if weights is None:
        raise ValueError(
            f"{node.op_type} {node.name!r} has auto_pad but neither kernel_shape nor constant "
            "weights: its padding cannot be written out"
        )
    return list(weights.dims[2:])


def make_pads_explicit(model: Any) -> int:
    """Replace ``auto_pad="SAME_UPPER"``/``"SAME_LOWER"`` by explicit ``pads``, in place.

    Args:
        model: an ``onnx.ModelProto``.

    Returns:
        How many nodes were rewritten. The model's metadata gets ``EXPLICIT_PADS`` = that
        count, also when it is 0 (nothing left for a runtime to pad its own way).
    """
    from onnx import helper

    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    changed = 0
    for node in graph.node:
        if node.op_type not in _PADDED_OPS:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        mode = attrs.get("auto_pad", b"NOTSET")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        if mode not in ("SAME_UPPER", "SAME_LOWER"):
            continue
        kernel = _kernel_shape(node, attrs, initializers)
        strides = list(attrs.get("strides", [1] * len(kernel)))
        dilations = list(attrs.get("dilations", [1] * len(kernel)))
        pads = explicit_pads(kernel, strides, dilations, upper=mode == "SAME_UPPER")
        kept = [a for a in node.attribute if a.name not in ("auto_pad", "pads")]
        del node.attribute[:]
        node.attribute.extend([*kept, helper.make_attribute("pads", pads)])
        changed += 1
    props = {p.key: p.value for p in model.metadata_props}
    helper.set_model_props(model, {**props, EXPLICIT_PADS: str(changed)})
    logger.info("wrote out the padding of %d auto_pad node(s)", changed)
    return changed


def require_same_on_opencv(spec: Any, path: Any, feeds: Any) -> None:
    """Check that OpenCV's DNN module computes the ONNX file at ``path`` as onnxruntime does.

    Args:
        spec: the file's :class:`~xpose.models.ModelSpec`.
        path: the ``.onnx`` file (after :func:`make_pads_explicit`).
        feeds: the check feeds (for MultiPose, several sizes that are multiples of 32).

    Raises:
        converters.errors.ParityError: the decoded keypoints differ by more than
            ``converters.check.EXACT``.
    """
    from converters import check
    from xpose.backends import open_backend

    with open_backend("onnxruntime", path) as ort_run, open_backend("opencv", path) as cv_run:
        parity = check.compare(spec, ort_run.run, cv_run.run, feeds, check.EXACT)
    check.require(parity, f"{path} on OpenCV")
