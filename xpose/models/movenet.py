"""MoveNet (Lightning, Thunder, MultiPose): pre-processing, decoding and video crop regions.

Everything here is a pure function of numpy arrays. MoveNet's raw outputs hold ``(y, x, score)``
triples normalized to the model input; the results (:class:`~xpose.results.Poses`) hold
``(x, y)`` in pixels of the original image.

Video mode (single-pose models) follows tfjs pose-detection's crop-region algorithm: the next
frame is cropped to a square around the hips sized from the previous frame's keypoints
(:func:`determine_crop_region`), the crop is run through the model (:func:`prepare_in_crop`)
and the keypoints are mapped back (:func:`decode_single_in_crop`). The stateful object that
keeps the crop region between frames lives elsewhere (:class:`xpose.stream.PoseStream`) and
calls these functions.

The module also holds the catalogue's MoveNet specs (:data:`LIGHTNING`, :data:`THUNDER`,
:data:`MULTIPOSE`), MultiPose's options (:class:`MultiPoseOptions`) and the heads the estimator
runs (:class:`SinglePoseHead`, :class:`MultiPoseHead`).

The module is over 500 lines because it holds one model family whole, as each model module
does: three specs, their options and heads, the pure functions they run and the crop regions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from xpose.keypoints import NUM_KEYPOINTS, Keypoint
from xpose.models.base import (
    Head,
    ModelOptions,
    ModelSpec,
    boolean,
    option,
    positive_int,
    unit_float,
)
from xpose.motion import affine_matrix, transform_points, zoom
from xpose.preprocess import (
    CropBox,
    Geometry,
    Letterbox,
    crop_and_resize,
    crop_and_resize_reference,
    letterbox,
    to_rgb_uint8,
)
from xpose.results import Poses

__all__ = [
    "CROP_SMOOTHING",
    "LIGHTNING",
    "MIN_CROP_KEYPOINT_SCORE",
    "MIN_POSE_SCORE",
    "MULTIPOSE",
    "MULTIPOSE_PADS",
    "POSE_SCORES",
    "RESIZES",
    "THUNDER",
    "CropRegion",
    "MultiPoseHead",
    "MultiPoseOptions",
    "SinglePoseHead",
    "SinglePoseOptions",
    "blend_crop_regions",
    "decode_multi",
    "decode_single",
    "decode_single_in_crop",
    "determine_crop_region",
    "init_crop_region",
    "multipose_size",
    "prepare",
    "prepare_in_crop",
    "single_pose_score",
]

#: Keypoints scoring at or below this are ignored when sizing the next crop region.
MIN_CROP_KEYPOINT_SCORE = 0.2
#: Single-pose models return no pose scoring below this (tfjs pose-detection's default).
MIN_POSE_SCORE = 0.25
#: How a single-pose score is made from keypoint scores (see :func:`single_pose_score`).
POSE_SCORES = ("confident", "mean")
#: Pre-processing of single-pose MoveNet: ``"area"`` (anti-aliased resize, rounded) or
#: ``"reference"`` (tfjs pose-detection's framing, plain bilinear ``crop_and_resize`` and
#: truncation to int32).
RESIZES = ("area", "reference")
#: Where MultiPose's letterbox padding goes (:class:`MultiPoseOptions`).
MULTIPOSE_PADS = ("centre", "corner")
#: Weight of the newest crop region in the low-pass filter between frames
#: (:func:`blend_crop_regions`; 1.0 turns the filter off).
CROP_SMOOTHING = 0.5
#: How far the crop reaches beyond the torso and the visible body (tfjs pose-detection's values).
TORSO_EXPANSION_RATIO = 1.9
BODY_EXPANSION_RATIO = 1.2
#: MultiPose outputs this many people, each as 17 x (y, x, score) + (ymin, xmin, ymax, xmax, score).
MAX_MULTIPOSE_PEOPLE = 6
_MULTIPOSE_WIDTH = NUM_KEYPOINTS * 3 + 5

_TORSO = (Keypoint.LEFT_SHOULDER, Keypoint.RIGHT_SHOULDER, Keypoint.LEFT_HIP, Keypoint.RIGHT_HIP)


def _check_spec(spec: ModelSpec) -> None:
    if spec.family != "movenet":
        raise ValueError(
            f"expected a MoveNet model spec, got {spec.name!r} of family {spec.family!r}; "
            "use xpose.models.posenet for PoseNet"
        )


def _raw(raw: npt.ArrayLike, shape: tuple[int, ...], what: str) -> npt.NDArray[np.float32]:
    """``raw`` as float32 of ``shape``, tolerating missing or extra leading axes of size 1."""
    arr = np.asarray(raw, dtype=np.float32)
    if arr.shape != shape and _strip_ones(arr.shape) != _strip_ones(shape):
        raise ValueError(f"{what}: expected raw output of shape {shape}, got {arr.shape}")
    return arr.reshape(shape)


def _strip_ones(shape: tuple[int, ...]) -> tuple[int, ...]:
    i = 0
    while i < len(shape) and shape[i] == 1:
        i += 1
    return tuple(shape[i:])


def multipose_size(
    image_hw: tuple[int, int], long_side: int = 256, multiple: int = 32
) -> tuple[int, int]:
    """Choose a MultiPose input size ``(height, width)`` that follows the image's aspect ratio.

    The long side becomes ``long_side`` (rounded up to a multiple of ``multiple``) and the short
    side is the aspect-scaled length rounded *up* to a multiple of ``multiple``, so the letterbox
    padding stays below ``multiple`` pixels. :func:`prepare` records that padding in its
    :class:`Letterbox`, so decoding undoes it.
    """
    ih, iw = (int(v) for v in image_hw)
    if ih <= 0 or iw <= 0:
        raise ValueError(f"expected a positive image size (height, width), got {image_hw}")
    if long_side <= 0 or multiple <= 0:
        raise ValueError(
            f"expected positive long_side and multiple, got long_side={long_side}, "
            f"multiple={multiple}"
        )
    long_px = math.ceil(long_side / multiple) * multiple
    short = long_px * min(ih, iw) / max(ih, iw)
    short_px = max(multiple, math.ceil(short / multiple - 1e-9) * multiple)
    return (long_px, short_px) if ih >= iw else (short_px, long_px)


def _input_size(spec: ModelSpec, size: tuple[int, int] | None) -> tuple[int, int]:
    if size is None:
        return spec.input_size
    h, w = (int(v) for v in size)
    if spec.dynamic_size:
        m = spec.size_multiple
        if h <= 0 or w <= 0 or h % m or w % m:
            raise ValueError(
                f"{spec.name}: expected an input size whose height and width are positive "
                f"multiples of {m}, got {size}; use multipose_size() to choose one"
            )
    elif (h, w) != tuple(spec.input_size):
        raise ValueError(
            f"{spec.name}: the model input is fixed at {spec.input_size}, got size={size}"
        )
    return h, w


def _cast(canvas: npt.NDArray[np.uint8], dtype: npt.DTypeLike) -> np.ndarray:
    """``canvas`` ``(N, h, w, 3)`` uint8 as ``dtype``, in one pass: MoveNet's integer inputs
    take the pixels 0..255 as they are."""
    return np.ascontiguousarray(canvas.astype(dtype, copy=False))


def _batch(canvas: npt.NDArray[np.uint8], dtype: npt.DTypeLike) -> np.ndarray:
    """``(1, h, w, 3)`` of ``dtype`` for one ``(h, w, 3)`` image."""
    return _cast(canvas[None], dtype)


def _feeds(spec: ModelSpec, canvas: npt.NDArray[np.uint8]) -> dict[str, np.ndarray]:
    return {spec.input_name: _batch(canvas, spec.input_dtype)}


def prepare(
    image: Any, spec: ModelSpec, size: tuple[int, int] | None = None
) -> tuple[dict[str, np.ndarray], Letterbox]:
    """Letterbox an image into a MoveNet input.

    Args:
        image: ``(H, W, 3)`` uint8 RGB array, or anything :func:`~xpose.preprocess.to_rgb_uint8`
            accepts (grayscale, RGBA, a path).
        spec: a MoveNet :class:`ModelSpec`.
        size: ``(height, width)`` of the input. ``None`` uses ``spec.input_size`` (the only size
            a fixed-size model takes, and MultiPose's 256x256 default, which every converted
            file accepts). For MultiPose on a runtime with a free input size, pass
            :func:`multipose_size` of the image for less padding.

    Returns:
        ``{spec.input_name: (1, h, w, 3) array of spec.input_dtype}`` and the letterbox
        geometry for :func:`decode_single` / :func:`decode_multi`.
    """
    _check_spec(spec)
    target = _input_size(spec, size)
    canvas, lb = letterbox(to_rgb_uint8(image), target)
    return _feeds(spec, canvas), lb


def _keypoints_xy(yxs: npt.NDArray[np.float32]) -> tuple[np.ndarray, np.ndarray]:
    """Split ``(..., 17, 3)`` (y, x, score) into ``(..., 17, 2)`` x, y and ``(..., 17)`` scores."""
    return yxs[..., 1::-1], yxs[..., 2]


def single_pose_score(scores: npt.ArrayLike, method: str = "confident") -> npt.NDArray[np.float32]:
    """Pose scores ``(N,)`` from keypoint scores ``(N, 17)``.

    ``"confident"`` (tfjs pose-detection's definition): the mean of the keypoint scores above
    :data:`MIN_CROP_KEYPOINT_SCORE` (0.2), 0 when none is. ``"mean"``: the mean of all 17.
    """
    sc = np.asarray(scores, np.float32).reshape(-1, NUM_KEYPOINTS)
    if method == "mean":
        return sc.mean(axis=1)
    if method != "confident":
        raise ValueError(f"unknown pose score {method!r}; expected one of {POSE_SCORES}")
    keep = sc > MIN_CROP_KEYPOINT_SCORE
    total = np.where(keep, sc, np.float32(0)).sum(axis=1)
    # a pose with no keypoint kept has total 0: dividing by 1 gives its score 0
    return (total / np.maximum(np.count_nonzero(keep, axis=1), 1)).astype(np.float32)


def decode_single(raw: npt.ArrayLike, geometry: Geometry, pose_score: str = "confident") -> Poses:
    """Decode MoveNet SinglePose output into one pose in image pixels.

    Args:
        raw: ``(1, 1, 17, 3)`` (y, x, score), y and x normalized to the model input.
        geometry: the :class:`Letterbox` from :func:`prepare` (or the :class:`CropBox` from
            :func:`prepare_in_crop`).
        pose_score: how the pose score is made (:func:`single_pose_score`).

    Returns:
        :class:`Poses` with N=1: keypoints ``(1, 17, 2)`` x, y in image pixels, the pose score,
        and the box spanning the keypoints scoring above 0.2.
    """
    yxs = _raw(raw, (1, 1, NUM_KEYPOINTS, 3), "MoveNet single-pose decode")[0]
    xy, scores = _keypoints_xy(yxs)
    return Poses(geometry.normalized_to_image(xy), scores, single_pose_score(scores, pose_score))


def decode_multi(raw: npt.ArrayLike, geometry: Geometry, min_pose_score: float = 0.2) -> Poses:
    """Decode MoveNet MultiPose output into the people scoring at least ``min_pose_score``.

    Args:
        raw: ``(1, 6, 56)``; per person 17 x (y, x, score), then ymin, xmin, ymax, xmax and the
            pose score, all coordinates normalized to the model input.
        geometry: the :class:`Letterbox` from :func:`prepare`.
        min_pose_score: people whose pose score is below this are dropped.

    Returns:
        :class:`Poses` sorted by pose score, highest first; boxes ``(N, 4)`` x1, y1, x2, y2
        are the model's own boxes in image pixels.
    """
    people = _raw(raw, (1, MAX_MULTIPOSE_PEOPLE, _MULTIPOSE_WIDTH), "MoveNet multi-pose decode")[0]
    score = people[:, -1]
    order = np.argsort(-score, kind="stable")
    order = order[score[order] >= min_pose_score]
    people = people[order]
    yxs = people[:, : NUM_KEYPOINTS * 3].reshape(-1, NUM_KEYPOINTS, 3)
    xy, scores = _keypoints_xy(yxs)
    corners = people[:, NUM_KEYPOINTS * 3 : NUM_KEYPOINTS * 3 + 4].reshape(-1, 2, 2)[..., ::-1]
    boxes = geometry.normalized_to_image(corners).reshape(-1, 4)
    return Poses(geometry.normalized_to_image(xy), scores, people[:, -1], boxes)


# --- video mode: crop regions ------------------------------------------------------------


@dataclass(frozen=True)
class CropRegion:
    """A crop region normalized to the image: ``ymin, xmin, ymax, xmax`` (may leave [0, 1]).

    ``height`` and ``width`` are ``ymax - ymin`` and ``xmax - xmin``, also normalized. Regions
    from :func:`determine_crop_region` and :func:`init_crop_region` are squares in pixels.
    """

    ymin: float
    xmin: float
    ymax: float
    xmax: float

    @property
    def height(self) -> float:
        """Normalized height ``ymax - ymin``."""
        return self.ymax - self.ymin

    @property
    def width(self) -> float:
        """Normalized width ``xmax - xmin``."""
        return self.xmax - self.xmin

    def as_box(self) -> tuple[float, float, float, float]:
        """``(ymin, xmin, ymax, xmax)``, as :func:`~xpose.preprocess.crop_and_resize` takes it."""
        return (self.ymin, self.xmin, self.ymax, self.xmax)


def init_crop_region(image_h: int, image_w: int, first_frame: bool = False) -> CropRegion:
    """The crop region used when nothing reliable is known about the person.

    By default the whole image, padded on both sides of its short axis to a square. With
    ``first_frame=True``, tfjs's first-frame guess instead: the largest centred square inside
    the image (uses the pixels better, but can cut off a person near the sides).
    """
    if image_h <= 0 or image_w <= 0:
        raise ValueError(f"expected a positive image size, got {image_h}x{image_w}")
    wide = image_w > image_h
    if wide != first_frame:  # pad the short axis (y) out to the long side, or crop x to h
        box_h, box_w = image_w / image_h, 1.0
        ymin, xmin = (image_h / 2 - image_w / 2) / image_h, 0.0
    else:
        box_h, box_w = 1.0, image_h / image_w
        ymin, xmin = 0.0, (image_w / 2 - image_h / 2) / image_w
    return CropRegion(ymin, xmin, ymin + box_h, xmin + box_w)


def _torso_visible(scores: np.ndarray, min_keypoint_score: float) -> bool:
    k = Keypoint
    hips = scores[k.LEFT_HIP] > min_keypoint_score or scores[k.RIGHT_HIP] > min_keypoint_score
    shoulders = (
        scores[k.LEFT_SHOULDER] > min_keypoint_score
        or scores[k.RIGHT_SHOULDER] > min_keypoint_score
    )
    return bool(hips and shoulders)


def determine_crop_region(
    keypoints: npt.ArrayLike,
    scores: npt.ArrayLike,
    image_h: int,
    image_w: int,
    min_keypoint_score: float = MIN_CROP_KEYPOINT_SCORE,
) -> CropRegion:
    """The crop region for the next frame, from this frame's keypoints (tfjs's algorithm).

    When the torso is visible (a hip and a shoulder score above ``min_keypoint_score``) the region is a
    pixel square centred on the mid-hip, of half-side the largest of 1.9 x the torso's reach
    (all four torso keypoints) and 1.2 x the body's reach (every keypoint scoring at least
    ``min_keypoint_score``), capped at the farthest image edge from the centre. If the torso is not
    visible, or the square would exceed half the image's long side, the whole image (padded to
    a square, :func:`init_crop_region`) is used again.

    Args:
        keypoints: ``(17, 2)`` (or ``(1, 17, 2)``) x, y in pixels of the image, as in
            :attr:`Poses.keypoints`.
        scores: ``(17,)`` (or ``(1, 17)``) keypoint scores.
        image_h, image_w: size of the image in pixels.
        min_keypoint_score: keypoint score threshold.
    """
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
    sc = np.asarray(scores, dtype=np.float64).reshape(-1)
    if kp.shape != (NUM_KEYPOINTS, 2) or sc.shape != (NUM_KEYPOINTS,):
        raise ValueError(
            f"expected keypoints of shape (17, 2) and scores of shape (17,), got "
            f"{np.shape(keypoints)} and {np.shape(scores)}"
        )
    if not _torso_visible(sc, min_keypoint_score):
        return init_crop_region(image_h, image_w)
    center = (kp[Keypoint.LEFT_HIP] + kp[Keypoint.RIGHT_HIP]) / 2.0  # x, y
    torso_range = np.abs(kp[list(_TORSO)] - center).max(axis=0)
    visible = sc >= min_keypoint_score
    body_range = np.abs(kp[visible] - center).max(axis=0) if visible.any() else np.zeros(2)
    half = max(torso_range.max() * TORSO_EXPANSION_RATIO, body_range.max() * BODY_EXPANSION_RATIO)
    cx, cy = float(center[0]), float(center[1])
    half = min(half, max(cx, image_w - cx, cy, image_h - cy))
    if half > max(image_w, image_h) / 2.0:
        return init_crop_region(image_h, image_w)
    return CropRegion(
        (cy - half) / image_h,
        (cx - half) / image_w,
        (cy + half) / image_h,
        (cx + half) / image_w,
    )


def blend_crop_regions(
    previous: CropRegion | None, new: CropRegion, alpha: float = CROP_SMOOTHING
) -> CropRegion:
    """Low-pass filter a crop region between frames: ``previous + alpha * (new - previous)``.

    Each of ``ymin, xmin, ymax, xmax`` is blended on its own, as tfjs pose-detection does.
    ``previous=None`` (the first frame, or after a reset) returns ``new``; ``alpha=1.0``
    turns the filter off.
    """
    if not 0.0 < float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    if previous is None:
        return new
    a = float(alpha)
    old, cur = np.array(previous.as_box()), np.array(new.as_box())
    ymin, xmin, ymax, xmax = (float(v) for v in old + a * (cur - old))
    return CropRegion(ymin, xmin, ymax, xmax)


def warp_crop_region(
    crop: CropRegion, matrix: npt.ArrayLike, image_h: int, image_w: int
) -> CropRegion:
    """Move a crop region with the picture when the camera moves between two frames.

    The region's centre follows the ``(2, 3)`` affine ``matrix`` (previous frame's pixels to
    the next frame's, :attr:`xpose.motion.FrameMotion.matrix`) and its sides scale by the
    matrix's zoom, so a square stays a square.
    """
    m = affine_matrix(matrix)
    centre = ((crop.xmin + crop.xmax) / 2.0 * image_w, (crop.ymin + crop.ymax) / 2.0 * image_h)
    nx, ny = transform_points(m, centre)
    half_w = crop.width * image_w * zoom(m) / 2.0
    half_h = crop.height * image_h * zoom(m) / 2.0
    return CropRegion(
        float((ny - half_h) / image_h),
        float((nx - half_w) / image_w),
        float((ny + half_h) / image_h),
        float((nx + half_w) / image_w),
    )


def prepare_in_crop(
    image: Any, spec: ModelSpec, crop: CropRegion, resize: str = "area"
) -> tuple[dict[str, np.ndarray], CropBox]:
    """Cut ``crop`` out of an image and resize it into a single-pose MoveNet input.

    ``resize="area"`` uses :func:`~xpose.preprocess.crop_and_resize` (anti-aliased when
    shrinking), ``"reference"`` :func:`~xpose.preprocess.crop_and_resize_reference` (what
    tfjs pose-detection feeds the model). Returns the feeds and the :class:`CropBox` geometry;
    decode with :func:`decode_single` (passing that geometry) or :func:`decode_single_in_crop`.
    """
    _check_spec(spec)
    cut = _cutter(resize)
    canvas, box = cut(to_rgb_uint8(image), crop.as_box(), spec.input_size)
    return _feeds(spec, canvas), box


def _cutter(resize: str) -> Any:
    """The crop-and-resize function of a :data:`RESIZES` name."""
    if resize not in RESIZES:
        raise ValueError(f"unknown resize {resize!r}; expected one of {RESIZES}")
    return crop_and_resize_reference if resize == "reference" else crop_and_resize


def decode_single_in_crop(
    raw: npt.ArrayLike,
    crop: CropRegion,
    image_h: int,
    image_w: int,
    pose_score: str = "confident",
) -> Poses:
    """Decode single-pose output of a cropped input into pixels of the whole image.

    Args:
        raw: ``(1, 1, 17, 3)`` (y, x, score) normalized to the crop.
        crop: the region the input was cut from (normalized to the image).
        image_h, image_w: size of the whole image in pixels.
        pose_score: how the pose score is made (:func:`single_pose_score`).
    """
    geometry = CropBox(crop.ymin, crop.xmin, crop.ymax, crop.xmax, 1, 1, image_h, image_w)
    return decode_single(raw, geometry, pose_score)


# --- the estimator's heads ----------------------------------------------------------------


def _choice(choices: tuple[str, ...]) -> Any:
    """An option checker accepting one of ``choices``."""

    def check(name: str, value: Any) -> str:
        if value not in choices:
            raise ValueError(f"option {name!r} must be one of {choices}, got {value!r}")
        return str(value)

    return check


@dataclass(frozen=True)
class SinglePoseOptions(ModelOptions):
    """MoveNet Lightning's and Thunder's options.

    Attributes:
        min_pose_score: a pose scoring below this is dropped (no pose; in video mode tracking
            starts afresh), as tfjs pose-detection does. 0 keeps every pose.
        pose_score: ``"confident"``: the mean of the keypoint scores above 0.2 (tfjs's
            definition); ``"mean"``: the mean of all 17.
        resize: ``"area"``: letterbox with an anti-aliased resize; ``"reference"``: tfjs
            pose-detection's pre-processing (an image is framed to its largest centred square,
            then plain bilinear ``crop_and_resize`` and truncation, in video mode too).
    """

    min_pose_score: float = option(MIN_POSE_SCORE, unit_float)
    pose_score: str = option("confident", _choice(POSE_SCORES))
    resize: str = option("area", _choice(RESIZES))


class SinglePoseHead(Head):
    """MoveNet Lightning / Thunder: one person, letterboxed into the fixed square input, or (in
    video mode) a crop around the person stretched to it. A pose scoring below
    ``min_pose_score`` is dropped."""

    Options: ClassVar[type[ModelOptions]] = SinglePoseOptions
    options: SinglePoseOptions
    crops: ClassVar[bool] = True

    def cast(self, canvas: npt.NDArray[np.uint8]) -> np.ndarray:
        return _cast(canvas, self.input_dtype)

    def prepare(self, image: npt.NDArray[np.uint8]) -> tuple[np.ndarray, Geometry]:
        if self.options.resize == "reference":
            crop = init_crop_region(*image.shape[:2], first_frame=True)
            return self.prepare_in_crop(image, crop.as_box())
        return super().prepare(image)

    def prepare_batch(
        self, images: Sequence[npt.NDArray[np.uint8]], size: tuple[int, int]
    ) -> tuple[np.ndarray, list[Geometry]]:
        if self.options.resize != "reference":
            return super().prepare_batch(images, size)
        # tfjs's framing cuts each image's own square: no shared letterbox buffer
        prepared = [self.prepare(image) for image in images]
        return np.concatenate([x for x, _ in prepared]), [g for _, g in prepared]

    def prepare_in_crop(
        self, image: npt.NDArray[np.uint8], box: tuple[float, float, float, float]
    ) -> tuple[np.ndarray, Geometry]:
        if self.options.resize == "reference":
            canvas, crop = crop_and_resize_reference(image, box, self.spec.input_size)
            return _batch(canvas, self.input_dtype), crop
        crop = CropBox.cut(box, image.shape[:2], self.spec.input_size)
        return _batch(crop.apply(image), self.input_dtype), crop

    def decode(self, outputs: Mapping[str, np.ndarray], geometry: Geometry) -> Poses:
        poses = decode_single(outputs["keypoints"], geometry, self.options.pose_score)
        return poses.select(min_pose_score=self.options.min_pose_score)


@dataclass(frozen=True)
class MultiPoseOptions(ModelOptions):
    """MoveNet MultiPose's options.

    The defaults (a 256x256 input) are what every backend can run, so the same call gives the
    same people on every backend. Larger inputs find more of the people in a crowd
    (docs/benchmarks.md, "MultiPose input size"); they need a file whose input size is free:
    the fp32 ONNX file, on onnxruntime, openvino or opencv. The TFLite files, and the fp16 and
    int8 ONNX files made from them, are fixed at 256x256 (the TFLite graph pins the size; LiteRT's
    ``resize_tensor_input`` fails on it), and options asking for another input are an error.

    Attributes:
        multipose_long_side: the input's long side (a multiple of 32: 256, 384, 512...).
        multipose_square: ``True`` (default): a square input of the long side, the image
            letterboxed into it. ``False``: the short side follows the image's aspect, rounded
            up to a multiple of 32 (less padding, less time on wide frames).
        min_pose_score: people scoring less are dropped.
        multipose_pad: where the padding of the letterboxed input goes: ``"centre"`` (both
            sides) or ``"corner"`` (bottom and right, as tfjs pose-detection pads).
    """

    multipose_long_side: int = option(256, positive_int)
    multipose_square: bool = option(True, boolean)
    min_pose_score: float = option(0.2, unit_float)
    multipose_pad: str = option("centre", _choice(MULTIPOSE_PADS))


class MultiPoseHead(Head):
    """MoveNet MultiPose: up to 6 people, on a square input by default (see
    :class:`MultiPoseOptions`).

    Raises:
        ValueError: the file's input size is fixed and the options ask for another one.
    """

    Options: ClassVar[type[ModelOptions]] = MultiPoseOptions
    options: MultiPoseOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.fixed_size is None:
            return
        opts = self.options
        h, w = self.fixed_size
        if h != w or (opts.multipose_square and h == opts.multipose_long_side):
            return  # the size asked for, or a file of its own shape (run as it is)
        wanted = (
            f"a {opts.multipose_long_side}x{opts.multipose_long_side} input"
            if opts.multipose_square
            else f"an input of long side {opts.multipose_long_side} at the image's aspect"
        )
        raise ValueError(
            f"this {self.spec.name} file has a fixed {h}x{w} input and cannot run {wanted} "
            f"(multipose_long_side={opts.multipose_long_side}, "
            f"multipose_square={opts.multipose_square}): the TFLite files, and the fp16 and int8 "
            "ONNX files made from them, are pinned at their size. For other input sizes use the "
            "fp32 ONNX file (backend onnxruntime, openvino or opencv, precision fp32); with this "
            f"file use multipose_long_side={h}, multipose_square=True"
        )

    def input_size(self, image_hw: tuple[int, int]) -> tuple[int, int]:
        """``(height, width)`` of the input for an image of ``image_hw``."""
        if self.fixed_size is not None:  # checked against the options in __init__
            return self.fixed_size
        opts, multiple = self.options, self.spec.size_multiple
        if opts.multipose_square:
            side = multipose_size((1, 1), opts.multipose_long_side, multiple)[0]
            return side, side
        return multipose_size(image_hw, opts.multipose_long_side, multiple)

    def cast(self, canvas: npt.NDArray[np.uint8]) -> np.ndarray:
        return _cast(canvas, self.input_dtype)

    def fit(self, image_hw: tuple[int, int], size: tuple[int, int]) -> Letterbox:
        lb = super().fit(image_hw, size)
        if self.options.multipose_pad == "corner":
            lb = replace(lb, pad_x=0.0, pad_y=0.0)
        return lb

    def decode(self, outputs: Mapping[str, np.ndarray], geometry: Geometry) -> Poses:
        return decode_multi(outputs["poses"], geometry, self.options.min_pose_score)


# --- the catalogue's MoveNet models -------------------------------------------------------

#: Input dtypes a MoveNet file may have: converted files take int32, TF Hub's own .tflite uint8.
_INPUT_DTYPES = ("int32", "uint8", "float32")

_SINGLE_DOC = (
    "MoveNet SinglePose {variant}: int32 RGB 0..255 input [1, {n}, {n}, 3]; output 'keypoints' "
    "[1, 1, 17, 3] = (y, x, score) normalized to the input square."
)


def _single(name: str, variant: str, side: int) -> ModelSpec:
    return ModelSpec(
        name=name,
        family="movenet",
        input_name="input",
        input_dtype="int32",
        input_size=(side, side),
        output_names=("keypoints",),
        multi_person=False,
        description=_SINGLE_DOC.format(variant=variant, n=side),
        input_dtypes=_INPUT_DTYPES,
        output_shapes=((1, 1, NUM_KEYPOINTS, 3),),
        head=SinglePoseHead,
    )


#: MoveNet SinglePose Lightning (TF Hub singlepose/lightning/4).
LIGHTNING = _single("movenet-lightning", "Lightning", 192)
#: MoveNet SinglePose Thunder (TF Hub singlepose/thunder/4).
THUNDER = _single("movenet-thunder", "Thunder", 256)
#: MoveNet MultiPose Lightning: up to 6 people, free input size (multiples of 32) in ONNX.
MULTIPOSE = ModelSpec(
    name="movenet-multipose",
    family="movenet",
    input_name="input",
    input_dtype="int32",
    input_size=(256, 256),
    output_names=("poses",),
    multi_person=True,
    dynamic_size=True,
    size_multiple=32,
    description=(
        "MoveNet MultiPose Lightning: int32 RGB 0..255 input [1, H, W, 3] with H, W multiples "
        "of 32 (256x256 by default); output 'poses' [1, 6, 56] = per person 17 x (y, x, score) "
        "then ymin, xmin, ymax, xmax, score, normalized to the input."
    ),
    input_dtypes=_INPUT_DTYPES,
    output_shapes=((1, MAX_MULTIPOSE_PEOPLE, _MULTIPOSE_WIDTH),),
    head=MultiPoseHead,
)
