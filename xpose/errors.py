"""The exceptions xpose raises for problems a user can cause and fix.

Every one derives from :class:`XposeError` and from the built-in exception a caller would
expect (``FileNotFoundError``, ``ValueError``, ``ImportError``...), so ``except ValueError``
keeps working. The command line prints an :class:`XposeError` (or an ``OSError``) as one
message and exits with status 2; anything else is a bug in xpose and shows its traceback.
Plain ``ValueError``\\ s for bad arguments are also reported as messages (the documented
"bad input" error of the library).

:class:`Interrupted` is not an error: it is the ``KeyboardInterrupt`` the command line raises
on SIGTERM or SIGHUP, so that those signals stop a run exactly as Ctrl-C does.
"""

from __future__ import annotations

import signal

__all__ = [
    "Interrupted",
    "MissingExtraError",
    "ModelFileError",
    "ModelNotConvertedError",
    "OutputError",
    "OutputExistsError",
    "XposeError",
]


class XposeError(Exception):
    """Base of the errors a user can cause; the message says what went wrong and what to do."""


class ModelNotConvertedError(XposeError, FileNotFoundError):
    """A model is not in the model store yet; the message gives the ``xpose convert`` command."""


class ModelFileError(XposeError, ValueError):
    """A converted model file or the store's manifest is corrupt or does not match its entry."""


class OutputError(XposeError, ValueError):
    """An output path xpose refuses: it would replace an input, or it cannot be a file."""


class OutputExistsError(OutputError, FileExistsError):
    """An output file exists already and replacing it was not asked for (``--overwrite``)."""


class MissingExtraError(XposeError, ImportError):
    """An optional runtime is not installed; the message names the pip extra that provides it.

    Args:
        feature: What needs the package, e.g. ``"the 'tflite' backend"``.
        package: The pip distribution that is missing, e.g. ``"ai-edge-litert"``.
        extra: The xpose extra that installs it, or ``None`` for a core dependency.
        module: The import name that failed (kept as ``ImportError.name``).
    """

    def __init__(
        self, feature: str, package: str, extra: str | None, *, module: str | None = None
    ) -> None:
        if extra is None:
            fix = f"pip install {package} (a core dependency of xpose: reinstall xpose)"
        else:
            fix = f"pip install 'xpose[{extra}]'"
        super().__init__(f"{feature} needs {package}: {fix}", name=module)
        self.feature = feature
        self.package = package
        self.extra = extra


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal (SIGTERM, SIGHUP); handled everywhere as Ctrl-C is.

    Args:
        signum: the signal's number; the command line exits with ``128 + signum``.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = int(signum)

    @property
    def signal_name(self) -> str:
        """The signal's name, e.g. ``"SIGTERM"``."""
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"
