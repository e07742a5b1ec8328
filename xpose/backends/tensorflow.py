"""The TensorFlow backend: runs a SavedModel signature (extra ``convert``).

It is the reference that converted files are compared against, not a deployment runtime.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xpose.backends.base import BackendBase, Requirement, TensorInfo, check_feeds

__all__ = ["TensorFlowBackend"]

logger = logging.getLogger(__name__)

REQUIREMENT = Requirement(module="tensorflow", package="tensorflow", extra="convert")

DEFAULT_SIGNATURE = "serving_default"


def _import_tensorflow() -> Any:
    return REQUIREMENT.load("the 'tensorflow' backend")


def _tensor_info(name: str, spec: Any) -> TensorInfo:
    """Convert a ``tf.TensorSpec``."""
    if spec.shape.rank is None:
        raise ValueError(f"tensor {name!r} has an unknown rank; xpose needs a known rank")
    return TensorInfo(
        name=name, shape=tuple(spec.shape.as_list()), dtype=np.dtype(spec.dtype.as_numpy_dtype)
    )


class TensorFlowBackend(BackendBase):
    """A SavedModel directory's signature on TensorFlow (eager).

    ``run`` is safe to call from several threads at once. TensorFlow's thread pools are
    process-wide (``tf.config.threading``), so this backend takes no per-model ``threads``.

    Args:
        path: The SavedModel directory (the one holding ``saved_model.pb``).
        threads: Must be ``None``; present so that every backend takes the same arguments.
        signature: The signature to run.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is not a SavedModel, has no such signature, or ``threads`` is set.
        MissingExtraError: tensorflow is not installed (``pip install 'xpose[convert]'``).
    """

    name = "tensorflow"
    requirement = REQUIREMENT

    def __init__(
        self, path: str | Path, threads: int | None = None, signature: str = DEFAULT_SIGNATURE
    ) -> None:
        super().__init__(path)
        if threads is not None:
            raise ValueError(
                "the tensorflow backend takes no threads setting: TensorFlow's thread pools are "
                "process-wide, set them with tf.config.threading before loading"
            )
        tf = _import_tensorflow()
        self._tf = tf
        if not self.path.exists():
            raise FileNotFoundError(f"no SavedModel directory at {self.path}")
        if not tf.saved_model.contains_saved_model(str(self.path)):
            raise ValueError(
                f"{self.path} is not a SavedModel directory (no saved_model.pb or "
                "saved_model.pbtxt in it)"
            )
        try:
            self._model = tf.saved_model.load(str(self.path))
        except (OSError, ValueError, tf.errors.OpError) as err:
            raise ValueError(f"cannot load the SavedModel at {self.path}: {err}") from err
        signatures = list(self._model.signatures.keys())
        if signature not in signatures:
            raise ValueError(
                f"{self.path} has no signature {signature!r}; its signatures are {signatures}"
            )
        self.signature = signature
        self._function = self._model.signatures[signature]
        _, input_specs = self._function.structured_input_signature
        self.inputs = tuple(_tensor_info(name, spec) for name, spec in input_specs.items())
        self.outputs = tuple(
            _tensor_info(name, spec) for name, spec in self._function.structured_outputs.items()
        )
        logger.debug("SavedModel %s signature %s", self.path, signature)

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the signature once.

        Args:
            feeds: One array per input, keyed by the signature's input names, in their dtype.

        Returns:
            One array per output, keyed by the signature's output names, in ``outputs`` order.
        """
        self._check_open()
        checked = check_feeds(feeds, self.inputs)
        tf = self._tf
        result = self._function(**{name: tf.constant(value) for name, value in checked.items()})
        return {info.name: result[info.name].numpy() for info in self.outputs}

    def _release(self) -> None:
        del self._function
        del self._model
