"""COCO keypoint evaluation (AP / AR with pycocotools) of any ``predict(image) -> Poses``.

Two protocols:

``single``
    One person per crop, as the published MoveNet single-pose figures were measured. For each
    labelled person (``num_keypoints > 0``, not crowd) the image is cropped to a square around
    the person's box (:meth:`CropBox.square <xpose.preprocess.CropBox.square>`: the longer side
    of the box times ``crop_scale``, 1.25 by default, centred on the box, zero-padded where it
    leaves the image), ``predict``
    runs on the crop, the best-scoring pose is mapped back to image pixels and becomes that
    person's one result.
``multi``
    ``predict`` runs on the whole image; every pose it returns is a result.

Then ``COCOeval(gt, dt, "keypoints")`` gives the usual 10 numbers (:class:`EvalResult`).

pycocotools is needed here only; it is not a runtime dependency of xpose
(``pip install pycocotools``, or the ``dev`` extra).

Example::

    est = xpose.load("movenet-lightning")
    res = evaluate(est.predict, "person_keypoints_val2017.json", "val2017/", protocol="single")
    print(res.summary())
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from xpose.keypoints import NUM_KEYPOINTS
from xpose.preprocess import CropBox
from xpose.results import Poses

if TYPE_CHECKING:
    from pycocotools.coco import COCO

logger = logging.getLogger(__name__)

#: Valid values of ``protocol``.
PROTOCOLS: tuple[str, ...] = ("single", "multi")

#: Default enlargement of a person's box for the ``single`` protocol's crop.
CROP_SCALE = 1.25

ImageArray = npt.NDArray[np.uint8]
Predict = Callable[[ImageArray], Poses]

_STAT_NAMES: tuple[str, ...] = (
    "ap",
    "ap50",
    "ap75",
    "ap_medium",
    "ap_large",
    "ar",
    "ar50",
    "ar75",
    "ar_medium",
    "ar_large",
)
_STAT_LABELS: tuple[str, ...] = (
    "AP @[OKS=0.50:0.95 | area=   all]",
    "AP @[OKS=0.50      | area=   all]",
    "AP @[OKS=0.75      | area=   all]",
    "AP @[OKS=0.50:0.95 | area=medium]",
    "AP @[OKS=0.50:0.95 | area= large]",
    "AR @[OKS=0.50:0.95 | area=   all]",
    "AR @[OKS=0.50      | area=   all]",
    "AR @[OKS=0.75      | area=   all]",
    "AR @[OKS=0.50:0.95 | area=medium]",
    "AR @[OKS=0.50:0.95 | area= large]",
)


def _pycocotools() -> tuple[type, type]:
    """``(COCO, COCOeval)``, imported lazily with an actionable error."""
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as err:
        raise ImportError(
            "COCO evaluation needs pycocotools: pip install pycocotools (or xpose[dev])"
        ) from err
    return COCO, COCOeval


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Capture pycocotools' prints; they go to the debug log instead."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        yield
    text = buf.getvalue().strip()
    if text:
        logger.debug("pycocotools: %s", text)


@dataclass(frozen=True)
class EvalResult:
    """COCO keypoint AP / AR, as pycocotools' ``COCOeval.stats`` (in [0, 1]; -1 where undefined,
    e.g. ``ap_medium`` when no labelled person is of medium size).

    Attributes:
        ap, ap50, ap75: AP over OKS 0.50:0.95, at OKS 0.50, at OKS 0.75 (all sizes).
        ap_medium, ap_large: AP over OKS 0.50:0.95 for medium (32² to 96² px area) and large people.
        ar, ar50, ar75, ar_medium, ar_large: the same for AR (20 detections per image).
        num_images: images evaluated.
        num_people: labelled people in them (``num_keypoints > 0``, not crowd).
        protocol: ``"single"``, ``"multi"``, or ``None`` for results given as they are.
    """

    ap: float
    ap50: float
    ap75: float
    ap_medium: float
    ap_large: float
    ar: float
    ar50: float
    ar75: float
    ar_medium: float
    ar_large: float
    num_images: int
    num_people: int
    protocol: str | None = None

    @property
    def stats(self) -> tuple[float, ...]:
        """The 10 numbers in pycocotools' ``COCOeval.stats`` order."""
        return tuple(getattr(self, name) for name in _STAT_NAMES)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``EvalResult(**result.to_dict())`` round-trips."""
        return asdict(self)

    def summary(self) -> str:
        """pycocotools-style text table, one line per number."""
        head = (
            f"COCO keypoints, protocol={self.protocol or 'given results'}, "
            f"{self.num_images} images, {self.num_people} people"
        )
        lines = [head] + [
            f" {label} = {value:.3f}" for label, value in zip(_STAT_LABELS, self.stats, strict=True)
        ]
        return "\n".join(lines)


def _keypoint_category(data: dict[str, Any], path: Path | str) -> int:
    """Id of the category carrying keypoints, or a ValueError saying what the file is."""
    cats = data.get("categories")
    if not isinstance(data.get("annotations"), list) or not isinstance(cats, list):
        raise ValueError(
            f"{path} is not a COCO annotations file (no 'annotations'/'categories' lists): "
            "pass person_keypoints_<split>.json"
        )
    kp_cats = [c for c in cats if isinstance(c, dict) and c.get("keypoints")]
    if not kp_cats:
        raise ValueError(
            f"{path} is not a COCO keypoints file (no category has 'keypoints'): "
            "pass person_keypoints_<split>.json, not instances_ or captions_"
        )
    names = kp_cats[0]["keypoints"]
    if len(names) != NUM_KEYPOINTS:
        raise ValueError(
            f"{path}: category {kp_cats[0].get('name')!r} has {len(names)} keypoints, "
            f"expected COCO's {NUM_KEYPOINTS}"
        )
    return int(kp_cats[0]["id"])


def load_coco(
    annotations_path: str | Path,
    images_dir: str | Path | None = None,
    image_ids: Sequence[int] | None = None,
) -> COCO:
    """Read a COCO ``person_keypoints`` JSON into pycocotools' ``COCO`` (quietly).

    Args:
        annotations_path: e.g. ``annotations/person_keypoints_val2017.json``.
        images_dir: when given, the folder holding the images' ``file_name``; every image
            (of ``image_ids``, or all) must be there.
        image_ids: restrict the image check to these ids (they must be in the file).

    Raises:
        FileNotFoundError: the file, the folder or an image is missing.
        ValueError: not JSON, not a keypoints file, or an unknown image id.
    """
    coco_cls, _ = _pycocotools()
    path = Path(annotations_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"COCO annotations file not found: {path} "
            "(pass the path of person_keypoints_<split>.json)"
        )
    try:
        with path.open(encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if isinstance(data, list):
        raise ValueError(
            f"{path} is a list, like a COCO *results* file: pass the ground-truth "
            "person_keypoints_<split>.json (results go to evaluate_results)"
        )
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a COCO annotations file (top level is not an object)")
    _keypoint_category(data, path)
    if not isinstance(data.get("images"), list):
        raise ValueError(f"{path} has no 'images' list: pass person_keypoints_<split>.json")
    coco = coco_cls()
    coco.dataset = data
    with _quiet():
        coco.createIndex()
    if images_dir is not None:
        _check_images(coco, images_dir, _image_ids(coco, image_ids))
    return coco


def _image_ids(coco: COCO, image_ids: Sequence[int] | None) -> list[int]:
    """Sorted image ids to evaluate: all of the file's, or the given ones (checked)."""
    if image_ids is None:
        return sorted(coco.getImgIds())
    ids = [int(i) for i in image_ids]
    unknown = sorted(set(ids) - set(coco.imgs))
    if unknown:
        raise ValueError(
            f"{len(unknown)} image id(s) not in the annotations, e.g. {unknown[:5]}: "
            "pass ids from the file's 'images' list"
        )
    return sorted(set(ids))


