"""Tests of xpose.estimator: load, Estimator.predict, and video mode on real models.

Tests that run real models need the converted files in the model store (``$XPOSE_HOME``, see
:mod:`xpose.store`); they are marked ``convert`` and skip with "run `xpose convert` first"
when a file is missing. The option, error-path and plumbing tests use a fake backend and run
everywhere (identification: ``test_binding.py``; the stream's plumbing: ``test_stream.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import cv2
import numpy as np
import pytest

import xpose
from tests.helpers import (
    ASTRONAUT,
    COCO_DIR,
    CONVERT_FIRST,
    FORMATS,
    TFHUB_LIGHTNING,
    FakeBackend,
    require_backend,
    require_store,
    single_pose_outputs,
    stable_tensors,
    tensor,
)
from xpose.backends import TensorInfo
from xpose.estimator import Estimator, model_options
from xpose.keypoints import Keypoint
from xpose.models import MODELS, list_models
from xpose.preprocess import to_rgb_uint8
from xpose.results import Poses

COCO_GROUP = COCO_DIR / "000000040083.jpg"
RUNTIME_BACKENDS = list(FORMATS)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return to_rgb_uint8(ASTRONAUT)


def _confident(poses: Poses, threshold: float = 0.3) -> np.ndarray:
    return poses.scores[0] > threshold


def _errors(found: Poses, expected_xy: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Distances (pixels) between pose 0's keypoints and ``expected_xy`` where ``mask``."""
    return np.linalg.norm(found.keypoints[0] - expected_xy, axis=-1)[mask]


# --- Estimator plumbing with a fake backend --------------------------------------------------


def test_estimator_feeds_uint8_and_undoes_letterbox() -> None:
    """TF Hub's MoveNet .tflite takes uint8; (y, x) normalized to the letterboxed square map to
    image pixels: a 400x200 (w x h) image sits in rows 48..144 of the 192 square."""
    yxs = np.zeros((17, 3), np.float32)
    yxs[:, 0], yxs[:, 1], yxs[:, 2] = 0.5, 0.5, 0.9
    yxs[Keypoint.LEFT_ANKLE] = (0.25, 1.0, 0.8)  # top edge of the image, right edge
    backend = FakeBackend(*TFHUB_LIGHTNING, outputs_fn=single_pose_outputs(yxs))
    image = np.full((200, 400, 3), 77, np.uint8)
    with Estimator(backend) as est:
        assert est.spec.name == "movenet-lightning"
        poses = est.predict(image)
    assert backend.closed
    (feed,) = backend.feeds[0].values()
    assert feed.dtype == np.uint8 and feed.shape == (1, 192, 192, 3)
    assert list(backend.feeds[0]) == ["serving_default_input:0"]
    assert len(poses) == 1
    np.testing.assert_allclose(poses.keypoints[0, Keypoint.NOSE], (200, 100), atol=1e-3)
    np.testing.assert_allclose(poses.keypoints[0, Keypoint.LEFT_ANKLE], (400, 0), atol=1e-3)


def test_quantized_output_is_dequantized() -> None:
    """A uint8 output with (scale, zero_point) is read as scale * (q - zero_point)."""
    q = np.zeros((1, 1, 17, 3), np.uint8)
    q[..., :2] = 128  # -> (128 - 0) / 256 = 0.5
    q[..., 2] = 230
    inputs = (tensor("in", (1, 192, 192, 3), np.uint8),)
    outputs = (TensorInfo("out", (1, 1, 17, 3), np.dtype(np.uint8), (1 / 256, 0)),)
    est = Estimator(FakeBackend(inputs, outputs, lambda feeds: {"out": q}))
    poses = est.predict(np.zeros((100, 100, 3), np.uint8))
    np.testing.assert_allclose(poses.keypoints[0], 50.0, atol=1e-4)
    np.testing.assert_allclose(poses.scores[0], 230 / 256, atol=1e-6)


