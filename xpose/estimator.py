"""The estimator API: :func:`load` a model, :meth:`Estimator.predict` an image, get :class:`Poses`.

>>> import xpose
>>> with xpose.load("movenet-lightning", backend="onnxruntime") as est:  # doctest: +SKIP
...     poses = est.predict("person.jpg")
...     poses.keypoints  # (1, 17, 2) float32, x, y in pixels of the image

:func:`load` takes a catalogue name (the converted file is looked up in the model store) or a
path to a model file. Either way the file's tensors are matched against the catalogue
(:func:`identify`), so the estimator knows how to prepare inputs and decode outputs whatever
the file's own tensor names are.

An :class:`Estimator` is stateless: :meth:`~Estimator.predict` keeps nothing between calls and
is safe to call from several threads at once. Video mode is a separate object with explicit
state, :class:`PoseStream` (from :meth:`Estimator.stream`): for MoveNet single-pose models it
crops each frame around the person found in the previous one, as tfjs pose-detection does.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from xpose import store as _store
from xpose._closing import Closing
from xpose.backends import Backend, TensorInfo, backend_class, canonical_backend, open_backend
from xpose.models import MODELS, ModelSpec, get_spec, list_models, movenet, posenet
from xpose.models.movenet import CropRegion
from xpose.preprocess import to_rgb_uint8
from xpose.results import Poses

if TYPE_CHECKING:
    from xpose.video import FrameSource

__all__ = ["Binding", "Estimator", "PoseStream", "identify", "load", "model_options"]

logger = logging.getLogger(__name__)

#: The backend :func:`load` uses unless told otherwise.
DEFAULT_BACKEND = "onnxruntime"

#: Canonical backend name -> the store format it reads (``savedmodel``: the SavedModel folder).
_BACKEND_FORMATS: dict[str, str] = {
    "onnxruntime": "onnx",
    "tflite": "tflite",
    "tensorflow": "savedmodel",
}

#: Model-file suffix -> the only backend that reads it.
_SUFFIX_BACKENDS: dict[str, str] = {".onnx": "onnxruntime", ".tflite": "tflite"}

#: Input dtypes accepted per model family (the image is cast to the file's dtype).
_INPUT_DTYPES: dict[str, tuple[str, ...]] = {
    "movenet": ("int32", "uint8", "float32"),
    "posenet": ("float32",),
}

_PRECISION_IN_NAME = re.compile(r"-(" + "|".join(_store.PRECISIONS) + r")$")


# --- identification -------------------------------------------------------------------------


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

    def feeds(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Rename and cast the decoders' feeds (keyed by ``spec.input_name``) for the file."""
        value = np.asarray(feeds[self.spec.input_name])
        return {self.input.name: _to_dtype(value, self.input)}

    def results(self, outputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The file's outputs keyed by stable name, dequantized to float32 where quantized."""
        return {
            stable: _dequantize(outputs[info.name], info) for stable, info in self.outputs.items()
        }


def _to_dtype(value: np.ndarray, info: TensorInfo) -> np.ndarray:
    """Cast an input array to the file's dtype.

    MoveNet's integer inputs (int32, or uint8 in TF Hub's own files) take the pixel values
    0..255 as they are, so no quantization parameters are applied to them.
    """
    return np.ascontiguousarray(value.astype(np.dtype(info.dtype), copy=False))


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
    if np.dtype(info.dtype).name not in _INPUT_DTYPES[spec.family]:
        return f"input dtype {np.dtype(info.dtype).name} is not one of {_INPUT_DTYPES[spec.family]}"
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


#: Expected output shapes per stable output name (``None``: any size).
_OUTPUT_SHAPES: dict[str, tuple[int | None, ...]] = {
    "keypoints": (1, 1, 17, 3),
    "poses": (1, movenet.MAX_MULTIPOSE_PEOPLE, 56),
    "heatmaps": (1, None, None, 17),
    "offsets": (1, None, None, 34),
    "displacement_fwd": (1, None, None, 32),
    "displacement_bwd": (1, None, None, 32),
}

#: Name fragments that tell apart outputs of equal shape (PoseNet's two displacement maps).
_NAME_HINTS: dict[str, tuple[str, ...]] = {
    "displacement_fwd": ("fwd", "forward"),
    "displacement_bwd": ("bwd", "backward"),
}


def _output_shape_fits(info: TensorInfo, stable: str) -> bool:
    want = _OUTPUT_SHAPES[stable]
    if _fits(info.shape, want):
        return True
    # Tolerate a missing leading axis of 1 (e.g. [1, 17, 3] or [6, 56]).
    return len(info.shape) == len(want) - 1 and _fits((1, *info.shape), want)


def _match_outputs(
    spec: ModelSpec, outputs: tuple[TensorInfo, ...]
) -> tuple[dict[str, TensorInfo] | None, str | None]:
    """Map ``spec``'s stable output names onto the file's outputs, by name then by shape."""
    if len(outputs) != len(spec.output_names):
        return None, f"{len(outputs)} output(s), not {len(spec.output_names)}"
    by_name = {info.name: info for info in outputs}
    if set(by_name) == set(spec.output_names):
        bad = [n for n in spec.output_names if not _output_shape_fits(by_name[n], n)]
        if bad:
            return None, f"output(s) {bad} have the wrong shape"
        return {n: by_name[n] for n in spec.output_names}, None
    mapping: dict[str, TensorInfo] = {}
    for stable in spec.output_names:
        taken = {info.name for info in mapping.values()}
        fitting = [
            info for info in outputs if info.name not in taken and _output_shape_fits(info, stable)
        ]
        if len(fitting) > 1:
            hints = _NAME_HINTS.get(stable, ())
            fitting = [info for info in fitting if any(h in info.name.lower() for h in hints)]
        if len(fitting) != 1:
            return None, f"no single output fits {stable!r} {list(_OUTPUT_SHAPES[stable])}"
        mapping[stable] = fitting[0]
    return mapping, None


def _expected(spec: ModelSpec) -> str:
    h, w = ("H", "W") if spec.dynamic_size else spec.input_size
    dtypes = "/".join(_INPUT_DTYPES[spec.family])
    outs = ", ".join(f"{n} {list(_OUTPUT_SHAPES[n])}" for n in spec.output_names)
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


# --- per-model pre-processing and decoding ----------------------------------------------------

Runner = Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"option {name!r} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"option {name!r} must be >= 1, got {value}")
    return int(value)


def _unit_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"option {name!r} must be a number in [0, 1], got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"option {name!r} must be in [0, 1], got {value}")
    return float(value)


def _positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"option {name!r} must be a positive number, got {value!r}")
    if not float(value) > 0.0:
        raise ValueError(f"option {name!r} must be > 0, got {value}")
    return float(value)


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"option {name!r} must be True or False, got {value!r}")
    return bool(value)


