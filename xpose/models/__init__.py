"""The model catalogue as data: one frozen :class:`ModelSpec` per model, looked up by name.

Tensor names are stable: every converted ONNX or TFLite file carries exactly these input and
output names, so decoders can match outputs by name rather than by position.
"""

from __future__ import annotations

from xpose.models.base import Letterbox, ModelSpec

__all__ = ["MODELS", "Letterbox", "ModelSpec", "get_spec", "list_models"]

_MOVENET_DOC = (
    "MoveNet SinglePose {variant}: int32 RGB 0..255 input [1, {n}, {n}, 3]; output 'keypoints' "
    "[1, 1, 17, 3] = (y, x, score) normalized to the input square."
)

#: Every model xpose knows, in a fixed order.
MODELS: dict[str, ModelSpec] = {
    "movenet-lightning": ModelSpec(
        name="movenet-lightning",
        family="movenet",
        input_name="input",
        input_dtype="int32",
        input_size=(192, 192),
        output_names=("keypoints",),
        multi_person=False,
        description=_MOVENET_DOC.format(variant="Lightning", n=192),
    ),
    "movenet-thunder": ModelSpec(
        name="movenet-thunder",
        family="movenet",
        input_name="input",
        input_dtype="int32",
        input_size=(256, 256),
        output_names=("keypoints",),
        multi_person=False,
        description=_MOVENET_DOC.format(variant="Thunder", n=256),
    ),
    "movenet-multipose": ModelSpec(
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
    ),
    "posenet": ModelSpec(
        name="posenet",
        family="posenet",
        input_name="image",
        input_dtype="float32",
        input_size=(385, 385),
        output_names=("heatmaps", "offsets", "displacement_fwd", "displacement_bwd"),
        multi_person=True,
        description=(
            "PoseNet MobileNetV1, output stride 16: float32 RGB input [1, 385, 385, 3] scaled to "
            "[-1, 1]; outputs 'heatmaps' [1, 25, 25, 17] (logits), 'offsets' [1, 25, 25, 34], "
            "'displacement_fwd' and 'displacement_bwd' [1, 25, 25, 32]."
        ),
    ),
}


def list_models() -> list[str]:
    """Names of every model in the catalogue, in catalogue order."""
    return list(MODELS)


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of the model called ``name``.

    Raises:
        ValueError: ``name`` is not in the catalogue; the message lists the valid names.
    """
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        valid = ", ".join(repr(n) for n in MODELS)
        raise ValueError(f"unknown model {name!r}; expected one of {valid}") from None
