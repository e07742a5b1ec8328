"""MoveNet pre-processing, decoding and video crop regions, on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest

from xpose.keypoints import Keypoint as K
from xpose.models import get_spec, movenet
from xpose.models.movenet import CropRegion
from xpose.preprocess import Letterbox
from xpose.results import Poses

LIGHTNING = get_spec("movenet-lightning")
MULTIPOSE = get_spec("movenet-multipose")


def _raw_single(xy_norm: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(1, 1, 17, 3) y, x, score from (17, 2) x, y normalized and (17,) scores."""
    return np.concatenate([xy_norm[:, ::-1], scores[:, None]], axis=1)[None, None].astype(
        np.float32
    )


def _bright_spot(feeds: dict[str, np.ndarray]) -> np.ndarray:
    """Intensity centroid (x, y), continuous pixels, of the (1, h, w, 3) input."""
    w = feeds["input"][0, ..., 0].astype(np.float64)
    ys, xs = np.mgrid[: w.shape[0], : w.shape[1]]
    return np.array([((xs + 0.5) * w).sum(), ((ys + 0.5) * w).sum()]) / w.sum()


# --- prepare ----------------------------------------------------------------------------


def test_prepare_lightning() -> None:
    image = np.full((480, 640, 3), 200, np.uint8)
    feeds, lb = movenet.prepare(image, LIGHTNING)
    x = feeds["input"]
    assert x.shape == (1, 192, 192, 3) and x.dtype == np.int32
    assert lb == Letterbox.fit((480, 640), (192, 192))
    assert x[0, :24].max() == 0 and x[0, 30:160].min() == 200


def test_prepare_multipose_size() -> None:
    image = np.zeros((500, 640, 3), np.uint8)
    size = movenet.multipose_size(image.shape[:2])
    assert size == (224, 256)
    feeds, lb = movenet.prepare(image, MULTIPOSE, size=size)
    assert feeds["input"].shape == (1, 224, 256, 3)
    assert (lb.scale, lb.pad_x, lb.pad_y) == (0.4, 0.0, 12.0)
    feeds, _ = movenet.prepare(image, MULTIPOSE)
    assert feeds["input"].shape == (1, 256, 256, 3)


@pytest.mark.parametrize(
    ("image_hw", "expected"),
    [
        ((480, 640), (192, 256)),
        ((640, 480), (256, 192)),
        ((1080, 1920), (160, 256)),
        ((256, 256), (256, 256)),
        ((10, 1000), (32, 256)),
    ],
)
def test_multipose_size(image_hw: tuple[int, int], expected: tuple[int, int]) -> None:
    assert movenet.multipose_size(image_hw) == expected


def test_multipose_size_long_side() -> None:
    assert movenet.multipose_size((480, 640), long_side=320) == (256, 320)
    assert movenet.multipose_size((480, 640), long_side=300) == (256, 320)  # rounded up to 32s
    with pytest.raises(ValueError, match="expected a positive image size"):
        movenet.multipose_size((0, 640))


def test_prepare_refuses_bad_sizes_and_specs() -> None:
    image = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(ValueError, match="multiples of 32, got \\(200, 256\\)"):
        movenet.prepare(image, MULTIPOSE, size=(200, 256))
    with pytest.raises(ValueError, match="fixed at \\(192, 192\\), got size=\\(256, 256\\)"):
        movenet.prepare(image, LIGHTNING, size=(256, 256))
    with pytest.raises(ValueError, match="expected a MoveNet model spec, got 'posenet'"):
        movenet.prepare(image, get_spec("posenet"))
    with pytest.raises(TypeError, match="expected a uint8 image"):
        movenet.prepare(image.astype(np.float32), LIGHTNING)


# --- single pose ------------------------------------------------------------------------


def test_decode_single_lands_in_image_pixels() -> None:
    lb = Letterbox.fit((480, 640), (192, 192))  # scale 0.3, pad_y 24
    xy = np.full((17, 2), 0.5, np.float32)
    xy[K.NOSE] = (0.25, 0.5)  # x, y normalized: model px (48, 96)
    xy[K.LEFT_ANKLE] = (1.0, 1.0)
    scores = np.linspace(0.1, 0.9, 17, dtype=np.float32)
    poses = movenet.decode_single(_raw_single(xy, scores), lb)
    assert isinstance(poses, Poses) and len(poses) == 1
    np.testing.assert_allclose(poses.keypoints[0, K.NOSE], (160.0, 240.0), atol=1e-3)
    np.testing.assert_allclose(poses.keypoints[0, K.LEFT_ANKLE], (640.0, 560.0), atol=1e-3)
    np.testing.assert_allclose(poses.keypoints[0, K.LEFT_EYE], (320.0, 240.0), atol=1e-3)
    np.testing.assert_allclose(poses.scores[0], scores)
    # The pose score averages the 14 keypoint scores above 0.2 (0.25 .. 0.9): 0.575.
    np.testing.assert_allclose(poses.score, [0.575], rtol=1e-5)
    mean = movenet.decode_single(_raw_single(xy, scores), lb, pose_score="mean")
    np.testing.assert_allclose(mean.score, [0.5], rtol=1e-5)
    # Box from keypoints scoring above 0.2: the nose (0.1) is left out.
    np.testing.assert_allclose(poses.boxes[0], (320.0, 240.0, 640.0, 560.0), atol=1e-3)