class _Head:
    """Pre-processing and decoding for one kind of model, with its validated options.

    ``OPTIONS`` maps each option name to ``(default, checker)``; subclasses implement
    ``predict``. Heads hold configuration only, never per-call state.
    """

    OPTIONS: ClassVar[dict[str, tuple[Any, Callable[[str, Any], Any]]]] = {}

    def __init__(self, binding: Binding, options: Mapping[str, Any]) -> None:
        self.binding = binding
        self.spec = binding.spec
        self.options = self.check_options(self.spec, options)

    @classmethod
    def check_options(cls, spec: ModelSpec, options: Mapping[str, Any]) -> dict[str, Any]:
        """All options with defaults filled in; unknown names raise ``TypeError``."""
        unknown = sorted(set(options) - set(cls.OPTIONS))
        if unknown:
            valid = ", ".join(repr(n) for n in cls.OPTIONS) or "none"
            raise TypeError(
                f"unknown option(s) {', '.join(repr(n) for n in unknown)} for {spec.name}; "
                f"valid options for {spec.name}: {valid}"
            )
        return {
            name: check(name, options[name]) if name in options else default
            for name, (default, check) in cls.OPTIONS.items()
        }

    def predict(self, run: Runner, image: npt.NDArray[np.uint8]) -> Poses:
        raise NotImplementedError


