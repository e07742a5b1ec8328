"""Image pre-processing shared by every model: reading, letterboxing and cropping.

Pure numpy/OpenCV functions. Images are RGB ``(H, W, 3)`` uint8 throughout; files are read with
OpenCV and converted from its BGR order to RGB here, so arrays taken from ``cv2.imread`` must be
converted by the caller (``cv2.cvtColor(img, cv2.COLOR_BGR2RGB)``) before they are passed in.

Geometry convention: pixel coordinates are continuous, with pixel ``(i, j)`` covering
``[j, j + 1) x [i, i + 1)``, so a point normalized to an image of width ``W`` maps to ``x * W``.
The geometry objects (:class:`Letterbox`, :class:`CropBox`) both make a model input
(``apply``) and map model-input coordinates back to image pixels, with the same method names,
so decoders accept either (:data:`Geometry`). Their ``apply`` trusts its image: callers check
it once, with :func:`to_rgb_uint8`, and the public :func:`letterbox` / :func:`crop_and_resize`
check their arguments before applying.

The module is a little over 500 lines because it holds every step from an image to a model
input in one place: reading (with its pixel limit), letterboxing, crops and the
reference-compatible resize.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from xpose.imagesize import header_size
from xpose.results import Poses

__all__ = [
    "DEFAULT_MAX_IMAGE_PIXELS",
    "MAX_IMAGE_PIXELS",
    "CropBox",
    "Geometry",
    "Letterbox",
    "crop_and_resize",
    "crop_and_resize_reference",
    "interpolation",
    "letterbox",
    "max_image_pixels",
    "to_rgb_uint8",
]

ImageLike = npt.NDArray[np.uint8] | str | os.PathLike[str]


#: The most pixels (width x height) an image file may hold to be decoded; ``None``: the value of
#: the environment variable ``XPOSE_MAX_IMAGE_PIXELS`` if set, else
#: :data:`DEFAULT_MAX_IMAGE_PIXELS`. Checked from the file's header before decoding (see
#: :func:`max_image_pixels`). ``xpose predict --max-pixels N`` sets it.
MAX_IMAGE_PIXELS: int | None = None

#: The default pixel limit: 250 million pixels (e.g. 20000 x 12500), about 750 MB decoded.
DEFAULT_MAX_IMAGE_PIXELS = 250_000_000

_HEADER_BYTES = 1 << 16


def max_image_pixels() -> int:
    """The pixel limit in force: :data:`MAX_IMAGE_PIXELS`, ``$XPOSE_MAX_IMAGE_PIXELS`` or the default.

    Raises:
        ValueError: ``XPOSE_MAX_IMAGE_PIXELS`` is not a positive integer.
    """
    if MAX_IMAGE_PIXELS is not None:
        return int(MAX_IMAGE_PIXELS)
    text = os.environ.get("XPOSE_MAX_IMAGE_PIXELS", "").strip()
    if not text:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"XPOSE_MAX_IMAGE_PIXELS must be a positive integer, got {text!r}")
    return value


def _opencv_limit() -> int:
    """OpenCV's own pixel limit (``OPENCV_IO_MAX_IMAGE_PIXELS``, default 2**30)."""
    try:
        return int(os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS", 1 << 30))
    except ValueError:
        return 1 << 30


def _read_image(path: str | os.PathLike[str]) -> npt.NDArray[np.uint8]:
    p = Path(path)
    if p.is_symlink() and not p.exists():
        raise FileNotFoundError(
            f"cannot read image {str(p)!r}: it is a broken symbolic link "
            f"(to {os.readlink(p)!r}, which does not exist)"
        )
    if not p.exists():
        raise FileNotFoundError(f"image file not found: {str(p)!r}")
    if not p.is_file():
        raise ValueError(
            f"cannot read image {str(p)!r}: expected a file, got a directory or device"
        )
    with open(p, "rb") as f:
        head = f.read(_HEADER_BYTES)
    size = header_size(head)
    limit = max_image_pixels()
    if size is not None and size[0] * size[1] > limit:
        raise ValueError(
            f"cannot read image {str(p)!r}: {size[0]}x{size[1]} is {size[0] * size[1]:,} pixels, "
            f"above the limit of {limit:,}; raise it with --max-pixels N, the environment "
            "variable XPOSE_MAX_IMAGE_PIXELS, or xpose.preprocess.MAX_IMAGE_PIXELS"
        )
    data = np.fromfile(p, dtype=np.uint8)
    if data.size == 0:
        raise ValueError(f"cannot read image {str(p)!r}: the file is empty")
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if (bgr is None or bgr.size == 0) and size is not None and size[0] * size[1] > _opencv_limit():
        raise ValueError(
            f"cannot read image {str(p)!r}: {size[0]}x{size[1]} is above OpenCV's own limit; "
            "set the environment variable OPENCV_IO_MAX_IMAGE_PIXELS before xpose starts"
        )
    if bgr is None or bgr.size == 0:
        raise ValueError(
            f"cannot read image {str(p)!r}: OpenCV could not decode it "
            "(expected a JPEG, PNG, BMP, WebP or other OpenCV-readable image)"
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def to_rgb_uint8(image: ImageLike | Any) -> npt.NDArray[np.uint8]:
    """Return ``image`` as a contiguous ``(H, W, 3)`` uint8 RGB array.

    Accepts an ``(H, W, 3)`` uint8 RGB array (returned as is when already contiguous, never
    modified), an ``(H, W)`` or ``(H, W, 1)`` grayscale array, an ``(H, W, 4)`` RGBA array (alpha
    dropped), any object convertible with ``np.asarray`` (e.g. a PIL image), or a path to an
    image file (read with OpenCV and converted from BGR to RGB).

    Raises:
        FileNotFoundError: the path does not exist (or is a broken symbolic link).
        ValueError: the file is empty or undecodable, holds more pixels than
            :func:`max_image_pixels` (checked from its header, before decoding), or the array
            has the wrong shape.
        TypeError: the array is not uint8, or the argument is not an image at all.
    """
    if isinstance(image, (str, os.PathLike)):
        return _read_image(image)
    if not isinstance(image, np.ndarray):
        if not hasattr(image, "__array__") and not hasattr(image, "__array_interface__"):
            raise TypeError(
                "expected an (H, W, 3) uint8 RGB numpy array or an image path, "
                f"got {type(image).__name__}"
            )
        image = np.asarray(image)
    if image.dtype != np.uint8:
        hint = (
            "convert float images to uint8 0..255 first, e.g. "
            "(img * 255).clip(0, 255).astype(np.uint8) for images in [0, 1]"
            if np.issubdtype(image.dtype, np.floating)
            else "convert it to uint8 0..255 first, e.g. with img.astype(np.uint8) for 8-bit data"
        )
        raise TypeError(f"expected a uint8 image, got dtype {image.dtype}; {hint}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        if image.size == 0:
            raise ValueError(f"expected a non-empty image, got shape {image.shape}")
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_GRAY2RGB)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(
            "expected an image of shape (H, W, 3) RGB, (H, W, 4) RGBA or (H, W) grayscale, "
            f"got shape {image.shape}; pass one image at a time, channels last"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"expected a non-empty image, got shape {image.shape}")
    return np.ascontiguousarray(image[:, :, :3])


def _check_array(image: np.ndarray, what: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image)
        raise TypeError(
            f"{what}: expected an (H, W, C) uint8 array, got {got}; "
            "use xpose.preprocess.to_rgb_uint8 to convert it"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{what}: expected a non-empty image, got shape {image.shape}")


def _check_size(target_hw: tuple[int, int], what: str) -> tuple[int, int]:
    th, tw = (int(v) for v in target_hw)
    if th <= 0 or tw <= 0:
        raise ValueError(
            f"{what}: expected a positive target size (height, width), got {target_hw}"
        )
    return th, tw


#: Below this scale, a bilinear resize would skip source pixels: average areas instead.
AREA_BELOW_SCALE = 0.5


def interpolation(scale: float) -> int:
    """The OpenCV interpolation for one ``cv2.resize`` by ``scale``.

    ``INTER_AREA`` (each output pixel averages the source pixels it covers) when shrinking
    below :data:`AREA_BELOW_SCALE`; ``INTER_LINEAR`` otherwise, where bilinear weights already
    reach every source pixel and OpenCV's bilinear path is several times faster. xpose's own
    resizes (:func:`_shrink`) halve by area instead, then finish bilinearly.
    """
    return cv2.INTER_AREA if scale < AREA_BELOW_SCALE else cv2.INTER_LINEAR


def _halvings(scale: float) -> int:
    """How many times :func:`_shrink` halves an axis scaled by ``scale``."""
    count = 0
    while scale < AREA_BELOW_SCALE:
        scale *= 2.0
        count += 1
    return count


def _shrink(
    image: npt.NDArray[np.uint8], sx: float, sy: float
) -> tuple[npt.NDArray[np.uint8], float, float]:
    """Halve ``image`` by area averaging until the scales left are :data:`AREA_BELOW_SCALE`
    or more; returns the smaller image and the scales left (``sx * 2**k``, ``sy * 2**k``).

    Each step crops an odd last row or column, then averages 2x2 (or 2x1) blocks with
    ``INTER_AREA`` at exactly 2x, OpenCV's integer fast path (a resize at a non-integer area
    scale reads every source pixel in scalar code, about ten times slower). Continuous pixel
    coordinates just halve (OpenCV's pixel centre ``x`` of the halved image is the source's
    ``(x + 0.5) * 2 - 0.5``), so ``model = image * s + t`` stays ``model = small * s' + t``
    with the same ``t``. Every source pixel is still averaged in: the bilinear step that
    finishes the resize, at a scale of 0.5 or more, leaves none out.
    """
    while True:
        h, w = image.shape[:2]
        fx = 2 if sx < AREA_BELOW_SCALE and w >= 2 else 1
        fy = 2 if sy < AREA_BELOW_SCALE and h >= 2 else 1
        if fx == fy == 1:
            return image, sx, sy
        image = halve(image, fx, fy)
        sx, sy = sx * fx, sy * fy


def halve(image: npt.NDArray[np.uint8], fx: int = 2, fy: int = 2) -> npt.NDArray[np.uint8]:
    """``image`` exactly ``fx`` times narrower and ``fy`` times lower (each 1 or 2): an odd
    last column or row is cropped, then blocks are averaged by ``INTER_AREA`` on OpenCV's
    integer fast path."""
    h, w = image.shape[:2]
    return cv2.resize(
        image[: h - h % fy, : w - w % fx], (w // fx, h // fy), interpolation=cv2.INTER_AREA
    )


def _affine(sx: float, sy: float, tx: float, ty: float) -> npt.NDArray[np.float64]:
    """``warpAffine``'s matrix for ``out = (x * sx + tx, y * sy + ty)`` in continuous pixel
    coordinates: OpenCV samples at pixel centres, and centre ``c`` maps to
    ``(c + 0.5) * s + t - 0.5``."""
    return np.array(
        [[sx, 0.0, tx + 0.5 * sx - 0.5], [0.0, sy, ty + 0.5 * sy - 0.5]], dtype=np.float64
    )


def _scale_into(image: npt.NDArray[np.uint8], scale: float, view: npt.NDArray[np.uint8]) -> None:
    """Write ``image`` scaled by ``scale`` (``view = image * scale``, continuous pixel
    coordinates) into ``view``, an ``(h, w, C)`` slice of the model input with
    ``(h, w) = round(image size * scale)``: halvings (:func:`_shrink`) then one bilinear
    resize, by exactly the scale left (past the image's last pixel centre, its edge repeats)."""
    h, w = view.shape[:2]
    if (h, w) == image.shape[:2]:
        view[...] = image.reshape(view.shape)
        return
    src, sx, sy = _shrink(image, scale, scale)
    # dsize (0, 0) with fx = fy: OpenCV maps pixels by exactly the scale left
    resized = cv2.resize(src, (0, 0), dst=view, fx=sx, fy=sy, interpolation=cv2.INTER_LINEAR)
    if resized.shape[:2] != (h, w):  # OpenCV rounded the size otherwise: warp by the scale
        resized = cv2.warpAffine(
            src,
            _affine(sx, sy, 0.0, 0.0),
            (w, h),
            dst=view,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
    if not np.shares_memory(resized, view):
        view[...] = resized.reshape(view.shape)


def _inside(scale: float, shift: float, size: int, span: int) -> tuple[int, int]:
    """The output pixels ``[lo, hi)`` along one axis whose centres fall on the image, for
    ``out = x * scale + shift``: ``0 <= (c + 0.5 - shift) / scale < size``."""
    lo = math.ceil(shift - 0.5)
    hi = math.ceil(shift + size * scale - 0.5)
    return min(max(lo, 0), span), min(max(hi, 0), span)


def _resample(
    image: npt.NDArray[np.uint8],
    sx: float,
    sy: float,
    tx: float,
    ty: float,
    out_hw: tuple[int, int],
) -> npt.NDArray[np.uint8]:
    """Resample so that ``out = (x * sx + tx, y * sy + ty)`` in continuous pixel coordinates.

    Output pixels whose centres fall outside the image are 0. Only the part of the image the
    output reaches is read: it is halved by area (:func:`_shrink`, anti-aliased; cut at even
    offsets, so the halvings average the same pixel pairs wherever the box is), shrunk by
    area to the nearest whole size when a reduction is left, then warped bilinearly, the
    image's edge repeated up to its border (as :class:`Letterbox` does).
    """
    h, w = image.shape[:2]
    oh, ow = out_hw
    cuts, inside = [], []
    for scale, shift, size, span in ((sx, tx, w, ow), (sy, ty, h, oh)):
        step = 1 << _halvings(scale)
        margin = 2 * step + 2  # bilinear taps reach one halved pixel past the output's edge
        lo = math.floor(-shift / scale) - margin
        hi = math.ceil((span - shift) / scale) + margin
        lo = max(0, lo - lo % step)
        cuts.append((lo, min(size, max(lo, hi))))
        inside.append(_inside(scale, shift, size, span))
    (x0, x1), (y0, y1) = cuts
    (ox0, ox1), (oy0, oy1) = inside
    out = np.zeros((oh, ow, *image.shape[2:]), np.uint8)
    if x1 <= x0 or y1 <= y0 or ox1 <= ox0 or oy1 <= oy0:  # the box misses the image
        return out
    src, sx2, sy2 = _shrink(image[y0:y1, x0:x1], sx, sy)
    if sx2 < 1.0 and sy2 < 1.0:
        # the rest of the reduction by area too: in video mode's crops (scales of 0.5-1 are
        # common there) bilinear alone moved Lightning's error on the clip benchmark from 10.02
        # to 10.24 px (Thunder 6.47 -> 6.22); kept as measured when the crop path was tuned
        hh, ww = src.shape[:2]
        w1, h1 = max(1, round(ww * sx2)), max(1, round(hh * sy2))
        if (w1, h1) != (ww, hh):
            src = cv2.resize(src, (w1, h1), interpolation=cv2.INTER_AREA)
            sx2, sy2 = sx2 * ww / w1, sy2 * hh / h1
    # warp only the output pixels on the image: the rest stays 0
    tx2, ty2 = tx + x0 * sx - ox0, ty + y0 * sy - oy0
    view = out[oy0:oy1, ox0:ox1]
    warped = cv2.warpAffine(
        src,
        _affine(sx2, sy2, tx2, ty2),
        (ox1 - ox0, oy1 - oy0),
        dst=view,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    if not np.shares_memory(warped, view):
        view[...] = warped.reshape(view.shape)
    return out


@dataclass(frozen=True)
class Letterbox:
    """How an image was scaled and padded into a model's input.

    ``model = image * scale + (pad_x, pad_y)``; everything in pixels. The padded square or
    rectangle has size ``(height, width)``.
    """

    scale: float
    pad_x: float
    pad_y: float
    height: int
    width: int
    image_height: int
    image_width: int

    @classmethod
    def fit(cls, image_hw: tuple[int, int], target_hw: tuple[int, int]) -> Letterbox:
        """Fit an image into a target size keeping aspect ratio, centred (to the pixel below an
        odd padding), padding the rest."""
        ih, iw = image_hw
        th, tw = target_hw
        if ih <= 0 or iw <= 0:
            raise ValueError(f"image must have a positive size, got {ih}x{iw}")
        scale = min(th / ih, tw / iw)
        nh, nw = round(ih * scale), round(iw * scale)
        # whole-pixel padding, so that the resize writes the image straight into place
        return cls(scale, float((tw - nw) // 2), float((th - nh) // 2), th, tw, ih, iw)

    def placement(self) -> tuple[int, int, int, int]:
        """``(y0, x0, h, w)``: where the scaled image sits in the model input, in pixels."""
        h = max(1, round(self.image_height * self.scale))
        w = max(1, round(self.image_width * self.scale))
        return int(self.pad_y), int(self.pad_x), min(h, self.height), min(w, self.width)

    def apply(
        self, image: npt.NDArray[np.uint8], out: npt.NDArray[np.uint8] | None = None
    ) -> npt.NDArray[np.uint8]:
        """Scale and pad ``image`` ``(image_height, image_width, C)`` uint8 (unchecked) into the
        ``(height, width, C)`` model input; the padding is 0.

        The scaled image is written straight into its place in the output: below a scale of
        0.5 it is first halved by area averaging at exactly 2x (anti-aliased, OpenCV's fast
        integer path), then one bilinear ``cv2.resize`` by exactly the scale left
        (:func:`_scale_into`), so :meth:`to_image` undoes it.

        Args:
            image: the image the letterbox was fitted to.
            out: a ``(height, width, C)`` uint8 array to write into (e.g. one image of a batch
                buffer, ``batch[i]``); ``None`` allocates one. Whatever it held is overwritten.

        Raises:
            ValueError: ``out`` has the wrong shape or dtype.
        """
        shape = (self.height, self.width, *image.shape[2:])
        y0, x0, h, w = self.placement()
        if out is None:
            out = np.zeros(shape, np.uint8)
        else:
            if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != np.uint8:
                got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out)
                raise ValueError(f"letterbox: expected out to be a uint8 array {shape}, got {got}")
            out[:y0] = 0
            out[y0 + h :] = 0
            out[y0 : y0 + h, :x0] = 0
            out[y0 : y0 + h, x0 + w :] = 0
        _scale_into(image, self.scale, out[y0 : y0 + h, x0 : x0 + w])
        return out

    def to_image(self, xy: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Map ``(..., 2)`` x, y in model-input pixels back to image pixels."""
        pad = np.array([self.pad_x, self.pad_y], np.float32)
        return (np.asarray(xy, dtype=np.float32) - pad) / np.float32(self.scale)

    def normalized_to_image(self, xy: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Map ``(..., 2)`` x, y normalized to the model input ([0, 1]) to image pixels."""
        size = np.array([self.width, self.height], np.float32)
        return self.to_image(np.asarray(xy, dtype=np.float32) * size)


def letterbox(
    image: npt.NDArray[np.uint8],
    target_hw: tuple[int, int],
    out: npt.NDArray[np.uint8] | None = None,
) -> tuple[npt.NDArray[np.uint8], Letterbox]:
    """Scale ``image`` into ``target_hw`` keeping its aspect ratio, centred, padded with 0.

    The image is never stretched: the geometry is exactly :meth:`Letterbox.fit`, i.e. model
    pixel ``= image pixel * scale + (pad_x, pad_y)``, so ``lb.to_image`` undoes it exactly.
    Written straight into place, anti-aliased (:meth:`Letterbox.apply`).

    Args:
        image: ``(H, W, C)`` uint8 (normally RGB ``(H, W, 3)``).
        target_hw: ``(height, width)`` of the model input.
        out: a ``(height, width, C)`` uint8 array to write into (e.g. ``batch[i]``); ``None``
            allocates one.

    Returns:
        The ``(height, width, C)`` uint8 input image (``out`` when given) and its
        :class:`Letterbox`.
    """
    _check_array(image, "letterbox")
    th, tw = _check_size(target_hw, "letterbox")
    lb = Letterbox.fit(image.shape[:2], (th, tw))
    return lb.apply(image, out), lb


@dataclass(frozen=True)
class CropBox:
    """How a (possibly out-of-image) box was cut out of an image and resized to a model input.

    The box ``ymin, xmin, ymax, xmax`` is normalized to the image (values outside ``[0, 1]``
    reach into zero padding). The crop is stretched to ``(height, width)`` pixels: model pixel
    ``x = (image x / image_width - xmin) / (xmax - xmin) * width``, likewise for y.
    """

    ymin: float
    xmin: float
    ymax: float
    xmax: float
    height: int
    width: int
    image_height: int
    image_width: int

    @classmethod
    def cut(
        cls,
        box: tuple[float, float, float, float],
        image_hw: tuple[int, int],
        target_hw: tuple[int, int],
    ) -> CropBox:
        """The geometry of cutting ``box`` ``(ymin, xmin, ymax, xmax)``, normalized to an image
        of ``image_hw``, to a model input of ``target_hw``; checks the box."""
        ymin, xmin, ymax, xmax = (float(v) for v in box)
        if (
            not all(math.isfinite(v) for v in (ymin, xmin, ymax, xmax))
            or ymax <= ymin
            or xmax <= xmin
        ):
            raise ValueError(
                "crop_and_resize: expected a finite box (ymin, xmin, ymax, xmax) with "
                f"ymax > ymin and xmax > xmin, got {tuple(box)}"
            )
        th, tw = target_hw
        h, w = image_hw
        return cls(ymin, xmin, ymax, xmax, int(th), int(tw), int(h), int(w))

    @classmethod
    def square(cls, bbox_xywh: Sequence[float], image_hw: tuple[int, int], scale: float) -> CropBox:
        """The pixel-aligned square centred on a box ``(x, y, w, h)`` (COCO's, in pixels) of an
        image of ``image_hw``, of side ``round(max(w, h) * scale)``, cut 1:1 (no resizing).

        The short side is extended to make it square; nothing is clipped (the square may reach
        outside the image, where :meth:`apply` pads with 0).
        """
        if not scale > 0:
            raise ValueError(f"crop scale must be > 0, got {scale}")
        x, y, w, h = (float(v) for v in bbox_xywh)
        size = max(1, round(max(w, h) * scale))
        x0 = math.floor(x + w / 2 - size / 2 + 0.5)
        y0 = math.floor(y + h / 2 - size / 2 + 0.5)
        ih, iw = (int(v) for v in image_hw)
        return cls(y0 / ih, x0 / iw, (y0 + size) / ih, (x0 + size) / iw, size, size, ih, iw)

    def apply(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """Cut the box out of ``image`` ``(image_height, image_width, C)`` uint8 (unchecked)
        and stretch it to the ``(height, width, C)`` model input; outside the image is 0."""
        h, w = self.image_height, self.image_width
        sx = self.width / ((self.xmax - self.xmin) * w)
        sy = self.height / ((self.ymax - self.ymin) * h)
        return _resample(
            image, sx, sy, -self.xmin * w * sx, -self.ymin * h * sy, (self.height, self.width)
        )

    def normalized_to_image(self, xy: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Map ``(..., 2)`` x, y normalized to the crop ([0, 1]) to image pixels."""
        xy = np.asarray(xy, dtype=np.float64)
        out = np.empty(xy.shape, dtype=np.float32)
        out[..., 0] = (self.xmin + xy[..., 0] * (self.xmax - self.xmin)) * self.image_width
        out[..., 1] = (self.ymin + xy[..., 1] * (self.ymax - self.ymin)) * self.image_height
        return out

    def to_image(self, xy: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Map ``(..., 2)`` x, y in model-input pixels to image pixels."""
        xy = np.asarray(xy, dtype=np.float64)
        return self.normalized_to_image(xy / np.array([self.width, self.height], np.float64))

    def poses_to_image(self, poses: Poses) -> Poses:
        """Poses found in the crop (pixels of :meth:`apply`'s output) in image pixels."""
        boxes = self.to_image(poses.boxes.reshape(-1, 2, 2)).reshape(-1, 4)
        return poses.replace(keypoints=self.to_image(poses.keypoints), boxes=boxes)


def crop_and_resize(
    image: npt.NDArray[np.uint8],
    box: tuple[float, float, float, float],
    target_hw: tuple[int, int],
) -> tuple[npt.NDArray[np.uint8], CropBox]:
    """Cut ``box`` out of ``image`` and resize it to ``target_hw`` (stretching, no letterbox).

    Args:
        image: ``(H, W, C)`` uint8 image.
        box: ``(ymin, xmin, ymax, xmax)`` normalized to the image; may reach outside
            ``[0, 1]``, where the crop is padded with 0.
        target_hw: ``(height, width)`` of the output.

    Returns:
        The ``(height, width, C)`` uint8 crop and the :class:`CropBox` that maps model
        coordinates back to image pixels.
    """
    _check_array(image, "crop_and_resize")
    target = _check_size(target_hw, "crop_and_resize")
    crop = CropBox.cut(box, image.shape[:2], target)
    return crop.apply(image), crop


#: What decoders take to map model-input coordinates back to image pixels.
Geometry = Letterbox | CropBox


def _sample_positions(lo: float, hi: float, size: int, count: int) -> npt.NDArray[np.float32]:
    """Source positions (pixel indices) of ``count`` samples of ``[lo, hi]`` (normalized)."""
    f = np.float32
    last = f(size - 1)
    if count > 1:
        step = (f(hi) - f(lo)) * last / f(count - 1)
        return f(lo) * last + np.arange(count, dtype=np.float32) * step
    return np.array([f(0.5) * (f(lo) + f(hi)) * last], np.float32)


def crop_and_resize_reference(
    image: npt.NDArray[np.uint8],
    box: tuple[float, float, float, float],
    target_hw: tuple[int, int],
) -> tuple[npt.NDArray[np.uint8], CropBox]:
    """:func:`crop_and_resize` as TensorFlow's ``crop_and_resize`` (bilinear) then int32 does it.

    For users who must reproduce a tfjs pose-detection deployment exactly. Output pixel
    ``(i, j)`` samples the image at row ``ymin * (H - 1) + i * (ymax - ymin) * (H - 1) /
    (height - 1)`` (columns likewise), bilinearly between the four nearest pixels, 0 where
    the sample falls outside the image; the result is truncated toward zero, as a cast to
    int32 does. No anti-aliasing: large reductions alias. Computed in float32, as TensorFlow
    does.

    Args, returns and errors as :func:`crop_and_resize`; the :class:`CropBox` maps keypoints
    back the way tfjs does (``(xmin + x * (xmax - xmin)) * W``).
    """
    _check_array(image, "crop_and_resize_reference")
    th, tw = _check_size(target_hw, "crop_and_resize_reference")
    ymin, xmin, ymax, xmax = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (ymin, xmin, ymax, xmax)):
        raise ValueError(f"crop_and_resize_reference: expected a finite box, got {tuple(box)}")
    src = image if image.ndim == 3 else image[:, :, None]
    h, w = src.shape[:2]
    ys = _sample_positions(ymin, ymax, h, th)
    xs = _sample_positions(xmin, xmax, w, tw)
    y_ok = (ys >= 0) & (ys <= h - 1)
    x_ok = (xs >= 0) & (xs <= w - 1)
    top = np.clip(np.floor(ys), 0, h - 1).astype(np.intp)
    bottom = np.clip(np.ceil(ys), 0, h - 1).astype(np.intp)
    left = np.clip(np.floor(xs), 0, w - 1).astype(np.intp)
    right = np.clip(np.ceil(xs), 0, w - 1).astype(np.intp)
    y_lerp = (ys - np.floor(ys)).astype(np.float32)[:, None, None]
    x_lerp = (xs - np.floor(xs)).astype(np.float32)[None, :, None]
    pix = src.astype(np.float32)
    top_row = (
        pix[top[:, None], left[None, :]]
        + (pix[top[:, None], right[None, :]] - pix[top[:, None], left[None, :]]) * x_lerp
    )
    bottom_row = (
        pix[bottom[:, None], left[None, :]]
        + (pix[bottom[:, None], right[None, :]] - pix[bottom[:, None], left[None, :]]) * x_lerp
    )
    out = top_row + (bottom_row - top_row) * y_lerp
    out[~(y_ok[:, None] & x_ok[None, :])] = 0.0
    canvas = np.trunc(out).astype(np.uint8)
    if image.ndim == 2:
        canvas = canvas[:, :, 0]
    return canvas, CropBox(ymin, xmin, ymax, xmax, th, tw, h, w)
