"""Shared pytest fixtures. Each area keeps its fixtures under its own section.

Helpers that are not fixtures (skips, fake backends, photo paths) are in ``tests/helpers.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import CONVERT_FIRST, EstimatorCache
from xpose import store as xstore

# ---------------------------------------------------------------------------------------------
# the model store
# ---------------------------------------------------------------------------------------------


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``convert`` skip at once when there is no model store at all."""
    if item.get_closest_marker("convert") is None:
        return
    try:
        root = xstore.resolve_store(None)
    except (OSError, ValueError) as err:
        pytest.skip(f"{CONVERT_FIRST}: {err}")
    if not (root / xstore.MANIFEST).is_file():
        pytest.skip(f"{CONVERT_FIRST}: no model store at {root}")


@pytest.fixture(scope="module")
def estimators() -> Iterator[EstimatorCache]:
    """``estimators(model, backend="onnxruntime", precision="fp32", **options)``: estimators
    from the default store, each loaded once per test module (skipped when not converted)."""
    cache = EstimatorCache()
    yield cache
    cache.close()


# ---------------------------------------------------------------------------------------------
# backends
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TinyTFModels:
    """Tiny models computing ``keypoints = 2 * input + 1`` on float32 ``[1, H, W, 3]``.

    ``saved_model``: SavedModel dir, signature ``serving_default`` (``input`` -> ``keypoints``),
    H and W free. ``tflite``: its TFLite conversion (same signature, H and W free).
    ``tflite_fixed``: the same pinned to ``[1, 4, 4, 3]``. ``tflite_unsigned``: ``tflite`` with
    its signatures stripped, so tensors go by their own names.
    """

    saved_model: Path
    tflite: Path
    tflite_fixed: Path
    tflite_unsigned: Path


@pytest.fixture(scope="session")
def onnx_mul2_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ONNX model: ``x`` float32 ``[1, h, w, 3]`` (h, w free) -> ``y = 2 * x``."""
    onnx = pytest.importorskip("onnx", reason="building the test ONNX model needs onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "h", "w", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "h", "w", 3])
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["y"])], "mul2", [x], [y], [two]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp_path_factory.mktemp("onnx") / "mul2.onnx"
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def tiny_tf_models(tmp_path_factory: pytest.TempPathFactory) -> TinyTFModels:
    """Build the models of :class:`TinyTFModels` (skips when tensorflow is not installed)."""
    tf = pytest.importorskip("tensorflow", reason="building TF/TFLite test models needs tensorflow")
    from tensorflow.lite.tools import flatbuffer_utils

    root = tmp_path_factory.mktemp("tf")

    def build(shape: list[int | None], name: str) -> tuple[Path, Path]:
        class Tiny(tf.Module):
            @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name="input")])
            def serve(self, image):
                return {"keypoints": image * 2.0 + 1.0}

        module = Tiny()
        saved = root / f"{name}_saved_model"
        tf.saved_model.save(module, str(saved), signatures={"serving_default": module.serve})
        tflite = root / f"{name}.tflite"
        tflite.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert())
        return saved, tflite

    saved, tflite = build([1, None, None, 3], "dynamic")
    _, tflite_fixed = build([1, 4, 4, 3], "fixed")
    model = flatbuffer_utils.read_model(str(tflite))
    model.signatureDefs = []
    tflite_unsigned = root / "unsigned.tflite"
    flatbuffer_utils.write_model(model, str(tflite_unsigned))
    return TinyTFModels(saved, tflite, tflite_fixed, tflite_unsigned)