class _MoveNetSingle(_Head):
    """MoveNet Lightning / Thunder: one person, letterboxed into the fixed square input."""

    def predict(self, run: Runner, image: npt.NDArray[np.uint8]) -> Poses:
        feeds, lb = movenet.prepare(image, self.spec)
        return movenet.decode_single(run(feeds)["keypoints"], lb)

    def predict_in_crop(self, run: Runner, image: npt.NDArray[np.uint8], crop: CropRegion) -> Poses:
        """Run on ``crop`` of the image; keypoints in pixels of the whole image."""
        feeds, _ = movenet.prepare_in_crop(image, self.spec, crop)
        h, w = image.shape[:2]
        return movenet.decode_single_in_crop(run(feeds)["keypoints"], crop, h, w)


class _MoveNetMulti(_Head):
    """MoveNet MultiPose: up to 6 people; the input follows the image's aspect when it can."""

    OPTIONS: ClassVar[dict[str, tuple[Any, Callable[[str, Any], Any]]]] = {
        "multipose_long_side": (256, _positive_int),
        "multipose_square": (False, _boolean),
        "min_pose_score": (0.2, _unit_float),
    }

    def predict(self, run: Runner, image: npt.NDArray[np.uint8]) -> Poses:
        size = self.binding.fixed_size
        if size is None and self.options["multipose_square"]:
            side = movenet.multipose_size(
                (1, 1), self.options["multipose_long_side"], self.spec.size_multiple
            )[0]
            size = (side, side)
        elif size is None:
            size = movenet.multipose_size(
                image.shape[:2], self.options["multipose_long_side"], self.spec.size_multiple
            )
        feeds, lb = movenet.prepare(image, self.spec, size)
        return movenet.decode_multi(run(feeds)["poses"], lb, self.options["min_pose_score"])


class _PoseNet(_Head):
    """PoseNet: single-pose decoding by default, multi-pose with ``multi_pose=True``."""

    OPTIONS: ClassVar[dict[str, tuple[Any, Callable[[str, Any], Any]]]] = {
        "multi_pose": (False, _boolean),
        "max_poses": (10, _positive_int),
        "score_threshold": (0.5, _unit_float),
        "nms_radius": (20.0, _positive_float),
        "min_pose_score": (0.25, _unit_float),
    }

    def predict(self, run: Runner, image: npt.NDArray[np.uint8]) -> Poses:
        feeds, lb = posenet.prepare(image, self.spec)
        out = run(feeds)
        if not self.options["multi_pose"]:
            return posenet.decode_single(out["heatmaps"], out["offsets"], lb)
        poses = posenet.decode_multi(
            out["heatmaps"],
            out["offsets"],
            out["displacement_fwd"],
            out["displacement_bwd"],
            lb,
            max_poses=self.options["max_poses"],
            score_threshold=self.options["score_threshold"],
            nms_radius=self.options["nms_radius"],
        )
        # score_threshold filters the root parts; weak near-duplicate poses still come out of
        # the decoder with low pose scores (seen 0.01-0.22 against 0.6-0.9 for real people)
        return poses[poses.score >= self.options["min_pose_score"]]


#: ``(family, multi_person)`` -> the head that prepares and decodes such a model.
_HEADS: dict[tuple[str, bool], type[_Head]] = {
    ("movenet", False): _MoveNetSingle,
    ("movenet", True): _MoveNetMulti,
    ("posenet", True): _PoseNet,
}


def _head_class(spec: ModelSpec) -> type[_Head]:
    try:
        return _HEADS[(spec.family, spec.multi_person)]
    except KeyError:
        raise ValueError(f"xpose has no decoder for {spec.name!r} ({spec.family})") from None


def model_options(model: str) -> dict[str, Any]:
    """The options :func:`load` takes for a catalogue model, with their defaults."""
    return {name: default for name, (default, _) in _head_class(get_spec(model)).OPTIONS.items()}


# --- the estimator ----------------------------------------------------------------------------


