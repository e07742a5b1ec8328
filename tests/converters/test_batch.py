"""Dynamic batch: the graph rewrite on hand-made graphs, its check, and the store's files."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the graph rewrite needs the 'convert' extra")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper

from converters.batch import BATCH_DIM, check_batch, dynamic_batch
from converters.errors import ConversionError, ParityError
from xpose.compat import BATCH_LOOP, UnsupportedModelError
from xpose.models import get_spec, list_models
from xpose.store import PRECISIONS, Manifest, default_store, locate


def _init(name: str, values: list | np.ndarray, dtype=np.int64):
    return numpy_helper.from_array(np.asarray(values, dtype), name)


def _model(nodes, inits, output_shape):
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 4, 4, 3])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, output_shape)
    graph = helper.make_graph(nodes, "g", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def _argmax_model():
    """MoveNet's pattern in small: a per-image convolution, a reshape to a hard [1, -1], then
    decoding that assumes one image (a GatherND at batch index 0, a reshape to [-1])."""
    w = np.random.default_rng(0).normal(size=(2, 3, 1, 1)).astype(np.float32)
    nodes = [
        helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "w"], ["conv"]),  # [1, 2, 4, 4]
        helper.make_node("Reshape", ["conv", "flat_shape"], ["flat"]),  # [1, 32]
        helper.make_node("ArgMax", ["flat"], ["best"], axis=1, keepdims=1),  # [1, 1]
        helper.make_node("Reshape", ["best", "minus_one"], ["best1"]),  # [1]
        helper.make_node("Unsqueeze", ["best1", "axes1"], ["best2"]),  # [1, 1]
        helper.make_node("Concat", ["batch0", "best2"], ["index"], axis=1),  # [[0, k]]
        helper.make_node("GatherND", ["flat", "index"], ["value"]),  # [1]
        helper.make_node("Cast", ["best1"], ["bestf"], to=TensorProto.FLOAT),
        helper.make_node("Concat", ["value", "bestf"], ["pair"], axis=0),  # [2]
        helper.make_node("Reshape", ["pair", "out_shape"], ["out"]),  # [1, 2]
    ]
    inits = [
        numpy_helper.from_array(w, "w"),
        _init("flat_shape", [1, -1]),
        _init("minus_one", [-1]),
        _init("axes1", [1]),
        _init("batch0", [[0]]),
        _init("out_shape", [1, 2]),
    ]
    return _model(nodes, inits, [1, 2])


def _session(model):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options)


def _images(n: int) -> np.ndarray:
    return np.random.default_rng(n).normal(size=(n, 4, 4, 3)).astype(np.float32)


def test_the_batch_1_graph_refuses_a_batch():
    with pytest.raises(Exception, match="(?i)reshape|shape|dimension"):
        _session(_argmax_model()).run(None, {"image": _images(3)})


def test_rewrite_gives_each_image_its_batch_1_result():
    original = _argmax_model()
    before = _session(original)
    after = _session(dynamic_batch(original))
    images = _images(3)
    got = after.run(None, {"image": images})[0]
    want = np.concatenate([before.run(None, {"image": images[i : i + 1]})[0] for i in range(3)])
    assert got.shape == (3, 2)
    np.testing.assert_array_equal(got, want)


def test_rewrite_runs_the_tail_once_per_image_and_frees_the_batch():
    rewritten = dynamic_batch(_argmax_model())
    ops = [n.op_type for n in rewritten.graph.node]
    # the convolution and the arg-max run on the batch; the batch index 0 needs one image
    assert {"Conv", "ArgMax"} <= set(ops) and ops.count("Loop") == 1
    loop = next(n for n in rewritten.graph.node if n.op_type == "Loop")
    body_ops = {n.op_type for n in loop.attribute[0].g.node}
    assert {"Concat", "GatherND"} <= body_ops and not {"Conv", "ArgMax"} & body_ops
    for vi in (rewritten.graph.input[0], rewritten.graph.output[0]):
        assert vi.type.tensor_type.shape.dim[0].dim_param == BATCH_DIM
    onnx.checker.check_model(rewritten, full_check=True)


def test_a_file_with_a_loop_says_so_in_its_metadata():
    rewritten = dynamic_batch(_argmax_model())
    loop = next(n for n in rewritten.graph.node if n.op_type == "Loop")
    props = {p.key: p.value for p in rewritten.metadata_props}
    # the loop body holds the tail and its bookkeeping (constants, slices of its inputs)
    assert 0 < int(props[BATCH_LOOP]) < len(loop.attribute[0].g.node)


@pytest.mark.parametrize("marked", [True, False])
def test_opencv_refuses_a_loop_file_naming_the_cause_and_the_way_out(tmp_path, marked):
    """With the marker the backend refuses before OpenCV reads the file; without it (a file
    from elsewhere), OpenCV's parse error is recognised."""
    from xpose.backends.opencv import OpenCVBackend

    rewritten = dynamic_batch(_argmax_model())
    if not marked:
        del rewritten.metadata_props[:]
    path = tmp_path / "batched.onnx"
    onnx.save(rewritten, str(path))
    with pytest.raises(UnsupportedModelError, match=r"ONNX Loop.*'onnxruntime' or 'openvino'"):
        OpenCVBackend(path)


