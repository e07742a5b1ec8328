"""Tests of :class:`xpose.stream.PoseStream`'s plumbing with fake backends (no model files).

The stream on real models is tested in ``tests/test_estimator.py`` and ``tests/test_track.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tests.helpers import (
    TFHUB_LIGHTNING,
    FakeBackend,
    centred_torso,
    single_pose_outputs,
    stable_tensors,
)
from xpose.estimator import Estimator
from xpose.results import Poses
from xpose.stream import PoseStream


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1


class _Smoother(_Recorder):
    def __call__(self, poses: Poses, t: float, image_hw: tuple[int, int] | None = None) -> Poses:
        self.calls.append(t)
        return poses


class _Tracker(_Recorder):
    def update(self, poses: Poses) -> Poses:
        self.calls.append(len(poses))
        return poses.replace(track_ids=np.arange(len(poses)))


def test_stream_hooks_and_crop_state() -> None:
    yxs = centred_torso()  # the next crop closes in on its torso
    backend = FakeBackend(*TFHUB_LIGHTNING, outputs_fn=single_pose_outputs(yxs))
    est = Estimator(backend)
    smoother, tracker = _Smoother(), _Tracker()
    frame = np.zeros((300, 400, 3), np.uint8)
    with est.stream(smoother=smoother, tracker=tracker, fps=10.0) as stream:
        assert isinstance(stream, PoseStream) and stream.crop_tracking
        assert stream.crop_region is None
        first = stream.update(frame)
        region = stream.crop_region
        assert region is not None and region.width < 1.0  # closed in on the torso
        stream.update(frame)
        stream.update(frame, timestamp=5.0)
        assert smoother.calls == [0.0, 0.1, 5.0]
        assert tracker.calls == [1, 1, 1]
        assert first.track_ids.tolist() == [0]
        assert stream.frames == 3
    assert stream.crop_region is None and stream.frames == 0
    assert smoother.resets == tracker.resets == 1
    # Predict stays stateless: the whole frame, letterboxed, every time.
    a, b = est.predict(frame), est.predict(frame)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)


def test_stream_other_models_predict_each_frame() -> None:
    inputs, outputs = stable_tensors("movenet-multipose")

    def fn(feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"poses": np.zeros((1, 6, 56), np.float32)}

    est = Estimator(FakeBackend(inputs, outputs, fn))
    stream = est.stream()
    assert not stream.crop_tracking
    assert len(stream.update(np.zeros((64, 64, 3), np.uint8))) == 0
    assert stream.crop_region is None