class Estimator(Closing):
    """A loaded pose model: :meth:`predict` an image, get :class:`~xpose.results.Poses`.

    Usually made by :func:`load`. Wrapping an opened backend directly also works::

        Estimator(open_backend("tflite", "model.tflite"))

    ``predict`` keeps no state between calls and may be called from several threads at once.
    The estimator owns its backend: :meth:`close` (or leaving a ``with`` block) closes it.

    Args:
        backend: an opened :class:`~xpose.backends.Backend`.
        spec: the catalogue model the file must hold; ``None`` identifies it from the tensors.
        precision: recorded as :attr:`precision` (``None``: unknown).
        **options: model options (see :func:`load`).

    Attributes:
        spec: the catalogue :class:`~xpose.models.ModelSpec` of the model.
        backend: the :class:`~xpose.backends.Backend` running it.
        backend_name: the backend's canonical name.
        precision: ``"fp32"``, ``"fp16"``, ``"int8"`` or ``None`` when unknown.
        path: the model file (or SavedModel folder).
        options: the model options in effect, defaults included (read-only).

    Raises:
        ValueError: the backend's tensors fit no catalogue model (or not ``spec``).
        TypeError: an unknown option name; the message lists the valid ones.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        spec: ModelSpec | None = None,
        precision: str | None = None,
        **options: Any,
    ) -> None:
        if spec is not None:
            _head_class(spec).check_options(spec, options)
        try:
            binding = identify(tuple(backend.inputs), tuple(backend.outputs), spec)
        except ValueError as err:
            raise ValueError(f"{backend.path}: {err}") from err
        self._head = _head_class(binding.spec)(binding, options)
        self.spec: ModelSpec = binding.spec
        self.backend: Backend = backend
        self.backend_name: str = backend.name
        self.precision: str | None = precision
        self.path: Path = Path(backend.path)
        self.options: Mapping[str, Any] = MappingProxyType(dict(self._head.options))
        self._binding = binding
        logger.debug(
            "%s identified as %s (input %s, outputs %s)",
            self.path,
            self.spec.name,
            binding.input,
            {stable: info.name for stable, info in binding.outputs.items()},
        )

    def _run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the backend on decoder feeds (stable names); outputs keyed by stable name."""
        return self._binding.results(self.backend.run(self._binding.feeds(feeds)))

    def predict(self, image: Any) -> Poses:
        """Estimate the poses in one image.

        Args:
            image: ``(H, W, 3)`` uint8 RGB array of any size, or ``(H, W)`` grayscale,
                ``(H, W, 4)`` RGBA, or a path to an image file (anything
                :func:`~xpose.preprocess.to_rgb_uint8` accepts). OpenCV's BGR arrays must be
                converted to RGB first.

        Returns:
            :class:`~xpose.results.Poses`: keypoints ``(N, 17, 2)`` x, y in pixels of
            ``image``. Single-pose models (MoveNet Lightning/Thunder, PoseNet without
            ``multi_pose``) always give N=1.
        """
        return self._head.predict(self._run, to_rgb_uint8(image))

    def stream(
        self,
        *,
        smoother: Smoother | None = None,
        tracker: Tracker | None = None,
        fps: float = 30.0,
    ) -> PoseStream:
        """Start video mode: a :class:`PoseStream` that keeps state from frame to frame."""
        return PoseStream(self, smoother=smoother, tracker=tracker, fps=fps)

    @property
    def multi_person(self) -> bool:
        """Whether :meth:`predict` can find several people (MultiPose, PoseNet multi-pose)."""
        if not self.spec.multi_person:
            return False
        return bool(self.options.get("multi_pose", True))

    def track(
        self,
        source: str | os.PathLike[str] | int | Iterable[Any],
        *,
        smooth: bool = True,
        tracker: str | Tracker | None = "auto",
        fps: float | None = None,
        smoother_options: Mapping[str, float] | None = None,
        max_age: int = 30,
    ) -> Iterator[tuple[int, Poses]]:
        """Follow people through a video: yields ``(frame_index, poses)`` for every frame, in order.

        Frames are read by a :class:`~xpose.video.FrameSource` (decoding runs in a background
        thread, overlapping inference) and passed through a fresh :class:`PoseStream`
        (:meth:`stream`), so MoveNet Lightning/Thunder crop each frame around the person found
        in the previous one. Closing the generator early (``break``, ``close()``) stops the
        reader and releases the video or camera.

        >>> with xpose.load("movenet-multipose") as est:  # doctest: +SKIP
        ...     for index, poses in est.track("walk.mp4"):
        ...         print(index, poses.track_ids)

        Args:
            source: a video path (anything OpenCV reads), a camera index, or an iterable of
                ``(H, W, 3)`` uint8 **RGB** frames (e.g. a list or a ``(T, H, W, 3)`` array).
            smooth: smooth keypoints and boxes over time with a
                :class:`~xpose.smoothing.PoseSmoother`.
            tracker: ``"auto"`` (default: ``"iou"`` for multi-person models, none for
                single-pose ones, which follow their one person by cropping), ``"iou"``,
                ``"oks"``, ``"none"``/``None``, or a tracker object with ``update(poses)``.
            fps: frame rate for the timestamps (the smoother's time base); default the
                video's own, 30 for iterables.
            smoother_options: keyword arguments for :class:`~xpose.smoothing.PoseSmoother`
                (``min_cutoff``, ``beta``, ``d_cutoff``).
            max_age: frames a lost person keeps their track id (named trackers only).

        Yields:
            ``(frame_index, poses)``, ``frame_index`` counting from 0; ``poses.track_ids``
            are filled where a tracker runs (``-1`` otherwise).

        Raises:
            FileNotFoundError: a video path that does not exist.
            ValueError: a video or camera that cannot be opened, an unknown tracker name, or a
                bad option.
        """
        frames = self.track_frames(
            source,
            smooth=smooth,
            tracker=tracker,
            fps=fps,
            smoother_options=smoother_options,
            max_age=max_age,
        )
        return _drop_frames(frames)

    def track_frames(
        self,
        source: str | os.PathLike[str] | int | Iterable[Any],
        *,
        smooth: bool = True,
        tracker: str | Tracker | None = "auto",
        fps: float | None = None,
        smoother_options: Mapping[str, float] | None = None,
        max_age: int = 30,
    ) -> Iterator[tuple[int, float, npt.NDArray[np.uint8], Poses]]:
        """:meth:`track`, also giving each frame: yields ``(index, timestamp, frame, poses)``.

        ``timestamp`` is in seconds (see :class:`~xpose.video.FrameSource`), ``frame`` the
        ``(H, W, 3)`` uint8 RGB image the poses were found in (e.g. for drawing). The source
        is opened, and the arguments checked, when this is called, not on the first frame.
        ``source`` may also be an unread :class:`~xpose.video.FrameSource` (e.g. to know its
        ``fps`` and ``frame_count`` first); it is closed with the generator.
        """
        from xpose.video import FrameSource

        pose_tracker = self._make_tracker(tracker, max_age)
        smoother = None
        if smooth:
            from xpose.smoothing import PoseSmoother

            smoother = PoseSmoother(**dict(smoother_options or {}))
        if isinstance(source, FrameSource):
            if fps is not None:
                raise ValueError("fps: give it to the FrameSource, not with one")
            reader = source
        else:
            reader = FrameSource(source, fps=fps)
        stream = self.stream(smoother=smoother, tracker=pose_tracker, fps=reader.fps)
        return _follow(reader, stream)

    def _make_tracker(self, tracker: str | Tracker | None, max_age: int) -> Tracker | None:
        """The tracker :meth:`track` uses for its ``tracker`` argument."""
        if tracker is None:
            return None
        if not isinstance(tracker, str):
            if not callable(getattr(tracker, "update", None)):
                raise TypeError(
                    f"tracker: expected a name or an object with update(poses), got {tracker!r}"
                )
            return tracker
        name = tracker.lower()
        if name == "auto":
            name = "iou" if self.multi_person else "none"
        if name == "none":
            return None
        from xpose.tracking import make_tracker

        return make_tracker(name, max_age=max_age)

    @property
    def closed(self) -> bool:
        """Whether the backend has been closed."""
        return bool(getattr(self.backend, "closed", False))

    def close(self) -> None:
        """Close the backend; ``predict`` raises afterwards. Calling it twice is fine."""
        self.backend.close()

    def __repr__(self) -> str:
        return (
            f"Estimator(model={self.spec.name!r}, backend={self.backend_name!r}, "
            f"precision={self.precision!r}, path={str(self.path)!r})"
        )