def test_a_graph_that_keeps_the_batch_needs_no_loop():
    nodes = [
        helper.make_node("Reshape", ["image", "shape"], ["flat"]),  # [1, 48]
        helper.make_node("Mul", ["flat", "two"], ["out"]),
    ]
    inits = [_init("shape", [1, 48]), _init("two", [2.0], np.float32)]
    rewritten = dynamic_batch(_model(nodes, inits, [1, 48]))
    assert "Loop" not in [n.op_type for n in rewritten.graph.node]
    assert BATCH_LOOP not in {p.key for p in rewritten.metadata_props}
    images = _images(4)
    got = _session(rewritten).run(None, {"image": images})[0]
    np.testing.assert_array_equal(got, images.reshape(4, 48) * 2)


def test_rewrite_refuses_a_model_with_two_inputs():
    model = _argmax_model()
    model.graph.input.append(helper.make_tensor_value_info("other", TensorProto.FLOAT, [1]))
    with pytest.raises(ConversionError, match="one image input"):
        dynamic_batch(model)


def test_check_batch_accepts_a_model_that_keeps_images_apart():
    session = _session(dynamic_batch(_argmax_model()))
    feeds = [{"image": _images(5)[i : i + 1]} for i in range(5)]
    assert check_batch(lambda f: {"out": session.run(None, dict(f))[0]}, feeds) == 0.0


def test_check_batch_catches_images_mixed_up():
    def reversed_batch(feeds):
        x = feeds["image"]
        return {"out": x[::-1].reshape(len(x), -1)}

    feeds = [{"image": _images(5)[i : i + 1]} for i in range(5)]
    with pytest.raises(ParityError, match=r"at batch 2, output 'out' differs"):
        check_batch(reversed_batch, feeds)


def test_check_batch_needs_feeds_to_batch():
    with pytest.raises(ParityError, match="no batch"):
        check_batch(lambda f: f, [{"image": _images(1)}])


# --- the converted store ----------------------------------------------------------------------


@pytest.mark.convert
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("model", list_models())
def test_store_onnx_takes_a_batch(model, precision):
    """Every ONNX file of a store built with the rewrite: batch 3 = three batch-1 runs."""
    from xpose.backends import open_backend

    rel = f"{model}/{model}-{precision}.onnx"
    entry = Manifest.load(default_store()).files.get(rel)
    if entry is None or "batch" not in entry:
        pytest.skip(
            f"{rel} is not in the store, or was converted without `xpose convert --dynamic-batch`"
        )
    spec = get_spec(model)
    h, w = spec.input_size
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (3, h, w, 3)).astype(np.float32)
    if spec.family == "posenet":
        images = images / 127.5 - 1
    with open_backend("onnxruntime", locate(model, precision, "onnx")) as be:
        assert be.inputs[0].shape[0] is None
        images = images.astype(be.inputs[0].dtype)
        feeds = [{be.inputs[0].name: images[i : i + 1]} for i in range(3)]
        assert check_batch(be.run, feeds, sizes=(3,)) <= 1e-5


@pytest.mark.convert
def test_build_with_dynamic_batch_records_and_checks_it(tmp_path):
    """``build_store(dynamic_batch=True)``: PoseNet fp32 (the quickest model) takes a batch."""
    pytest.importorskip("tensorflow", reason="the converters need the 'convert' extra")
    from converters.build import build_store
    from xpose.backends import open_backend

    sources = default_store() / "sources"
    if not (sources / "posenet.json").is_file():
        pytest.skip("model sources not fetched yet: run `xpose convert` first")
    build_store(["posenet"], ["fp32"], store=tmp_path, source=sources, dynamic_batch=True)
    entry = Manifest.load(tmp_path).files["posenet/posenet-fp32.onnx"]
    assert entry["batch"] and entry["inputs"][0]["shape"][0] is None
    with open_backend("onnxruntime", tmp_path / "posenet" / "posenet-fp32.onnx") as be:
        out = be.run({"image": np.zeros((3, 385, 385, 3), np.float32)})
    assert out["heatmaps"].shape == (3, 25, 25, 17)
