"""The model catalogue as data: one frozen :class:`ModelSpec` per model, looked up by name.

Each model family's module (:mod:`~xpose.models.movenet`, :mod:`~xpose.models.posenet`) owns
its specs, options and head (see :mod:`xpose.models.base`); this module collects the specs.

Tensor names are stable: every converted ONNX or TFLite file carries exactly these input and
output names, so decoders can match outputs by name rather than by position.
"""

from __future__ import annotations

from xpose.models import movenet, posenet
from xpose.models.base import Head, ModelOptions, ModelSpec
from xpose.preprocess import Letterbox

__all__ = ["MODELS", "Head", "Letterbox", "ModelOptions", "ModelSpec", "get_spec", "list_models"]

#: Every model xpose knows, in a fixed order; each spec is defined in its family's module.
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (movenet.LIGHTNING, movenet.THUNDER, movenet.MULTIPOSE, posenet.POSENET)
}


def list_models() -> list[str]:
    """Names of every model in the catalogue, in catalogue order."""
    return list(MODELS)


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of the model called ``name``.

    Raises:
        ValueError: ``name`` is not in the catalogue; the message lists the valid names.
    """
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        valid = ", ".join(repr(n) for n in MODELS)
        raise ValueError(f"unknown model {name!r}; expected one of {valid}") from None
