"""The estimator API: :func:`load` a model, :meth:`Estimator.predict` an image, get :class:`Poses`.

>>> import xpose
>>> with xpose.load("movenet-lightning", backend="onnxruntime") as est:  # doctest: +SKIP
...     poses = est.predict("person.jpg")
...     poses.keypoints  # (1, 17, 2) float32, x, y in pixels of the image

:func:`load` takes a catalogue name (the converted file is looked up in the model store) or a
path to a model file. Either way the file's tensors are matched against the catalogue
(:func:`~xpose.binding.identify`), so the estimator knows how to prepare inputs and decode
outputs whatever the file's own tensor names are. Each model's head
(:class:`~xpose.models.Head`, in its family's module) prepares the input and decodes the
output; the estimator runs the backend in between.

An :class:`Estimator` is stateless: :meth:`~Estimator.predict` keeps nothing between calls and
is safe to call from several threads at once. Video mode is a separate object with explicit
state, :class:`PoseStream` (from :meth:`Estimator.stream`): for MoveNet single-pose models it
crops each frame around the person found in the previous one, as tfjs pose-detection does.
It lives in :mod:`xpose.stream`; :class:`PoseStream`, :func:`identify` and :class:`Binding`
are importable from here too.

The module is a little over 500 lines because it holds the estimator API as one piece: the
object's entry points (one image, a batch, a video) and :func:`load`, which turns a name or a
path, a backend and options into that object.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from xpose import store as _store
from xpose._closing import Closing
from xpose.backends import Backend, backend_class, canonical_backend, open_backend
from xpose.binding import Binding, identify
from xpose.compat import check_supported
from xpose.models import MODELS, Head, ModelOptions, ModelSpec, get_spec, list_models
from xpose.models.movenet import CROP_SMOOTHING
from xpose.preprocess import Geometry, to_rgb_uint8
from xpose.results import Poses
from xpose.stream import PoseStream, Smoother, drop_frames, follow
from xpose.tracking import Tracker, resolve_tracker

__all__ = [
    "Binding",
    "Estimator",
    "PoseStream",
    "Smoother",
    "Tracker",
    "identify",
    "load",
    "model_options",
]

logger = logging.getLogger(__name__)

#: The backend :func:`load` uses unless told otherwise.
DEFAULT_BACKEND = "onnxruntime"

#: Images per backend run in :meth:`Estimator.predict_batch` unless told otherwise.
DEFAULT_BATCH = 8

#: Model-file suffix -> the backend that reads it by default (others reading the same format
#: in :data:`xpose.store.BACKEND_FORMATS` may be asked for).
_SUFFIX_BACKENDS: dict[str, str] = {".onnx": "onnxruntime", ".tflite": "tflite"}

_PRECISION_IN_NAME = re.compile(r"-(" + "|".join(_store.PRECISIONS) + r")$")


def _head_class(spec: ModelSpec) -> type[Head]:
    if spec.head is None:
        raise ValueError(f"xpose has no decoder for {spec.name!r} ({spec.family})")
    return spec.head


def _options(spec: ModelSpec, options: Mapping[str, Any]) -> ModelOptions:
    """``spec``'s typed options from keyword arguments, checked (once) here."""
    return _head_class(spec).Options.from_mapping(spec.name, options)


