"""The one way xpose creates or replaces a file: a temporary file beside it, then a rename.

Every file xpose writes (the model store, the record files, overlay images, videos) goes
through :class:`AtomicFile`, with one set of rules:

- **Names.** The temporary file is ``.<name>.xpose-<pid>-<token><suffix>`` in the target's
  folder: hidden, on the same file system (so the rename is atomic), and marked with the id of
  the process writing it.
- **Modes.** It is created with mode ``0666`` less the umask (``0644`` with the usual umask),
  as any new file is, and keeps that mode when renamed.
- **Success** (:meth:`~AtomicFile.commit`): the file is renamed onto the target, which holds
  either its old content or the complete new one, never a mix.
- **An error** (:meth:`~AtomicFile.discard`): the temporary file is deleted; the target is
  left as it was.
- **An interrupt** (Ctrl-C, and SIGTERM/SIGHUP on the command line): keep what is complete,
  discard what is not. A stream whose every piece is whole (records, video frames; made with
  ``partial_ok=True``) is kept; anything else is discarded. A partial result never replaces an
  existing file: it is saved beside it as ``<stem>.partial<suffix>`` (see :func:`partial_name`).
- **Stale temporaries.** A hard kill (SIGKILL, power loss) can leave a temporary file. The first
  :class:`AtomicFile` of a process in that folder deletes those whose process is gone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from xpose._closing import Closing
from xpose.errors import OutputError, OutputExistsError
from xpose.inputs import shown

__all__ = [
    "AtomicFile",
    "CompleteOrNothing",
    "check_outputs",
    "check_target",
    "partial_name",
    "prepare_target",
    "remove_stale_temporaries",
]

logger = logging.getLogger(__name__)

_MARK = "xpose"
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.xpose-(?P<pid>\d+)-[0-9a-f]{8}(?:\.[0-9A-Za-z]{1,8})?$")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files of xpose processes that are gone; returns what was deleted.

    Only regular files named as :class:`AtomicFile` names its temporaries are considered; one
    whose process still runs is left alone.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or _pid_alive(int(match.group("pid"))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    if removed:
        logger.info("removed %d stale temporary file(s) in %s", len(removed), folder)
    return removed


#: Folders this process has already cleaned of stale temporaries (its own are never stale).
_CLEANED: set[str] = set()
_CLEANED_LOCK = threading.Lock()


def _clean_once(folder: Path) -> None:
    """:func:`remove_stale_temporaries` in ``folder``, the first time this process writes there."""
    key = os.path.abspath(folder)
    with _CLEANED_LOCK:
        if key in _CLEANED:
            return
        _CLEANED.add(key)
    remove_stale_temporaries(folder)


def check_target(target: str | os.PathLike[str]) -> Path:
    """Check, creating nothing, that ``target`` can be written as a file; returns it as a ``Path``.

    Raises:
        OutputError: ``target`` is a folder, or a part of its folder path is a file.
    """
    path = Path(target)
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder, expected a file name")
    parent = path.parent
    for ancestor in (parent, *parent.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise OutputError(
                    f"cannot write {path}: {ancestor} is a file, not a folder; "
                    "choose an output path inside a folder"
                )
            break
    return path


def prepare_target(target: str | os.PathLike[str]) -> Path:
    """:func:`check_target`, then create the target's folder; returns it as a ``Path``."""
    path = check_target(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _identity(path: Path) -> tuple[int, int] | None:
    """The file ``path`` names (device, inode), following links; ``None`` if there is none."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def check_outputs(
    outputs: Sequence[tuple[str, Path]],
    inputs: Iterable[Path],
    *,
    overwrite: bool,
    how_to_overwrite: str = "overwrite=True",
) -> None:
    """Refuse outputs that would replace an input, or an existing file unless ``overwrite``.

    Meant to run before any work. Inputs and outputs are compared as files, not names: a
    symbolic or hard link to an input is that input.

    Args:
        outputs: ``(what, path)`` of each file to be written; ``what`` names it in messages.
        inputs: the files read.
        overwrite: whether existing output files may be replaced.
        how_to_overwrite: how the user allows it, for the message.

    Raises:
        OutputError: an output is one of the inputs, two outputs are one file, or an output
            cannot be a file (see :func:`check_target`).
        OutputExistsError: an output file exists and ``overwrite`` is false.
    """
    owners: dict[tuple[int, int], Path] = {}
    for path in inputs:
        ident = _identity(path)
        if ident is not None:
            owners.setdefault(ident, path)
    seen: dict[tuple[int, int] | Path, str] = {}
    existing: list[Path] = []
    for what, path in outputs:
        check_target(path)
        ident = _identity(path)
        if ident is not None and ident in owners:
            raise OutputError(
                f"{what} is the input {shown(owners[ident])}; xpose never writes over its "
                "inputs: choose another output name"
            )
        key: tuple[int, int] | Path = ident if ident is not None else Path(os.path.abspath(path))
        if key in seen:
            raise OutputError(f"{what} is also written as {seen[key]}; choose another name")
        seen[key] = what
        if ident is not None or path.is_symlink():
            existing.append(path)
    if existing and not overwrite:
        names = ", ".join(shown(p) for p in existing[:3])
        more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        raise OutputExistsError(
            f"{names}{more} already {'exists' if len(existing) == 1 else 'exist'}: pass "
            f"{how_to_overwrite} to replace (a result "
            "file is replaced only once the run is complete), or choose another output name"
        )


def partial_name(target: str | os.PathLike[str]) -> Path:
    """Where a partial result goes when ``target`` exists: ``<stem>.partial<suffix>`` beside it.

    A free name is chosen (``.partial-2``, ``-3``...) so that no file is replaced.
    """
    path = Path(target)
    candidate = path.with_name(f"{path.stem}.partial{path.suffix}")
    n = 2
    while candidate.exists() or candidate.is_symlink():
        candidate = path.with_name(f"{path.stem}.partial-{n}{path.suffix}")
        n += 1
    return candidate


class CompleteOrNothing(Closing):
    """The context-manager rule of every xpose output, for a class with ``close`` and ``abort``.

    Leaving the ``with`` block normally calls ``close()``; a ``KeyboardInterrupt`` (Ctrl-C, and
    SIGTERM/SIGHUP on the command line) calls ``close(partial=True)`` when :attr:`partial_ok`
    (what was written is complete as far as it goes), else ``abort()``; any other exception
    calls ``abort()``.
    """

    partial_ok: bool = True

    def close(self, *, partial: bool = False) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def abort(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        elif issubclass(exc_type, KeyboardInterrupt) and self.partial_ok:
            self.close(partial=True)
        else:
            self.abort()


class AtomicFile(CompleteOrNothing):
    """A temporary file beside ``target`` that becomes ``target`` when complete.

    See the module's rules. Write to :attr:`tmp` (by name, e.g. for OpenCV) or to the stream of
    :meth:`open`; then :meth:`commit` or :meth:`discard`. As a context manager it commits on
    success, discards on an error, and on ``KeyboardInterrupt`` commits the partial result if
    ``partial_ok`` and discards it otherwise.

    Args:
        target: the file to create or replace.
        suffix: the temporary file's suffix (a video encoder picks its container from it).
        partial_ok: whether what was written before an interrupt is a complete result of its
            own (a stream of whole records or frames), to be kept.

    Raises:
        OutputError: ``target`` is a folder, a part of its folder path is a file, or its folder
            does not let this user create files.
    """

    def __init__(
        self, target: str | os.PathLike[str], *, suffix: str = ".tmp", partial_ok: bool = False
    ) -> None:
        self.target = prepare_target(target)
        self.partial_ok = partial_ok
        self.saved_to: Path | None = None
        """Where :meth:`commit` put the file (the target, or a partial name beside it)."""
        _clean_once(self.target.parent)
        while True:
            name = f".{self.target.name}.{_MARK}-{os.getpid()}-{secrets.token_hex(4)}{suffix}"
            tmp = self.target.parent / name
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            except PermissionError as err:
                raise OutputError(
                    f"cannot write {self.target}: no permission to create files in "
                    f"{self.target.parent}; choose another output folder"
                ) from err
            os.close(fd)
            break
        self.tmp: Path | None = tmp
        self._stream: IO[Any] | None = None

    @property
    def path(self) -> Path:
        """The temporary file, to write by name (e.g. with OpenCV)."""
        if self.tmp is None:
            raise ValueError(f"{self.target} was already committed or discarded")
        return self.tmp

    def open(self, mode: str = "wb", **kwargs: Any) -> IO[Any]:
        """Open the temporary file for writing (closed by :meth:`commit` / :meth:`discard`)."""
        self._stream = open(self.path, mode, **kwargs)  # noqa: SIM115
        return self._stream

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def commit(self, *, partial: bool = False) -> Path:
        """Rename the temporary file onto the target; returns where it went.

        With ``partial`` (an interrupted stream), an existing target is kept and the file goes
        to :func:`partial_name` instead.
        """
        if self.tmp is None:
            raise ValueError(f"{self.target} was already committed or discarded")
        try:
            self._close_stream()
            exists = self.target.exists() or self.target.is_symlink()
            dest = partial_name(self.target) if partial and exists else self.target
            os.replace(self.tmp, dest)
        except BaseException:
            self.discard()
            raise
        self.tmp = None
        self.saved_to = dest
        return dest

    def discard(self) -> None:
        """Delete the temporary file; the target is left as it was. Safe to call twice."""
        try:
            self._close_stream()
        finally:
            tmp, self.tmp = self.tmp, None
            if tmp is not None:
                tmp.unlink(missing_ok=True)

    @property
    def done(self) -> bool:
        """Whether the file was committed or discarded."""
        return self.tmp is None

    def close(self, *, partial: bool = False) -> None:
        """:meth:`commit`, unless already done."""
        if not self.done:
            self.commit(partial=partial)

    def abort(self) -> None:
        """:meth:`discard`."""
        self.discard()

    def __repr__(self) -> str:
        return f"AtomicFile({str(self.target)!r}, tmp={self.tmp and self.tmp.name!r})"
