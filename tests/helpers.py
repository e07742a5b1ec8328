"""Helpers shared by the tests: where the photos are, skipping without a store, fake backends.

Tests that need the converted model store are marked ``@pytest.mark.convert`` and call
:func:`require_store` (or load through :class:`EstimatorCache`), which skips with
:data:`CONVERT_FIRST` when a file is missing; ``pytest -m "not convert"`` runs what a fresh
clone can run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import xpose
from xpose import store as xstore
from xpose._closing import Closing
from xpose.backends import TensorInfo
from xpose.compat import UnsupportedModelError
from xpose.estimator import Estimator
from xpose.keypoints import Keypoint
from xpose.models import get_spec

#: The skip reason of every test that needs a converted model.
CONVERT_FIRST = "run `xpose convert` first"

#: Photos kept in the repository.
DATA = Path(__file__).resolve().parent / "data"
ASTRONAUT = DATA / "astronaut.png"
#: The shared photos (COCO val2017 and its annotations), beside the project.
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
COCO_DIR = SHARED / "coco_val2017"

#: Store file format -> the backend that reads it by default, as backend -> format.
FORMATS = {"onnxruntime": "onnx", "tflite": "tflite"}


def rgb(path: Path) -> np.ndarray:
    """The photo at ``path`` as ``(H, W, 3)`` uint8 RGB."""
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """Write RGB ``frames`` to ``path`` (``.avi``: MJPG, else mp4v) with OpenCV itself, not with
    xpose's writer; skip when this OpenCV build cannot write that format."""
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v"))
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), fourcc, fps, (w, h))
    if not writer.isOpened():
        pytest.skip(f"this OpenCV build cannot write {path.suffix}")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def require_backend(backend: str) -> None:
    """Skip unless ``backend``'s runtime is installed."""
    missing = xpose.backend_status().get(backend)
    if missing is not None:
        pytest.skip(missing)


def require_store(
    model: str = "movenet-lightning", precision: str = "fp32", formats: tuple[str, ...] = ("onnx",)
) -> Path:
    """The store's ``model`` file of the first of ``formats``; skip unless each is converted."""
    found = []
    for fmt in formats:
        try:
            found.append(xstore.locate(model, precision, fmt))
        except FileNotFoundError as err:
            pytest.skip(f"{CONVERT_FIRST}: {err}")
    return found[0]


def require_coco() -> list[Path]:
    """The shared COCO photos, or skip when they are absent."""
    photos = sorted(COCO_DIR.glob("*.jpg"))
    if not photos:
        pytest.skip(f"the shared COCO photos are absent ({COCO_DIR})")
    return photos


