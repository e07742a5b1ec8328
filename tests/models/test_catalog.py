"""The model catalogue: names, order, tensor contracts, and prepare() for every model."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from xpose.models import MODELS, ModelSpec, get_spec, list_models


def test_list_models_order() -> None:
    assert list_models() == ["movenet-lightning", "movenet-thunder", "movenet-multipose", "posenet"]


def test_get_spec_unknown_lists_valid_names() -> None:
    with pytest.raises(
        ValueError, match=r"unknown model 'movenet'.*'movenet-lightning'.*'posenet'"
    ):
        get_spec("movenet")


def test_get_spec_unhashable_name() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        get_spec(["posenet"])  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list_models())
def test_spec_is_consistent(name: str) -> None:
    spec = get_spec(name)
    assert isinstance(spec, ModelSpec)
    assert spec is MODELS[name]
    assert spec.name == name
    assert spec.family in ("movenet", "posenet")
    assert np.dtype(spec.input_dtype).name == spec.input_dtype
    assert all(s > 0 for s in spec.input_size)
    assert spec.output_names
    if spec.dynamic_size:
        assert all(s % spec.size_multiple == 0 for s in spec.input_size)


def test_tensor_contracts() -> None:
    light, thunder, multi, pose = (get_spec(n) for n in list_models())
    assert (light.input_name, light.input_dtype, light.input_size) == ("input", "int32", (192, 192))
    assert (thunder.input_size, thunder.output_names) == ((256, 256), ("keypoints",))
    assert not light.multi_person and not thunder.multi_person
    assert multi.output_names == ("poses",)
    assert (multi.dynamic_size, multi.size_multiple, multi.input_size) == (True, 32, (256, 256))
    assert (pose.input_name, pose.input_dtype, pose.input_size) == ("image", "float32", (385, 385))
    assert pose.output_names == ("heatmaps", "offsets", "displacement_fwd", "displacement_bwd")
    assert pose.input_size[0] == 24 * 16 + 1


@pytest.mark.parametrize("name", list_models())
def test_prepare_for_every_model(name: str) -> None:
    spec = get_spec(name)
    family = importlib.import_module(f"xpose.models.{spec.family}")
    image = np.random.default_rng(0).integers(0, 256, (120, 90, 3), dtype=np.uint8)
    feeds, lb = family.prepare(image, spec)
    assert list(feeds) == [spec.input_name]
    x = feeds[spec.input_name]
    assert x.shape == (1, *spec.input_size, 3)
    assert x.dtype == np.dtype(spec.input_dtype)
    assert (lb.image_height, lb.image_width) == (120, 90)


@pytest.mark.parametrize("name", list_models())
def test_spec_owns_its_tensor_contract_and_head(name: str) -> None:
    """Each spec says what a file of it may look like and which head runs it."""
    spec = get_spec(name)
    assert spec.input_dtype in spec.input_dtypes
    assert len(spec.output_shapes) == len(spec.output_names) == len(spec.output_hints)
    assert spec.head is not None and spec.head.__module__ == f"xpose.models.{spec.family}"
    assert list(spec.head.Options().as_dict()) == list(spec.head.Options.names())


def test_options_are_typed_and_checked_when_made() -> None:
    from xpose.models.movenet import MultiPoseOptions
    from xpose.models.posenet import PoseNetOptions

    opts = PoseNetOptions(multi_pose=True, nms_radius=10)
    assert opts.nms_radius == 10.0 and isinstance(opts.nms_radius, float)
    assert MultiPoseOptions().as_dict() == {
        "multipose_long_side": 256,
        "multipose_square": True,
        "min_pose_score": 0.2,
        "multipose_pad": "centre",
    }
    with pytest.raises(ValueError, match="'multipose_long_side' must be >= 1"):
        MultiPoseOptions(multipose_long_side=0)
    with pytest.raises(ValueError, match="'multipose_pad' must be one of"):
        MultiPoseOptions(multipose_pad="left")
    with pytest.raises(TypeError, match="'multi_pose' must be True or False"):
        PoseNetOptions(multi_pose=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"unknown option\(s\) 'max_people' for posenet"):
        PoseNetOptions.from_mapping("posenet", {"max_people": 3})
