"""The ``xpose`` command line: a thin layer that parses arguments and calls the library.

Each sub-command lives in :mod:`xpose.commands` as a module with ``add_parser(subparsers)``
and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from types import FrameType

from xpose import __version__
from xpose.errors import Interrupted, XposeError

COMMANDS = ("convert", "predict", "parity", "bench", "evaluate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xpose",
        description="Human pose estimation with MoveNet and PoseNet on onnxruntime or LiteRT.",
    )
    parser.add_argument("--version", action="version", version=f"xpose {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"xpose.commands.{name}")
        module.add_parser(sub)
    return parser


#: Exit status of a bug in xpose (``EX_SOFTWARE`` of ``sysexits.h``); the traceback is shown.
EXIT_BUG = 70

#: Signals that stop a run as Ctrl-C does (keeping what is complete).
_STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def _stop(signum: int, frame: FrameType | None) -> None:
    """Signal handler: raise :class:`Interrupted`.

    Further SIGTERM/SIGHUP are ignored while the run keeps what is complete and exits.
    """
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(signum)


@contextlib.contextmanager
def _signals_stop_the_run() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGHUP raise :class:`Interrupted` (a Ctrl-C).

    Signals a parent set to be ignored (``nohup``) stay ignored. Only the main thread can
    install handlers; elsewhere nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for sig in _STOP_SIGNALS:
        if signal.getsignal(sig) != signal.SIG_IGN:
            previous[sig] = signal.signal(sig, _stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so that Python's final flush is silent."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    0: success. 1: some inputs failed (each reported). 2: a usage or user error (an
    :class:`~xpose.errors.XposeError`, ``OSError`` or ``ValueError``: one message, no
    traceback). 130, 143, 129: stopped by Ctrl-C, SIGTERM, SIGHUP (results so far kept).
    141: standard output was closed early (e.g. ``| head``). 70: a bug in xpose (traceback).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    name = f"xpose {args.command}"
    try:
        with _signals_stop_the_run():
            return int(args.run(args) or 0)
    except KeyboardInterrupt as err:
        signum = err.signum if isinstance(err, Interrupted) else int(signal.SIGINT)
        what = err.signal_name if isinstance(err, Interrupted) else "Ctrl-C"
        print(f"{name}: interrupted ({what})", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except (XposeError, OSError, ValueError) as err:
        if args.verbose:
            raise
        print(f"{name}: error: {err}", file=sys.stderr)
        return 2
    except Exception:
        traceback.print_exc()
        print(
            f"{name}: internal error (a bug in xpose); please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_BUG


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