@pytest.mark.parametrize(
    ("input_shape", "image_hw", "long_side", "fed_hw"),
    [
        ((1, None, None, 3), (200, 400), 256, (128, 256)),
        ((1, None, None, 3), (600, 300), 320, (320, 160)),
        ((1, 256, 192, 3), (200, 400), 256, (256, 192)),
    ],
)
def test_multipose_input_size(
    input_shape: tuple[int | None, ...],
    image_hw: tuple[int, int],
    long_side: int,
    fed_hw: tuple[int, int],
) -> None:
    def fn(feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"poses": np.zeros((1, 6, 56), np.float32)}

    backend = FakeBackend(
        (tensor("input", input_shape, np.int32),), (tensor("poses", (1, 6, 56)),), fn
    )
    est = Estimator(backend, multipose_long_side=long_side, multipose_square=False)
    poses = est.predict(np.zeros((*image_hw, 3), np.uint8))
    assert len(poses) == 0
    assert backend.feeds[0]["input"].shape == (1, *fed_hw, 3)


def test_options_defaults_and_validation() -> None:
    assert model_options("movenet-lightning") == {
        "min_pose_score": 0.25,
        "pose_score": "confident",
        "resize": "area",
    }
    assert model_options("movenet-multipose") == {
        "multipose_long_side": 256,
        "multipose_square": True,
        "min_pose_score": 0.2,
        "multipose_pad": "centre",
    }
    assert model_options("posenet")["multi_pose"] is False
    inputs, outputs = stable_tensors("posenet")
    est = Estimator(FakeBackend(inputs, outputs), multi_pose=True, nms_radius=10)
    assert est.options["multi_pose"] is True and est.options["nms_radius"] == 10.0
    with pytest.raises(TypeError, match=r"unknown option.*'max_people'.*multi_pose"):
        Estimator(FakeBackend(inputs, outputs), max_people=3)
    with pytest.raises(TypeError, match="'multi_pose' must be True or False"):
        Estimator(FakeBackend(inputs, outputs), multi_pose=1)
    with pytest.raises(ValueError, match="'score_threshold' must be in"):
        Estimator(FakeBackend(inputs, outputs), score_threshold=2.0)
    with pytest.raises(TypeError, match="valid options for movenet-lightning: 'min_pose_score'"):
        Estimator(FakeBackend(*TFHUB_LIGHTNING), multi_pose=True)
    with pytest.raises(ValueError, match="'pose_score' must be one of"):
        Estimator(FakeBackend(*TFHUB_LIGHTNING), pose_score="median")


def test_estimator_takes_typed_options() -> None:
    """Options may come as the model's typed dataclass; it must be the model's own class."""
    from xpose.models.movenet import MultiPoseOptions
    from xpose.models.posenet import PoseNetOptions

    inputs, outputs = stable_tensors("posenet")
    est = Estimator(FakeBackend(inputs, outputs), config=PoseNetOptions(multi_pose=True))
    assert est.options["multi_pose"] is True and est.multi_person
    assert not Estimator(FakeBackend(inputs, outputs)).multi_person
    with pytest.raises(TypeError, match="posenet takes PoseNetOptions, got MultiPoseOptions"):
        Estimator(FakeBackend(inputs, outputs), config=MultiPoseOptions())
    with pytest.raises(TypeError, match="either as config or as keywords"):
        Estimator(FakeBackend(inputs, outputs), config=PoseNetOptions(), multi_pose=True)


# --- load: errors that need no model files ---------------------------------------------------


def test_load_unknown_model_lists_models() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'movenet-huge'.*'movenet-lightning'"):
        xpose.load("movenet-huge")


def test_load_unknown_backend_lists_backends() -> None:
    with pytest.raises(ValueError, match=r"unknown backend 'tensorrt'.*onnxruntime"):
        xpose.load("movenet-lightning", backend="tensorrt")


def test_load_unknown_precision_lists_precisions() -> None:
    with pytest.raises(ValueError, match=r"unknown precision 'int4'.*fp32, fp16, int8"):
        xpose.load("movenet-lightning", precision="int4")


def test_load_unknown_option_lists_options(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"unknown option.*'nms'.*'multipose_long_side'"):
        xpose.load("movenet-multipose", store=tmp_path, nms=3)


