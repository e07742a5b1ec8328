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
