"""The onnxruntime-native int8 ONNX: the graph fuses into integer kernels, decoding stays float."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="quantization needs the 'convert' extra")
pytest.importorskip("onnxruntime.quantization", reason="quantization needs onnxruntime")

from onnx import TensorProto, helper, numpy_helper

from converters import quantize as Q
from converters.errors import ConversionError
from xpose.models import list_models
from xpose.store import Manifest, default_store, locate, relpath

#: The issue's bound on QuantizeLinear + DequantizeLinear left after fusion.
MAX_QDQ = 16


def _tiny(path):
    """x float [1, 3, 16, 16] -> Conv+Relu -> Conv -> Add(skip) -> Conv -> ArgMax (decoding)."""
    rng = np.random.default_rng(0)

    def weight(name, shape):
        return numpy_helper.from_array(rng.normal(0, 0.3, shape).astype(np.float32), name)

    inits = [
        weight("w0", (4, 3, 3, 3)),
        weight("w1", (4, 4, 1, 1)),
        weight("w2", (2, 4, 1, 1)),
        numpy_helper.from_array(np.zeros(4, np.float32), "b0"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], name="conv0", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c0"], ["r0"], name="relu0"),
        helper.make_node("Conv", ["r0", "w1"], ["c1"], name="conv1"),
        helper.make_node("Add", ["c1", "r0"], ["a1"], name="add1"),
        helper.make_node("Conv", ["a1", "w2"], ["c2"], name="conv2"),
        helper.make_node("Sigmoid", ["c2"], ["s2"], name="decode_sigmoid"),
        helper.make_node("ArgMax", ["s2"], ["y"], name="decode_argmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.INT64, [1, 1, 16, 16])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _feeds(n=8):
    rng = np.random.default_rng(1)
    return [{"x": rng.uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32)} for _ in range(n)]


def test_decoding_nodes_are_those_feeding_no_conv(tmp_path):
    model = onnx.load(str(_tiny(tmp_path / "tiny.onnx")))
    assert Q.decoding_nodes(model) == ["decode_sigmoid", "decode_argmax"]
    assert Q.conv_nodes(model) == ["conv0", "conv1", "conv2"]


def test_tiny_model_fuses_into_integer_convolutions(tmp_path):
    src = _tiny(tmp_path / "tiny.onnx")
    info = Q.quantize(src, tmp_path / "tiny-int8.onnx", _feeds(), Q.Scheme(views=8))
    mix = Q.op_mix(tmp_path / "tiny-int8.onnx")
    assert mix["QLinearConv"] == 3 and mix["Conv"] == 0
    assert mix["ArgMax"] == 1 and mix["Sigmoid"] == 1  # the decoding stays float
    assert info["float_decoding_nodes"] == 2 and info["views_used"] == 8


def test_scheme_keeps_chosen_convolutions_float(tmp_path):
    src = _tiny(tmp_path / "tiny.onnx")
    info = Q.quantize(src, tmp_path / "q.onnx", _feeds(), Q.Scheme(views=4, float_convs=(-1,)))
    mix = Q.op_mix(tmp_path / "q.onnx")
    assert info["float_conv_names"] == ["conv2"]
    assert mix["QLinearConv"] == 2 and mix["Conv"] + mix["FusedConv"] == 1


def test_float_layers_by_name_fragment(tmp_path):
    model = onnx.load(str(_tiny(tmp_path / "tiny.onnx")))
    assert Q.resolve_float_convs(model, [0], ["conv2"]) == ["conv0", "conv2"]
    with pytest.raises(ConversionError, match="'head/'"):
        Q.resolve_float_convs(model, [], ["head/"])


def test_float_conv_out_of_range_is_an_error(tmp_path):
    src = _tiny(tmp_path / "tiny.onnx")
    with pytest.raises(ConversionError, match="has 3 convolutions"):
        Q.quantize(src, tmp_path / "q.onnx", _feeds(), Q.Scheme(float_convs=(5,)))


def test_no_calibration_is_an_error(tmp_path):
    with pytest.raises(ConversionError, match="calibration images"):
        Q.quantize(_tiny(tmp_path / "tiny.onnx"), tmp_path / "q.onnx", [], Q.Scheme())


def test_bad_scheme_names_the_valid_methods():
    with pytest.raises(ValueError, match="MinMax"):
        Q.Scheme(method="Histogram")


def test_inner_transpose_is_found(tmp_path):
    """A Transpose between two integer convolutions is reported; one after the last is not."""
    qlinear = [
        helper.make_node("QLinearConv", ["a", "s", "z", "w", "s", "z", "s", "z"], ["b"], name="q1"),
        helper.make_node("Transpose", ["b"], ["c"], name="inside", perm=[0, 1, 3, 2]),
        helper.make_node("QLinearConv", ["c", "s", "z", "w", "s", "z", "s", "z"], ["d"], name="q2"),
        helper.make_node("Transpose", ["d"], ["e"], name="after", perm=[0, 2, 3, 1]),
    ]
    graph = helper.make_graph(qlinear, "g", [], [])
    assert Q.inner_nodes(helper.make_model(graph), "Transpose") == ["inside"]


# --- the store's int8 ONNX files ----------------------------------------------------------------


def _store_int8(model):
    if Q.scheme_for(model) is None:
        pytest.skip(f"{model}'s int8 ONNX is tf2onnx's form of its TFLite file (SCHEMES: None)")
    store = default_store()
    entry = Manifest.load(store).files.get(relpath(model, "int8", "onnx"))
    if entry is None or "quantization" not in entry:
        pytest.skip(f"no onnxruntime-quantized {model} int8 ONNX in {store}: run `xpose convert`")
    return locate(model, "int8", "onnx", store=store), entry


@pytest.mark.parametrize("model", list_models())
def test_store_int8_onnx_fuses(model):
    """Every backbone convolution is an integer kernel, no Transpose inside the network, and
    at most 16 QuantizeLinear + DequantizeLinear nodes in onnxruntime's optimized graph."""
    path, entry = _store_int8(model)
    fp32 = onnx.load(str(locate(model, "fp32", "onnx")))
    floats = entry["quantization"]["float_conv_names"]
    graph = Q.optimized_graph(path)
    mix = Q.op_mix(path)
    assert mix["QLinearConv"] == len(Q.conv_nodes(fp32)) - len(floats), mix
    assert mix["Conv"] + mix["FusedConv"] == len(floats), mix
    assert mix["QuantizeLinear"] + mix["DequantizeLinear"] <= MAX_QDQ, mix
    assert Q.inner_nodes(graph, "Transpose") == []


@pytest.mark.parametrize("model", list_models())
def test_store_records_the_scheme(model):
    _, entry = _store_int8(model)
    scheme = Q.scheme_for(model)
    assert entry["int8_scheme"] == scheme.to_dict()
    assert entry["quantization"]["method"] == scheme.method
    assert len(entry["quantization"]["float_conv_names"]) >= len(scheme.float_convs)
    assert bool(entry["quantization"]["float_conv_names"]) == bool(
        scheme.float_convs or scheme.float_layers
    )
    assert entry["made_from"] == relpath(model, "fp32", "onnx")