def _check_images(coco: COCO, images_dir: str | Path, image_ids: Sequence[int]) -> Path:
    folder = Path(images_dir)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"images folder not found: {folder} (pass the folder holding the annotated "
            "images, e.g. val2017/)"
        )
    missing = [coco.imgs[i]["file_name"] for i in image_ids]
    missing = [name for name in missing if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of {len(image_ids)} images missing from {folder}, first: "
            f"{missing[0]}: pass the folder holding the annotation file's images as "
            "images_dir, or restrict image_ids to those you have"
        )
    return folder


def _read_rgb(path: Path) -> ImageArray:
    """An image file as ``(H, W, 3)`` uint8 RGB (OpenCV reads BGR: converted here)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot read image {path}: not an image file, or corrupt")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _people(coco: COCO, image_id: int) -> list[dict[str, Any]]:
    """The image's labelled people: ``num_keypoints > 0`` and not crowd, in file order."""
    anns = coco.imgToAnns.get(image_id, [])
    return [a for a in anns if a.get("num_keypoints", 0) > 0 and not a.get("iscrowd", 0)]


def _call(predict: Predict, image: ImageArray) -> Poses:
    poses = predict(image)
    if not isinstance(poses, Poses):
        raise TypeError(f"predict must return xpose.Poses, got {type(poses).__name__}")
    return poses


