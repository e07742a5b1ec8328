"""The TFLite (LiteRT) backend: runs ``.tflite`` files on ``ai_edge_litert`` (extra ``tflite``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xpose.backends.base import (
    BackendBase,
    PerThread,
    Requirement,
    TensorInfo,
    check_feeds,
    check_threads,
)

__all__ = ["TFLiteBackend"]

logger = logging.getLogger(__name__)

REQUIREMENT = Requirement(module="ai_edge_litert", package="ai-edge-litert", extra="tflite")

DEFAULT_SIGNATURE = "serving_default"


def _import_interpreter() -> Any:
    """Return ``ai_edge_litert.interpreter.Interpreter``, or raise ``MissingExtraError``."""
    return REQUIREMENT.load("the 'tflite' backend", "interpreter").Interpreter


def _tensor_info(name: str, details: Mapping[str, Any]) -> TensorInfo:
    """Convert a LiteRT tensor-details dict; ``shape_signature`` holds -1 for free dims."""
    signature = details.get("shape_signature")
    dims = details["shape"] if signature is None or len(signature) == 0 else signature
    shape = tuple(int(d) if d >= 0 else None for d in dims)
    scale, zero_point = details.get("quantization", (0.0, 0))
    quantization = (float(scale), int(zero_point)) if scale != 0.0 else None
    return TensorInfo(
        name=name, shape=shape, dtype=np.dtype(details["dtype"]), quantization=quantization
    )


class _Worker:
    """One interpreter, owned and used by one thread only."""

    __slots__ = ("interpreter", "runner", "shapes")

    def __init__(self, interpreter: Any, runner: Any, shapes: dict[int, tuple[int, ...]]) -> None:
        self.interpreter = interpreter
        self.runner = runner
        self.shapes = shapes


class TFLiteBackend(BackendBase):
    """A ``.tflite`` file on LiteRT's ``Interpreter`` (XNNPACK is its default CPU delegate).

    When the file has signatures, tensors are addressed by the signature's input and output
    names (e.g. ``input`` / ``keypoints``); otherwise by the tensor names of the file's input and
    output details.

    Threads: one LiteRT interpreter must not be used by two threads at once, so this backend
    gives each calling thread its own interpreter, created on that thread's first ``run``.
    Threads therefore run in parallel, each using up to ``threads`` threads of its own. The file
    is memory-mapped once, but each interpreter holds its own activation buffers (and XNNPACK's
    packed weights), so memory grows with the number of calling threads: prefer a fixed pool of
    threads. An interpreter is freed when its thread ends, and all of them on ``close``.

    Inputs whose dimensions are free in the file (``None`` in ``inputs``) are resized to each
    feed's shape. Feeds must already be in the input's dtype; for a quantized input,
    ``TensorInfo.quantization`` gives ``(scale, zero_point)``.

    Args:
        path: The ``.tflite`` file.
        threads: Threads per interpreter; ``None`` lets LiteRT choose.
        signature: The signature to run; ``None`` picks ``"serving_default"`` when the file has
            it, else the file's first signature.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: the file is not a valid TFLite model, or has no such signature.
        MissingExtraError: ai-edge-litert is not installed (``pip install 'xpose[tflite]'``).
    """

    name = "tflite"
    requirement = REQUIREMENT

    def __init__(
        self, path: str | Path, threads: int | None = None, signature: str | None = None
    ) -> None:
        super().__init__(path)
        self._threads = check_threads(threads)
        self._interpreter_class = _import_interpreter()
        if not self.path.is_file():
            raise FileNotFoundError(f"no TFLite model file at {self.path}")
        interpreter = self._new_interpreter()
        signatures = list(interpreter.get_signature_list())
        self.signature = _choose_signature(self.path, signatures, signature)
        if self.signature is not None:
            runner = interpreter.get_signature_runner(self.signature)
            self.inputs = tuple(
                _tensor_info(name, d) for name, d in runner.get_input_details().items()
            )
            self.outputs = tuple(
                _tensor_info(name, d) for name, d in runner.get_output_details().items()
            )
            self._input_index: dict[str, int] = {}
            self._output_index: dict[str, int] = {}
        else:
            runner = None
            interpreter.allocate_tensors()
            in_details = interpreter.get_input_details()
            out_details = interpreter.get_output_details()
            self.inputs = tuple(_tensor_info(d["name"], d) for d in in_details)
            self.outputs = tuple(_tensor_info(d["name"], d) for d in out_details)
            self._input_index = {d["name"]: int(d["index"]) for d in in_details}
            self._output_index = {d["name"]: int(d["index"]) for d in out_details}
        self._workers: PerThread[_Worker] = PerThread(
            lambda: self._make_worker(self._new_interpreter(), None)
        )
        self._workers.put(self._make_worker(interpreter, runner))
        logger.debug(
            "LiteRT interpreter for %s (signature=%s, threads=%s)",
            self.path,
            self.signature,
            self._threads,
        )

    def _new_interpreter(self) -> Any:
        try:
            return self._interpreter_class(model_path=str(self.path), num_threads=self._threads)
        except ValueError as err:
            raise ValueError(
                f"{self.path} is not a valid TFLite model ({err}); it may be truncated or "
                "corrupt: re-run `xpose convert` to rebuild it"
            ) from err

    def _make_worker(self, interpreter: Any, runner: Any) -> _Worker:
        if self.signature is not None and runner is None:
            runner = interpreter.get_signature_runner(self.signature)
        shapes: dict[int, tuple[int, ...]] = {}
        if self.signature is None:
            interpreter.allocate_tensors()
            shapes = {
                int(d["index"]): tuple(int(x) for x in d["shape"])
                for d in interpreter.get_input_details()
            }
        return _Worker(interpreter, runner, shapes)

    @property
    def interpreters(self) -> int:
        """How many per-thread interpreters are alive now."""
        return len(self._workers)

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model once on the calling thread's interpreter.

        Args:
            feeds: One array per input, keyed by input name, in the input's dtype; free
                dimensions take any size.

        Returns:
            One array (a copy, owned by the caller) per output, keyed by name, in ``outputs``
            order.
        """
        self._check_open()
        checked = check_feeds(feeds, self.inputs)
        worker = self._workers.get()
        if worker.runner is not None:
            # The signature runner resizes its inputs to the feeds' shapes and re-allocates
            # only when a shape changed.
            result = worker.runner(**checked)
            return {info.name: result[info.name] for info in self.outputs}
        interpreter = worker.interpreter
        resized = False
        for name, value in checked.items():
            index = self._input_index[name]
            if worker.shapes[index] != value.shape:
                interpreter.resize_tensor_input(index, list(value.shape), strict=True)
                worker.shapes[index] = value.shape
                resized = True
        if resized:
            interpreter.allocate_tensors()
        for name, value in checked.items():
            interpreter.set_tensor(self._input_index[name], value)
        interpreter.invoke()
        return {
            info.name: interpreter.get_tensor(self._output_index[info.name])
            for info in self.outputs
        }

    def _release(self) -> None:
        self._workers.clear()


def _choose_signature(path: Path, available: list[str], wanted: str | None) -> str | None:
    if wanted is None:
        if not available:
            return None
        return DEFAULT_SIGNATURE if DEFAULT_SIGNATURE in available else available[0]
    if wanted not in available:
        has = f"its signatures are {available}" if available else "it has no signatures"
        raise ValueError(f"{path} has no signature {wanted!r}; {has}")
    return wanted