class EstimatorCache:
    """Estimators loaded once and shared, each skipped when its file or runtime is missing.

    ``get(model, backend, precision, **options)`` loads with 2 runtime threads (TensorFlow's
    thread pools are process-wide: it gets none); :meth:`close` closes them all.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, ...], Estimator] = {}

    def get(
        self,
        model: str,
        backend: str = "onnxruntime",
        precision: str = "fp32",
        **options: Any,
    ) -> Estimator:
        key = (model, backend, precision, tuple(sorted(options.items())))
        if key not in self._cache:
            require_backend(backend)
            if backend == "tensorflow" and precision != "fp32":
                pytest.skip("the tensorflow backend runs the fp32 SavedModel only")
            threads = None if backend == "tensorflow" else 2
            try:
                self._cache[key] = xpose.load(model, backend, precision, threads=threads, **options)
            except FileNotFoundError as err:
                pytest.skip(f"{CONVERT_FIRST}: {err}")
            except UnsupportedModelError as err:
                pytest.skip(f"refused, as test_known_issues_are_refused checks: {err}")
        return self._cache[key]

    __call__ = get

    def close(self) -> None:
        for est in self._cache.values():
            est.close()
        self._cache.clear()


# --- fake backends (no model files) -----------------------------------------------------------


def tensor(name: str, shape: tuple[int | None, ...], dtype: Any = np.float32) -> TensorInfo:
    """A :class:`TensorInfo` for fake backends."""
    return TensorInfo(name, shape, np.dtype(dtype))


def stable_tensors(model: str) -> tuple[tuple[TensorInfo, ...], tuple[TensorInfo, ...]]:
    """The input and output tensors a converted file of ``model`` carries (stable names)."""
    spec = get_spec(model)
    h, w = (None, None) if spec.dynamic_size else spec.input_size
    outputs = []
    for name in spec.output_names:
        shape = spec.output_shape(name)
        assert shape is not None
        outputs.append(tensor(name, tuple(25 if d is None else d for d in shape)))
    return (tensor(spec.input_name, (1, h, w, 3), spec.input_dtype),), tuple(outputs)


#: TF Hub's own MoveNet Lightning .tflite: a uint8 input, other tensor names.
TFHUB_LIGHTNING = (
    (tensor("serving_default_input:0", (1, 192, 192, 3), np.uint8),),
    (tensor("StatefulPartitionedCall:0", (1, 1, 17, 3)),),
)


class FakeBackend(Closing):
    """A Backend with given tensors; ``run`` records its feeds and returns ``outputs_fn(feeds)``.

    Attributes:
        feeds: every call's feeds, in order; ``runs`` their count.
    """

    name = "fake"

    def __init__(
        self,
        inputs: tuple[TensorInfo, ...],
        outputs: tuple[TensorInfo, ...],
        outputs_fn: Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]] | None = None,
        path: str = "fake.model",
    ) -> None:
        self.path = Path(path)
        self.inputs = inputs
        self.outputs = outputs
        self.outputs_fn = outputs_fn
        self.feeds: list[dict[str, np.ndarray]] = []
        self.closed = False

    @property
    def runs(self) -> int:
        return len(self.feeds)

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.outputs_fn is None:
            raise AssertionError("this fake backend was not meant to run")
        self.feeds.append(dict(feeds))
        return self.outputs_fn(feeds)

    def close(self) -> None:
        self.closed = True


def centred_torso() -> np.ndarray:
    """``(17, 3)`` y, x, score of a single-pose MoveNet output: every keypoint at the middle
    of the crop, but a torso around it, so a crop region closes in on it."""
    yxs = np.zeros((17, 3), np.float32)
    yxs[:, :2] = 0.5
    yxs[:, 2] = 0.9
    for k, (y, x) in {
        Keypoint.LEFT_SHOULDER: (0.4, 0.45),
        Keypoint.RIGHT_SHOULDER: (0.4, 0.55),
        Keypoint.LEFT_HIP: (0.55, 0.45),
        Keypoint.RIGHT_HIP: (0.55, 0.55),
    }.items():
        yxs[k, :2] = (y, x)
    return yxs


def single_pose_outputs(
    yxs: np.ndarray, name: str = "StatefulPartitionedCall:0"
) -> Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]:
    """Outputs function of a fake single-pose MoveNet that always returns ``yxs`` ``(17, 3)``."""
    raw = np.asarray(yxs, np.float32).reshape(1, 1, 17, 3)

    def fn(feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {name: raw}

    return fn


def fake_lightning(yxs: np.ndarray | None = None) -> FakeBackend:
    """TF Hub's Lightning tensors returning one fixed pose (``yxs`` ``(17, 3)`` y, x, score;
    default a diagonal line of keypoints scoring 0.9)."""
    if yxs is None:
        grid = np.linspace(0.3, 0.7, 17, dtype=np.float32)
        yxs = np.stack([grid, grid[::-1], np.full(17, 0.9, np.float32)], axis=1)
    return FakeBackend(
        *TFHUB_LIGHTNING, outputs_fn=single_pose_outputs(yxs), path="fake-lightning.tflite"
    )


def _keypoints_from_mean(feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Lightning-shaped outputs ``(N, 1, 17, 3)``: every keypoint at (0.5, 0.5), scored by its
    image's mean pixel / 255."""
    (x,) = feeds.values()
    out = np.full((len(x), 1, 17, 3), 0.5, np.float32)
    out[..., 2] = x.reshape(len(x), -1).mean(axis=1)[:, None, None] / 255.0
    return {"keypoints": out}


#: Lightning options that keep every pose of :func:`mean_lightning` and score it by the mean of
#: its keypoint scores: ``Estimator(mean_lightning(None), **KEEP_EVERY_POSE)``.
KEEP_EVERY_POSE = {"min_pose_score": 0.0, "pose_score": "mean"}


def mean_lightning(batch: int | None) -> FakeBackend:
    """A Lightning-shaped backend whose input takes ``batch`` images (``None``: any number);
    each image's keypoints score its mean pixel / 255, so results show which image they are
    (with :data:`KEEP_EVERY_POSE`, which keeps weak poses)."""
    inputs = (tensor("input", (batch, 192, 192, 3), np.int32),)
    outputs = (tensor("keypoints", (batch, 1, 17, 3)),)
    return FakeBackend(inputs, outputs, _keypoints_from_mean)
