"""Tests of :func:`xpose.binding.identify`: which catalogue model a file holds (no model files)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.helpers import TFHUB_LIGHTNING, FakeBackend, stable_tensors, tensor
from xpose.binding import identify
from xpose.estimator import Estimator
from xpose.models import MODELS, get_spec, list_models


@pytest.mark.parametrize("model", list_models())
def test_identify_stable_names(model: str) -> None:
    inputs, outputs = stable_tensors(model)
    binding = identify(inputs, outputs)
    assert binding.spec is MODELS[model]
    assert {k: v.name for k, v in binding.outputs.items()} == {
        n: n for n in MODELS[model].output_names
    }


@pytest.mark.parametrize(
    ("size", "dtype", "model"),
    [
        (192, np.int32, "movenet-lightning"),
        (192, np.uint8, "movenet-lightning"),
        (256, np.uint8, "movenet-thunder"),
        (256, np.float32, "movenet-thunder"),
    ],
)
def test_identify_single_pose_by_shape(size: int, dtype: Any, model: str) -> None:
    inputs = (tensor("serving_default_input:0", (1, size, size, 3), dtype),)
    outputs = (tensor("PartitionedCall:0", (1, 1, 17, 3)),)
    binding = identify(inputs, outputs)
    assert binding.spec.name == model
    assert binding.input.name == "serving_default_input:0"
    assert binding.outputs["keypoints"].name == "PartitionedCall:0"


def test_identify_multipose_and_posenet_by_shape() -> None:
    multi = identify(
        (tensor("x", (1, None, None, 3), np.int32),), (tensor("Identity:0", (1, 6, 56)),)
    )
    assert multi.spec.name == "movenet-multipose"
    assert multi.fixed_size is None
    pinned = identify((tensor("x", (1, 256, 256, 3), np.int32),), (tensor("y", (1, 6, 56)),))
    assert pinned.spec.name == "movenet-multipose"
    assert pinned.fixed_size == (256, 256)
    outputs = (
        tensor("MobilenetV1/displacement_bwd_2/BiasAdd", (1, 25, 25, 32)),
        tensor("MobilenetV1/offset_2/BiasAdd", (1, 25, 25, 34)),
        tensor("MobilenetV1/displacement_fwd_2/BiasAdd", (1, 25, 25, 32)),
        tensor("MobilenetV1/heatmap_2/BiasAdd", (1, 25, 25, 17)),
    )
    pose = identify((tensor("sub_2", (1, 385, 385, 3)),), outputs)
    assert pose.spec.name == "posenet"
    assert {k: v.name.split("/")[1] for k, v in pose.outputs.items()} == {
        "heatmaps": "heatmap_2",
        "offsets": "offset_2",
        "displacement_fwd": "displacement_fwd_2",
        "displacement_bwd": "displacement_bwd_2",
    }


def test_identify_no_match_says_what_was_found_and_expected() -> None:
    inputs = (tensor("image", (1, 224, 224, 3)),)
    outputs = (tensor("logits", (1, 1000)),)
    with pytest.raises(
        ValueError, match=r"logits: float32 \[1, 1000\].*fits no catalogue model"
    ) as e:
        identify(inputs, outputs)
    assert "movenet-lightning: input" in str(e.value)
    assert "posenet: input float32 [1, 385, 385, 3]" in str(e.value)


def test_identify_ambiguous_free_size() -> None:
    with pytest.raises(ValueError, match="several catalogue models"):
        identify((tensor("x", (1, None, None, 3), np.int32),), (tensor("y", (1, 1, 17, 3)),))


def test_identify_against_requested_spec() -> None:
    backend = FakeBackend(*TFHUB_LIGHTNING)
    with pytest.raises(
        ValueError, match=r"is not movenet-thunder: input size 192x192 is not 256x256"
    ):
        Estimator(backend, spec=get_spec("movenet-thunder"))
