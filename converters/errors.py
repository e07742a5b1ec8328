"""The conversion error hierarchy."""

from __future__ import annotations

from xpose.errors import XposeError


class ConversionError(XposeError, RuntimeError):
    """A model could not be converted, or the converted file failed its own check."""


class SourceError(ConversionError):
    """Model sources could not be fetched, read or extracted."""


class ChecksumError(SourceError):
    """A source file's sha256 is not the one pinned in the catalogue (truncated or tampered)."""


class ParityError(ConversionError):
    """A converted file disagrees with its source beyond the allowed tolerance."""
