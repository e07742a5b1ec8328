"""Result records and the files they go to: JSON Lines, COCO keypoint results, overlay images.

One *record* describes the poses found in one image or one video frame; its fields are listed
in :data:`RECORD_FIELDS` and documented in ``docs/output-schema.md`` (with a JSON Schema in
``xpose/data/record.schema.json``). :func:`build_record` makes one from a
:class:`~xpose.results.Poses`; :class:`JsonLinesWriter` and :class:`CocoWriter` write records
crash-safely: to a hidden temporary file beside the target that :meth:`~RecordWriter.close`
renames into place, so the target only ever holds a complete, valid file.

>>> rec = build_record(poses, source="a.jpg", width=640, height=480,  # doctest: +SKIP
...                    model="movenet-lightning", backend="onnxruntime", precision="fp32")
>>> with open_writer("out.jsonl", "jsonl") as out:  # doctest: +SKIP
...     out.write(rec)
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import cv2
import numpy as np
import numpy.typing as npt

from xpose.atomic import AtomicFile, CompleteOrNothing
from xpose.results import Poses, coco_results

if TYPE_CHECKING:
    from xpose.estimator import Estimator

__all__ = [
    "FORMATS",
    "POSE_FIELDS",
    "RECORD_FIELDS",
    "SCHEMA_VERSION",
    "CocoWriter",
    "JsonLinesWriter",
    "RecordWriter",
    "build_record",
    "coco_entries",
    "coco_image_id",
    "open_writer",
    "write_image",
]

logger = logging.getLogger(__name__)

#: Version of the record layout, written as each record's ``"schema"`` field.
SCHEMA_VERSION = 1

#: Record field -> the JSON types it may hold (``"null"`` where it may be missing).
RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    "schema": ("integer",),
    "source": ("string",),
    "frame": ("integer",),
    "timestamp": ("number", "null"),
    "width": ("integer",),
    "height": ("integer",),
    "model": ("string",),
    "backend": ("string",),
    "precision": ("string", "null"),
    "poses": ("array",),
}

#: Field -> JSON types of each entry of a record's ``"poses"``.
POSE_FIELDS: dict[str, tuple[str, ...]] = {
    "score": ("number",),
    "box": ("array",),
    "track_id": ("integer", "null"),
    "keypoints": ("array",),
}

#: Field -> JSON types of each of a pose's 17 ``"keypoints"``.
KEYPOINT_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("string",),
    "x": ("number", "null"),
    "y": ("number", "null"),
    "score": ("number",),
}

#: Output formats: ``jsonl`` (one record per line) and ``coco`` (a COCO keypoint results list).
FORMATS: tuple[str, ...] = ("jsonl", "coco")

_COCO_NAME = re.compile(r"^(?:COCO_[a-z]+\d*_)?(\d+)$")


def _timestamp(value: float | None) -> float | None:
    """A frame time in seconds to the microsecond, ``None`` when unknown or not finite."""
    if value is None or not math.isfinite(float(value)):
        return None
    return round(float(value), 6)


def build_record(
    poses: Poses,
    *,
    source: str,
    width: int,
    height: int,
    model: str,
    backend: str,
    precision: str | None,
    frame: int = 0,
    timestamp: float | None = None,
) -> dict[str, Any]:
    """The record of one image or video frame (see ``docs/output-schema.md``).

    Args:
        poses: the poses found, keypoints x, y in pixels of the image.
        source: where the image came from (a file path, or ``camera:<index>``).
        width, height: the image's size in pixels.
        model, backend, precision: what found the poses (``precision`` ``None`` if unknown).
        frame: the frame's index from 0 in a video; 0 for a still image.
        timestamp: the frame's time in seconds in a video; ``None`` for a still image.

    Returns:
        A JSON-ready dict; its ``"poses"`` are :meth:`Poses.to_dict`'s
        (:func:`~xpose.results.pose_entries`: coordinates rounded to 2 decimals, scores to 4,
        non-finite coordinates as ``None``, ``track_id`` ``None`` where untracked).
    """
    return {
        "schema": SCHEMA_VERSION,
        "source": str(source),
        "frame": int(frame),
        "timestamp": _timestamp(timestamp),
        "width": int(width),
        "height": int(height),
        "model": str(model),
        "backend": str(backend),
        "precision": None if precision is None else str(precision),
        **poses.to_dict(),
    }


def estimator_record(
    est: Estimator,
    poses: Poses,
    image: np.ndarray,
    *,
    source: str,
    frame: int = 0,
    timestamp: float | None = None,
) -> dict[str, Any]:
    """:func:`build_record` for poses that ``est`` found on ``image`` (``(H, W, 3)``)."""
    return build_record(
        poses,
        source=source,
        width=image.shape[1],
        height=image.shape[0],
        model=est.spec.name,
        backend=est.backend_name,
        precision=est.precision,
        frame=frame,
        timestamp=timestamp,
    )


def coco_image_id(source: str | os.PathLike[str]) -> int | None:
    """The COCO image id in a COCO-style file name (``000000000785.jpg`` -> 785), else ``None``.

    ``COCO_val2014_000000000785.jpg`` style names are recognized too.
    """
    match = _COCO_NAME.match(Path(source).stem)
    return int(match.group(1)) if match else None


def coco_entries(
    record: dict[str, Any], image_id: int, category_id: int = 1
) -> list[dict[str, Any]]:
    """COCO keypoint *results* (one per person) of a record, as pycocotools' ``loadRes`` reads.

    The same entries as :meth:`Poses.to_coco` of the record's poses
    (:func:`~xpose.results.coco_results`).
    """
    return coco_results(record["poses"], image_id, category_id)


class RecordWriter(CompleteOrNothing):
    """Writes records to a file crash-safely, or to standard output (path ``"-"``).

    A file is written through an :class:`~xpose.atomic.AtomicFile` (a hidden temporary file in
    the target's folder, created if needed) renamed onto the target by :meth:`close`;
    :meth:`abort` deletes it instead, leaving any earlier target untouched. As a context manager
    it closes on success, aborts on an error, and on ``KeyboardInterrupt`` keeps the records
    written so far (each one whole): at the target if there was none, else beside it as
    ``<stem>.partial<suffix>`` (an existing file is only ever replaced by a complete result).

    Args:
        path: the target file, or ``"-"`` for standard output.
        stream: the text stream used for ``"-"`` (default ``sys.stdout``).

    Attributes:
        records: how many records were written.
        saved_to: where the file went once closed (the target, or the partial name).

    Raises:
        xpose.errors.OutputError: ``path`` is a folder, or a part of its folder path is a file.
    """

    def __init__(self, path: str | os.PathLike[str], *, stream: IO[str] | None = None) -> None:
        self.path: Path | None = None if os.fspath(path) == "-" else Path(path)
        self.records = 0
        self.saved_to: Path | None = None
        self._file: AtomicFile | None = None
        self._closed = False
        if self.path is None:
            self._out: IO[str] = stream if stream is not None else sys.stdout
        else:
            self._file = AtomicFile(self.path, partial_ok=True)
            self._out = self._file.open("w", encoding="utf-8", newline="\n")
        self._start()

    @property
    def name(self) -> str:
        """The target's path, or ``<stdout>``."""
        return "<stdout>" if self.path is None else str(self.path)

    def _start(self) -> None:
        """Write what comes before the first record."""

    def _finish(self) -> None:
        """Write what comes after the last record."""

    def _emit(self, record: dict[str, Any], image_id: int) -> None:
        raise NotImplementedError

    def write(self, record: dict[str, Any], image_id: int | None = None) -> None:
        """Append one record (see :func:`build_record`).

        ``image_id`` is the COCO image id (used by :class:`CocoWriter`); default the running
        index of the record from 0.
        """
        if self._closed:
            raise ValueError(f"the writer for {self.name} is closed")
        self._emit(record, self.records if image_id is None else int(image_id))
        self.records += 1
        self._out.flush()

    def close(self, *, partial: bool = False) -> None:
        """Finish the output validly and, for a file, rename it into place.

        Args:
            partial: the run was interrupted: an existing target is kept and the records go
                to ``<stem>.partial<suffix>`` beside it (see :func:`xpose.atomic.partial_name`).
        """
        if self._closed:
            return
        self._closed = True
        if self._file is None:
            self._finish()
            self._out.flush()
            return
        try:
            self._finish()
        except BaseException:
            self._file.discard()
            raise
        self.saved_to = self._file.commit(partial=partial)

    def abort(self) -> None:
        """Stop and delete the temporary file; the target is left as it was."""
        if self._closed:
            return
        self._closed = True
        if self._file is not None:
            self._file.discard()
        else:
            with contextlib.suppress(BrokenPipeError):
                self._out.flush()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, records={self.records})"


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


