"""Which files are images and which are videos, and the images a folder holds."""

from __future__ import annotations

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
