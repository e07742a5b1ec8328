"""Building the store: checked files, the manifest, idempotence, atomicity, user files."""

from __future__ import annotations

import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow", reason="the converters need the 'convert' extra")

import xpose
from converters import build, check
from converters.samples import check_feeds
from converters.user import convert_to_onnx
from xpose.backends import open_backend
from xpose.models import get_spec, list_models
from xpose.store import PRECISIONS, Manifest, ModelFileError, default_store, locate, savedmodel_dir

MAIN = default_store()


def _sources():
    src = MAIN / "sources"
    if not (src / "posenet.json").is_file():
        pytest.skip("model sources not fetched yet: run `xpose convert` first")
    return src


def _main_store():
    manifest = Manifest.load(MAIN)
    if len(manifest.files) < 24:
        pytest.skip("the model store is not complete: run `xpose convert` first")
    return manifest


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    """PoseNet fp32 (the quickest model) built into a fresh store."""
    store = tmp_path_factory.mktemp("store")
    steps = []
    report = build.build_store(
        ["posenet"], ["fp32"], store=store, source=_sources(), progress=steps.append
    )
    return store, report, steps


@pytest.mark.convert
def test_build_writes_checked_files_and_manifest(small_store):
    store, report, steps = small_store
    assert sorted(report.built) == ["posenet/posenet-fp32.onnx", "posenet/posenet-fp32.tflite"]
    assert steps  # progress was reported
    manifest = json.loads((store / "manifest.json").read_text())
    for rel in report.built:
        entry = manifest["files"][rel]
        assert (store / rel).stat().st_size == entry["size"]
        for key in (
            "model",
            "precision",
            "format",
            "sha256",
            "inputs",
            "outputs",
            "source",
            "tools",
            "parity",
        ):
            assert key in entry, key
        assert entry["inputs"][0]["name"] == "image"
        assert sorted(o["name"] for o in entry["outputs"]) == [
            "displacement_bwd",
            "displacement_fwd",
            "heatmaps",
            "offsets",
        ]
        assert entry["parity"]["max_coord"] <= check.EXACT.coord
        assert entry["parity"]["images"] >= 2
        assert entry["tools"]["tf2onnx"] != "absent"


@pytest.mark.convert
def test_second_build_does_nothing(small_store):
    store, _, _ = small_store
    steps = []
    report = build.build_store(
        ["posenet"], ["fp32"], store=store, source=_sources(), progress=steps.append
    )
    assert report.up_to_date and not report.built and not steps
    assert len(report.skipped) == 2


@pytest.mark.convert
def test_tampered_file_is_refused_then_rebuilt(small_store):
    store, _, _ = small_store
    path = locate("posenet", "fp32", "onnx", store=store)
    original = path.read_bytes()
    path.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))
    with pytest.raises(ModelFileError, match="does not match the manifest"):
        xpose.load("posenet", store=store)
    report = build.build_store(["posenet"], ["fp32"], store=store, source=_sources())
    assert report.built == ["posenet/posenet-fp32.onnx"]
    locate("posenet", "fp32", "onnx", store=store)  # verifies the new sha256
    assert len(xpose.load("posenet", store=store).predict(np.zeros((64, 64, 3), np.uint8))) == 1


@pytest.mark.convert
def test_interrupted_conversion_leaves_no_partial_file(tmp_path, monkeypatch):
    store = tmp_path / "store"

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(check, "compare", interrupt)
    with pytest.raises(KeyboardInterrupt):
        build.build_store(["posenet"], ["fp32"], store=store, source=_sources())
    leftovers = [
        p for p in store.rglob("*") if p.is_file() and p.suffix in (".onnx", ".tflite", ".tmp")
    ]
    assert leftovers == []
    assert Manifest.load(store).files == {}


@pytest.mark.convert
def test_parity_failure_keeps_no_file(tmp_path, monkeypatch):
    store = tmp_path / "store"
    monkeypatch.setattr(check, "EXACT", check.Tolerance(0.0, 0.0))
    monkeypatch.setattr(check, "compare", _always_off)
    with pytest.raises(build.ConversionError, match="disagrees with its source"):
        build.build_store(["posenet"], ["fp32"], store=store, source=_sources())
    assert not list(store.rglob("*.tflite")) and not list(store.rglob("*.onnx"))