def test_load_missing_store_file_names_convert(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"`xpose convert --models movenet-thunder"):
        xpose.load("movenet-thunder", store=tmp_path)
    with pytest.raises(FileNotFoundError, match="xpose convert"):
        xpose.load("posenet", backend="tflite", precision="int8", store=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"SavedModel.*xpose convert"):
        xpose.load("posenet", backend="tensorflow", store=tmp_path)


def test_load_tensorflow_needs_fp32(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fp32 SavedModel only"):
        xpose.load("movenet-lightning", backend="tensorflow", precision="fp16", store=tmp_path)


def test_load_path_that_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"not a model file: expected a \.onnx or \.tflite"):
        xpose.load(ASTRONAUT)
    with pytest.raises(ValueError, match="not a SavedModel"):
        xpose.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="no model file"):
        xpose.load(tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a protobuf at all")
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        xpose.load(garbage)
    with pytest.raises(ValueError, match=r"'tflite' backend cannot run a .onnx file.*onnxruntime"):
        xpose.load(garbage, backend="tflite")
    with pytest.raises(ValueError, match="providers: not an option of the 'tflite' backend"):
        xpose.load("movenet-lightning", "tflite", store=tmp_path, providers=["x"])
    with pytest.raises(ValueError, match="device: not an option of the 'tflite' backend"):
        xpose.load("movenet-lightning", "tflite", store=tmp_path, device="cuda")


def test_public_names_are_the_objects_of_their_modules() -> None:
    """``xpose`` and ``xpose.estimator`` re-export the objects that moved to their own modules."""
    import xpose.binding
    import xpose.estimator
    import xpose.stream
    from xpose import backends, keypoints, models, results

    assert xpose.load is xpose.estimator.load and xpose.Estimator is Estimator
    assert xpose.PoseStream is xpose.stream.PoseStream is xpose.estimator.PoseStream
    assert xpose.estimator.identify is xpose.binding.identify
    assert xpose.estimator.Binding is xpose.binding.Binding
    assert xpose.Poses is results.Poses and xpose.list_models is models.list_models
    assert xpose.list_backends is backends.list_backends
    assert xpose.backend_status is backends.backend_status
    assert xpose.Keypoint is keypoints.Keypoint and xpose.SKELETON is keypoints.SKELETON
    assert xpose.KEYPOINT_NAMES is keypoints.KEYPOINT_NAMES
    public = ["KEYPOINT_NAMES", "SKELETON", "Estimator", "Keypoint", "PoseStream", "Poses"]
    public += ["__version__", "backend_status", "list_backends", "list_models", "load"]
    assert sorted(xpose.__all__) == sorted(public)


# --- real models (need the converted store) ---------------------------------------------------


def _check_plausible(poses: Poses, image_hw: tuple[int, int]) -> None:
    assert len(poses) >= 1
    best = poses[0]
    kp = best.keypoints[0]
    sure = _confident(best)
    h, w = image_hw
    assert float(best.score[0]) > 0.3, best.score
    assert sure.sum() >= 5
    assert (kp[sure, 0] >= -2).all() and (kp[sure, 0] <= w + 2).all(), kp[sure]
    assert (kp[sure, 1] >= -2).all() and (kp[sure, 1] <= h + 2).all(), kp[sure]
    hips_y = kp[[Keypoint.LEFT_HIP, Keypoint.RIGHT_HIP], 1].mean()
    assert kp[Keypoint.NOSE, 1] < hips_y - 0.25 * h


@pytest.mark.convert
@pytest.mark.parametrize("backend", RUNTIME_BACKENDS)
@pytest.mark.parametrize("model", list_models())
def test_predict_plausible(
    estimators: Callable[..., Estimator], astronaut: np.ndarray, model: str, backend: str
) -> None:
    est = estimators(model, backend)
    poses = est.predict(astronaut)
    _check_plausible(poses, astronaut.shape[:2])
    if not est.spec.multi_person or est.spec.family == "posenet":
        assert len(poses) == 1


@pytest.mark.convert
@pytest.mark.parametrize("backend", RUNTIME_BACKENDS)
def test_load_by_name_and_by_path(
    estimators: Callable[..., Estimator], astronaut: np.ndarray, backend: str
) -> None:
    by_name = estimators("movenet-lightning", backend)
    assert by_name.backend_name == backend
    assert by_name.precision == "fp32"
    assert by_name.spec is MODELS["movenet-lightning"]
    # The default backend gives way to the one that reads the file's suffix.
    with xpose.load(by_name.path) as by_path:
        assert by_path.backend_name == backend
        assert by_path.spec is by_name.spec
        assert by_path.precision == "fp32"  # read from the file name
        assert by_path.path == by_name.path
        np.testing.assert_array_equal(
            by_path.predict(astronaut).keypoints, by_name.predict(astronaut).keypoints
        )


@pytest.mark.convert
@pytest.mark.parametrize("model", list_models())
def test_letterbox_is_undone(
    estimators: Callable[..., Estimator], astronaut: np.ndarray, model: str
) -> None:
    """The same person, padded, enlarged, shrunk or shifted, is found at the same place."""
    est = estimators(model)
    crop = np.ascontiguousarray(astronaut[:, 64:448])  # 512 x 384, portrait
    ref = est.predict(crop)
    sure = _confident(ref)
    variants = {
        "padded": (np.pad(crop, ((0, 0), (64, 64), (0, 0))), 1.0, (64, 0), 3.0),
        "enlarged": (cv2.resize(crop, (576, 768)), 1.5, (0, 0), 3.0),
        "shrunk": (cv2.resize(crop, (288, 384), interpolation=cv2.INTER_AREA), 0.75, (0, 0), 3.0),
        "shifted": (np.pad(crop, ((48, 0), (48, 0), (0, 0))), 1.0, (48, 48), 15.0),
    }
    for what, (image, scale, offset, tolerance) in variants.items():
        found = est.predict(image)
        expected = ref.keypoints[0] * scale + np.asarray(offset, np.float32)
        err = _errors(found, expected, sure) / scale  # in pixels of the reference crop
        assert np.median(err) < tolerance, (what, err)


@pytest.mark.convert
def test_input_forms(estimators: Callable[..., Estimator], astronaut: np.ndarray) -> None:
    est = estimators("movenet-lightning")
    ref = est.predict(astronaut)
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    np.testing.assert_array_equal(est.predict(rgba).keypoints, ref.keypoints)
    np.testing.assert_array_equal(est.predict(ASTRONAUT).keypoints, ref.keypoints)
    np.testing.assert_array_equal(est.predict(str(ASTRONAUT)).keypoints, ref.keypoints)
    gray = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    from_gray = est.predict(gray)
    np.testing.assert_array_equal(from_gray.keypoints, est.predict(gray[:, :, None]).keypoints)
    np.testing.assert_array_equal(
        from_gray.keypoints, est.predict(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)).keypoints
    )
    _check_plausible(from_gray, gray.shape)
    with pytest.raises(TypeError, match="uint8"):
        est.predict(astronaut.astype(np.float32))


