"""xpose: human pose estimation with MoveNet and PoseNet on onnxruntime or LiteRT.

>>> import xpose
>>> with xpose.load("movenet-lightning") as est:  # doctest: +SKIP
...     poses = est.predict("person.jpg")  # RGB array or image path
"""

from __future__ import annotations

from xpose.backends import backend_status, list_backends
from xpose.estimator import Estimator, PoseStream, load
from xpose.keypoints import KEYPOINT_NAMES, SKELETON, Keypoint
from xpose.models import list_models
from xpose.results import Poses

__version__ = "0.1.0"

__all__ = [
    "KEYPOINT_NAMES",
    "SKELETON",
    "Estimator",
    "Keypoint",
    "PoseStream",
    "Poses",
    "__version__",
    "backend_status",
    "list_backends",
    "list_models",
    "load",
]