# --- video mode -------------------------------------------------------------------------------


class Smoother(Protocol):
    """Smooths poses over time (e.g. :class:`xpose.smoothing.PoseSmoother`)."""

    def __call__(self, poses: Poses, t: float) -> Poses: ...


class Tracker(Protocol):
    """Gives poses track ids across frames (e.g. :mod:`xpose.tracking`'s trackers)."""

    def update(self, poses: Poses) -> Poses: ...


class PoseStream:
    """Video mode of an :class:`Estimator`: state carried from one frame to the next.

    For MoveNet single-pose models (Lightning, Thunder) each frame is cropped around the person
    found in the previous frame, following tfjs pose-detection: the first frame (and any frame
    after the torso was lost, or after a change of frame size) uses the whole frame padded to a
    square (:func:`~xpose.models.movenet.init_crop_region`); the next region is a square around
    the hips sized from the torso and body (:func:`~xpose.models.movenet.determine_crop_region`).
    For other models each frame is predicted on its own.

    Then, when given, ``tracker.update(poses)`` assigns track ids and ``smoother(poses, t)``
    smooths keypoints over time, in that order.

    One stream follows one video; calls to :meth:`update` are serialized by a lock. The stream
    does not own the estimator: leaving its ``with`` block resets the stream, it does not close
    the estimator.

    Args:
        estimator: the estimator to run.
        smoother: optional, called as ``smoother(poses, t)`` with ``t`` in seconds.
        tracker: optional, called as ``tracker.update(poses)``.
        fps: frame rate used to make ``t = frame_index / fps`` when ``update`` gets no timestamp.
    """

    def __init__(
        self,
        estimator: Estimator,
        *,
        smoother: Smoother | None = None,
        tracker: Tracker | None = None,
        fps: float = 30.0,
    ) -> None:
        if not float(fps) > 0.0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.estimator = estimator
        self.smoother = smoother
        self.tracker = tracker
        self.fps = float(fps)
        head = estimator._head
        self._crop_head = head if isinstance(head, _MoveNetSingle) else None
        self._lock = threading.Lock()
        self._crop: CropRegion | None = None
        self._frame_hw: tuple[int, int] | None = None
        self._frames = 0

    @property
    def crop_tracking(self) -> bool:
        """Whether this stream crops frames around the person (MoveNet single-pose models)."""
        return self._crop_head is not None

    @property
    def crop_region(self) -> CropRegion | None:
        """The region the next frame will be cropped to (normalized), or ``None`` if unset."""
        return self._crop

    @property
    def frames(self) -> int:
        """How many frames have been processed since the start or the last :meth:`reset`."""
        return self._frames

    def update(self, frame: Any, timestamp: float | None = None) -> Poses:
        """Estimate the poses in the next frame of the video.

        Args:
            frame: the frame, as :meth:`Estimator.predict` takes it (RGB, not BGR).
            timestamp: the frame's time in seconds; ``None`` uses ``frame_index / fps``.

        Returns:
            :class:`~xpose.results.Poses`, keypoints x, y in pixels of ``frame``.
        """
        image = to_rgb_uint8(frame)
        with self._lock:
            t = self._frames / self.fps if timestamp is None else float(timestamp)
            if self._crop_head is not None:
                poses = self._update_crop(self._crop_head, image)
            else:
                poses = self.estimator._head.predict(self.estimator._run, image)
            if self.tracker is not None:
                poses = self.tracker.update(poses)
            if self.smoother is not None:
                poses = self.smoother(poses, t)
            self._frames += 1
            return poses

    def _update_crop(self, head: _MoveNetSingle, image: npt.NDArray[np.uint8]) -> Poses:
        h, w = image.shape[:2]
        if self._crop is None or self._frame_hw != (h, w):
            self._crop = movenet.init_crop_region(h, w)
            self._frame_hw = (h, w)
        poses = head.predict_in_crop(self.estimator._run, image, self._crop)
        self._crop = movenet.determine_crop_region(poses.keypoints[0], poses.scores[0], h, w)
        return poses

    def reset(self) -> None:
        """Forget everything about past frames (crop region, frame count, tracker, smoother)."""
        with self._lock:
            self._crop = None
            self._frame_hw = None
            self._frames = 0
            for part in (self.tracker, self.smoother):
                reset = getattr(part, "reset", None)
                if callable(reset):
                    reset()

    def __enter__(self) -> PoseStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.reset()

    def __repr__(self) -> str:
        return (
            f"PoseStream(model={self.estimator.spec.name!r}, crop_tracking={self.crop_tracking}, "
            f"frames={self._frames})"
        )