@pytest.mark.convert
@pytest.mark.parametrize("backend", RUNTIME_BACKENDS)
def test_predict_is_thread_safe(
    estimators: Callable[..., Estimator], astronaut: np.ndarray, backend: str
) -> None:
    est = estimators("movenet-lightning", backend)
    images = [
        astronaut,
        astronaut[:, ::-1].copy(),
        np.ascontiguousarray(astronaut[40:, 20:400]),
        cv2.resize(astronaut, (300, 200)),
    ]
    expected = [est.predict(img).keypoints for img in images]
    results: dict[tuple[int, int], np.ndarray] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for rep in range(5):
                for i, img in enumerate(images):
                    results[(worker, rep * len(images) + i)] = est.predict(img).keypoints
        except BaseException as err:  # re-raised in the main thread below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 4 * 5 * len(images)
    for (_, n), keypoints in results.items():
        np.testing.assert_allclose(keypoints, expected[n % len(images)], atol=1e-3)


def _two_people(astronaut: np.ndarray) -> np.ndarray:
    return np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)


@pytest.mark.convert
@pytest.mark.parametrize("backend", RUNTIME_BACKENDS)
def test_multipose_finds_two_people(
    estimators: Callable[..., Estimator], astronaut: np.ndarray, backend: str
) -> None:
    est = estimators("movenet-multipose", backend)
    poses = est.predict(_two_people(astronaut))
    assert len(poses) >= 2
    centres = (poses.boxes[:2, 0] + poses.boxes[:2, 2]) / 2
    assert sorted(centres < 512) == [False, True]  # one person on each half
    assert (np.diff(poses.score) <= 0).all()
    assert (poses.score >= 0.2).all()
    strict = estimators("movenet-multipose", backend, min_pose_score=0.99)
    assert len(strict.predict(astronaut)) == 0