def _always_off(spec, reference, candidate, feeds, tolerance, **kw):
    return check.Parity(1.0, 1.0, 1.0, 1.0, 1.0, 1, tolerance)


@pytest.mark.convert
def test_full_store_has_every_file_with_parity():
    manifest = _main_store()
    for model in list_models():
        for precision in PRECISIONS:
            for fmt in ("onnx", "tflite"):
                entry = manifest.files[f"{model}/{model}-{precision}.{fmt}"]
                tol = check.Tolerance(**entry["parity"]["tolerance"])
                parity = check.Parity(**{**entry["parity"], "tolerance": tol})
                assert parity.ok(), (model, precision, fmt, entry["parity"])


@pytest.mark.convert
@pytest.mark.parametrize("model", list_models())
def test_converted_onnx_matches_savedmodel(model):
    """Re-measure each fp32 ONNX file against the SavedModel it came from."""
    _main_store()
    spec = get_spec(model)
    with (
        open_backend("tensorflow", savedmodel_dir(model, MAIN)) as ref,
        open_backend("onnxruntime", locate(model, "fp32", "onnx")) as onnx_be,
        open_backend("tflite", locate(model, "fp32", "tflite")) as tfl_be,
    ):
        feeds = list(check_feeds(spec))
        assert check.require(
            check.compare(spec, ref.run, onnx_be.run, feeds, check.EXACT), model
        ).ok()
        assert check.require(
            check.compare(spec, ref.run, tfl_be.run, feeds, check.EXACT), model
        ).ok()


@pytest.mark.convert
def test_multipose_onnx_keeps_a_free_input_size():
    _main_store()
    with open_backend("onnxruntime", locate("movenet-multipose", "fp32", "onnx")) as be:
        assert be.inputs[0].shape[1] is None and be.inputs[0].shape[2] is None
        out = be.run({"input": np.zeros((1, 320, 192, 3), np.int32)})
        assert out["poses"].shape == (1, 6, 56)
    with open_backend("tflite", locate("movenet-multipose", "fp32", "tflite")) as be:
        assert be.inputs[0].shape == (1, 256, 256, 3)


@pytest.mark.convert
def test_user_tflite_with_uint8_input_converts(tmp_path):
    """A TF Hub-style MoveNet .tflite (uint8 input, unnamed output) converts and loads."""
    _main_store()
    loaded = tf.saved_model.load(str(savedmodel_dir("movenet-lightning", MAIN)))
    serve = loaded.signatures["serving_default"]

    @tf.function(input_signature=[tf.TensorSpec([1, 192, 192, 3], tf.uint8, name="input")])
    def hub_style(x):
        return {"output_0": serve(input=tf.cast(x, tf.int32))["keypoints"]}

    conv = tf.lite.TFLiteConverter.from_concrete_functions(
        [hub_style.get_concrete_function()], loaded
    )
    src = tmp_path / "hub_lightning.tflite"
    src.write_bytes(conv.convert())
    dst = convert_to_onnx(src, tmp_path / "hub_lightning.onnx")
    with open_backend("onnxruntime", dst) as be:
        assert be.inputs[0].dtype == np.uint8
        assert [o.name for o in be.outputs] == ["output_0"]
    est = xpose.load(dst)
    ref = xpose.load("movenet-lightning")
    from pathlib import Path

    image = str(Path(__file__).resolve().parents[1] / "data" / "astronaut.png")
    np.testing.assert_allclose(
        est.predict(image).keypoints, ref.predict(image).keypoints, atol=1e-3
    )


def test_user_conversion_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        convert_to_onnx(tmp_path / "none.tflite", tmp_path / "x.onnx")
    bad = tmp_path / "model.pb"
    bad.write_bytes(b"x")
    with pytest.raises(ValueError, match="expected a .tflite file or a SavedModel folder"):
        convert_to_onnx(bad, tmp_path / "x.onnx")
