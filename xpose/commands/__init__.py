"""Sub-commands of the ``xpose`` command line (one module each)."""

from __future__ import annotations

import argparse

from xpose.backends import list_backends
from xpose.models import list_models
from xpose.store import PRECISIONS


def add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="DIR",
        help="model store folder (default: $XPOSE_HOME or ~/.cache/xpose)",
    )


def add_model_choice(
    parser: argparse.ArgumentParser, default: str | None = "movenet-lightning"
) -> None:
    parser.add_argument(
        "--model",
        "-m",
        default=default,
        help=f"one of {', '.join(list_models())}, or a path to a .onnx/.tflite file (default {default})",
    )
    parser.add_argument(
        "--backend",
        "-b",
        default="onnxruntime",
        help=f"one of {', '.join(list_backends())} (default onnxruntime)",
    )
    parser.add_argument(
        "--precision", "-p", default="fp32", choices=PRECISIONS, help="default fp32"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="inference threads (default: the runtime's choice)",
    )


def unit_interval(text: str) -> float:
    """argparse type: a number in [0, 1]."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def camera_index(text: str) -> int:
    """argparse type: a camera number >= 0 (negative ones crash OpenCV's capture)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected a camera number >= 0 (0 is the first camera), got {text}"
        )
    return value