def test_decode_single_accepts_squeezed_and_refuses_wrong_shape() -> None:
    lb = Letterbox.fit((100, 100), (192, 192))
    raw = np.zeros((17, 3), np.float32)
    assert len(movenet.decode_single(raw, lb)) == 1
    with pytest.raises(
        ValueError, match=r"expected raw output of shape \(1, 1, 17, 3\), got \(1, 6, 56\)"
    ):
        movenet.decode_single(np.zeros((1, 6, 56)), lb)


def test_prepare_then_decode_round_trip() -> None:
    """A spot in the image, found in the model input, decodes back to the same pixel."""
    image = np.zeros((300, 500, 3), np.uint8)
    image[200:210, 100:110] = 255  # centre (105, 205)
    feeds, lb = movenet.prepare(image, LIGHTNING)
    spot = _bright_spot(feeds) / [192, 192]
    raw = _raw_single(np.tile(spot, (17, 1)), np.ones(17, np.float32))
    np.testing.assert_allclose(movenet.decode_single(raw, lb).keypoints[0, 0], (105, 205), atol=0.5)


# --- multi pose -------------------------------------------------------------------------


def _raw_multi(people: list[tuple[np.ndarray, np.ndarray, tuple[float, ...], float]]) -> np.ndarray:
    raw = np.zeros((1, 6, 56), np.float32)
    for i, (xy, scores, box, score) in enumerate(people):
        raw[0, i, :51] = np.concatenate([xy[:, ::-1], scores[:, None]], axis=1).reshape(-1)
        raw[0, i, 51:55] = box
        raw[0, i, 55] = score
    return raw


def test_decode_multi_thresholds_sorts_and_maps_boxes() -> None:
    lb = Letterbox.fit((500, 640), (224, 256))  # scale 0.4, pad_y 12
    people = []
    for i, score in enumerate([0.1, 0.9, 0.5, 0.0, 0.3, 0.15]):
        xy = np.full((17, 2), 0.1 * (i + 1), np.float32)
        people.append((xy, np.full(17, score, np.float32), (12 / 224, 0.0, 212 / 224, 0.5), score))
    poses = movenet.decode_multi(_raw_multi(people), lb, min_pose_score=0.2)
    np.testing.assert_allclose(poses.score, [0.9, 0.5, 0.3])
    # Person 1 (score 0.9): x = 0.2 * 256 / 0.4 = 128, y = (0.2 * 224 - 12) / 0.4 = 82
    np.testing.assert_allclose(poses.keypoints[0, 0], (128.0, 82.0), atol=1e-3)
    np.testing.assert_allclose(poses.keypoints[2, 0], (320.0, (0.5 * 224 - 12) / 0.4), atol=1e-3)
    # Box ymin, xmin, ymax, xmax = input rows 12..212, cols 0..128 -> image x1, y1, x2, y2.
    np.testing.assert_allclose(poses.boxes, [[0.0, 0.0, 320.0, 500.0]] * 3, atol=1e-3)
    assert len(movenet.decode_multi(_raw_multi(people), lb, min_pose_score=0.95)) == 0
    assert len(movenet.decode_multi(_raw_multi(people), lb, min_pose_score=0.0)) == 6


def test_multipose_padding_is_undone() -> None:
    """The TF Lite sample never removes its padding; here a keypoint maps back exactly."""
    image_hw = (500, 640)
    size = movenet.multipose_size(image_hw)
    lb = Letterbox.fit(image_hw, size)
    truth = np.array([[100.0, 400.0]])  # x, y in image pixels
    model = (truth * lb.scale + [lb.pad_x, lb.pad_y]) / [size[1], size[0]]
    xy = np.repeat(model, 17, axis=0)
    raw = _raw_multi([(xy, np.ones(17, np.float32), (0.0, 0.0, 1.0, 1.0), 0.8)])
    poses = movenet.decode_multi(raw, lb)
    np.testing.assert_allclose(poses.keypoints[0, 5], truth[0], atol=1e-3)
    naive_y = model[0, 1] * image_hw[0]  # normalized * image height, ignoring the pad
    assert abs(naive_y - truth[0, 1]) > 5


