"""The Backend protocol every runtime implements, and the name -> class registry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class TensorInfo:
    """Name, shape (``None`` or ``-1`` free: reported as ``None``) and numpy dtype of a tensor."""

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype


@runtime_checkable
class Backend(Protocol):
    """A loaded model file on one runtime.

    ``run`` takes and returns arrays keyed by tensor name; it is safe to call from several
    threads at once.
    """

    name: str
    path: Path
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...
