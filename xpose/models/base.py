"""Model specifications (the catalogue as data) and the letterbox geometry shared by all models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class ModelSpec:
    """What xpose knows about one model: its tensors, its input size and how to decode it.

    Tensor names are the stable names every converted file (ONNX and TFLite signature) carries.
    """

    name: str
    family: str  # "movenet" or "posenet": the module in xpose.models that pre-/post-processes
    input_name: str
    input_dtype: str  # numpy dtype name of the model input: "int32", "uint8" or "float32"
    input_size: tuple[int, int]  # (height, width) of the model input
    output_names: tuple[str, ...]
    multi_person: bool
    dynamic_size: bool = False  # ONNX input takes any H, W that are multiples of size_multiple
    size_multiple: int = 1
    description: str = ""


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
        """Fit an image into a target size keeping aspect ratio, centred, padding the rest."""
        ih, iw = image_hw
        th, tw = target_hw
        if ih <= 0 or iw <= 0:
            raise ValueError(f"image must have a positive size, got {ih}x{iw}")
        scale = min(th / ih, tw / iw)
        nh, nw = round(ih * scale), round(iw * scale)
        return cls(scale, (tw - nw) / 2.0, (th - nh) / 2.0, th, tw, ih, iw)

    def to_image(self, xy: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Map ``(..., 2)`` x, y in model-input pixels back to image pixels."""
        xy = np.asarray(xy, dtype=np.float32)
        out = np.empty_like(xy)
        out[..., 0] = (xy[..., 0] - self.pad_x) / self.scale
        out[..., 1] = (xy[..., 1] - self.pad_y) / self.scale
        return out

    def normalized_to_image(self, xy: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Map ``(..., 2)`` x, y normalized to the model input ([0, 1]) to image pixels."""
        xy = np.asarray(xy, dtype=np.float32)
        px = np.empty_like(xy)
        px[..., 0] = xy[..., 0] * self.width
        px[..., 1] = xy[..., 1] * self.height
        return self.to_image(px)
