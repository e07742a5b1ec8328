"""The TF.js graph-model loader against TensorFlow's own execution of the same layers."""

from __future__ import annotations

import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow", reason="the converters need the 'convert' extra")

from converters.errors import ConversionError
from converters.tfjs import build_module, load_graph_def, read_weights, tfjs_to_saved_model


def _attr_list(*ops: str) -> dict:
    import base64

    return {"list": {"s": [base64.b64encode(o.encode()).decode() for o in ops]}}


def _toy_model(tmp_path, *, conv_act: str = "Relu6", dw_act: str | None = None):
    """A TF.js graph model: fused conv (+bias, act) -> fused depthwise conv (+bias[, act]).

    Weights are float16 in the shard, as in the MoveNet files. Returns the model.json path and
    the float32 weights as TF.js stores them (float16-rounded).
    """
    rng = np.random.default_rng(0)
    w1 = rng.normal(0, 0.3, (3, 3, 3, 4)).astype(np.float16)
    b1 = rng.normal(0, 0.1, (4,)).astype(np.float16)
    w2 = rng.normal(0, 0.3, (3, 3, 4, 1)).astype(np.float16)
    b2 = rng.normal(0, 0.1, (4,)).astype(np.float16)
    f16 = {"dtype": "float16", "original_dtype": "float32"}
    manifest = [
        {
            "paths": ["toy.bin"],
            "weights": [
                {"name": n, "shape": list(a.shape), "dtype": "float32", "quantization": f16}
                for n, a in (("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2))
            ],
        }
    ]
    (tmp_path / "toy.bin").write_bytes(
        b"".join(a.astype("<f2").tobytes() for a in (w1, b1, w2, b2))
    )
    dt_float = {"type": "DT_FLOAT"}
    const = [
        {"name": n, "op": "Const", "attr": {"dtype": dt_float}} for n in ("w1", "b1", "w2", "b2")
    ]
    ints = lambda *v: {"list": {"i": [str(x) for x in v]}}  # noqa: E731
    conv_ops = ["BiasAdd"] + ([conv_act] if conv_act else [])
    dw_ops = ["BiasAdd"] + ([dw_act] if dw_act else [])
    nodes = [
        {
            "name": "input",
            "op": "Placeholder",
            "attr": {
                "dtype": dt_float,
                "shape": {
                    "shape": {"dim": [{"size": "1"}, {"size": "8"}, {"size": "8"}, {"size": "3"}]}
                },
            },
        },
        *const,
        {
            "name": "conv",
            "op": "_FusedConv2D",
            "input": ["input", "w1", "b1"],
            "attr": {
                "T": dt_float,
                "strides": ints(1, 1, 1, 1),
                "padding": {"s": "U0FNRQ=="},  # SAME
                "data_format": {"s": "TkhXQw=="},  # NHWC
                "dilations": ints(1, 1, 1, 1),
                "fused_ops": _attr_list(*conv_ops),
                "num_args": {"i": "1"},
                "epsilon": {"f": 0},
            },
        },
        {
            "name": "dw",
            "op": "FusedDepthwiseConv2dNative",
            "input": ["conv", "w2", "b2"],
            "attr": {
                "T": dt_float,
                "strides": ints(1, 2, 2, 1),
                "padding": {"s": "VkFMSUQ="},  # VALID
                "data_format": {"s": "TkhXQw=="},
                "dilations": ints(1, 1, 1, 1),
                "fused_ops": _attr_list(*dw_ops),
                "num_args": {"i": "1"},
            },
        },
        {"name": "Identity", "op": "Identity", "input": ["dw"], "attr": {"T": dt_float}},
    ]
    model = {
        "format": "graph-model",
        "modelTopology": {"node": nodes, "versions": {"producer": 1}},
        "weightsManifest": manifest,
    }
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(model))
    weights = {n: a.astype(np.float32) for n, a in (("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2))}
    return path, weights


def _tf_reference(x, w, conv_act, dw_act):
    y = tf.nn.conv2d(x, w["w1"], strides=1, padding="SAME") + w["b1"]
    y = {"Relu6": tf.nn.relu6, "Relu": tf.nn.relu, None: tf.identity}[conv_act](y)
    y = tf.nn.depthwise_conv2d(y, w["w2"], strides=[1, 2, 2, 1], padding="VALID") + w["b2"]
    return {"Relu6": tf.nn.relu6, "Relu": tf.nn.relu, None: tf.identity}[dw_act](y).numpy()


@pytest.mark.parametrize(
    ("conv_act", "dw_act"), [("Relu6", None), ("Relu", "Relu6"), (None, "Relu")]
)
def test_loader_matches_tensorflow(tmp_path, conv_act, dw_act):
    path, weights = _toy_model(tmp_path, conv_act=conv_act, dw_act=dw_act)
    graph_def = load_graph_def(path)
    assert not any(n.op in ("_FusedConv2D", "FusedDepthwiseConv2dNative") for n in graph_def.node)
    module = build_module(graph_def, {"input": "input:0"}, {"out": "Identity:0"})
    x = np.random.default_rng(1).normal(size=(1, 8, 8, 3)).astype(np.float32)
    got = module.serve(tf.constant(x))["out"].numpy()
    want = _tf_reference(x, weights, conv_act, dw_act)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_saved_model_has_stable_names(tmp_path):
    path, weights = _toy_model(tmp_path)
    dst = tfjs_to_saved_model(
        path, tmp_path / "sm", {"input": "input:0"}, {"keypoints": "Identity:0"}
    )
    fn = tf.saved_model.load(str(dst)).signatures["serving_default"]
    assert list(fn.structured_input_signature[1]) == ["input"]
    assert list(fn.structured_outputs) == ["keypoints"]
    x = np.ones((1, 8, 8, 3), np.float32)
    np.testing.assert_allclose(
        fn(input=tf.constant(x))["keypoints"].numpy(),
        _tf_reference(x, weights, "Relu6", None),
        atol=1e-5,
    )
    assert not list(tmp_path.glob(".sm.*"))  # no temporary folder left behind


def test_truncated_shard_is_an_error(tmp_path):
    path, _ = _toy_model(tmp_path)
    shard = tmp_path / "toy.bin"
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises((ConversionError, ValueError)):
        read_weights(json.loads(path.read_text()), tmp_path)


def test_unsupported_fused_op_is_an_error(tmp_path):
    path, _ = _toy_model(tmp_path, conv_act="Prelu")
    with pytest.raises(ConversionError, match="unsupported fused_ops"):
        load_graph_def(path)


def test_not_a_graph_model(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text('{"format": "layers-model"}')
    with pytest.raises(ConversionError, match="not a TF.js graph model"):
        load_graph_def(bad)