def _follow(
    reader: FrameSource, stream: PoseStream
) -> Iterator[tuple[int, float, npt.NDArray[np.uint8], Poses]]:
    """Run ``stream`` over the frames of ``reader`` (a FrameSource); close it when done."""
    with reader, stream:
        for index, timestamp, frame in reader:
            yield index, timestamp, frame, stream.update(frame, timestamp)


def _drop_frames(
    frames: Iterator[tuple[int, float, npt.NDArray[np.uint8], Poses]],
) -> Iterator[tuple[int, Poses]]:
    """``(index, poses)`` of :meth:`Estimator.track_frames`'s items; closing it closes them."""
    try:
        for index, _, _, poses in frames:
            yield index, poses
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()


# --- load -------------------------------------------------------------------------------------


def _is_path(name_or_path: str | os.PathLike[str]) -> bool:
    """Catalogue names win; otherwise a string is a path if it looks like one or exists."""
    if isinstance(name_or_path, os.PathLike):
        return True
    if not isinstance(name_or_path, str):
        raise TypeError(
            f"expected a model name or a path, got {type(name_or_path).__name__}; "
            f"models: {', '.join(list_models())}"
        )
    if name_or_path in MODELS:
        return False
    path = Path(name_or_path)
    return (
        "/" in name_or_path
        or os.sep in name_or_path
        or path.suffix.lower() in _SUFFIX_BACKENDS
        or path.exists()
    )


