"""Real photos of people for calibrating int8 models and checking every conversion.

The default set is the project's own photos (``tests/data``, ``xpose/data``) plus, when the
folder exists beside the project, the COCO val2017 photos of ``../shared/data`` with one view
per labelled person (the person's box enlarged 1.25x, :class:`xpose.preprocess.CropBox`, the crop
the accuracy evaluation makes). int8 calibration leaves the labelled photos out
(:func:`calibration_views`). ``--calibration DIR`` replaces the folders.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from xpose.models import ModelSpec, movenet, posenet
from xpose.preprocess import CropBox, to_rgb_uint8

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def default_folders() -> list[Path]:
    folders = [ROOT / "tests" / "data", ROOT / "xpose" / "data", ROOT.parent / "shared" / "data"]
    return [f for f in folders if f.is_dir()]


def _image_files(folders: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for folder in folders:
        files += sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return files


def _person_boxes(folder: Path) -> dict[str, list[list[float]]]:
    """file name -> COCO person boxes (x, y, w, h) from any ``*keypoints*.json`` in ``folder``."""
    boxes: dict[str, list[list[float]]] = {}
    for ann_file in folder.glob("*keypoints*.json"):
        data = json.loads(ann_file.read_text())
        names = {im["id"]: im["file_name"] for im in data.get("images", [])}
        for ann in data.get("annotations", []):
            if ann.get("num_keypoints", 0) > 0 and not ann.get("iscrowd"):
                boxes.setdefault(names[ann["image_id"]], []).append(ann["bbox"])
    return boxes


def _labelled(folder: Path) -> dict[str, list[list[float]]]:
    """image path -> COCO person boxes, for every annotated image under ``folder``."""
    boxes = {}
    for sub in [folder, *[d for d in folder.rglob("*") if d.is_dir()]]:
        boxes.update({str(sub / k): v for k, v in _person_boxes(sub).items()})
    return boxes


def person_views(
    folders: Iterable[Path] | None = None, *, labelled: bool = True
) -> list[np.ndarray]:
    """RGB views: every image whole, plus a crop around each labelled person.

    ``labelled=False`` leaves out the images that carry COCO keypoint labels (the evaluation
    photos), so that int8 calibration never sees the photos its accuracy is measured on.
    """
    folders = default_folders() if folders is None else [Path(f) for f in folders]
    views = []
    for folder in folders:
        boxes = _labelled(folder)
        for path in _image_files([folder]):
            if not labelled and str(path) in boxes:
                continue
            image = to_rgb_uint8(path)
            views.append(image)
            crops = [CropBox.square(b, image.shape[:2], 1.25) for b in boxes.get(str(path), [])]
            views += [crop.apply(image) for crop in crops]
    if not views:
        raise FileNotFoundError(
            f"no images of people found in {[str(f) for f in folders]}; pass --calibration DIR"
        )
    return views


def augment(views: Sequence[np.ndarray], count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` deterministic variants: the views, their mirror images, and random crops."""
    rng = np.random.default_rng(seed)
    out = list(views) + [v[:, ::-1].copy() for v in views]
    while len(out) < count:
        v = views[int(rng.integers(len(views)))]
        h, w = v.shape[:2]
        s = rng.uniform(0.6, 0.95)
        ch, cw = max(8, int(h * s)), max(8, int(w * s))
        y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = v[y0 : y0 + ch, x0 : x0 + cw]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        gain = rng.uniform(0.8, 1.2)
        out.append(cv2.convertScaleAbs(np.ascontiguousarray(crop), alpha=gain))
    return out[:count]


def feeds_for(spec: ModelSpec, image: np.ndarray, size: tuple[int, int] | None = None):
    """The model's input feeds for one RGB image (the runtime's own pre-processing)."""
    if spec.family == "posenet":
        return posenet.prepare(image, spec)[0]
    return movenet.prepare(image, spec, size=size)[0]


def zoom_out(view: np.ndarray, scale: float) -> np.ndarray:
    """``view`` shrunk by ``scale`` (< 1) onto a black canvas of its own size, centred:
    the same people, smaller in the frame. ``(H, W, 3)`` uint8 in and out."""
    h, w = view.shape[:2]
    sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
    small = cv2.resize(view, (sw, sh), interpolation=cv2.INTER_AREA)
    out = np.zeros_like(view)
    y0, x0 = (h - sh) // 2, (w - sw) // 2
    out[y0 : y0 + sh, x0 : x0 + sw] = small
    return out


#: Changes whenever :func:`calibration_views` changes, so int8 files are rebuilt.
CALIBRATION_RECIPE = "unlabelled photos, mirrors, crops, zoom-outs"


def calibration_views(
    folders: Iterable[Path] | None = None, count: int = 96, seed: int = 0
) -> list[np.ndarray]:
    """``count`` varied views of the unlabelled photos of people, for int8 calibration.

    The photos (never the COCO-labelled evaluation photos, see :func:`person_views`), then
    their mirror images, then random crops (:func:`augment`); every fourth view beyond the
    photos and mirrors is zoomed out (people at 0.4-0.8 of the frame). Falls back on the
    labelled photos when a folder holds nothing else.
    """
    try:
        views = person_views(folders, labelled=False)
    except FileNotFoundError:
        views = person_views(folders)
    out = augment(views, count, seed=seed)
    rng = np.random.default_rng(seed + 100)
    for i in range(2 * len(views), len(out), 4):
        out[i] = zoom_out(out[i], float(rng.uniform(0.4, 0.8)))
    return out


def calibration_feeds(
    spec: ModelSpec, folders: Iterable[Path] | None = None, count: int = 96, dtype=None
) -> list[dict[str, np.ndarray]]:
    """The model's input feeds for :func:`calibration_views`."""
    feeds = [feeds_for(spec, v) for v in calibration_views(folders, count)]
    if dtype is not None:
        feeds = [{k: v.astype(dtype) for k, v in f.items()} for f in feeds]
    return feeds


#: At least this many views are checked (the photos, their mirror images, then random crops),
#: so that the 95th-percentile figures of int8 rest on a few hundred keypoints.
MIN_CHECK_VIEWS = 32


def check_views(folders: Iterable[Path] | None = None) -> list[np.ndarray]:
    """The views every conversion is checked on: differently augmented than the calibration."""
    views = person_views(folders)
    return augment(views, max(MIN_CHECK_VIEWS, len(views)), seed=1)


def check_feeds(spec: ModelSpec, folders: Iterable[Path] | None = None) -> Iterator[dict]:
    for view in check_views(folders):
        yield feeds_for(spec, view)
