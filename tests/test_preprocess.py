"""Pre-processing: image conversion, letterbox geometry and cropping."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from xpose.preprocess import (
    CropBox,
    Letterbox,
    _shrink,
    crop_and_resize,
    crop_and_resize_reference,
    interpolation,
    letterbox,
    to_rgb_uint8,
)
from xpose.results import Poses


def _blob_image(hw: tuple[int, int], y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    image = np.zeros((*hw, 3), np.uint8)
    image[y0:y1, x0:x1] = 255
    return image


def _centroid(image: np.ndarray) -> np.ndarray:
    """Intensity centroid (x, y) in continuous pixel coordinates (pixel centres at +0.5)."""
    w = image[..., 0].astype(np.float64)
    ys, xs = np.mgrid[: image.shape[0], : image.shape[1]]
    return np.array([((xs + 0.5) * w).sum(), ((ys + 0.5) * w).sum()]) / w.sum()


# --- to_rgb_uint8 -----------------------------------------------------------------------


def test_rgb_array_passes_through_unmodified() -> None:
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    before = image.copy()
    out = to_rgb_uint8(image)
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, before)
    np.testing.assert_array_equal(image, before)


@pytest.mark.parametrize("shape", [(4, 6), (4, 6, 1)])
def test_grayscale_becomes_rgb(shape: tuple[int, ...]) -> None:
    gray = np.arange(24, dtype=np.uint8).reshape(shape)
    out = to_rgb_uint8(gray)
    assert out.shape == (4, 6, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray.reshape(4, 6))


def test_rgba_drops_alpha() -> None:
    rgba = np.random.default_rng(1).integers(0, 256, (3, 4, 4), dtype=np.uint8)
    out = to_rgb_uint8(rgba)
    np.testing.assert_array_equal(out, rgba[..., :3])
    assert out.flags.c_contiguous


def test_array_like_object() -> None:
    class Pic:
        def __array__(self, dtype=None, copy=None):
            return np.full((2, 3, 3), 7, np.uint8)

    assert to_rgb_uint8(Pic()).shape == (2, 3, 3)


def test_float_image_is_refused_with_a_fix() -> None:
    with pytest.raises(TypeError, match=r"expected a uint8 image, got dtype float32.*\* 255"):
        to_rgb_uint8(np.zeros((4, 4, 3), np.float32))


def test_int_image_is_refused() -> None:
    with pytest.raises(TypeError, match="expected a uint8 image, got dtype int64"):
        to_rgb_uint8(np.zeros((4, 4, 3), np.int64))


@pytest.mark.parametrize("shape", [(4, 4, 2), (4, 4, 5), (1, 4, 4, 3), (12,)])
def test_wrong_shape_is_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"expected an image of shape \(H, W, 3\).*got shape"):
        to_rgb_uint8(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("shape", [(0, 4, 3), (0, 4)])
def test_empty_array_is_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="expected a non-empty image"):
        to_rgb_uint8(np.zeros(shape, np.uint8))


def test_not_an_image_is_refused() -> None:
    with pytest.raises(TypeError, match=r"expected an .* numpy array or an image path, got int"):
        to_rgb_uint8(3)


def test_reads_file_as_rgb(tmp_path: Path) -> None:
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[..., 0] = 200  # red
    path = tmp_path / "red.png"
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    for arg in (path, str(path)):
        np.testing.assert_array_equal(to_rgb_uint8(arg), rgb)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"image file not found: .*nope\.jpg"):
        to_rgb_uint8(tmp_path / "nope.jpg")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"cannot read image .*empty.jpg.*: the file is empty"):
        to_rgb_uint8(path)


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.png"
    path.write_bytes(b"this is not an image at all")
    with pytest.raises(ValueError, match=r"cannot read image .*junk.png.*could not decode"):
        to_rgb_uint8(path)


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected a file"):
        to_rgb_uint8(tmp_path)


# --- letterbox --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image_hw", "target_hw"),
    [
        ((480, 640), (192, 192)),
        ((640, 480), (256, 256)),
        ((100, 50), (385, 385)),
        ((500, 640), (224, 256)),
    ],
)
def test_letterbox_geometry_round_trip(
    image_hw: tuple[int, int], target_hw: tuple[int, int]
) -> None:
    out, lb = letterbox(np.zeros((*image_hw, 3), np.uint8), target_hw)
    assert out.shape == (*target_hw, 3) and out.dtype == np.uint8
    assert lb == Letterbox.fit(image_hw, target_hw)
    pts = np.random.default_rng(2).uniform(0, 1, (50, 2)) * [image_hw[1], image_hw[0]]
    model = pts * lb.scale + [lb.pad_x, lb.pad_y]
    np.testing.assert_allclose(lb.to_image(model), pts, atol=1e-3)
    normalized = model / [lb.width, lb.height]
    np.testing.assert_allclose(lb.normalized_to_image(normalized), pts, atol=1e-3)


@pytest.mark.parametrize(
    ("image_hw", "target_hw"),
    [((480, 640), (192, 192)), ((300, 120), (256, 256)), ((50, 40), (192, 192))],
)
def test_letterbox_pixels_match_geometry(
    image_hw: tuple[int, int], target_hw: tuple[int, int]
) -> None:
    """A blob lands where the Letterbox says it does (no stretching, padding accounted for)."""
    h, w = image_hw
    image = _blob_image(image_hw, h // 4, h // 4 + h // 5, w // 3, w // 3 + w // 5)
    out, lb = letterbox(image, target_hw)
    expected = _centroid(image) * lb.scale + [lb.pad_x, lb.pad_y]
    np.testing.assert_allclose(_centroid(out), expected, atol=0.25)
    np.testing.assert_allclose(lb.to_image(_centroid(out)), _centroid(image), atol=0.25 / lb.scale)


def test_letterbox_pads_with_zero_and_keeps_content() -> None:
    image = np.full((480, 640, 3), 90, np.uint8)
    out, lb = letterbox(image, (192, 192))
    assert (lb.pad_x, lb.pad_y, lb.scale) == (0.0, 24.0, 0.3)
    assert not out[:24].any() and not out[-24:].any()
    assert (out[25:-25] == 90).all()


def test_letterbox_refuses_bad_input() -> None:
    with pytest.raises(TypeError, match="expected an \\(H, W, C\\) uint8 array, got float64"):
        letterbox(np.zeros((4, 4, 3)), (8, 8))
    with pytest.raises(ValueError, match="expected a positive target size"):
        letterbox(np.zeros((4, 4, 3), np.uint8), (0, 8))


# --- crop_and_resize --------------------------------------------------------------------


def test_crop_inside_image() -> None:
    image = _blob_image((400, 600), 150, 190, 250, 330)
    out, crop = crop_and_resize(image, (0.25, 0.25, 0.75, 0.75), (200, 300))
    assert out.shape == (200, 300, 3)
    assert crop == CropBox(0.25, 0.25, 0.75, 0.75, 200, 300, 400, 600)
    # Crop starts at (x=150, y=100), scale 1: the blob moves by (-150, -100).
    np.testing.assert_allclose(_centroid(out), _centroid(image) - [150, 100], atol=0.05)
    np.testing.assert_allclose(crop.to_image(_centroid(out)), _centroid(image), atol=0.05)


def test_crop_outside_image_is_zero_padded_and_maps_back() -> None:
    image = np.full((100, 200, 3), 50, np.uint8)
    image[40:60, 90:110] = 255
    box = (-0.5, 0.25, 1.5, 0.75)  # square of 200 px centred on the image, reaching outside in y
    out, crop = crop_and_resize(image, box, (128, 128))
    assert not out[:28].any() and not out[-28:].any()  # 50 px of 200 -> 32 rows, minus blur
    assert (out[40:88, 10:118] > 0).all()
    blob = np.where(out > 200, out, 0)
    np.testing.assert_allclose(crop.to_image(_centroid(blob)), [100, 50], atol=0.5)
    np.testing.assert_allclose(crop.normalized_to_image([[0, 0], [1, 1]]), [[50, -50], [150, 150]])


def test_crop_shrinking_a_lot_is_consistent() -> None:
    image = _blob_image((2000, 3000), 900, 1100, 1400, 1700)
    out, crop = crop_and_resize(image, (0.1, 0.1, 0.9, 0.9), (64, 64))
    np.testing.assert_allclose(crop.to_image(_centroid(out)), _centroid(image), atol=10)


@pytest.mark.parametrize(
    "box", [(0.5, 0.0, 0.5, 1.0), (0.0, 1.0, 1.0, 0.0), (0.0, 0.0, float("nan"), 1.0)]
)
def test_crop_refuses_bad_box(box: tuple[float, float, float, float]) -> None:
    with pytest.raises(ValueError, match="expected a finite box"):
        crop_and_resize(np.zeros((10, 10, 3), np.uint8), box, (8, 8))


# --- one-pass letterbox into a buffer ---------------------------------------------------


def test_letterbox_into_a_used_buffer_equals_a_fresh_one() -> None:
    image = np.random.default_rng(3).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    fresh, lb = letterbox(image, (192, 192))
    batch = np.full((2, 192, 192, 3), 77, np.uint8)
    out, lb2 = letterbox(image, (192, 192), out=batch[1])
    assert lb2 == lb and np.shares_memory(out, batch)
    np.testing.assert_array_equal(batch[1], fresh)
    assert (batch[0] == 77).all()
    assert not fresh[:24].any() and not fresh[168:].any()  # the padding is black


def test_letterbox_refuses_a_buffer_of_the_wrong_shape() -> None:
    image = np.zeros((48, 64, 3), np.uint8)
    with pytest.raises(ValueError, match=r"expected out to be a uint8 array \(32, 32, 3\)"):
        letterbox(image, (32, 32), out=np.zeros((32, 32, 3), np.int32))


def _checkerboard(hw: tuple[int, int]) -> np.ndarray:
    board = (np.indices(hw).sum(axis=0) % 2 * 255).astype(np.uint8)
    return np.repeat(board[..., None], 3, axis=2)


@pytest.mark.parametrize("side", [100, 120, 53])  # scales 0.25, 0.3 and 0.1325
def test_letterbox_shrinks_by_area_and_enlarges_bilinearly(side: int) -> None:
    # a 1-pixel checkerboard shrunk: averaging areas gives flat grey, bilinear would alias
    small, lb = letterbox(_checkerboard((400, 400)), (side, side))
    assert lb.scale < 0.5
    assert np.abs(small.astype(int) - 127.5).max() <= 1
    assert interpolation(0.25) == cv2.INTER_AREA
    assert interpolation(0.6) == interpolation(2.0) == cv2.INTER_LINEAR


def test_crop_shrinks_by_area() -> None:
    out, _ = crop_and_resize(_checkerboard((479, 641)), (0.1, 0.2, 0.9, 0.7), (90, 110))
    assert np.abs(out.astype(int) - 127.5).max() <= 1


@pytest.mark.parametrize("hw", [(8, 12), (9, 13), (7, 4), (1, 5)])
def test_halving_averages_exact_2x2_blocks(hw: tuple[int, int]) -> None:
    image = np.random.default_rng(5).integers(0, 256, (*hw, 3), dtype=np.uint8)
    small, sx, sy = _shrink(image, 0.3, 0.3)
    h, w = hw
    fy, fx = (2 if h >= 2 else 1), 2
    assert (sx, sy) == (0.3 * fx, 0.3 * fy)
    blocks = image[: h - h % fy, : w - w % fx].astype(np.float64)
    blocks = blocks.reshape(h // fy, fy, w // fx, fx, 3).mean(axis=(1, 3))
    assert small.shape == blocks.shape
    assert np.abs(small - blocks).max() <= 0.5 + 1e-9  # OpenCV rounds the exact mean
    assert _shrink(image, 0.5, 0.7)[0] is image  # nothing to halve at 0.5 and above


def _gaussian_image(hw: tuple[int, int], centre: tuple[float, float], sigma: float) -> np.ndarray:
    """A bright Gaussian blob centred at ``centre`` (x, y, continuous pixel coordinates)."""
    ys, xs = np.mgrid[: hw[0], : hw[1]] + 0.5
    blob = np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * sigma**2))
    return np.repeat(np.round(255 * blob).astype(np.uint8)[..., None], 3, axis=2)


@pytest.mark.parametrize(
    ("image_hw", "target_hw"),
    [
        ((480, 640), (192, 192)),  # 0.3: one halving
        ((481, 641), (192, 192)),  # odd sizes: a row and a column cropped before halving
        ((640, 480), (256, 256)),  # 0.4
        ((1001, 799), (192, 192)),  # 0.19: two halvings
        ((2003, 1500), (256, 256)),  # 0.128: three halvings
        ((300, 400), (385, 385)),  # enlarging: bilinear only
    ],
)
def test_letterbox_keeps_a_blob_where_to_image_says(
    image_hw: tuple[int, int], target_hw: tuple[int, int]
) -> None:
    h, w = image_hw
    sigma = 4.0 * max(h / target_hw[0], w / target_hw[1])  # 4 model pixels
    for centre in [(w * 0.37 + 0.3, h * 0.61 + 0.7), (w * 0.7 + 0.5, h * 0.3)]:
        out, lb = letterbox(_gaussian_image(image_hw, centre, sigma), target_hw)
        np.testing.assert_allclose(lb.to_image(_centroid(out)), centre, atol=0.06 / lb.scale)


@pytest.mark.parametrize(
    ("image_hw", "box", "target_hw"),
    [
        ((480, 640), (0.1, 0.2, 0.9, 0.7), (192, 192)),  # sx 0.6, sy 0.5
        ((481, 641), (-0.2, 0.13, 0.85, 0.9), (192, 192)),  # odd, outside in y, sx 0.39
        ((1001, 1999), (0.05, 0.1, 0.95, 0.6), (64, 64)),  # sx 0.064, sy 0.071
        ((720, 1280), (0.3, 0.4, 0.5, 0.55), (256, 256)),  # enlarging
    ],
)
def test_crop_keeps_a_blob_where_to_image_says(
    image_hw: tuple[int, int], box: tuple[float, float, float, float], target_hw: tuple[int, int]
) -> None:
    h, w = image_hw
    ymin, xmin, ymax, xmax = box
    centre = (w * (0.55 * xmin + 0.45 * xmax) + 0.3, h * (0.4 * ymin + 0.6 * ymax) + 0.2)
    sigma = 4.0 * max((ymax - ymin) * h / target_hw[0], (xmax - xmin) * w / target_hw[1])
    out, crop = crop_and_resize(_gaussian_image(image_hw, centre, sigma), box, target_hw)
    tol = 0.06 * max((xmax - xmin) * w / target_hw[1], (ymax - ymin) * h / target_hw[0])
    np.testing.assert_allclose(crop.to_image(_centroid(out)), centre, atol=tol)


@pytest.mark.parametrize("hw", [(481, 641), (480, 640), (1001, 799)])
def test_shrinking_odd_sizes_leaves_no_seam(hw: tuple[int, int]) -> None:
    image = np.full((*hw, 3), 200, np.uint8)
    out, lb = letterbox(image, (192, 192))
    y0, x0, ph, pw = lb.placement()
    assert (out[y0 : y0 + ph, x0 : x0 + pw] == 200).all()
    inside, _ = crop_and_resize(image, (0.0, 0.0, 1.0, 1.0), (100, 90))
    assert (inside == 200).all()


# --- the reference-compatible crop (plain bilinear, truncated) ------------------------------

_REF_IMAGE = np.array(
    [[0, 10, 17, 30, 40], [50, 61, 70, 85, 90], [100, 110, 123, 130, 141]], np.uint8
)


def test_crop_and_resize_reference_hand_computed() -> None:
    # box (0, 0, 0.5, 0.75) on a 3x5 image, 2x3 output: rows sampled at 0 and 1 (0.5 * 2 / 1
    # apart), columns at 0, 1.5 and 3 (0.75 * 4 / 2 apart); 1.5 averages two pixels and the
    # .5 is truncated away: (10 + 17) / 2 = 13.5 -> 13, (61 + 70) / 2 = 65.5 -> 65.
    out, box = crop_and_resize_reference(_REF_IMAGE, (0.0, 0.0, 0.5, 0.75), (2, 3))
    np.testing.assert_array_equal(out, [[0, 13, 30], [50, 65, 85]])
    assert (box.height, box.width, box.image_height, box.image_width) == (2, 3, 3, 5)


def test_crop_and_resize_reference_outside_is_zero() -> None:
    # box (0.25, -0.25, 1.25, 0.75): rows at 0.5 and 2.5 (outside), columns at -1 (outside),
    # 1 and 3: row 0 is (10 + 61) / 2 = 35.5 -> 35 and (30 + 85) / 2 = 57.5 -> 57.
    rgb = np.repeat(_REF_IMAGE[:, :, None], 3, axis=2)
    out, _ = crop_and_resize_reference(rgb, (0.25, -0.25, 1.25, 0.75), (2, 3))
    expected = np.array([[0, 35, 57], [0, 0, 0]], np.uint8)
    np.testing.assert_array_equal(out, np.repeat(expected[:, :, None], 3, axis=2))


def test_crop_and_resize_reference_matches_tensorflow() -> None:
    tf = pytest.importorskip("tensorflow", reason="comparing with TensorFlow needs tensorflow")
    image = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    for box, size in [((0.05, -0.1, 0.95, 1.05), (64, 64)), ((0.3, 0.2, 0.4, 0.35), (16, 9))]:
        ours, _ = crop_and_resize_reference(image, box, size)
        theirs = tf.image.crop_and_resize(
            image[None].astype(np.float32), [box], [0], size, "bilinear", 0.0
        )
        np.testing.assert_array_equal(ours, tf.cast(theirs, tf.int32).numpy()[0])


# --- pixel squares around a person (COCO boxes) -----------------------------------------------


def test_crop_box_square_is_centred_and_enlarged() -> None:
    crop = CropBox.square([10, 20, 40, 80], (200, 100), 1.25)  # centre (30, 60), long side 80
    assert (crop.height, crop.width) == (100, 100)  # round(80 * 1.25), cut 1:1
    np.testing.assert_allclose(crop.to_image([[0, 0], [100, 100]]), [[-20, 10], [80, 110]])
    wide = CropBox.square([0, 0, 10, 10], (50, 50), 2.0)
    assert (wide.height, wide.width) == (20, 20)
    np.testing.assert_allclose(wide.to_image([0, 0]), [-5, -5])
    with pytest.raises(ValueError, match="crop scale must be > 0"):
        CropBox.square([0, 0, 10, 10], (50, 50), -1.0)


def test_crop_box_square_pads_outside_the_image_with_zeros() -> None:
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) + 1
    crop = CropBox.square([-2, 1, 5, 5], (4, 6), 1.0)  # x0 -2, y0 1, side 5
    out = crop.apply(image)
    assert out.shape == (5, 5, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:3, 2:], image[1:4, 0:3])
    assert not out[:, :2].any()
    assert not out[3:].any()
    assert not CropBox.square([100, 100, 3, 3], (4, 6), 1.0).apply(image).any()


def test_crop_box_maps_poses_back_to_the_image() -> None:
    crop = CropBox.square([-5, 7, 30, 30], (100, 100), 1.0)  # x0 -5, y0 7
    poses = Poses(np.full((1, 17, 2), 3, np.float32), np.ones((1, 17), np.float32))
    back = crop.poses_to_image(poses)
    np.testing.assert_allclose(back.keypoints[0, 0], [-2, 10], atol=1e-5)
    np.testing.assert_allclose(back.boxes[0], poses.boxes[0] + [-5, 7, -5, 7], atol=1e-5)
    np.testing.assert_array_equal(back.scores, poses.scores)