def test_decode_multi_refuses_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"expected raw output of shape \(1, 6, 56\)"):
        movenet.decode_multi(np.zeros((1, 1, 17, 3)), Letterbox.fit((9, 9), (256, 256)))


# --- crop regions -----------------------------------------------------------------------


def test_init_crop_region_pads_whole_image_to_square() -> None:
    wide = movenet.init_crop_region(480, 640)
    assert wide.xmin == 0.0 and wide.width == 1.0
    np.testing.assert_allclose((wide.ymin, wide.ymax), (-1 / 6, 7 / 6))
    assert wide.height * 480 == pytest.approx(wide.width * 640)
    tall = movenet.init_crop_region(640, 480)
    assert tall.ymin == 0.0 and tall.height == 1.0
    np.testing.assert_allclose((tall.xmin, tall.xmax), (-1 / 6, 7 / 6))


def test_init_crop_region_first_frame_is_centred_square_inside() -> None:
    first = movenet.init_crop_region(480, 640, first_frame=True)
    np.testing.assert_allclose(first.as_box(), (0.0, 0.125, 1.0, 0.875))
    first = movenet.init_crop_region(640, 480, first_frame=True)
    np.testing.assert_allclose(first.as_box(), (0.125, 0.0, 0.875, 1.0))


def _person() -> tuple[np.ndarray, np.ndarray]:
    """Keypoints x, y in pixels of a 480x640 image: hips centred at (320, 300)."""
    kp = np.full((17, 2), (320.0, 300.0))
    kp[K.LEFT_HIP], kp[K.RIGHT_HIP] = (300, 300), (340, 300)
    kp[K.LEFT_SHOULDER], kp[K.RIGHT_SHOULDER] = (300, 200), (340, 200)
    kp[K.LEFT_ANKLE] = (320, 420)
    scores = np.full(17, 0.9)
    return kp, scores


def test_crop_region_torso_range() -> None:
    kp, scores = _person()
    region = movenet.determine_crop_region(kp, scores, 480, 640)
    half = 100 * 1.9  # torso reaches 100 px up from the hips; body (120 * 1.2) is less
    np.testing.assert_allclose(
        region.as_box(),
        ((300 - half) / 480, (320 - half) / 640, (300 + half) / 480, (320 + half) / 640),
    )
    assert region.height * 480 == pytest.approx(region.width * 640)  # square in pixels


def test_crop_region_body_range_applies() -> None:
    """The Raspberry Pi sample's loop bug loses the body ratio; a far wrist must widen the crop."""
    kp, scores = _person()
    kp[K.LEFT_WRIST] = (320, 100)  # 200 px above the hips: 200 * 1.2 = 240 > 190
    region = movenet.determine_crop_region(kp, scores, 480, 640)
    assert region.height * 480 == pytest.approx(2 * 240)
    scores[K.LEFT_WRIST] = 0.1  # not confident: ignored again
    region = movenet.determine_crop_region(kp, scores, 480, 640)
    assert region.height * 480 == pytest.approx(2 * 190)


def test_crop_region_resets_when_torso_not_visible() -> None:
    kp, scores = _person()
    scores[[K.LEFT_HIP, K.RIGHT_HIP]] = 0.1
    assert movenet.determine_crop_region(kp, scores, 480, 640) == movenet.init_crop_region(480, 640)
    kp, scores = _person()
    scores[[K.LEFT_SHOULDER, K.RIGHT_SHOULDER]] = 0.2  # not above the threshold
    assert movenet.determine_crop_region(kp, scores, 480, 640) == movenet.init_crop_region(480, 640)
    scores[K.RIGHT_SHOULDER] = 0.3  # one shoulder is enough
    assert movenet.determine_crop_region(kp, scores, 480, 640) != movenet.init_crop_region(480, 640)


def test_crop_region_capped_and_reset_when_too_large() -> None:
    kp, scores = _person()
    kp[K.LEFT_WRIST] = (320, -200)  # would need half = 600: capped to 320 (edge distance)
    region = movenet.determine_crop_region(kp[None], scores[None], 480, 640)
    assert region.height * 480 == pytest.approx(640)
    kp, scores = _person()
    kp[K.LEFT_SHOULDER] = kp[K.RIGHT_SHOULDER] = (320, 80)  # small image: cap exceeds half side
    region = movenet.determine_crop_region(kp, scores, 300, 350)
    assert region == movenet.init_crop_region(300, 350)


