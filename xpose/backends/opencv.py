"""The OpenCV backend: runs ``.onnx`` files on OpenCV's DNN module (OpenCV is a core dependency).

``cv2.dnn.Net`` is not safe to use from two threads at once, so each calling thread reads its
own net from the file on its first ``run`` (like the TFLite backend's interpreters); threads
run in parallel, and memory grows with the number of calling threads.

OpenCV computes some of the catalogue's files differently from onnxruntime; :mod:`xpose.compat`
lists them, and :func:`xpose.load` refuses them with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from xpose.backends.base import (
    BackendBase,
    PerThread,
    Requirement,
    check_feeds,
    check_threads,
)
from xpose.backends.onnxruntime import onnx_signature
from xpose.compat import BATCH_LOOP, UnsupportedModelError

__all__ = ["DEVICES", "OpenCVBackend", "cuda_devices"]

logger = logging.getLogger(__name__)

REQUIREMENT = Requirement(module="cv2", package="opencv-python-headless", extra=None)

#: ``device`` option -> (DNN backend, DNN target). ``cuda_fp16`` computes in float16 and moves
#: keypoints; ``cuda`` computes in float32.
DEVICES: dict[str, tuple[int, int]] = {
    "cpu": (cv2.dnn.DNN_BACKEND_OPENCV, cv2.dnn.DNN_TARGET_CPU),
    "cuda": (cv2.dnn.DNN_BACKEND_CUDA, cv2.dnn.DNN_TARGET_CUDA),
    "cuda_fp16": (cv2.dnn.DNN_BACKEND_CUDA, cv2.dnn.DNN_TARGET_CUDA_FP16),
}

#: The DNN engine per device: OpenCV's default on the CPU; only the classic engine has CUDA.
_ENGINES: dict[str, int] = {
    "cpu": cv2.dnn.ENGINE_AUTO,
    "cuda": cv2.dnn.ENGINE_CLASSIC,
    "cuda_fp16": cv2.dnn.ENGINE_CLASSIC,
}


_LOOP_MESSAGE = (
    "{path} runs part of its graph once per image in an ONNX Loop (the ONNX files of "
    "`xpose convert --dynamic-batch` take a batch that way), and OpenCV's DNN module cannot read "
    "an ONNX Loop: use backend 'onnxruntime' or 'openvino' for this file, or rebuild the store "
    "without --dynamic-batch (`xpose convert --force`) for OpenCV"
)


def cuda_devices() -> int:
    """How many CUDA devices this OpenCV build can use (0 for the CPU-only pip wheels)."""
    try:
        return int(cv2.cuda.getCudaEnabledDeviceCount())
    except (AttributeError, cv2.error):
        return 0


class OpenCVBackend(BackendBase):
    """An ``.onnx`` file on ``cv2.dnn.readNetFromONNX``.

    The file's input and output tensors (names, shapes, dtypes) and its metadata
    (:attr:`metadata`) are read with onnxruntime, since ``cv2.dnn`` does not report them.

    On the CPU the net runs on OpenCV's default engine (the new graph engine, falling back to
    the classic one); the CUDA devices need the classic engine, which cannot read MoveNet's
    single-pose files (no GatherND): opening those fails with OpenCV's reason.

    Args:
        path: The ``.onnx`` file.
        threads: Threads for OpenCV's parallel loops. OpenCV has one such setting for the whole
            process (``cv2.setNumThreads``): it also applies to every other OpenCV call and to
            the other OpenCV backends in the process. ``None`` leaves it as it is.
        device: ``"cpu"`` (default), ``"cuda"`` or ``"cuda_fp16"``; the CUDA ones need an
            OpenCV built with CUDA (the pip wheels are not).

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: the file is not a valid ONNX model or OpenCV cannot read it; an unknown
            device, or CUDA asked of an OpenCV without it.
        UnsupportedModelError: the file runs part of its graph per image in an ONNX ``Loop``
            (``xpose convert --dynamic-batch``), which OpenCV cannot read.
    """

    name = "opencv"
    requirement = REQUIREMENT

    def __init__(self, path: str | Path, threads: int | None = None, device: str = "cpu") -> None:
        super().__init__(path)
        threads = check_threads(threads)
        if not self.path.is_file():
            raise FileNotFoundError(f"no ONNX model file at {self.path}")
        key = device.strip().lower() if isinstance(device, str) else device
        if key not in DEVICES:
            raise ValueError(f"unknown OpenCV device {device!r}; valid: {list(DEVICES)}")
        if key != "cpu" and cuda_devices() == 0:
            raise ValueError(
                f"device {device!r} needs an OpenCV built with CUDA and a CUDA GPU; this OpenCV "
                f"{cv2.__version__} sees none (the opencv-python wheels are CPU-only): use "
                "device='cpu', or the onnxruntime backend with device='cuda'"
            )
        self.device = key
        self.inputs, self.outputs, self.metadata = onnx_signature(self.path)
        if BATCH_LOOP in self.metadata:
            raise UnsupportedModelError(_LOOP_MESSAGE.format(path=self.path))
        self._output_names = [info.name for info in self.outputs]
        if threads is not None:
            cv2.setNumThreads(threads)
        self._nets: PerThread[Any] = PerThread(self._read_net)
        self._nets.put(self._read_net())
        logger.debug("OpenCV DNN net for %s on %s", self.path, key)

    def _read_net(self) -> Any:
        try:
            net = cv2.dnn.readNetFromONNX(str(self.path), _ENGINES[self.device])
        except cv2.error as err:
            if "[Loop]" in str(err) or "Loop@" in str(err):
                raise UnsupportedModelError(_LOOP_MESSAGE.format(path=self.path)) from err
            raise ValueError(
                f"OpenCV {cv2.__version__} cannot read {self.path} "
                f"({str(err).strip().splitlines()[-1]}); if the file is corrupt, re-run "
                "`xpose convert` to rebuild it"
            ) from err
        if self.device != "cpu":  # the new engine takes no target and warns when given one
            backend, target = DEVICES[self.device]
            net.setPreferableBackend(backend)
            net.setPreferableTarget(target)
        return net

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """:meth:`~xpose.backends.Backend.run` on the calling thread's net; the outputs
        are copies owned by the caller."""
        self._check_open()
        checked = check_feeds(feeds, self.inputs)
        net = self._nets.get()
        for name, value in checked.items():
            net.setInput(value, name)
        values = net.forward(self._output_names)
        return {
            info.name: np.array(value, copy=True)
            for info, value in zip(self.outputs, values, strict=True)
        }

    def _release(self) -> None:
        self._nets.clear()
