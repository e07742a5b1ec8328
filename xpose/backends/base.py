"""The Backend protocol every runtime implements, and the helpers the runtimes share.

The name -> class registry lives in :mod:`xpose.backends`.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import ClassVar, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

from xpose._closing import Closing
from xpose.errors import MissingExtraError

__all__ = [
    "Backend",
    "BackendBase",
    "PerThread",
    "Requirement",
    "TensorInfo",
    "check_feeds",
    "check_threads",
]


_T = TypeVar("_T")


@dataclass(frozen=True)
class TensorInfo:
    """Name, shape (``None`` or ``-1`` free: reported as ``None``) and numpy dtype of a tensor.

    ``quantization`` is ``(scale, zero_point)`` for a per-tensor quantized tensor (real value =
    ``scale * (q - zero_point)``), else ``None``. Only the TFLite backend fills it in.
    """

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype
    quantization: tuple[float, int] | None = None

    def __str__(self) -> str:
        dims = ", ".join("None" if d is None else str(d) for d in self.shape)
        return f"{self.name}: {np.dtype(self.dtype).name} [{dims}]"


@runtime_checkable
class Backend(Protocol):
    """A loaded model file on one runtime.

    ``run`` takes and returns arrays keyed by tensor name; it is safe to call from several
    threads at once. A backend is a context manager: leaving the ``with`` block calls ``close``.
    """

    name: str
    path: Path
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Backend: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@dataclass(frozen=True)
class Requirement:
    """The importable package a backend needs, and how to install it.

    Args:
        module: Top-level import name, e.g. ``"ai_edge_litert"``.
        package: pip distribution name, e.g. ``"ai-edge-litert"``.
        extra: The xpose extra that installs it, or ``None`` for a core dependency.
    """

    module: str
    package: str
    extra: str | None

    def missing(self, feature: str) -> str | None:
        """Return why ``feature`` cannot run (naming the extra), or ``None`` when it can.

        Looks the module up without importing it, so this is cheap even for tensorflow.
        """
        try:
            found = importlib.util.find_spec(self.module) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            return None
        return str(MissingExtraError(feature, self.package, self.extra, module=self.module))

    def load(self, feature: str, submodule: str | None = None) -> ModuleType:
        """Import the module (or ``module.submodule``) for ``feature``.

        Raises:
            MissingExtraError: the package is not installed; the message names the extra.
        """
        try:
            module = importlib.import_module(self.module)
            if submodule is not None:
                module = importlib.import_module(f"{self.module}.{submodule}")
        except ImportError as err:
            raise MissingExtraError(feature, self.package, self.extra, module=self.module) from err
        return module


def check_threads(threads: int | None) -> int | None:
    """Validate a thread count: ``None`` (the runtime's default) or a positive ``int``."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads must be a positive int or None, got {threads!r}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1 (or None for the runtime's default), got {threads}")
    return int(threads)


def check_feeds(
    feeds: Mapping[str, np.ndarray], inputs: Sequence[TensorInfo]
) -> dict[str, np.ndarray]:
    """Check feeds against a model's inputs and return them as C-contiguous arrays.

    Every input must be fed exactly once, as a numpy array of the input's dtype (no silent
    casting), with the input's rank and its fixed dimensions; free (``None``) dimensions take any
    size.

    Raises:
        ValueError: a missing or unknown input name, or a wrong shape.
        TypeError: ``feeds`` is not a mapping, a value is not a numpy array, or a wrong dtype.
    """
    if not isinstance(feeds, Mapping):
        raise TypeError(f"feeds must be a mapping of input name -> array, got {type(feeds)}")
    expected = {info.name: info for info in inputs}
    missing = [name for name in expected if name not in feeds]
    unknown = [name for name in feeds if name not in expected]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing input(s) {missing}")
        if unknown:
            parts.append(f"unknown input(s) {unknown}")
        takes = "; ".join(str(info) for info in inputs)
        raise ValueError(f"{', '.join(parts)}; the model takes {takes}")
    checked = {}
    for name, info in expected.items():
        value = feeds[name]
        if not isinstance(value, np.ndarray):
            raise TypeError(f"input {name!r} must be a numpy array, got {type(value).__name__}")
        if value.dtype != info.dtype:
            raise TypeError(
                f"input {name!r} expects dtype {np.dtype(info.dtype).name}, "
                f"got {value.dtype.name} (cast it with .astype(np.{np.dtype(info.dtype).name}))"
            )
        fits = len(value.shape) == len(info.shape) and all(
            want is None or want == got for want, got in zip(info.shape, value.shape, strict=True)
        )
        if not fits:
            want = "[" + ", ".join("None" if d is None else str(d) for d in info.shape) + "]"
            raise ValueError(
                f"input {name!r} expects shape {want} (None: any size), got {list(value.shape)}"
            )
        checked[name] = np.ascontiguousarray(value)
    return checked


class BackendBase(Closing):
    """Shared plumbing for the concrete backends: context manager, ``repr``, closed state.

    Subclasses set ``name`` (the canonical registry name) and ``requirement``, fill in ``path``,
    ``inputs`` and ``outputs``, and implement ``_release`` to free the runtime's objects.
    """

    name: ClassVar[str]
    requirement: ClassVar[Requirement]
    path: Path
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._closed = False
        self._close_lock = threading.Lock()

    @property
    def closed(self) -> bool:
        """Whether ``close`` has been called."""
        return self._closed

    def close(self) -> None:
        """Release the runtime's objects; ``run`` raises afterwards. Calling it twice is fine."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._release()

    def _release(self) -> None:
        """Free runtime objects (called once, by ``close``)."""

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")

    def __repr__(self) -> str:
        state = ", closed" if self._closed else ""
        return f"{type(self).__name__}(name={self.name!r}, path={str(self.path)!r}{state})"


class PerThread(Generic[_T]):
    """One object per calling thread, made by ``factory`` on that thread's first :meth:`get`.

    For runtime objects that must not be used by two threads at once (a LiteRT interpreter, an
    OpenVINO infer request, an OpenCV ``dnn.Net``): each thread gets its own, so threads run in
    parallel without a lock around the runtime. An object is dropped when its thread ends (the
    threads are held weakly), and all of them on :meth:`clear`.

    Args:
        factory: makes one object; called without the lock held, so it may take its time.
    """

    def __init__(self, factory: Callable[[], _T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._cleared = False
        self._items: weakref.WeakKeyDictionary[threading.Thread, _T] = weakref.WeakKeyDictionary()

    def put(self, item: _T) -> None:
        """Give the calling thread ``item`` (e.g. the object made while opening the model)."""
        with self._lock:
            self._items[threading.current_thread()] = item

    def get(self) -> _T:
        """The calling thread's object, made on its first call.

        Raises:
            RuntimeError: :meth:`clear` was called (the owner was closed).
        """
        thread = threading.current_thread()
        with self._lock:
            item = self._items.get(thread)
        if item is not None:
            return item
        item = self._factory()
        with self._lock:
            if self._cleared:
                raise RuntimeError("the backend was closed while this thread was opening it")
            self._items[thread] = item
        return item

    def __len__(self) -> int:
        """How many threads hold an object now."""
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        """Drop every thread's object; later :meth:`get` calls raise."""
        with self._lock:
            self._cleared = True
            self._items.clear()