def test_crop_region_refuses_wrong_shapes() -> None:
    with pytest.raises(ValueError, match=r"expected keypoints of shape \(17, 2\)"):
        movenet.determine_crop_region(np.zeros((2, 17, 2)), np.zeros(17), 10, 10)


def test_decode_single_in_crop() -> None:
    crop = CropRegion(0.25, 0.25, 0.75, 0.75)
    xy = np.full((17, 2), 0.5, np.float32)
    xy[0] = (0.0, 0.0)
    xy[1] = (1.0, 0.5)
    poses = movenet.decode_single_in_crop(_raw_single(xy, np.ones(17, np.float32)), crop, 400, 800)
    np.testing.assert_allclose(
        poses.keypoints[0, :3], [[200, 100], [600, 200], [400, 200]], atol=1e-3
    )


def test_prepare_in_crop_round_trip() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    image[290:300, 330:340] = 255  # centre (335, 295)
    kp, scores = _person()
    region = movenet.determine_crop_region(kp, scores, 480, 640)
    feeds, geometry = movenet.prepare_in_crop(image, LIGHTNING, region)
    assert feeds["input"].shape == (1, 192, 192, 3) and feeds["input"].dtype == np.int32
    spot = _bright_spot(feeds) / [192, 192]
    raw = _raw_single(np.tile(spot, (17, 1)), np.ones(17, np.float32))
    np.testing.assert_allclose(
        movenet.decode_single(raw, geometry).keypoints[0, 0], (335, 295), atol=0.5
    )
    np.testing.assert_allclose(
        movenet.decode_single_in_crop(raw, region, 480, 640).keypoints[0, 0], (335, 295), atol=0.5
    )


def test_single_pose_score_definitions() -> None:
    scores = np.array([[0.9, 0.5, 0.1] + [0.2] * 14, [0.1] * 17], np.float32)
    # Only scores strictly above 0.2 count: (0.9 + 0.5) / 2; none above 0.2 gives 0.
    np.testing.assert_allclose(movenet.single_pose_score(scores), [0.7, 0.0], rtol=1e-6)
    np.testing.assert_allclose(
        movenet.single_pose_score(scores, "mean"), [(1.5 + 2.8) / 17, 0.1], rtol=1e-6
    )
    with pytest.raises(ValueError, match="unknown pose score 'median'"):
        movenet.single_pose_score(scores, "median")


def test_blend_crop_regions_low_pass() -> None:
    old = movenet.CropRegion(0.0, 0.0, 0.5, 0.5)
    new = movenet.CropRegion(0.5, 0.2, 1.0, 0.7)
    assert movenet.blend_crop_regions(None, new, 0.5) == new
    assert movenet.blend_crop_regions(old, new, 1.0) == new
    blended = movenet.blend_crop_regions(old, new, 0.9)
    np.testing.assert_allclose(blended.as_box(), (0.45, 0.18, 0.95, 0.68), atol=1e-12)
    with pytest.raises(ValueError, match="alpha must be in"):
        movenet.blend_crop_regions(old, new, 0.0)


def test_multipose_corner_padding_is_undone() -> None:
    """``multipose_pad="corner"`` puts the image at the input's top left (padding bottom and
    right, as tfjs does) and decoding maps keypoints back all the same."""
    image = np.full((100, 200, 3), 200, np.uint8)
    head = movenet.MultiPoseHead(
        movenet.MULTIPOSE, movenet.MultiPoseOptions(multipose_pad="corner", multipose_square=False)
    )
    batch, lb = head.prepare(image)
    assert batch.shape == (1, 128, 256, 3)  # the aspect fits 256 x 128 exactly: no padding
    square = movenet.MultiPoseHead(
        movenet.MULTIPOSE,
        movenet.MultiPoseOptions(multipose_pad="corner", multipose_square=True),
    )
    batch, lb = square.prepare(image)
    assert batch.shape == (1, 256, 256, 3) and (lb.pad_x, lb.pad_y) == (0.0, 0.0)
    assert batch[0, 2:126].min() > 150 and batch[0, 130:].max() == 0  # image on top, pad below
    # A keypoint at the image's centre (100, 50) sits at input (128, 64): normalized (0.5, 0.25).
    np.testing.assert_allclose(lb.normalized_to_image([[0.5, 0.25]]), [[100.0, 50.0]], atol=1e-4)
