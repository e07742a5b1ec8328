"""Which catalogue model a model file holds, and how its tensors map onto the model's.

:func:`identify` matches a file's input and output tensors (from its backend) against each
:class:`~xpose.models.ModelSpec` (names first, then dtypes and shapes) and returns a
:class:`Binding`: the file's own tensor for each stable name the decoders use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from xpose.backends import TensorInfo
from xpose.models import MODELS, ModelSpec

__all__ = ["Binding", "identify"]


@dataclass(frozen=True)
class Binding:
    """How one model file's tensors map onto a catalogue model.

    Attributes:
        spec: the catalogue model the file holds.
        input: the file's image input (its own name, dtype and shape; ``None`` dims are free).
        outputs: stable output name (``spec.output_names``) -> the file's output tensor.
    """

    spec: ModelSpec
    input: TensorInfo
    outputs: Mapping[str, TensorInfo]

    @property
    def fixed_size(self) -> tuple[int, int] | None:
        """``(height, width)`` of the file's input, or ``None`` when either is free."""
        h, w = self.input.shape[1], self.input.shape[2]
        return None if h is None or w is None else (int(h), int(w))

    def feed(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The backend's feeds for the model input ``x``, made by the head in the file's dtype."""
        return {self.input.name: x}

    def results(self, outputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The file's outputs keyed by stable name, dequantized to float32 where quantized."""
        return {
            stable: _dequantize(outputs[info.name], info) for stable, info in self.outputs.items()
        }


def _dequantize(value: np.ndarray, info: TensorInfo) -> np.ndarray:
    """``scale * (q - zero_point)`` for a quantized integer output, else ``value`` as is."""
    if info.quantization is None or not np.issubdtype(np.asarray(value).dtype, np.integer):
        return value
    scale, zero_point = info.quantization
    return (scale * (np.asarray(value, np.float32) - zero_point)).astype(np.float32)


def _fits(shape: tuple[int | None, ...], want: tuple[int | None, ...]) -> bool:
    """Whether ``shape`` (``None`` free) can hold ``want`` (``None``: any size)."""
    return len(shape) == len(want) and all(
        s is None or w is None or s == w for s, w in zip(shape, want, strict=True)
    )


def _match_input(spec: ModelSpec, info: TensorInfo) -> str | None:
    """Why ``info`` cannot be ``spec``'s image input, or ``None`` when it can."""
    if not _fits(info.shape, (1, None, None, 3)):
        return f"input shape {list(info.shape)} is not [1, H, W, 3]"
    if np.dtype(info.dtype).name not in spec.input_dtypes:
        return f"input dtype {np.dtype(info.dtype).name} is not one of {spec.input_dtypes}"
    h, w = info.shape[1], info.shape[2]
    if h is None or w is None:
        return None
    if spec.dynamic_size:
        m = spec.size_multiple
        if h % m or w % m:
            return f"input size {h}x{w} is not a multiple of {m}"
        return None
    if (h, w) != tuple(spec.input_size):
        return f"input size {h}x{w} is not {spec.input_size[0]}x{spec.input_size[1]}"
    return None


def _output_shape_fits(info: TensorInfo, want: tuple[int | None, ...]) -> bool:
    if _fits(info.shape, want):
        return True
    # Tolerate a missing leading axis of 1 (e.g. [1, 17, 3] or [6, 56]).
    return len(info.shape) == len(want) - 1 and _fits((1, *info.shape), want)


def _shape(spec: ModelSpec, name: str) -> tuple[int | None, ...]:
    """The shape ``spec`` expects of output ``name`` (any rank-free shape if it says none)."""
    shape = spec.output_shape(name)
    if shape is None:
        raise ValueError(f"{spec.name} gives no output shapes to identify files by")
    return shape


def _match_outputs(
    spec: ModelSpec, outputs: tuple[TensorInfo, ...]
) -> tuple[dict[str, TensorInfo] | None, str | None]:
    """Map ``spec``'s stable output names onto the file's outputs, by name then by shape."""
    if len(outputs) != len(spec.output_names):
        return None, f"{len(outputs)} output(s), not {len(spec.output_names)}"
    by_name = {info.name: info for info in outputs}
    if set(by_name) == set(spec.output_names):
        bad = [n for n in spec.output_names if not _output_shape_fits(by_name[n], _shape(spec, n))]
        if bad:
            return None, f"output(s) {bad} have the wrong shape"
        return {n: by_name[n] for n in spec.output_names}, None
    mapping: dict[str, TensorInfo] = {}
    for stable in spec.output_names:
        taken = {info.name for info in mapping.values()}
        fitting = [
            info
            for info in outputs
            if info.name not in taken and _output_shape_fits(info, _shape(spec, stable))
        ]
        if len(fitting) > 1:
            hints = spec.output_hint(stable)
            fitting = [info for info in fitting if any(h in info.name.lower() for h in hints)]
        if len(fitting) != 1:
            return None, f"no single output fits {stable!r} {list(_shape(spec, stable))}"
        mapping[stable] = fitting[0]
    return mapping, None


def _expected(spec: ModelSpec) -> str:
    h, w = ("H", "W") if spec.dynamic_size else spec.input_size
    dtypes = "/".join(spec.input_dtypes)
    outs = ", ".join(f"{n} {list(_shape(spec, n))}" for n in spec.output_names)
    return f"{spec.name}: input {dtypes} [1, {h}, {w}, 3] -> {outs}"


def _describe(inputs: tuple[TensorInfo, ...], outputs: tuple[TensorInfo, ...]) -> str:
    ins = "; ".join(str(i) for i in inputs) or "none"
    outs = "; ".join(str(o) for o in outputs) or "none"
    return f"inputs [{ins}], outputs [{outs}]"


def identify(
    inputs: tuple[TensorInfo, ...],
    outputs: tuple[TensorInfo, ...],
    spec: ModelSpec | None = None,
) -> Binding:
    """Find which catalogue model a file holds from its input and output tensors.

    Converted files carry the stable names of :data:`xpose.models.MODELS`; other files (e.g.
    TF Hub's own MoveNet ``.tflite`` with a uint8 input, or raw tf2onnx output names) are
    matched by shape: one ``[1, H, W, 3]`` input, and outputs ``[1, 1, 17, 3]`` (MoveNet
    single-pose, Lightning if H=W=192, Thunder if 256), ``[1, 6, 56]`` (MultiPose) or four
    maps with 17, 34, 32 and 32 channels (PoseNet; the two 32-channel displacement maps are
    told apart by ``fwd``/``bwd`` in their names).

    Args:
        inputs, outputs: the backend's tensors (:attr:`Backend.inputs`, :attr:`Backend.outputs`).
        spec: when given, only this model is tried.

    Raises:
        ValueError: no catalogue model (or more than one) fits; the message shows what was found
            and what each model expects.
    """
    specs = [spec] if spec is not None else list(MODELS.values())
    found: list[Binding] = []
    reasons: list[str] = []
    for candidate in specs:
        why = None if len(inputs) == 1 else f"{len(inputs)} inputs, not 1"
        if why is None:
            why = _match_input(candidate, inputs[0])
        mapping = None
        if why is None:
            mapping, why = _match_outputs(candidate, outputs)
        if why is None and mapping is not None:
            found.append(Binding(candidate, inputs[0], MappingProxyType(mapping)))
        else:
            reasons.append(f"{candidate.name}: {why}")
    if len(found) == 1:
        return found[0]
    described = _describe(inputs, outputs)
    expected = "; ".join(_expected(s) for s in specs)
    if not found:
        verdict = (
            f"fits no catalogue model ({'; '.join(reasons)})"
            if spec is None
            else f"is not {reasons[0]}"
        )
        raise ValueError(f"the model has {described}, which {verdict}. Expected {expected}")
    names = [b.spec.name for b in found]
    raise ValueError(
        f"the model has {described}, which fits several catalogue models {names} "
        "(its input size is free); load it by catalogue name from the store instead"
    )
