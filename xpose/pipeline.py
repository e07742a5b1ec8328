"""Many image files through one estimator: reading and letterboxing in threads, inference in
batches.

:func:`predict_files` reads and letterboxes the files in a small thread pool, a few batches
ahead of the model, so that JPEG decoding and pre-processing overlap inference; the calling
thread only stacks each batch, runs it and decodes the outputs
(:meth:`~xpose.Estimator.infer_batch`). The poses are those of
:meth:`~xpose.Estimator.predict_batch`. Results come back in the order of the paths; a file
that cannot be read gives its error in its place, and the others go on.

>>> for item in predict_files(est, ["a.jpg", "b.jpg"]):  # doctest: +SKIP
...     print(item.path, item.error or len(item.poses))
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from xpose.models import Head
from xpose.preprocess import Geometry, to_rgb_uint8
from xpose.results import Poses

if TYPE_CHECKING:
    from xpose.estimator import Estimator

__all__ = ["DEFAULT_READERS", "ImageResult", "PreparedFile", "predict_files", "prepare_file"]

#: Threads reading and letterboxing image files by default.
DEFAULT_READERS = 2
#: Batches read ahead of the one being inferred.
PREFETCH_BATCHES = 2


@dataclass(frozen=True)
class ImageResult:
    """One file's outcome: the image and its poses, or why it could not be read.

    Attributes:
        path: the file.
        image: ``(H, W, 3)`` uint8 RGB, or ``None`` when it could not be read.
        poses: the poses in its pixels, or ``None`` when it could not be read.
        error: the reading error (``OSError`` or ``ValueError``), or ``None``.
    """

    path: Path
    image: npt.NDArray[np.uint8] | None
    poses: Poses | None
    error: Exception | None = None


@dataclass(frozen=True)
class PreparedFile:
    """An image file read and letterboxed (:func:`prepare_file`).

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB, the file as read.
        x: ``(1, h, w, 3)``, the model input in the file's dtype.
        geometry: how ``x`` was made from ``image``.
    """

    image: npt.NDArray[np.uint8]
    x: np.ndarray
    geometry: Geometry


def prepare_file(path: str | os.PathLike[str], head: Head) -> PreparedFile | Exception:
    """Read an image file and make ``head``'s model input of it (what a reader thread does).

    Returns:
        The :class:`PreparedFile`, or the ``OSError`` / ``ValueError`` that reading raised
        (returned, not raised, so that one bad file does not stop the others).
    """
    try:
        image = to_rgb_uint8(path)
    except (OSError, ValueError) as err:
        return err
    x, geometry = head.prepare(image)
    return PreparedFile(image, x, geometry)


def _infer(est: Estimator, items: list[PreparedFile]) -> list[Poses]:
    """Poses of prepared images, run together where their inputs have one shape."""
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, item in enumerate(items):
        by_shape.setdefault(item.x.shape, []).append(i)
    poses: list[Poses | None] = [None] * len(items)
    for members in by_shape.values():
        x = np.concatenate([items[i].x for i in members])
        found = est.infer_batch(x, [items[i].geometry for i in members])
        for i, p in zip(members, found, strict=True):
            poses[i] = p
    return [p for p in poses if p is not None]


def predict_files(
    est: Estimator,
    paths: Iterable[str | os.PathLike[str]],
    *,
    batch_size: int = 8,
    readers: int = DEFAULT_READERS,
) -> Iterator[ImageResult]:
    """Predict the poses of image files, reading ahead in threads and inferring in batches.

    Args:
        est: the estimator.
        paths: image files (anything OpenCV reads).
        batch_size: images per :meth:`~xpose.Estimator.predict_batch` call.
        readers: threads decoding files; at most ``PREFETCH_BATCHES + 1`` batches of decoded
            images are held at once.

    Yields:
        One :class:`ImageResult` per path, in order.

    Raises:
        ValueError: ``batch_size`` or ``readers`` below 1.
    """
    for name, value in (("batch_size", batch_size), ("readers", readers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    ahead = batch_size * (PREFETCH_BATCHES + 1)
    queue: deque[tuple[Path, Future[PreparedFile | Exception]]] = deque()
    todo = iter(paths)
    with ThreadPoolExecutor(max_workers=readers, thread_name_prefix="xpose-read") as pool:

        def fill() -> None:
            while len(queue) < ahead:
                path = next(todo, None)
                if path is None:
                    return
                path = Path(path)
                queue.append((path, pool.submit(prepare_file, path, est.head)))

        try:
            fill()
            while queue:
                batch = [queue.popleft() for _ in range(min(batch_size, len(queue)))]
                fill()  # the readers work on the next batches while this one runs
                read = [(path, future.result()) for path, future in batch]
                found = iter(_infer(est, [r for _, r in read if isinstance(r, PreparedFile)]))
                for path, r in read:
                    if isinstance(r, PreparedFile):
                        yield ImageResult(path, r.image, next(found))
                    else:
                        yield ImageResult(path, None, None, r)
        finally:
            for _, future in queue:
                future.cancel()