@pytest.mark.convert
@pytest.mark.skipif(not COCO_GROUP.is_file(), reason=f"{COCO_GROUP} is absent (../shared/data)")
def test_multipose_on_coco_group(estimators: Callable[..., Estimator]) -> None:
    est = estimators("movenet-multipose")
    image = to_rgb_uint8(COCO_GROUP)
    poses = est.predict(image)
    assert len(poses) >= 2
    h, w = image.shape[:2]
    assert (poses.boxes[:, [0, 2]] >= -w * 0.05).all() and (
        poses.boxes[:, [0, 2]] <= w * 1.05
    ).all()
    assert (poses.boxes[:, [1, 3]] >= -h * 0.05).all() and (
        poses.boxes[:, [1, 3]] <= h * 1.05
    ).all()


@pytest.mark.convert
def test_posenet_single_and_multi(
    estimators: Callable[..., Estimator], astronaut: np.ndarray
) -> None:
    single = estimators("posenet")
    assert single.options["multi_pose"] is False
    pair = _two_people(astronaut)
    one = single.predict(pair)
    assert len(one) == 1
    multi = estimators("posenet", multi_pose=True, max_poses=5)
    many = multi.predict(pair)
    assert 2 <= len(many) <= 5
    top = many[:2]
    assert (top.score > 0.2).all()
    centres = np.median(top.keypoints[:, :, 0], axis=1)
    assert sorted(centres < 512) == [False, True]
    _check_plausible(multi.predict(astronaut), astronaut.shape[:2])


def _video(image: np.ndarray, frames: int = 10) -> Iterator[tuple[np.ndarray, float, np.ndarray]]:
    """Frames of a 640x480 scene with ``image``'s person small and off-centre, drifting and
    growing: yields (frame, scale, offset) where frame pixel = image pixel * scale + offset."""
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (0, 0), 5)
    for i in range(frames):
        size = 150 + 2 * i
        x0, y0 = 420 + 3 * i, 260 - 2 * i
        frame = background.copy()
        frame[y0 : y0 + size, x0 : x0 + size] = cv2.resize(
            image, (size, size), interpolation=cv2.INTER_AREA
        )
        yield frame, size / image.shape[1], np.array([x0, y0], np.float32)


@pytest.mark.convert
@pytest.mark.parametrize("model", ["movenet-lightning", "movenet-thunder"])
def test_stream_tracks_small_person_better_than_image_mode(
    estimators: Callable[..., Estimator], astronaut: np.ndarray, model: str
) -> None:
    est = estimators(model)
    reference = est.predict(astronaut)  # the person at full resolution
    sure = _confident(reference)
    image_err, stream_err, padded_err = [], [], []
    with est.stream() as stream, est.stream(first_crop="pad") as padded:
        for frame, scale, offset in _video(astronaut):
            expected = reference.keypoints[0] * scale + offset
            image_err.append(_errors(est.predict(frame), expected, sure).mean() / scale)
            stream_err.append(_errors(stream.update(frame), expected, sure).mean() / scale)
            padded_err.append(_errors(padded.update(frame), expected, sure).mean() / scale)
            assert stream.crop_region is not None
    assert np.mean(stream_err[1:]) < 0.7 * np.mean(image_err[1:]), (stream_err, image_err)
    assert np.mean(padded_err[1:]) < 0.7 * np.mean(image_err[1:]), (padded_err, image_err)
    # frame 0: "pad" runs the whole frame, as image mode does; the default centred square
    # (the person sits inside it here) is no worse
    assert padded_err[0] == pytest.approx(image_err[0], rel=0.5)
    assert stream_err[0] < 1.5 * image_err[0]


