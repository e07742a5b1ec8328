"""Model x precision x backend combinations known to compute wrong answers, refused with why.

Every ONNX runtime xpose supports loads every converted file, but not every runtime computes
every file right. Rather than return wrong keypoints, :func:`xpose.load` (through
:class:`~xpose.Estimator`) refuses the combinations listed in :data:`KNOWN_ISSUES`, with the
reason measured for each. The table is data: the parity tests check both that every listed
combination is refused and that every combination not listed agrees with onnxruntime.

An entry may name a marker (``fixed_by``) that the converter writes into the ONNX file's
metadata once it has rewritten the graph so that the runtime computes it right; a file carrying
that marker is not refused.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "BATCH_LOOP",
    "EXPLICIT_PADS",
    "KNOWN_ISSUES",
    "KnownIssue",
    "UnsupportedModelError",
    "check_supported",
    "find_issue",
]

logger = logging.getLogger(__name__)


class UnsupportedModelError(ValueError):
    """A backend is known to compute this model file wrong, or cannot run it at all (e.g.
    OpenCV and a file with a batch ``Loop``); the message says why and what to do."""


@dataclass(frozen=True)
class KnownIssue:
    """One combination a runtime gets wrong.

    Attributes:
        backend: the canonical backend name.
        model: the catalogue model, or ``None`` for every model.
        precision: ``"fp32"``, ``"fp16"``, ``"int8"``, or ``None`` for every precision.
        reason: what goes wrong, as measured.
        fixed_by: an ONNX metadata key that marks a file rewritten so that the backend computes
            it right (``None``: no rewrite exists yet).
    """

    backend: str
    model: str | None
    precision: str | None
    reason: str
    fixed_by: str | None = None

    def applies(
        self, backend: str, model: str, precision: str | None, metadata: Mapping[str, str]
    ) -> bool:
        """Whether this issue hits ``model`` at ``precision`` on ``backend`` for a file with
        ``metadata`` (``precision=None``: unknown, so only precision-wide issues apply)."""
        if backend != self.backend or self.model not in (None, model):
            return False
        if self.precision is not None and precision != self.precision:
            return False
        return not (self.fixed_by is not None and self.fixed_by in metadata)


#: The ONNX metadata key :mod:`converters.explicit_pads` writes.
EXPLICIT_PADS = "xpose.explicit_pads"
#: The ONNX metadata key :mod:`converters.batch` writes on a file that runs part of its graph
#: once per image in an ONNX ``Loop`` (``xpose convert --dynamic-batch``); its value is the
#: number of nodes in the loop. OpenCV's DNN module cannot read such a file.
BATCH_LOOP = "xpose.batch_loop"

#: Measured with ``xpose parity`` and by comparing every intermediate tensor of the graph with
#: onnxruntime's (docs/parity.md, "OpenCV"). The int8 files of tf2onnx's former int8 ONNX were
#: also wrong on OpenCV; the onnxruntime-native int8 files agree within the int8 tolerance, so
#: they are no longer listed.
KNOWN_ISSUES: tuple[KnownIssue, ...] = (
    KnownIssue(
        backend="opencv",
        model="movenet-multipose",
        precision="fp32",
        reason=(
            "OpenCV 5.0's DNN module pads stride-2 convolutions that have auto_pad=SAME_UPPER "
            "on the wrong side: in this file (free input size, so tf2onnx kept auto_pad) the "
            "first convolution is already off by up to 144 and the poses by up to 0.92 of the "
            "input. Files converted with explicit pads run correctly: rebuild this one with "
            "`xpose convert --models movenet-multipose --precisions fp32 --force`"
        ),
        fixed_by=EXPLICIT_PADS,
    ),
)


def find_issue(
    backend: str, model: str, precision: str | None, metadata: Mapping[str, str] | None = None
) -> KnownIssue | None:
    """The first :data:`KNOWN_ISSUES` entry that hits this combination, or ``None``."""
    meta = dict(metadata or {})
    for issue in KNOWN_ISSUES:
        if issue.applies(backend, model, precision, meta):
            return issue
    return None


def check_supported(
    backend: str, model: str, precision: str | None, metadata: Mapping[str, str] | None = None
) -> None:
    """Raise when ``backend`` is known to compute ``model`` at ``precision`` wrong.

    Args:
        backend: canonical backend name.
        model: catalogue model name.
        precision: the file's precision, or ``None`` when unknown (a file loaded by a path
            that does not end in ``-fp32``/``-fp16``/``-int8``): then only issues of every
            precision are refused, and a warning names the ones that could apply.
        metadata: the ONNX file's metadata (``Backend.metadata`` where the backend has it).

    Raises:
        UnsupportedModelError: the combination is in :data:`KNOWN_ISSUES`; the message gives
            the reason and the backends to use instead.
    """
    issue = find_issue(backend, model, precision, metadata)
    if issue is not None:
        raise UnsupportedModelError(
            f"the {backend!r} backend does not compute {model} "
            f"{precision or 'of this precision'} correctly, so xpose refuses it: "
            f"{issue.reason}. Use the 'onnxruntime' or 'openvino' backend for this file"
        )
    if precision is None:
        maybe = [
            i
            for i in KNOWN_ISSUES
            if i.backend == backend
            and i.model in (None, model)
            and not (i.fixed_by and i.fixed_by in (metadata or {}))
        ]
        if maybe:
            logger.warning(
                "%s on %r: the file's precision is unknown (name it *-fp32/-fp16/-int8); "
                "the %r backend computes %s wrong",
                model,
                backend,
                backend,
                ", ".join(i.precision or "every precision" for i in maybe),
            )