def _check_precision(precision: str) -> str:
    if precision not in _store.PRECISIONS:
        raise ValueError(
            f"unknown precision {precision!r}; valid precisions: {', '.join(_store.PRECISIONS)}"
        )
    return precision


def _locate(model: str, backend: str, precision: str, store: Any) -> Path:
    """The store's file (or SavedModel folder) of ``model`` for ``backend``."""
    fmt = _BACKEND_FORMATS.get(backend)
    if fmt is None:
        raise ValueError(
            f"the {backend!r} backend cannot load catalogue models by name; pass a file path"
        )
    if fmt != "savedmodel":
        return _store.locate(model, precision, fmt, store)
    if precision != "fp32":
        raise ValueError(
            f"the tensorflow backend runs the fp32 SavedModel only, got precision={precision!r}; "
            "use the onnxruntime or tflite backend for fp16 and int8"
        )
    root = _store.resolve_store(store)
    folder = root / "savedmodel" / model
    if not folder.is_dir():
        command = _store.convert_command(model, precision, root if store is not None else None)
        raise FileNotFoundError(
            f"{model} has no SavedModel in the model store {root}; build it with `{command}`"
        )
    return folder


def _check_providers(providers: Any, backend: str) -> None:
    if providers is not None and backend != "onnxruntime":
        raise ValueError(f"providers is an onnxruntime option; the {backend!r} backend takes none")


def _backend_for_path(path: Path, backend: str) -> str:
    """The backend that runs ``path``: see :func:`load` for the rule."""
    if not path.exists():
        raise FileNotFoundError(f"no model file or SavedModel folder at {path}")
    if path.is_dir():
        if not any((path / n).is_file() for n in ("saved_model.pb", "saved_model.pbtxt")):
            raise ValueError(
                f"{path} is a folder but not a SavedModel (no saved_model.pb); expected a .onnx "
                "or .tflite file or a SavedModel folder"
            )
        needed = "tensorflow"
        what = "a SavedModel folder"
    else:
        needed = _SUFFIX_BACKENDS.get(path.suffix.lower(), "")
        if not needed:
            raise ValueError(
                f"{path} is not a model file: expected a .onnx or .tflite file or a SavedModel "
                f"folder, got a {path.suffix or 'suffix-less'} file"
            )
        what = f"a {path.suffix.lower()} file"
    if backend == needed:
        return backend
    if backend == DEFAULT_BACKEND:
        logger.info("%s is %s: running it on the %r backend", path, what, needed)
        return needed
    raise ValueError(f"the {backend!r} backend cannot run {what} ({path}); use backend={needed!r}")