@pytest.mark.convert
def test_tensorflow_backend_matches_onnx(
    estimators: Callable[..., Estimator], astronaut: np.ndarray
) -> None:
    require_backend("tensorflow")
    onnx = estimators("movenet-lightning")
    try:
        tf_est = xpose.load("movenet-lightning", backend="tensorflow")
    except FileNotFoundError as err:
        pytest.skip(f"{CONVERT_FIRST}: {err}")
    with tf_est:
        assert tf_est.backend_name == "tensorflow" and tf_est.path.is_dir()
        a, b = tf_est.predict(astronaut), onnx.predict(astronaut)
    np.testing.assert_allclose(a.keypoints, b.keypoints, atol=512 * 1e-4)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-3)


def _multipose_backend(input_shape: tuple[int | None, ...]) -> FakeBackend:
    def fn(feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"poses": np.zeros((1, 6, 56), np.float32)}

    return FakeBackend(
        (tensor("input", input_shape, np.int32),), (tensor("poses", (1, 6, 56)),), fn
    )


@pytest.mark.parametrize("input_shape", [(1, None, None, 3), (1, 256, 256, 3)])
def test_multipose_default_input_is_the_same_for_free_and_fixed_files(input_shape) -> None:
    """Identical by default: a free-size file (ONNX fp32) and a 256x256 one (TFLite) are fed
    the same 256x256 letterboxed input for any image."""
    backend = _multipose_backend(input_shape)
    est = Estimator(backend)
    for hw in [(720, 1280), (400, 300), (256, 256)]:
        est.predict(np.full((*hw, 3), 90, np.uint8))
    assert [f["input"].shape for f in backend.feeds] == [(1, 256, 256, 3)] * 3


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"multipose_long_side": 384}, r"fixed 256x256 input and cannot run a 384x384 input"),
        ({"multipose_square": False}, r"cannot run an input of long side 256 at the image's"),
    ],
)
def test_multipose_fixed_file_refuses_other_sizes(options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        Estimator(_multipose_backend((1, 256, 256, 3)), **options)
    assert "use the fp32 ONNX file" in str(info.value)


def test_multipose_larger_input_on_a_free_file() -> None:
    backend = _multipose_backend((1, None, None, 3))
    Estimator(backend, multipose_long_side=512).predict(np.zeros((720, 1280, 3), np.uint8))
    assert backend.feeds[0]["input"].shape == (1, 512, 512, 3)


@pytest.mark.convert
@pytest.mark.parametrize("backend", ["openvino", "ov", "opencv"])
def test_onnx_path_runs_on_every_onnx_backend(backend: str) -> None:
    path = require_store("movenet-lightning", "fp32", ("onnx",))
    require_backend(xpose.backends.canonical_backend(backend))
    with xpose.load(path, backend=backend, threads=1) as est, xpose.load(path, threads=1) as ref:
        assert est.backend_name == xpose.backends.canonical_backend(backend)
        assert est.precision == "fp32"
        got, want = est.predict(ASTRONAUT), ref.predict(ASTRONAUT)
        np.testing.assert_allclose(got.keypoints, want.keypoints, atol=0.05)
    with pytest.raises(ValueError, match=r"'tflite' backend cannot run a .onnx file"):
        xpose.load(path, backend="tflite")


@pytest.mark.convert
@pytest.mark.parametrize("spinning", [True, False])
def test_load_passes_spinning_to_onnxruntime(spinning: bool) -> None:
    require_store("posenet")
    with xpose.load("posenet", spinning=spinning) as est:
        options = est.backend._session.get_session_options()  # type: ignore[attr-defined]
        entry = options.get_session_config_entry("session.intra_op.allow_spinning")
    assert entry == ("1" if spinning else "0")


def test_spinning_is_refused_off_onnxruntime(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="spinning: not an option of the 'tflite' backend"):
        xpose.load("movenet-lightning", "tflite", store=tmp_path, spinning=True)
    with pytest.raises(TypeError, match="spinning must be True, False or None"):
        xpose.load("movenet-lightning", store=tmp_path, spinning="yes")