def model_options(model: str) -> dict[str, Any]:
    """The options :func:`load` takes for a catalogue model, with their defaults."""
    return _head_class(get_spec(model)).Options().as_dict()


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
        xpose.compat.UnsupportedModelError: the backend is known to compute this model at
            this precision wrong (:data:`xpose.compat.KNOWN_ISSUES`).
        TypeError: an unknown option name; the message lists the valid ones.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        spec: ModelSpec | None = None,
        precision: str | None = None,
        config: ModelOptions | None = None,
        **options: Any,
    ) -> None:
        if config is not None and options:
            raise TypeError("give the model options either as config or as keywords, not both")
        if spec is not None and config is None:
            config = _options(spec, options)
        try:
            binding = identify(tuple(backend.inputs), tuple(backend.outputs), spec)
        except ValueError as err:
            raise ValueError(f"{backend.path}: {err}") from err
        if config is None:
            config = _options(binding.spec, options)
        check_supported(
            backend.name, binding.spec.name, precision, getattr(backend, "metadata", None)
        )
        self._head = _head_class(binding.spec)(
            binding.spec,
            config,
            input_dtype=np.dtype(binding.input.dtype).name,
            fixed_size=binding.fixed_size,
        )
        self.spec: ModelSpec = binding.spec
        self.backend: Backend = backend
        self.backend_name: str = backend.name
        self.precision: str | None = precision
        self.path: Path = Path(backend.path)
        self.options: Mapping[str, Any] = MappingProxyType(config.as_dict())
        self._binding = binding
        logger.debug(
            "%s identified as %s (input %s, outputs %s)",
            self.path,
            self.spec.name,
            binding.input,
            {stable: info.name for stable, info in binding.outputs.items()},
        )

    @property
    def head(self) -> Head:
        """The model's :class:`~xpose.models.Head`: it prepares inputs and decodes outputs."""
        return self._head

    @property
    def binding(self) -> Binding:
        """How the file's tensors map onto the catalogue model's (:func:`~xpose.binding.identify`)."""
        return self._binding

    def infer(self, x: np.ndarray, geometry: Geometry) -> Poses:
        """Run the backend on a prepared input and decode its outputs.

        Args:
            x: ``(1, h, w, 3)`` model input in the file's dtype, from :attr:`head`'s
                ``prepare`` or ``prepare_in_crop``.
            geometry: the geometry that came with ``x``.

        Returns:
            :class:`~xpose.results.Poses` in pixels of the image ``x`` was made from.
        """
        outputs = self.backend.run(self._binding.feed(x))
        return self._head.decode(self._binding.results(outputs), geometry)

    def predict(self, image: Any) -> Poses:
        """Estimate the poses in one image.

        Args:
            image: ``(H, W, 3)`` uint8 RGB array of any size, or ``(H, W)`` grayscale,
                ``(H, W, 4)`` RGBA, or a path to an image file (anything
                :func:`~xpose.preprocess.to_rgb_uint8` accepts). OpenCV's BGR arrays must be
                converted to RGB first.

        Returns:
            :class:`~xpose.results.Poses`: keypoints ``(N, 17, 2)`` x, y in pixels of
            ``image``. PoseNet without ``multi_pose`` always gives N=1; MoveNet
            Lightning/Thunder give N=1, or N=0 when the pose scores below their
            ``min_pose_score`` (0.25 by default).
        """
        return self.infer(*self._head.prepare(to_rgb_uint8(image)))

    @property
    def batch_limit(self) -> int | None:
        """The most images one backend run takes: ``None`` for any number (the store's ONNX
        files), 1 for files with a batch of 1 (TFLite), where batches run image by image."""
        n = self._binding.input.shape[0]
        return None if n is None else int(n)

    def predict_batch(self, images: Iterable[Any], batch_size: int = DEFAULT_BATCH) -> list[Poses]:
        """Estimate the poses in many images, running the model on batches of them.

        The results are those of :meth:`predict` on each image (to the last digits of float
        arithmetic: a batched convolution may round differently). Images that take the same
        input size (all of them, but for MultiPose on a free input size, which follows each
        image's aspect) are letterboxed into one buffer and run together, ``batch_size`` at a
        time; a file with a batch of 1 (:attr:`batch_limit`) runs them one by one.

        Args:
            images: the images, each anything :meth:`predict` takes.
            batch_size: the most images per backend run.

        Returns:
            One :class:`~xpose.results.Poses` per image, in order.

        Raises:
            ValueError: ``batch_size`` is below 1; an image that cannot be read (the message
                names it, as :meth:`predict`'s does).
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        rgb = [to_rgb_uint8(image) for image in images]
        limit = self.batch_limit
        step = batch_size if limit is None else min(batch_size, limit)
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(rgb):
            by_size.setdefault(self._head.input_size(image.shape[:2]), []).append(i)
        results: list[Poses | None] = [None] * len(rgb)
        for size, members in by_size.items():
            for start in range(0, len(members), step):
                chunk = members[start : start + step]
                x, boxes = self._head.prepare_batch([rgb[i] for i in chunk], size)
                for i, poses in zip(chunk, self.infer_batch(x, boxes), strict=True):
                    results[i] = poses
        return [r for r in results if r is not None]

    def infer_batch(self, x: np.ndarray, geometries: Sequence[Geometry]) -> list[Poses]:
        """Run the backend on prepared inputs and decode each image's outputs.

        The batch form of :meth:`infer`, for callers that prepare images themselves (e.g.
        :func:`xpose.pipeline.predict_files`, which letterboxes in its reader threads).

        Args:
            x: ``(N, h, w, 3)`` model inputs in the file's dtype, from :attr:`head`'s
                ``prepare`` / ``prepare_batch`` (stacked); a file with a batch of 1
                (:attr:`batch_limit`) runs them one by one.
            geometries: the N geometries that came with them, in order.

        Returns:
            One :class:`~xpose.results.Poses` per image, in order.

        Raises:
            ValueError: ``x`` and ``geometries`` hold different numbers of images.
        """
        if len(x) != len(geometries):
            raise ValueError(f"infer_batch: {len(x)} inputs but {len(geometries)} geometries")
        step = max(1, len(x) if self.batch_limit is None else self.batch_limit)
        poses: list[Poses] = []
        for start in range(0, len(x), step):
            outputs = self._binding.results(
                self.backend.run(self._binding.feed(x[start : start + step]))
            )
            for k, geometry in enumerate(geometries[start : start + step]):
                one = {name: value[k : k + 1] for name, value in outputs.items()}
                poses.append(self._head.decode(one, geometry))
        return poses

    def stream(
        self,
        *,
        smoother: Smoother | None = None,
        tracker: Tracker | None = None,
        fps: float = 30.0,
        crop_smoothing: float = CROP_SMOOTHING,
        first_crop: str = "centre",
        camera_motion: bool = True,
    ) -> PoseStream:
        """Start video mode: a :class:`PoseStream` that keeps state from frame to frame."""
        return PoseStream(
            self,
            smoother=smoother,
            tracker=tracker,
            fps=fps,
            crop_smoothing=crop_smoothing,
            first_crop=first_crop,
            camera_motion=camera_motion,
        )

    @property
    def multi_person(self) -> bool:
        """Whether :meth:`predict` can find several people (MultiPose, PoseNet multi-pose)."""
        return self._head.multi_person

    def track(
        self,
        source: str | os.PathLike[str] | int | Iterable[Any],
        *,
        smooth: bool = True,
        tracker: str | Tracker | None = "auto",
        fps: float | None = None,
        smoother_options: Mapping[str, Any] | None = None,
        max_age: int = 30,
        crop_smoothing: float = CROP_SMOOTHING,
        first_crop: str = "centre",
        camera_motion: bool = True,
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
                (``min_cutoff``, ``beta``, ``d_cutoff``, ``units``, ``speed``).
            max_age: frames a lost person keeps their track id (named trackers only).
            crop_smoothing, first_crop: crop tracking of single-pose MoveNet
                (:class:`PoseStream`).
            camera_motion: measure the camera's motion between frames and move the crop
                region, tracks and smoother state with it; a scene cut starts afresh
                (:mod:`xpose.motion`, :class:`PoseStream`).

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
            crop_smoothing=crop_smoothing,
            first_crop=first_crop,
            camera_motion=camera_motion,
        )
        return drop_frames(frames)

    def track_frames(
        self,
        source: str | os.PathLike[str] | int | Iterable[Any],
        *,
        smooth: bool = True,
        tracker: str | Tracker | None = "auto",
        fps: float | None = None,
        smoother_options: Mapping[str, Any] | None = None,
        max_age: int = 30,
        crop_smoothing: float = CROP_SMOOTHING,
        first_crop: str = "centre",
        camera_motion: bool = True,
    ) -> Iterator[tuple[int, float, npt.NDArray[np.uint8], Poses]]:
        """:meth:`track`, also giving each frame: yields ``(index, timestamp, frame, poses)``.

        ``timestamp`` is in seconds (see :class:`~xpose.video.FrameSource`), ``frame`` the
        ``(H, W, 3)`` uint8 RGB image the poses were found in (e.g. for drawing). The source
        is opened, and the arguments checked, when this is called, not on the first frame.
        ``source`` may also be an unread :class:`~xpose.video.FrameSource` (e.g. to know its
        ``fps`` and ``frame_count`` first); it is closed with the generator.
        """
        from xpose.video import FrameSource

        pose_tracker = resolve_tracker(tracker, max_age=max_age, multi_person=self.multi_person)
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
        stream = self.stream(
            smoother=smoother,
            tracker=pose_tracker,
            fps=reader.fps,
            crop_smoothing=crop_smoothing,
            first_crop=first_crop,
            camera_motion=camera_motion,
        )
        return follow(reader, stream)

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
    fmt = _store.BACKEND_FORMATS.get(backend)
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
    folder = _store.savedmodel_dir(model, root)
    if not folder.is_dir():
        command = _store.convert_command(model, precision, root if store is not None else None)
        raise _store.ModelNotConvertedError(
            f"{model} has no SavedModel in the model store {root}; build it with `{command}`"
        )
    return folder


def _check_backend_options(options: Mapping[str, Any], backend: str) -> None:
    """Refuse options the backend's class does not take, listing the ones it does."""
    takes = [
        name
        for name in inspect.signature(backend_class(backend).__init__).parameters
        if name not in ("self", "path", "threads")
    ]
    unknown = sorted(set(options) - set(takes))
    if unknown:
        raise ValueError(
            f"{', '.join(unknown)}: not an option of the {backend!r} backend; it takes "
            f"{', '.join(takes) or 'none'} (and threads)"
        )


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
    if backend == needed or _store.BACKEND_FORMATS.get(backend) == _store.BACKEND_FORMATS.get(
        needed
    ):
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
    device: str | None = None,
    backend_options: Mapping[str, Any] | None = None,
    spinning: bool | None = None,
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
        device: where the backend runs: onnxruntime ``"cpu"`` (default), ``"cuda"``,
            ``"tensorrt"``; openvino ``"CPU"`` (default), ``"GPU"``, ``"NPU"``, ``"AUTO"``;
            opencv ``"cpu"`` (default), ``"cuda"``. tflite and tensorflow take none. An
            absent device is an error, never a silent fall-back to the CPU.
        backend_options: more keyword arguments for the backend's class (e.g. openvino's
            ``hint="throughput"``, onnxruntime's ``graph_optimization_level``).
        spinning: whether onnxruntime's idle intra-op threads spin-wait for work (onnxruntime
            only); ``None`` keeps the backend's default, which does not spin (measured in
            docs/benchmarks.md, "Thread policy").
        **options: model options, checked against the model:

            - MoveNet MultiPose: ``multipose_long_side=256`` (the input's long side when the
              file's input size is free, e.g. ONNX; the short side follows the image's aspect,
              rounded up to a multiple of 32), ``multipose_square=False`` (``True``: a square
              input of the long side, as the fixed-size TFLite file uses), ``min_pose_score=0.2``,
              ``multipose_pad="centre"`` (``"corner"``: pad at the bottom and right).
            - PoseNet: ``multi_pose=False`` (single-pose decoding; ``True`` decodes several
              people), and for multi-pose ``max_poses=10``, ``score_threshold=0.5``,
              ``nms_radius=20.0`` (model-input pixels), ``min_pose_score=0.25`` (poses scoring
              less are dropped).
            - MoveNet Lightning and Thunder: ``min_pose_score=0.25`` (a weaker pose is dropped),
              ``pose_score="confident"`` (or ``"mean"``), ``resize="area"`` (or
              ``"reference"``, tfjs pose-detection's pre-processing).

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
    opened_options: dict[str, Any] = dict(backend_options or {})
    if providers is not None:
        opened_options["providers"] = providers
    if device is not None:
        opened_options["device"] = device
    if spinning is not None:
        if not isinstance(spinning, bool):
            raise TypeError(f"spinning must be True, False or None, got {spinning!r}")
        opened_options["spinning"] = spinning
    if _is_path(name_or_path):
        path = Path(name_or_path).expanduser()
        _check_precision(precision)
        backend_name = _backend_for_path(path, backend_name)
        _check_backend_options(opened_options, backend_name)
        match = _PRECISION_IN_NAME.search(path.stem if path.is_file() else path.name)
        file_precision = match.group(1) if match else None
        spec = None
    else:
        spec = get_spec(str(name_or_path))
        _check_precision(precision)
        typed = _options(spec, options)
        _check_backend_options(opened_options, backend_name)
        # a missing runtime is the first thing to fix: say so before looking for the file
        backend_class(backend_name).requirement.load(f"the {backend_name!r} backend")
        path = _locate(spec.name, backend_name, precision, store)
        file_precision = precision
    opened = open_backend(backend_name, path, threads=threads, **opened_options)
    try:
        if spec is None:
            return Estimator(opened, precision=file_precision, **options)
        return Estimator(opened, spec=spec, precision=file_precision, config=typed)
    except (ValueError, TypeError):
        opened.close()
        raise