class JsonLinesWriter(RecordWriter):
    """JSON Lines: one record per line, each line written whole."""

    def _emit(self, record: dict[str, Any], image_id: int) -> None:
        self._out.write(_dumps(record) + "\n")


class CocoWriter(RecordWriter):
    """A COCO keypoint results file: one JSON list of :func:`coco_entries` of every record.

    The list is streamed (``[`` first, ``]`` on :meth:`close`), so an interrupted run still
    leaves a valid list of the entries written so far.
    """

    def _start(self) -> None:
        self._entries = 0
        self._out.write("[")

    def _emit(self, record: dict[str, Any], image_id: int) -> None:
        for entry in coco_entries(record, image_id):
            self._out.write(("," if self._entries else "") + "\n" + _dumps(entry))
            self._entries += 1

    def _finish(self) -> None:
        self._out.write("\n]\n")


_WRITERS: dict[str, type[RecordWriter]] = {"jsonl": JsonLinesWriter, "coco": CocoWriter}


def open_writer(
    path: str | os.PathLike[str], fmt: str = "jsonl", *, stream: IO[str] | None = None
) -> RecordWriter:
    """A :class:`RecordWriter` for ``fmt`` (``"jsonl"`` or ``"coco"``) to ``path`` or ``"-"``.

    Raises:
        ValueError: an unknown format (the message lists the valid ones), or a folder as path.
    """
    try:
        cls = _WRITERS[fmt]
    except KeyError:
        raise ValueError(
            f"unknown output format {fmt!r}; choose one of: {', '.join(FORMATS)}"
        ) from None
    return cls(path, stream=stream)


def write_image(path: str | os.PathLike[str], image_rgb: npt.NDArray[np.uint8]) -> Path:
    """Save an RGB image atomically (see :mod:`xpose.atomic`); the format follows the suffix.

    An interrupted write leaves nothing: a half-written image is not a result.

    Raises:
        ValueError: OpenCV cannot encode that format.
        xpose.errors.OutputError: ``path`` is a folder, or a part of its folder path is a file.
    """
    target = Path(path)
    ok, data = cv2.imencode(target.suffix or ".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"cannot write {target}: OpenCV cannot encode {target.suffix!r} images")
    with AtomicFile(target) as file:
        file.open("wb").write(data.tobytes())
    return target
