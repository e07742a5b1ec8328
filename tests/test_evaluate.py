"""Tests of xpose.evaluate with hand-made predictions (no model, no runtime)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

pytest.importorskip("pycocotools", reason="COCO evaluation needs pycocotools (xpose[dev])")

from pycocotools.cocoeval import COCOeval

from xpose.evaluate import (
    CROP_SCALE,
    PROTOCOLS,
    EvalResult,
    evaluate,
    evaluate_results,
    load_coco,
    predict_results,
)
from xpose.preprocess import CropBox
from xpose.results import Poses

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COCO_DIR = SHARED_DATA / "coco_val2017"


# --- data sets -------------------------------------------------------------------------------


def _person(ann_id: int, image_id: int, bbox: list[float], rng: np.random.Generator, **kw: Any):
    """A labelled person with random keypoints inside ``bbox``; two of them unlabelled."""
    x, y, w, h = bbox
    kp = np.zeros((17, 3))
    kp[:, 0] = np.round(rng.uniform(x, x + w, 17))
    kp[:, 1] = np.round(rng.uniform(y, y + h, 17))
    kp[:, 2] = 2
    kp[[3, 4]] = 0  # unlabelled keypoints are (0, 0, 0) in COCO
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "keypoints": kp.ravel().tolist(),
        "num_keypoints": int((kp[:, 2] > 0).sum()),
        "bbox": bbox,
        "area": 0.6 * w * h,
        "iscrowd": 0,
        **kw,
    }


def _write_synthetic(root: Path) -> tuple[Path, Path]:
    """Two noise images, three labelled people (one near the edge), one crowd, one empty."""
    rng = np.random.default_rng(0)
    images_dir = root / "images"
    images_dir.mkdir()
    images = [
        {"id": 1, "file_name": "a.png", "width": 200, "height": 160},
        {"id": 2, "file_name": "b.png", "width": 150, "height": 120},
    ]
    for img in images:
        pixels = rng.integers(0, 256, (img["height"], img["width"], 3), dtype=np.uint8)
        cv2.imwrite(str(images_dir / img["file_name"]), pixels)
    anns = [
        _person(1, 1, [20.0, 30.0, 60.0, 110.0], rng),
        _person(2, 1, [150.0, 10.0, 48.0, 90.0], rng),  # its crop leaves the image
        _person(3, 2, [40.0, 20.0, 70.0, 80.0], rng),
        _person(4, 1, [100.0, 100.0, 30.0, 40.0], rng, iscrowd=1),
        {**_person(5, 2, [5.0, 5.0, 20.0, 20.0], rng), "keypoints": [0] * 51, "num_keypoints": 0},
    ]
    categories = [
        {
            "id": 1,
            "name": "person",
            "supercategory": "person",
            "keypoints": [f"k{i}" for i in range(17)],
            "skeleton": [],
        }
    ]
    path = root / "person_keypoints.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": categories}))
    return path, images_dir


@pytest.fixture(params=["synthetic", "coco_val2017"])
def dataset(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    """``(annotations path, images dir)``: a synthetic set, and the shared COCO images."""
    if request.param == "synthetic":
        return _write_synthetic(tmp_path)
    if not COCO_DIR.is_dir():
        pytest.skip(f"shared COCO data absent: {COCO_DIR} (../shared/data from the project root)")
    return COCO_DIR / "person_keypoints.json", COCO_DIR


def _labelled(gt) -> list[dict[str, Any]]:
    return [a for a in gt.dataset["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]


def _gt_poses(anns: list[dict[str, Any]], offset=(0, 0), score: float = 1.0) -> Poses:
    """The annotations' keypoints as Poses (score 1 where labelled), minus ``offset``."""
    kp = np.array([a["keypoints"] for a in anns], np.float32).reshape(-1, 17, 3)
    return Poses(
        kp[..., :2] - np.asarray(offset, np.float32),
        (kp[..., 2] > 0).astype(np.float32),
        np.full(len(anns), score, np.float32),
    )


def _gt_results(gt, shift: float = 0.0) -> list[dict[str, Any]]:
    out = []
    for a in _labelled(gt):
        out += _gt_poses([a], offset=(-shift, -shift)).to_coco(a["image_id"])
    return out


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


# --- evaluate_results ------------------------------------------------------------------------


