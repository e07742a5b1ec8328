"""TF-side tooling: model sources -> SavedModel -> TFLite -> ONNX. Imports TensorFlow.

The runtime package :mod:`xpose` never imports this package except from ``xpose convert``.
"""

from __future__ import annotations

import os

# TensorFlow's C++ start-up chatter drowns the progress output; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
