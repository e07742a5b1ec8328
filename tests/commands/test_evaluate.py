"""Tests of ``xpose evaluate`` on the shared COCO sample (4 images, 12 people).

They need the converted store (``$XPOSE_HOME``; skipped with "run `xpose convert` first"
otherwise), pycocotools, and ``../shared/data`` (skipped when absent).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("pycocotools", reason="COCO evaluation needs pycocotools (xpose[dev])")

from tests.helpers import COCO_DIR, require_store
from xpose.cli import main

ANNOTATIONS = COCO_DIR / "person_keypoints.json"

needs_coco = pytest.mark.skipif(
    not ANNOTATIONS.is_file(), reason=f"{ANNOTATIONS} is absent (../shared/data)"
)


def _evaluate_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    code = main(["evaluate", "-a", str(ANNOTATIONS), "-i", str(COCO_DIR), "--json", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.mark.convert
@needs_coco
def test_prints_the_ap_table(capsys: pytest.CaptureFixture[str]) -> None:
    require_store("movenet-lightning", "fp32", ("onnx",))
    code = main(
        [
            "evaluate",
            "--annotations",
            str(ANNOTATIONS),
            "--images",
            str(COCO_DIR),
            "--model",
            "movenet-lightning",
            "--backend",
            "onnxruntime",
            "--precision",
            "fp32",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "movenet-lightning fp32 on onnxruntime" in out
    assert "protocol=single, 4 images, 12 people" in out
    line = next(
        li for li in out.splitlines() if li.startswith(" AP @[OKS=0.50:0.95 | area=   all]")
    )
    ap = float(line.rsplit("=", 1)[1])
    assert 0.3 < ap <= 1.0  # a working model; the exact value is in docs/accuracy.md


@pytest.mark.convert
@needs_coco
def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    require_store("movenet-lightning", "fp32", ("onnx",))
    data = _evaluate_json(capsys, "-m", "movenet-lightning")
    assert data["model"] == "movenet-lightning" and data["backend"] == "onnxruntime"
    assert data["protocol"] == "single" and data["num_people"] == 12
    assert {"ap", "ap50", "ap75", "ar"} <= set(data)


@pytest.mark.convert
@needs_coco
def test_backends_give_the_same_ap_fp32_lightning(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("ai_edge_litert", reason="the tflite backend needs xpose[tflite]")
    for fmt in ("onnx", "tflite"):
        require_store("movenet-lightning", "fp32", (fmt,))
    ort = _evaluate_json(capsys, "-m", "movenet-lightning", "-b", "onnxruntime")
    tfl = _evaluate_json(capsys, "-m", "movenet-lightning", "-b", "tflite")
    assert tfl["backend"] == "tflite"
    assert ort["ap"] == pytest.approx(tfl["ap"], abs=1e-3)
    assert ort["ar"] == pytest.approx(tfl["ar"], abs=1e-3)


@pytest.mark.convert
@needs_coco
def test_posenet_multi_protocol_decodes_several_people(capsys: pytest.CaptureFixture[str]) -> None:
    require_store("posenet", "fp32", ("onnx",))
    data = _evaluate_json(capsys, "-m", "posenet", "--protocol", "multi")
    assert data["protocol"] == "multi"
    assert data["options"]["multi_pose"] is True


def test_missing_annotations_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.json"
    code = main(["evaluate", "-a", str(missing), "-i", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "xpose evaluate: error: COCO annotations file not found" in err
    assert str(missing) in err and "person_keypoints" in err


def test_annotations_that_are_not_keypoints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "instances.json"
    bad.write_text(json.dumps({"images": [], "annotations": [], "categories": [{"id": 1}]}))
    code = main(["evaluate", "-a", str(bad), "-i", str(tmp_path)])
    assert code == 2
    assert "not a COCO keypoints file" in capsys.readouterr().err


@needs_coco
def test_missing_images_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate", "-a", str(ANNOTATIONS), "-i", str(tmp_path / "none")])
    assert code == 2
    assert "images folder not found" in capsys.readouterr().err


def test_annotations_are_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--images", "x"])
    assert exc.value.code == 2
    assert "--annotations" in capsys.readouterr().err


def test_bad_crop_scale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["evaluate", "-a", str(tmp_path / "a.json"), "-i", str(tmp_path), "--crop-scale", "0"]
    )
    assert code == 2
    assert "--crop-scale must be > 0" in capsys.readouterr().err


@pytest.mark.convert
@needs_coco
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_multipose_ap_identical_across_backends_at_the_same_input(precision: str) -> None:
    """MultiPose's fp32 ONNX runs at the image's aspect by default; pinned square (as its TFLite
    file is) the two runtimes give the same AP."""
    pytest.importorskip("ai_edge_litert", reason="the tflite backend needs xpose[tflite]")
    import xpose
    from xpose.evaluate import evaluate

    require_store("movenet-multipose", precision, ("onnx",))
    require_store("movenet-multipose", precision, ("tflite",))
    aps = {}
    for backend, options in (("onnxruntime", {"multipose_square": True}), ("tflite", {})):
        with xpose.load(
            "movenet-multipose", backend=backend, precision=precision, **options
        ) as est:
            aps[backend] = evaluate(est.predict, ANNOTATIONS, COCO_DIR, protocol="multi").ap
    assert aps["onnxruntime"] == pytest.approx(aps["tflite"], abs=1e-3)
    assert aps["tflite"] > 0.3  # a working model
