"""What every model module provides: its :class:`ModelSpec`, its options and its :class:`Head`.

A model family's module (:mod:`xpose.models.movenet`, :mod:`xpose.models.posenet`) holds all
that xpose knows about its models, as timm's pretrained configs do: the frozen specs (tensor
names, dtypes and shapes), a typed options dataclass validated once when it is made (a
:class:`ModelOptions`), and the :class:`Head` that turns an image into the model input and the
model output into :class:`~xpose.results.Poses`. The catalogue (:mod:`xpose.models`) only
collects the specs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from xpose.preprocess import Geometry, Letterbox
from xpose.results import Poses

__all__ = [
    "Head",
    "Letterbox",
    "ModelOptions",
    "ModelSpec",
    "boolean",
    "option",
    "positive_float",
    "positive_int",
    "unit_float",
]


@dataclass(frozen=True)
class ModelSpec:
    """What xpose knows about one model: its tensors, its input size and how to decode it.

    Tensor names are the stable names every converted file (ONNX and TFLite signature) carries.
    Files with other names (TF Hub's own, raw tf2onnx output) are matched to a spec by the
    tensors' dtypes and shapes (:func:`xpose.binding.identify`).

    Attributes:
        input_dtypes: the dtypes a file's image input may have (the input is made in the file's).
        output_shapes: per name of ``output_names``, its expected shape (``None``: any size).
        output_hints: per name of ``output_names``, lower-case fragments of a file's tensor
            names that tell apart outputs of equal shape (PoseNet's displacement maps).
        head: the :class:`Head` class that prepares inputs and decodes outputs.
    """

    name: str
    family: str  # "movenet" or "posenet": the module in xpose.models that pre-/post-processes
    input_name: str
    input_dtype: str  # numpy dtype name of the converted files' input
    input_size: tuple[int, int]  # (height, width) of the model input
    output_names: tuple[str, ...]
    multi_person: bool
    dynamic_size: bool = False  # ONNX input takes any H, W that are multiples of size_multiple
    size_multiple: int = 1
    description: str = ""
    input_dtypes: tuple[str, ...] = ()
    output_shapes: tuple[tuple[int | None, ...], ...] = ()
    output_hints: tuple[tuple[str, ...], ...] = ()
    head: type[Head] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.input_dtypes:
            object.__setattr__(self, "input_dtypes", (self.input_dtype,))
        if not self.output_hints:
            object.__setattr__(self, "output_hints", ((),) * len(self.output_names))
        for what in ("output_shapes", "output_hints"):
            if len(getattr(self, what)) not in (0, len(self.output_names)):
                raise ValueError(f"{self.name}: {what} must have one entry per output name")

    def output_shape(self, name: str) -> tuple[int | None, ...] | None:
        """The expected shape of output ``name`` (``None`` dims: any size), if known."""
        if not self.output_shapes:
            return None
        return self.output_shapes[self.output_names.index(name)]

    def output_hint(self, name: str) -> tuple[str, ...]:
        """Name fragments that single out output ``name`` among outputs of equal shape."""
        return self.output_hints[self.output_names.index(name)]


# --- options ----------------------------------------------------------------------------------


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1, else ``TypeError`` / ``ValueError`` naming option ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"option {name!r} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"option {name!r} must be >= 1, got {value}")
    return int(value)


def unit_float(name: str, value: Any) -> float:
    """``value`` as a float in [0, 1], else ``TypeError`` / ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"option {name!r} must be a number in [0, 1], got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"option {name!r} must be in [0, 1], got {value}")
    return float(value)


def positive_float(name: str, value: Any) -> float:
    """``value`` as a float > 0, else ``TypeError`` / ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"option {name!r} must be a positive number, got {value!r}")
    if not float(value) > 0.0:
        raise ValueError(f"option {name!r} must be > 0, got {value}")
    return float(value)


def boolean(name: str, value: Any) -> bool:
    """``value`` as a bool (numpy's too), else ``TypeError`` naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"option {name!r} must be True or False, got {value!r}")
    return bool(value)


def option(default: Any, check: Callable[[str, Any], Any]) -> Any:
    """A field of a :class:`ModelOptions` dataclass: its default and the function checking it."""
    return field(default=default, metadata={"check": check})


@dataclass(frozen=True)
class ModelOptions:
    """Base of each model's typed options (a frozen dataclass), checked once when made.

    Each field is declared with :func:`option`, whose checker turns the value into its type
    (e.g. ``10`` into ``10.0`` for a float) or raises ``TypeError`` / ``ValueError`` naming the
    option. Models without options use this class as it is.
    """

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check = f.metadata.get("check")
            if check is not None:
                object.__setattr__(self, f.name, check(f.name, getattr(self, f.name)))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_mapping(cls, model: str, options: Mapping[str, Any]) -> ModelOptions:
        """The options of ``model`` from keyword arguments; unknown names raise ``TypeError``."""
        unknown = sorted(set(options) - set(cls.names()))
        if unknown:
            valid = ", ".join(repr(n) for n in cls.names()) or "none"
            raise TypeError(
                f"unknown option(s) {', '.join(repr(n) for n in unknown)} for {model}; "
                f"valid options for {model}: {valid}"
            )
        return cls(**options)

    def as_dict(self) -> dict[str, Any]:
        """Every option and its value, in declaration order."""
        return {name: getattr(self, name) for name in self.names()}


# --- heads ------------------------------------------------------------------------------------


class Head:
    """Turns an image into one model file's input and the file's outputs into poses.

    A head holds configuration only (the spec, the options, the file's input dtype and fixed
    size), never per-call state, so one head serves every thread. The estimator runs the
    backend between :meth:`prepare` and :meth:`decode`.

    Args:
        spec: the catalogue model.
        options: the model's options, an instance of :attr:`Options`.
        input_dtype: numpy dtype name of the file's input; :meth:`prepare` makes it in that.
        fixed_size: ``(height, width)`` of the file's input, or ``None`` when it is free.
    """

    #: The options dataclass this head takes.
    Options: ClassVar[type[ModelOptions]] = ModelOptions
    #: Whether :meth:`prepare_in_crop` works (video-mode crop tracking).
    crops: ClassVar[bool] = False

    def __init__(
        self,
        spec: ModelSpec,
        options: ModelOptions,
        input_dtype: str | None = None,
        fixed_size: tuple[int, int] | None = None,
    ) -> None:
        if not isinstance(options, self.Options):
            raise TypeError(
                f"{spec.name} takes {self.Options.__name__}, got {type(options).__name__}"
            )
        self.spec = spec
        self.options = options
        self.input_dtype = np.dtype(input_dtype or spec.input_dtype)
        self.fixed_size = fixed_size

    @property
    def multi_person(self) -> bool:
        """Whether :meth:`decode` can give several people."""
        return self.spec.multi_person

    def input_size(self, image_hw: tuple[int, int]) -> tuple[int, int]:
        """``(height, width)`` of the model input for an image of ``image_hw`` pixels."""
        return self.fixed_size or self.spec.input_size

    def cast(self, canvas: npt.NDArray[np.uint8]) -> np.ndarray:
        """Letterboxed images ``(N, h, w, 3)`` uint8 -> the model input in the file's dtype."""
        raise NotImplementedError

    def fit(self, image_hw: tuple[int, int], size: tuple[int, int]) -> Letterbox:
        """Where an image of ``image_hw`` pixels goes in a model input of ``size``: centred,
        aspect kept (:meth:`Letterbox.fit <xpose.preprocess.Letterbox.fit>`)."""
        return Letterbox.fit(image_hw, size)

    def prepare(self, image: npt.NDArray[np.uint8]) -> tuple[np.ndarray, Geometry]:
        """The model input ``(1, h, w, 3)`` in the file's dtype, and its geometry.

        Args:
            image: ``(H, W, 3)`` uint8 RGB, contiguous, as :func:`~xpose.preprocess.to_rgb_uint8`
                gives it (not checked again here).
        """
        lb = self.fit(image.shape[:2], self.input_size(image.shape[:2]))
        return self.cast(lb.apply(image)[None]), lb

    def prepare_batch(
        self, images: Sequence[npt.NDArray[np.uint8]], size: tuple[int, int]
    ) -> tuple[np.ndarray, list[Geometry]]:
        """The model input ``(N, h, w, 3)`` for images that all take the input ``size``.

        Each image is letterboxed (:meth:`fit`) straight into its slot of one uint8 buffer,
        which is then cast once. ``prepare_batch([image], size)`` equals :meth:`prepare` of
        the image.
        """
        canvas = np.empty((len(images), *size, 3), np.uint8)
        boxes: list[Geometry] = []
        for k, image in enumerate(images):
            lb = self.fit(image.shape[:2], size)
            lb.apply(image, out=canvas[k])
            boxes.append(lb)
        return self.cast(canvas), boxes

    def prepare_in_crop(
        self, image: npt.NDArray[np.uint8], box: tuple[float, float, float, float]
    ) -> tuple[np.ndarray, Geometry]:
        """As :meth:`prepare`, on ``box`` ``(ymin, xmin, ymax, xmax)`` (normalized) of the image."""
        raise NotImplementedError(f"{self.spec.name} does not crop")

    def decode(self, outputs: Mapping[str, np.ndarray], geometry: Geometry) -> Poses:
        """Poses in image pixels from the outputs keyed by ``spec.output_names``."""
        raise NotImplementedError
