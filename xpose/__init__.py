"""xpose: human pose estimation with MoveNet and PoseNet on onnxruntime or LiteRT."""

from __future__ import annotations

from xpose.keypoints import KEYPOINT_NAMES, SKELETON, Keypoint
from xpose.results import Poses

__version__ = "0.1.0"

__all__ = ["KEYPOINT_NAMES", "SKELETON", "Keypoint", "Poses", "__version__"]
