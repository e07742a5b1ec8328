"""Drawing poses on images: skeleton edges, keypoint dots and boxes, on a copy.

Everything here takes and returns RGB ``uint8`` images ``(H, W, 3)``; the caller's array is
never written to.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from xpose.keypoints import SKELETON
from xpose.results import Poses

__all__ = ["PALETTE", "color_for", "draw_poses"]

Color = tuple[int, int, int]

#: Fixed RGB colours, one per track id modulo its length (Tableau 10).
PALETTE: tuple[Color, ...] = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)

#: Fixed-point fraction bits for cv2's sub-pixel drawing (coordinates are scaled by 2**_SHIFT).
_SHIFT = 4
_SCALE = 1 << _SHIFT
#: Coordinates are clipped to this many pixels beyond the image, to keep cv2's ints in range.
_MARGIN = 4096


def color_for(track_id: int, index: int, palette: tuple[Color, ...] = PALETTE) -> Color:
    """The RGB colour of a pose: by track id when tracked (``>= 0``), else by its index."""
    key = track_id if track_id >= 0 else index
    return palette[key % len(palette)]


def _check_image(image: npt.ArrayLike) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image: expected a numpy array (H, W, 3) uint8 RGB, got {type(image)}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image: expected shape (H, W, 3) RGB, got {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"image: expected dtype uint8, got {image.dtype}")
    return image


def draw_poses(
    image_rgb: npt.NDArray[np.uint8],
    poses: Poses,
    threshold: float = 0.3,
    *,
    draw_boxes: bool = False,
    radius: int | None = None,
    thickness: int | None = None,
    palette: tuple[Color, ...] = PALETTE,
) -> npt.NDArray[np.uint8]:
    """Draw poses on a copy of an image.

    Each pose gets one colour from ``palette``: by its track id, or by its index in ``poses``
    when untracked (``-1``). Keypoints scoring below ``threshold`` are left out, and so is
    every skeleton edge touching one. Lines and dots are anti-aliased, at sub-pixel precision.

    Args:
        image_rgb: ``(H, W, 3)`` uint8 RGB image; not modified.
        poses: poses in pixels of this image (keypoints ``(N, 17, 2)`` x, y).
        threshold: the least keypoint score to draw.
        draw_boxes: also draw each pose's box (with ``#id`` when tracked).
        radius: keypoint dot radius in pixels; default scales with the image size.
        thickness: line thickness in pixels; default scales with the image size.
        palette: RGB colours to pick from.

    Returns:
        A new ``(H, W, 3)`` uint8 RGB image.

    Raises:
        TypeError, ValueError: for an image that is not an ``(H, W, 3)`` uint8 array.
    """
    image = _check_image(image_rgb)
    if not palette:
        raise ValueError("palette: expected at least one colour, got none")
    canvas = np.array(image, dtype=np.uint8, order="C", copy=True)
    h, w = canvas.shape[:2]
    if thickness is None:
        thickness = max(1, round(min(h, w) / 240))
    if radius is None:
        radius = thickness + 2
    if thickness < 1 or radius < 1:
        raise ValueError(f"thickness and radius must be >= 1, got {thickness} and {radius}")

    pts = np.clip(poses.keypoints, -_MARGIN, max(h, w) + _MARGIN)
    fixed = np.rint(np.nan_to_num(pts, nan=0.0) * _SCALE).astype(np.int64)
    visible = (poses.scores >= threshold) & np.isfinite(poses.keypoints).all(axis=-1)

    for i in range(len(poses)):
        color = color_for(int(poses.track_ids[i]), i, palette)
        if draw_boxes and np.isfinite(poses.boxes[i]).all():
            x1, y1, x2, y2 = np.clip(poses.boxes[i], -_MARGIN, max(h, w) + _MARGIN)
            p1 = (round(float(x1) * _SCALE), round(float(y1) * _SCALE))
            p2 = (round(float(x2) * _SCALE), round(float(y2) * _SCALE))
            cv2.rectangle(canvas, p1, p2, color, thickness, cv2.LINE_AA, _SHIFT)
            if poses.track_ids[i] >= 0:
                org = (round(float(x1)), max(round(float(y1)) - 2 * thickness, 10))
                cv2.putText(
                    canvas,
                    f"#{int(poses.track_ids[i])}",
                    org,
                    cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * thickness,
                    color,
                    thickness,
                    cv2.LINE_AA,
                )
        for a, b in SKELETON:
            if visible[i, a] and visible[i, b]:
                cv2.line(
                    canvas,
                    (int(fixed[i, a, 0]), int(fixed[i, a, 1])),
                    (int(fixed[i, b, 0]), int(fixed[i, b, 1])),
                    color,
                    thickness,
                    cv2.LINE_AA,
                    _SHIFT,
                )
        for k in np.flatnonzero(visible[i]).tolist():
            centre = (int(fixed[i, k, 0]), int(fixed[i, k, 1]))
            cv2.circle(canvas, centre, radius * _SCALE, color, -1, cv2.LINE_AA, _SHIFT)
    return canvas