def test_perfect_predictions_give_ap_1(dataset):
    gt = load_coco(*dataset)
    res = evaluate_results(gt, _gt_results(gt))
    assert res.ap == pytest.approx(1.0, abs=1e-6)
    assert res.ap50 == pytest.approx(1.0, abs=1e-6)
    assert res.ar == pytest.approx(1.0, abs=1e-6)
    assert res.num_images == len(gt.getImgIds())
    assert res.num_people == len(_labelled(gt))
    assert res.protocol is None


def test_shifted_predictions_match_pycocotools(dataset):
    gt = load_coco(*dataset)
    results = _gt_results(gt, shift=4.0)
    before = copy.deepcopy(results)
    res = evaluate_results(gt, results)
    assert results == before, "evaluate_results must not modify its input"

    ev = COCOeval(gt, gt.loadRes(copy.deepcopy(results)), "keypoints")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    np.testing.assert_array_equal(np.array(res.stats), ev.stats)
    assert 0 <= res.ap < 1


def test_empty_results_give_ap_0(dataset):
    res = evaluate_results(load_coco(*dataset), [])
    assert res.ap == 0.0
    assert res.ar == 0.0


def test_image_ids_restrict_the_evaluation(dataset):
    gt = load_coco(*dataset)
    first = sorted(gt.getImgIds())[0]
    results = [r for r in _gt_results(gt) if r["image_id"] == first]
    res = evaluate_results(gt, results, image_ids=[first])
    assert res.ap == pytest.approx(1.0, abs=1e-6)
    assert res.num_images == 1
    assert res.num_people == sum(a["image_id"] == first for a in _labelled(gt))
    assert evaluate_results(gt, results).ap < 1  # the other images' people are missed


def test_pycocotools_prints_nothing(dataset, capsys):
    gt = load_coco(*dataset)
    evaluate_results(gt, _gt_results(gt, shift=2.0))
    assert capsys.readouterr().out == ""


def test_eval_result_to_dict_and_summary():
    res = EvalResult(*[0.5] * 10, num_images=3, num_people=7, protocol="single")
    d = res.to_dict()
    assert d["ap"] == 0.5
    assert d["num_people"] == 7
    assert d["protocol"] == "single"
    assert EvalResult(**d) == res
    json.dumps(d)
    assert res.stats == (0.5,) * 10
    text = res.summary()
    assert "protocol=single" in text
    assert len(text.splitlines()) == 11


# --- end-to-end with fake predict callables --------------------------------------------------


def _fake_single(gt, images_dir: Path, calls: list[int]):
    """A predict that knows every person's crop (by content) and returns its ground truth,
    plus a low-scoring wrong pose the protocol must drop."""
    crops = {}
    for a in _labelled(gt):
        image = _rgb(images_dir / gt.imgs[a["image_id"]]["file_name"])
        crop = CropBox.square(a["bbox"], image.shape[:2], CROP_SCALE)
        crops[crop.apply(image).tobytes()] = (crop, a)

    def predict(image: np.ndarray) -> Poses:
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert image.shape[0] == image.shape[1], "single-pose crops are square"
        crop, ann = crops[image.tobytes()]  # KeyError: not the crop (or not RGB)
        calls.append(ann["id"])
        x0, y0 = crop.to_image([0.0, 0.0])  # the crop's corner in image pixels
        right = _gt_poses([ann], offset=(x0, y0), score=0.9)
        wrong = Poses(np.full((1, 17, 2), 1.0, np.float32), np.ones((1, 17), np.float32), [0.1])
        both = np.concatenate
        return Poses(
            both([wrong.keypoints, right.keypoints]),
            both([wrong.scores, right.scores]),
            both([wrong.score, right.score]),
        )

    return predict


def _fake_multi(gt, images_dir: Path, calls: list[int]):
    """A predict that recognises each whole image and returns all its labelled people."""
    by_content = {
        _rgb(images_dir / img["file_name"]).tobytes(): img["id"] for img in gt.dataset["images"]
    }

    def predict(image: np.ndarray) -> Poses:
        image_id = by_content[image.tobytes()]  # KeyError: not the image (or not RGB)
        calls.append(image_id)
        people = [a for a in _labelled(gt) if a["image_id"] == image_id]
        return _gt_poses(people) if people else Poses.empty()

    return predict


def test_single_protocol_end_to_end(dataset):
    annotations, images_dir = dataset
    gt = load_coco(annotations, images_dir)
    calls: list[int] = []
    res = evaluate(_fake_single(gt, images_dir, calls), annotations, images_dir, "single")
    assert res.ap == pytest.approx(1.0, abs=1e-6)
    assert res.ar == pytest.approx(1.0, abs=1e-6)
    assert res.protocol == "single"
    assert sorted(calls) == sorted(a["id"] for a in _labelled(gt))
    assert res.num_people == len(calls)


