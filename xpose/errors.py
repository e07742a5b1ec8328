"""Exceptions shared across xpose."""

from __future__ import annotations

__all__ = ["MissingExtraError"]


class MissingExtraError(ImportError):
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
