"""What to read: which files are images and which videos, the images a folder holds, and the
inputs of a run (:func:`collect_inputs`), for both engines of ``xpose predict``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: Suffixes of the images a folder contributes (compared in lower case).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".webp", ".tif", ".tiff", ".jp2"}
    | {".pbm", ".pgm", ".ppm", ".pnm", ".pxm", ".sr", ".ras", ".hdr", ".pic", ".avif"}
)

#: Suffixes read as videos (anything else given as a file is read as an image).
VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".m4v", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv"}
    | {".3gp", ".ts", ".mts", ".m2ts", ".ogv", ".gif", ".mjpeg", ".mjpg", ".h264", ".hevc"}
)


def is_video(path: Path) -> bool:
    """Whether ``path`` is read as a video (by its suffix)."""
    return path.suffix.lower() in VIDEO_EXTENSIONS


def is_broken_link(path: Path) -> bool:
    """Whether ``path`` is a symbolic link whose target does not exist."""
    return path.is_symlink() and not path.exists()


def folder_images(folder: Path) -> list[Path]:
    """The images under ``folder``, recursively, sorted; hidden files and folders skipped.

    Broken symbolic links with an image suffix are included, so that reading them reports
    them as any unreadable image is reported, rather than skipping them unseen.
    """
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.suffix.lower() in IMAGE_EXTENSIONS and (path.is_file() or is_broken_link(path)):
            found.append(path)
    return sorted(found)


def shown(name: str | Path) -> str:
    """``name`` for one line of a message: control characters (a newline...) escaped.

    Names that cannot be encoded (undecodable bytes of a file name) are escaped too.
    """
    text = str(name)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass(frozen=True)
class Input:
    """One thing to read: ``kind`` is ``"image"``, ``"video"`` or ``"camera"``.

    ``path`` keeps the spelling given (a folder's images are joined to the folder as given).
    """

    kind: str
    path: Path | None = None
    camera: int | None = None

    @property
    def name(self) -> str:
        """How records and messages name it: the path, or ``camera:<index>``."""
        return f"camera:{self.camera}" if self.path is None else str(self.path)

    @property
    def stem(self) -> str:
        """A short name for file names and progress bars."""
        return f"camera{self.camera}" if self.path is None else self.path.stem


@dataclass(frozen=True)
class InputProblem:
    """A name given that is nothing to read, and why (``error``: the exception to report)."""

    name: str
    error: OSError

    def __str__(self) -> str:
        return f"{shown(self.name)}: {self.error}"


def collect_inputs(
    names: Iterable[str | os.PathLike[str]], camera: int | None = None
) -> tuple[list[Input], list[InputProblem]]:
    """The inputs to read, in the order given, and the names that are nothing to read.

    A folder contributes its images (:func:`folder_images`); a file with a video suffix
    (:data:`VIDEO_EXTENSIONS`) is a video, any other file an image; ``camera`` comes last.
    A missing path, a broken link or a folder without images is an :class:`InputProblem`.
    """
    inputs: list[Input] = []
    problems: list[InputProblem] = []
    for item in names:
        name, path = os.fspath(item), Path(item)
        if path.is_dir():
            images = folder_images(path)
            if not images:
                exts = " ".join(sorted(IMAGE_EXTENSIONS))
                error = NotADirectoryError(f"no images in this folder (looked for {exts})")
                problems.append(InputProblem(name, error))
            inputs += [Input("image", p) for p in images]
        elif is_broken_link(path):
            target = shown(os.readlink(path))
            error = FileNotFoundError(f"a broken symbolic link (to {target}, which does not exist)")
            problems.append(InputProblem(name, error))
        elif not path.exists():
            problems.append(InputProblem(name, FileNotFoundError("no such file or folder")))
        else:
            inputs.append(Input("video" if is_video(path) else "image", path))
    if camera is not None:
        inputs.append(Input("camera", camera=camera))
    return inputs, problems