def load(
    name_or_path: str | os.PathLike[str],
    backend: str = DEFAULT_BACKEND,
    precision: str = "fp32",
    *,
    store: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    providers: list[Any] | None = None,
    **options: Any,
) -> Estimator:
    """Load a pose model by catalogue name or from a file.

    Args:
        name_or_path: a catalogue name (:func:`~xpose.models.list_models`), or a path to a
            ``.onnx`` / ``.tflite`` file or a SavedModel folder. Catalogue names take
            precedence over same-named files in the working directory.
        backend: ``"onnxruntime"`` (default), ``"tflite"``, ``"tensorflow"`` or an alias.
            For a name, the backend picks the store file: onnxruntime the ``.onnx``, tflite the
            ``.tflite``, tensorflow the SavedModel folder (fp32 only). For a path, the file
            picks the backend: onnxruntime, the default, cannot read a ``.tflite`` file or a
            SavedModel folder, so for those it is replaced by ``tflite`` or ``tensorflow``
            respectively; any other mismatch (e.g. ``backend="tflite"`` with a ``.onnx``
            file) is an error.
        precision: ``"fp32"``, ``"fp16"`` or ``"int8"``; picks the store file for a name.
            For a path it is read from the file name when that ends in ``-<precision>``
            (``Estimator.precision`` is ``None`` otherwise).
        store: the model store folder; default ``$XPOSE_HOME`` (see :mod:`xpose.store`).
        threads: runtime threads; ``None`` for the runtime's default.
        providers: onnxruntime execution providers (onnxruntime only).
        **options: model options, checked against the model:

            - MoveNet MultiPose: ``multipose_long_side=256`` (the input's long side when the
              file's input size is free, e.g. ONNX; the short side follows the image's aspect,
              rounded up to a multiple of 32), ``multipose_square=False`` (``True``: a square
              input of the long side, as the fixed-size TFLite file uses), ``min_pose_score=0.2``.
            - PoseNet: ``multi_pose=False`` (single-pose decoding; ``True`` decodes several
              people), and for multi-pose ``max_poses=10``, ``score_threshold=0.5``,
              ``nms_radius=20.0`` (model-input pixels), ``min_pose_score=0.25`` (poses scoring
              less are dropped).
            - MoveNet Lightning and Thunder take none.

    Returns:
        An :class:`Estimator`; close it (or use it in a ``with`` block) when done.

    Raises:
        ValueError: unknown model, backend or precision (the message lists the valid ones); a
            path that is not a model; a file that fits no catalogue model.
        TypeError: an unknown option (the message lists the model's options).
        FileNotFoundError: the model is not in the store yet (the message gives the
            ``xpose convert`` command), or the path does not exist.
        xpose.store.ModelFileError: the store's file does not match its checksum.
        xpose.errors.MissingExtraError: the backend's runtime is not installed.
    """
    backend_name = canonical_backend(backend)
    backend_options: dict[str, Any] = {}
    if providers is not None:
        backend_options["providers"] = providers
    if _is_path(name_or_path):
        path = Path(name_or_path).expanduser()
        _check_precision(precision)
        backend_name = _backend_for_path(path, backend_name)
        _check_providers(providers, backend_name)
        match = _PRECISION_IN_NAME.search(path.stem if path.is_file() else path.name)
        file_precision = match.group(1) if match else None
        spec = None
    else:
        spec = get_spec(str(name_or_path))
        _check_precision(precision)
        _head_class(spec).check_options(spec, options)
        _check_providers(providers, backend_name)
        # a missing runtime is the first thing to fix: say so before looking for the file
        backend_class(backend_name).requirement.load(f"the {backend_name!r} backend")
        path = _locate(spec.name, backend_name, precision, store)
        file_precision = precision
    opened = open_backend(backend_name, path, threads=threads, **backend_options)
    try:
        return Estimator(opened, spec=spec, precision=file_precision, **options)
    except (ValueError, TypeError):
        opened.close()
        raise