def predict_results(
    predict: Predict,
    coco_gt: COCO,
    images_dir: str | Path,
    protocol: str = "single",
    image_ids: Sequence[int] | None = None,
    crop_scale: float = CROP_SCALE,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Run ``predict`` over the images as ``protocol`` says; COCO keypoint results dicts.

    Args:
        predict: ``predict(image) -> Poses``, image ``(H, W, 3)`` uint8 RGB, poses in its
            pixels (e.g. ``est.predict``).
        coco_gt: from :func:`load_coco`.
        images_dir: the folder holding the images.
        protocol: ``"single"`` (one crop per labelled person) or ``"multi"`` (whole image).
        image_ids: the images to use (default all).
        crop_scale: box enlargement for ``single`` (see :meth:`~xpose.preprocess.CropBox.square`).
        progress: show a tqdm progress bar.

    Returns:
        One dict per pose: ``image_id``, ``category_id``, ``keypoints`` (51 values, x, y,
        score), ``score``.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    if not callable(predict):
        hint = " (pass est.predict)" if hasattr(predict, "predict") else ""
        raise TypeError(f"predict must be callable, got {type(predict).__name__}{hint}")
    ids = _image_ids(coco_gt, image_ids)
    folder = _check_images(coco_gt, images_dir, ids)
    category = _keypoint_category(coco_gt.dataset, "the annotations")
    people = {i: _people(coco_gt, i) for i in ids}
    total = sum(map(len, people.values())) if protocol == "single" else len(ids)
    results: list[dict[str, Any]] = []
    with tqdm(total=total, disable=not progress, desc=f"evaluate ({protocol})") as bar:
        for image_id in ids:
            if protocol == "single" and not people[image_id]:
                continue
            image = _read_rgb(folder / coco_gt.imgs[image_id]["file_name"])
            if protocol == "multi":
                results += _call(predict, image).to_coco(image_id, category)
                bar.update()
                continue
            for ann in people[image_id]:
                crop = CropBox.square(ann["bbox"], image.shape[:2], crop_scale)
                poses = _call(predict, crop.apply(image))
                if len(poses):
                    best = crop.poses_to_image(poses[int(np.argmax(poses.score))])
                    results += best.to_coco(image_id, category)
                bar.update()
    return results


def _check_results(coco_gt: COCO, results: Sequence[dict[str, Any]]) -> None:
    for i, r in enumerate(results):
        missing = {"image_id", "category_id", "keypoints", "score"} - set(r)
        if missing:
            raise ValueError(f"result {i} lacks {sorted(missing)} (see Poses.to_coco)")
        if r["image_id"] not in coco_gt.imgs:
            raise ValueError(
                f"result {i} has image_id {r['image_id']}, which is not in the annotations"
            )
        if len(r["keypoints"]) != 3 * NUM_KEYPOINTS:
            raise ValueError(
                f"result {i}: expected {3 * NUM_KEYPOINTS} keypoint values (x, y, score "
                f"for {NUM_KEYPOINTS}), got {len(r['keypoints'])}"
            )


def evaluate_results(
    coco_gt: COCO,
    results: Sequence[dict[str, Any]],
    image_ids: Sequence[int] | None = None,
    protocol: str | None = None,
) -> EvalResult:
    """COCO keypoint AP / AR of ready-made results dicts (as :meth:`Poses.to_coco` writes).

    Args:
        coco_gt: ground truth, from :func:`load_coco`.
        results: COCO keypoint results; not modified. Empty is allowed (AP 0).
        image_ids: evaluate on these images only (default: all images of ``coco_gt``).
        protocol: recorded in the result only.
    """
    coco_cls, cocoeval_cls = _pycocotools()
    ids = _image_ids(coco_gt, image_ids)
    _check_results(coco_gt, results)
    with _quiet():
        if results:
            coco_dt = coco_gt.loadRes(copy.deepcopy(list(results)))
        else:  # loadRes refuses an empty list; an empty result set scores 0
            coco_dt = coco_cls()
            coco_dt.dataset = {
                "images": list(coco_gt.dataset["images"]),
                "categories": copy.deepcopy(coco_gt.dataset["categories"]),
                "annotations": [],
            }
            coco_dt.createIndex()
        ev = cocoeval_cls(coco_gt, coco_dt, "keypoints")
        ev.params.imgIds = ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    num_people = sum(len(_people(coco_gt, i)) for i in ids)
    out = EvalResult(
        *(float(v) for v in ev.stats),
        num_images=len(ids),
        num_people=num_people,
        protocol=protocol,
    )
    logger.info("COCO keypoints AP %.3f AR %.3f (%s)", out.ap, out.ar, protocol)
    return out


def evaluate(
    predict: Predict,
    annotations: str | Path | COCO,
    images_dir: str | Path,
    protocol: str = "single",
    image_ids: Sequence[int] | None = None,
    crop_scale: float = CROP_SCALE,
    progress: bool = False,
) -> EvalResult:
    """COCO keypoint AP / AR of ``predict`` on an annotated image set.

    Args:
        predict: ``predict(image) -> Poses``; the image is ``(H, W, 3)`` uint8 **RGB** and
            the poses come back in its pixels (``est.predict`` does both).
        annotations: path of ``person_keypoints_<split>.json``, or a ``COCO`` from
            :func:`load_coco`.
        images_dir: the folder holding the annotated images.
        protocol: ``"single"``: one square crop per labelled person (box side
            ``max(w, h) * crop_scale``, zero-padded beyond the image), one result per
            person; ``"multi"``: the whole image, every pose.
        image_ids: evaluate on these images only (default all).
        crop_scale: box enlargement for ``single``.
        progress: show a tqdm progress bar.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    coco_gt = load_coco(annotations) if isinstance(annotations, (str, Path)) else annotations
    results = predict_results(
        predict, coco_gt, images_dir, protocol, image_ids, crop_scale, progress
    )
    return evaluate_results(coco_gt, results, image_ids, protocol)
