"""Tests of :mod:`xpose.store`: the manifest and finding converted files (no real models)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from xpose import store as xstore
from xpose.store import Manifest, ModelFileError


def _add(root: Path, rel: str, data: bytes, **extra: object) -> Manifest:
    """Write ``data`` at ``rel`` in the store ``root`` and record it in its manifest."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    manifest = Manifest.load(root)
    manifest.files[rel] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        **extra,
    }
    manifest.save()
    return manifest


def test_a_store_without_manifest_is_empty(tmp_path: Path) -> None:
    manifest = Manifest.load(tmp_path)
    assert manifest.files == {} and manifest.store == tmp_path
    assert manifest.entry("posenet/posenet-fp32.onnx") is None
    assert not (tmp_path / xstore.MANIFEST).exists(), "loading writes nothing"


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    rel = xstore.relpath("posenet", "fp16", "tflite")
    assert rel == "posenet/posenet-fp16.tflite"
    _add(tmp_path, rel, b"model bytes", model="posenet", precision="fp16")
    text = (tmp_path / xstore.MANIFEST).read_text()
    assert json.loads(text)["format"] == 1
    loaded = Manifest.load(tmp_path)
    assert loaded.entry(rel)["precision"] == "fp16"  # type: ignore[index]
    assert loaded.entry(rel)["size"] == len(b"model bytes")  # type: ignore[index]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temporary"


def test_an_unreadable_manifest_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / xstore.MANIFEST).write_text("{ not json")
    with pytest.raises(ModelFileError, match=r"manifest.json is unreadable.*xpose convert"):
        Manifest.load(tmp_path)


def test_is_current_checks_file_size_checksum_and_values(tmp_path: Path) -> None:
    rel = "movenet-lightning/movenet-lightning-fp32.onnx"
    manifest = _add(tmp_path, rel, b"abcdef", recipe=3)
    assert manifest.is_current(rel)
    assert manifest.is_current(rel, recipe=3)
    assert not manifest.is_current(rel, recipe=4)
    assert not manifest.is_current("movenet-thunder/movenet-thunder-fp32.onnx")
    (tmp_path / rel).write_bytes(b"abcdeX")  # same size, other bytes
    assert not manifest.is_current(rel)
    (tmp_path / rel).write_bytes(b"abc")
    assert not manifest.is_current(rel)
    (tmp_path / rel).unlink()
    assert not manifest.is_current(rel)


def test_locate_finds_checks_and_names_the_convert_command(tmp_path: Path) -> None:
    rel = xstore.relpath("posenet", "int8", "onnx")
    _add(tmp_path, rel, b"int8 model")
    assert xstore.locate("posenet", "int8", "onnx", tmp_path) == tmp_path / rel
    with pytest.raises(FileNotFoundError) as missing:
        xstore.locate("posenet", "fp32", "onnx", tmp_path)
    assert f"xpose convert --models posenet --precisions fp32 --store {tmp_path}" in str(
        missing.value
    )
    (tmp_path / rel).write_bytes(b"tampered!!")
    with pytest.raises(ModelFileError, match="does not match the manifest.*corrupt or was changed"):
        xstore.locate("posenet", "int8", "onnx", tmp_path)
    assert xstore.locate("posenet", "int8", "onnx", tmp_path, verify=False) == tmp_path / rel


def test_relpath_refuses_unknown_precisions_and_formats() -> None:
    with pytest.raises(ValueError, match="unknown precision 'fp64'; valid: fp32, fp16, int8"):
        xstore.relpath("posenet", "fp64", "onnx")
    with pytest.raises(ValueError, match="unknown format 'pb'; valid: onnx, tflite"):
        xstore.relpath("posenet", "fp32", "pb")


def test_default_store_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XPOSE_HOME", str(tmp_path / "home"))
    assert xstore.default_store() == tmp_path / "home"
    monkeypatch.delenv("XPOSE_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert xstore.default_store() == tmp_path / "cache" / "xpose"
    assert xstore.resolve_store(tmp_path / "x") == tmp_path / "x"


def test_each_backend_reads_one_store_format(tmp_path: Path) -> None:
    assert xstore.BACKEND_FORMATS == {
        "onnxruntime": "onnx",
        "tflite": "tflite",
        "tensorflow": "savedmodel",
        "openvino": "onnx",
        "opencv": "onnx",
    }
    assert xstore.savedmodel_dir("posenet", tmp_path) == tmp_path / "savedmodel" / "posenet"
