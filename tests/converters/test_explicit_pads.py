"""converters.explicit_pads: SAME_UPPER written out as pads that every ONNX runtime reads alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from converters.explicit_pads import explicit_pads, make_pads_explicit
from xpose.backends import backend_status, open_backend
from xpose.compat import EXPLICIT_PADS

onnx = pytest.importorskip("onnx", reason="the rewrite works on onnx models")


@pytest.mark.parametrize(
    ("kernel", "strides", "dilations", "upper", "pads"),
    [
        ([3, 3], [2, 2], [1, 1], True, [0, 0, 1, 1]),
        ([3, 3], [2, 2], [1, 1], False, [1, 1, 0, 0]),
        ([3, 3], [1, 1], [1, 1], True, [1, 1, 1, 1]),
        ([1, 1], [2, 2], [1, 1], True, [0, 0, 0, 0]),
        ([5, 3], [2, 1], [1, 2], True, [1, 2, 2, 2]),
    ],
)
def test_explicit_pads(kernel, strides, dilations, upper, pads) -> None:
    assert explicit_pads(kernel, strides, dilations, upper) == pads


def _conv_model(path: Path) -> Path:
    """x [1, 3, h, w] -> 3x3 conv, stride 2, auto_pad SAME_UPPER -> relu -> 3x3 conv, stride 1."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    w1 = numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.normal(size=(2, 4, 3, 3)).astype(np.float32), "w2")
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], strides=[2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Conv", ["b", "w2"], ["y"], kernel_shape=[3, 3], auto_pad="SAME_UPPER"),
    ]
    graph = helper.make_graph(
        nodes,
        "same_upper",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, None, None])],
        [w1, w2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_rewrite_keeps_onnxruntime_and_fixes_opencv(tmp_path: Path) -> None:
    source = _conv_model(tmp_path / "same.onnx")
    model = onnx.load(str(source))
    assert make_pads_explicit(model) == 2
    attrs = [
        {a.name for a in node.attribute} for node in model.graph.node if node.op_type == "Conv"
    ]
    assert all("auto_pad" not in a and "pads" in a for a in attrs)
    assert {p.key: p.value for p in model.metadata_props} == {EXPLICIT_PADS: "2"}
    onnx.checker.check_model(model)
    rewritten = tmp_path / "explicit.onnx"
    onnx.save(model, str(rewritten))
    runtimes = [b for b in ("openvino", "opencv") if backend_status()[b] is None]
    with open_backend("onnxruntime", source) as reference:
        for h, w in [(8, 8), (16, 8), (8, 24)]:
            x = np.random.default_rng(h * w).normal(size=(1, 3, h, w)).astype(np.float32)
            want = reference.run({"x": x})["y"]
            assert want.shape == (1, 2, h // 2, w // 2)
            for name in ["onnxruntime", *runtimes]:
                with open_backend(name, rewritten) as backend:
                    np.testing.assert_allclose(backend.run({"x": x})["y"], want, atol=1e-5)