def test_multi_protocol_end_to_end(dataset):
    annotations, images_dir = dataset
    gt = load_coco(annotations, images_dir)
    calls: list[int] = []
    res = evaluate(_fake_multi(gt, images_dir, calls), gt, images_dir, "multi", progress=True)
    assert res.ap == pytest.approx(1.0, abs=1e-6)
    assert res.protocol == "multi"
    assert sorted(calls) == sorted(gt.getImgIds())


def test_single_protocol_results_are_one_per_person(dataset):
    annotations, images_dir = dataset
    gt = load_coco(annotations, images_dir)
    results = predict_results(_fake_single(gt, images_dir, []), gt, images_dir, "single")
    assert len(results) == len(_labelled(gt))
    assert all(r["score"] == pytest.approx(0.9) for r in results)


def test_predict_finding_nobody_scores_0(dataset):
    annotations, images_dir = dataset
    for protocol in PROTOCOLS:
        res = evaluate(lambda image: Poses.empty(), annotations, images_dir, protocol)
        assert res.ap == 0.0


# --- errors ----------------------------------------------------------------------------------


@pytest.fixture
def synthetic(tmp_path: Path) -> tuple[Path, Path]:
    return _write_synthetic(tmp_path)


def test_missing_annotations_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"annotations file not found.*person_keypoints"):
        load_coco(tmp_path / "nope.json")


def test_not_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"not valid JSON"):
        load_coco(path)


def test_results_file_instead_of_annotations(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("[]")
    with pytest.raises(ValueError, match=r"results.*pass the ground-truth"):
        load_coco(path)


def test_not_a_keypoints_file(synthetic):
    path, _ = synthetic
    data = json.loads(path.read_text())
    for cat in data["categories"]:
        del cat["keypoints"]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"not a COCO keypoints file.*not instances_"):
        load_coco(path)


def test_missing_images_dir(synthetic, tmp_path):
    path, _ = synthetic
    with pytest.raises(FileNotFoundError, match=r"images folder not found.*val2017"):
        load_coco(path, tmp_path / "nowhere")


def test_missing_image_is_named(synthetic):
    path, images_dir = synthetic
    (images_dir / "b.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 of 2 images missing.*b\.png.*images_dir"):
        load_coco(path, images_dir)
    load_coco(path, images_dir, image_ids=[1])  # the others are fine


def test_unknown_image_id(synthetic):
    path, images_dir = synthetic
    with pytest.raises(ValueError, match=r"image id\(s\) not in the annotations.*\[99\]"):
        load_coco(path, images_dir, image_ids=[1, 99])


def test_unreadable_image(synthetic):
    path, images_dir = synthetic
    (images_dir / "a.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"cannot read image .*a\.png"):
        evaluate(lambda image: Poses.empty(), path, images_dir, "multi")


def test_unknown_protocol(synthetic):
    path, images_dir = synthetic
    with pytest.raises(ValueError, match=r"unknown protocol 'batch'; valid: single, multi"):
        evaluate(lambda image: Poses.empty(), path, images_dir, "batch")


def test_predict_must_return_poses(synthetic):
    path, images_dir = synthetic
    with pytest.raises(TypeError, match=r"predict must return xpose\.Poses, got list"):
        evaluate(lambda image: [], path, images_dir, "single")


def test_predict_must_be_callable(synthetic):
    class Estimator:
        def predict(self, image):
            return Poses.empty()

    path, images_dir = synthetic
    with pytest.raises(TypeError, match=r"predict must be callable.*pass est\.predict"):
        evaluate(Estimator(), path, images_dir)


def test_crop_scale_must_be_positive():
    with pytest.raises(ValueError, match=r"crop scale must be > 0, got 0"):
        CropBox.square([0, 0, 10, 10], (20, 20), scale=0)


def test_bad_results(synthetic):
    gt = load_coco(synthetic[0])
    good = _gt_results(gt)[0]
    with pytest.raises(ValueError, match=r"image_id 99, which is not in the annotations"):
        evaluate_results(gt, [{**good, "image_id": 99}])
    with pytest.raises(ValueError, match=r"expected 51 keypoint values.*got 34"):
        evaluate_results(gt, [{**good, "keypoints": good["keypoints"][:34]}])
    with pytest.raises(ValueError, match=r"lacks \['score'\]"):
        evaluate_results(gt, [{k: v for k, v in good.items() if k != "score"}])
