"""Latency benchmark: every model x precision x backend, measured side by side in one run.

For each model, one estimator per precision and backend is opened with the same thread count,
and two things are timed with :func:`time.perf_counter`:

``inference``
    one ``est.backend.run(feeds)`` at batch 1, on the very feeds that ``predict`` gives the
    backend for the benchmark image (recorded once, see :func:`prepared_feeds`);
``predict``
    the whole :meth:`~xpose.Estimator.predict`: RGB image in, :class:`~xpose.Poses` out
    (letterbox, cast, inference, decoding).

After ``warmup`` untimed calls, ``repeat`` rounds follow; in each round every precision and
backend of the model runs one inference and one ``predict``, interleaved (and their order
alternated from round to round), so that they share whatever noise the machine has: the ratio
of two backends and the int8 speed-up over fp32 are both measured side by side. Each backend's turn in
a round starts with one untimed inference: it brings that model's weights back into the CPU
caches after the other backend ran, and absorbs the tail of the other runtime's thread pool
(onnxruntime's intra-op threads keep spinning for a while after a run by default), so the
timed calls see the steady state of a loop over one model, as in a video. Medians are
reported.
Absolute times on a shared machine are noisy; the ratios between backends, measured side by
side, are the numbers to compare.

>>> from xpose.bench import run_bench
>>> result = run_bench(models=["movenet-lightning"], repeat=20)  # doctest: +SKIP
>>> print(result.to_markdown())  # doctest: +SKIP

The module is a little over 500 lines because it keeps one benchmark together: the timing
loop, the machine it ran on (CPU, int8 instruction sets, versions) and the tables it writes.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from xpose.backends import backend_label, backend_status, split_device
from xpose.compat import UnsupportedModelError
from xpose.errors import MissingExtraError
from xpose.estimator import Estimator, load
from xpose.models import list_models
from xpose.preprocess import to_rgb_uint8
from xpose.store import PRECISIONS

__all__ = [
    "BENCH_IMAGE_SIZE",
    "REFERENCE_BACKEND",
    "BenchResult",
    "BenchRow",
    "bench_image",
    "cpu_name",
    "describe_int8_instructions",
    "installed_backends",
    "int8_instructions",
    "prepared_feeds",
    "run_bench",
    "versions",
]

logger = logging.getLogger(__name__)

#: The reference backend: every other backend's time is also given as a ratio to its time.
REFERENCE_BACKEND = "onnxruntime"

#: Runs the fp32 SavedModel only, and takes no per-model thread count.
_FP32_ONLY = "tensorflow"


def installed_backends() -> tuple[str, ...]:
    """Every backend whose runtime is installed, the reference first: the default of
    :func:`run_bench`."""
    return tuple(name for name, missing in backend_status().items() if missing is None)


#: ``(height, width)`` of the default benchmark image.
BENCH_IMAGE_SIZE: tuple[int, int] = (480, 640)

_PACKAGED_IMAGE = Path(__file__).parent / "data" / "astronaut.jpg"

#: How the default image is made (shown in the table header).
BENCH_IMAGE_DESCRIPTION = (
    "xpose/data/astronaut.jpg (512x512 photo, one person) resized to 480x480 and padded with "
    "black to 640x480"
)

_VERSION_PACKAGES: tuple[str, ...] = (
    "xpose",
    "onnxruntime",
    "ai-edge-litert",
    "openvino",
    "tensorflow-cpu",
    "numpy",
    "opencv-python-headless",
)


# --- environment ------------------------------------------------------------------------------


#: The CPU features that speed up int8 inference, as ``/proc/cpuinfo`` flags -> display name.
INT8_FEATURES: tuple[tuple[str, str], ...] = (
    ("avx2", "AVX2"),
    ("avx512_vnni", "AVX-512 VNNI"),
    ("avx_vnni", "AVX-VNNI"),
    ("amx_int8", "AMX"),
)


def int8_instructions(cpuinfo: str | None = None) -> dict[str, bool]:
    """Which int8 instruction sets the CPU has: display name -> present.

    Args:
        cpuinfo: the text of ``/proc/cpuinfo`` (default: read it). Elsewhere than Linux the
            flags are unknown and every set is reported absent.
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                cpuinfo = f.read()
        except OSError:
            cpuinfo = ""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return {name: flag in flags for flag, name in INT8_FEATURES}


def describe_int8_instructions(found: Mapping[str, bool]) -> str:
    """``"AVX2 yes, AVX-512 VNNI yes, AVX-VNNI no, AMX no"``."""
    return ", ".join(f"{name} {'yes' if present else 'no'}" for name, present in found.items())


def cpu_name() -> str:
    """The CPU's ``model name`` from ``/proc/cpuinfo``, else :func:`platform.processor`."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def versions(packages: Sequence[str] = _VERSION_PACKAGES) -> dict[str, str]:
    """Installed version of each package (``"not installed"`` where missing), and Python's."""
    found: dict[str, str] = {"python": platform.python_version()}
    for name in packages:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


# --- inputs -----------------------------------------------------------------------------------


def bench_image(path: str | os.PathLike[str] | None = None) -> npt.NDArray[np.uint8]:
    """The benchmark image as ``(H, W, 3)`` uint8 RGB.

    Args:
        path: an image file, used at its own size. ``None``: the packaged photo
            ``xpose/data/astronaut.jpg`` (512x512) resized to 480x480 with area interpolation
            and padded with black columns to 640x480 (:data:`BENCH_IMAGE_SIZE`), a VGA frame
            as a camera would give.

    Raises:
        FileNotFoundError, ValueError: the file is missing or not an image.
    """
    if path is not None:
        return to_rgb_uint8(Path(path))
    photo = to_rgb_uint8(_PACKAGED_IMAGE)
    h, w = BENCH_IMAGE_SIZE
    square = cv2.resize(photo, (h, h), interpolation=cv2.INTER_AREA)
    left = (w - h) // 2
    padded = cv2.copyMakeBorder(square, 0, 0, left, w - h - left, cv2.BORDER_CONSTANT, value=0)
    return np.ascontiguousarray(padded)


class _Recorder:
    """Stands in for a backend: passes ``run`` through and keeps the last feeds it saw."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self.name = backend.name
        self.path = backend.path
        self.inputs = backend.inputs
        self.outputs = backend.outputs
        self.metadata = getattr(backend, "metadata", None)
        self.feeds: dict[str, np.ndarray] = {}

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.feeds = {name: np.array(value, copy=True) for name, value in feeds.items()}
        return self._backend.run(feeds)


def prepared_feeds(est: Estimator, image: npt.NDArray[np.uint8]) -> dict[str, np.ndarray]:
    """The feeds ``est.predict(image)`` passes to ``est.backend.run``, keyed by the file's names.

    They are recorded from one real ``predict`` through a stand-in backend, so they are exactly
    what ``predict`` runs (size, dtype, names), with no pre-processing logic repeated here.
    """
    recorder = _Recorder(est.backend)
    Estimator(recorder, spec=est.spec, precision=est.precision, **dict(est.options)).predict(image)  # type: ignore[arg-type]
    return recorder.feeds


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchRow:
    """Median times of one model x precision x backend.

    Attributes:
        model, precision, backend: what was measured.
        input_shape: the shape fed to the backend (MultiPose on onnxruntime follows the
            image's aspect, so it can differ from the TFLite file's fixed 256x256).
        infer_ms: median of ``est.backend.run(feeds)``, milliseconds.
        predict_ms: median of ``est.predict(image)``, milliseconds.
        samples: timed calls behind each median.
    """

    model: str
    precision: str
    backend: str
    input_shape: tuple[int, ...]
    infer_ms: float
    predict_ms: float
    samples: int

    @property
    def outside_share(self) -> float:
        """Share of ``predict`` spent outside inference: ``1 - infer / predict``."""
        return 1.0 - self.infer_ms / self.predict_ms if self.predict_ms > 0 else float("nan")


#: Column headers of :meth:`BenchResult.table`.
COLUMNS: tuple[str, ...] = (
    "model",
    "precision",
    "backend",
    "input",
    "inference ms",
    "inference / reference",
    "predict ms",
    "predict / reference",
    "outside inference",
)


@dataclass(frozen=True)
class BenchResult:
    """All rows of one benchmark run, with what is needed to read them.

    Attributes:
        rows: one :class:`BenchRow` per model x precision x backend, in run order.
        backends: the backends compared; the first is the reference of the ratios.
        threads: threads given to every backend.
        repeat, warmup: timed and untimed rounds.
        image: description of the benchmark image.
        image_shape: its ``(H, W, 3)`` shape.
        cpu: the CPU's model name; ``cpus``: logical CPUs seen by the process.
        int8_isa: the CPU's int8 instruction sets (:func:`int8_instructions`).
        versions: package -> version.
        skipped: ``"model precision backend: why"`` for every combination not measured.
        date: when the run started (UTC, ISO 8601).
    """

    rows: tuple[BenchRow, ...]
    backends: tuple[str, ...]
    threads: int | None
    repeat: int
    warmup: int
    image: str
    image_shape: tuple[int, ...]
    cpu: str
    cpus: int
    versions: Mapping[str, str]
    skipped: tuple[str, ...] = ()
    int8_isa: Mapping[str, bool] = field(default_factory=dict)
    date: str = field(
        default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        )
    )

    def row(self, model: str, precision: str, backend: str) -> BenchRow | None:
        """The row of one combination, or ``None`` when it was not measured."""
        for r in self.rows:
            if (r.model, r.precision, r.backend) == (model, precision, backend):
                return r
        return None

    def header(self) -> str:
        """The Markdown lines above the table: machine, versions, settings."""
        vers = ", ".join(f"{k} {v}" for k, v in self.versions.items())
        h, w = self.image_shape[:2]
        return "\n".join(
            [
                f"- CPU: {self.cpu} ({self.cpus} logical CPUs seen)",
                f"- int8 instructions: {describe_int8_instructions(self.int8_isa)}",
                f"- versions: {vers}",
                f"- threads per backend: {self.threads if self.threads else 'runtime default'} "
                "(tensorflow: its default); "
                f"batch 1; {self.warmup} warmup calls, then {self.repeat} rounds, every "
                "precision and backend of a model interleaved in each round; medians in "
                "milliseconds (time.perf_counter)",
                f"- image: {w}x{h}, {self.image}",
                f"- date: {self.date}",
            ]
        )

    def table(self) -> str:
        """The Markdown table: one line per model, precision and backend; the ratios are to the
        reference backend (the first of :attr:`backends`) at the same model and precision."""
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        reference = self.backends[0] if self.backends else ""
        for r in self.rows:
            ref = self.row(r.model, r.precision, reference)
            cells = [
                r.model,
                r.precision,
                r.backend,
                "x".join(str(d) for d in r.input_shape[1:3]),
                _ms(r.infer_ms),
                _ratio(r.infer_ms, ref.infer_ms if ref else None),
                _ms(r.predict_ms),
                _ratio(r.predict_ms, ref.predict_ms if ref else None),
                _share(r),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def int8_table(self) -> str:
        """int8 against fp32 per model and backend, from the same rounds: both inference
        times, the speed-up fp32/int8, and the int8 time over the reference backend's int8
        time (empty when no backend ran both precisions)."""
        reference = self.backends[0] if self.backends else ""
        lines = []
        for model in dict.fromkeys(r.model for r in self.rows):
            ref8 = self.row(model, "int8", reference)
            for backend in self.backends:
                f, i = self.row(model, "fp32", backend), self.row(model, "int8", backend)
                if f is None or i is None:
                    continue
                cells = [
                    model,
                    backend,
                    _ms(f.infer_ms),
                    _ms(i.infer_ms),
                    _ratio(f.infer_ms, i.infer_ms),
                    _ratio(i.infer_ms, ref8.infer_ms if ref8 else None),
                ]
                lines.append("| " + " | ".join(cells) + " |")
        if not lines:
            return ""
        head = [
            "| model | backend | fp32 ms | int8 ms | speed-up fp32/int8 "
            f"| int8 / {reference or '-'} int8 |",
            "|---|---|---|---|---|---|",
        ]
        return "\n".join(head + lines)

    def to_markdown(self, title: str = "xpose latency benchmark") -> str:
        """Header, table and notes as a Markdown document."""
        reference = self.backends[0] if self.backends else "-"
        notes = [
            "`inference`: `est.backend.run(feeds)` alone; `predict`: image in, Poses out. "
            f"`/ reference`: the time divided by {reference}'s at the same model and precision "
            "(above 1: slower). `outside inference`: 1 - inference/predict, the share of "
            "predict spent letterboxing, casting and decoding. `input`: the H x W fed to the "
            "backend.",
        ]
        if self.skipped:
            notes.append("Not measured: " + "; ".join(self.skipped) + ".")
        int8 = self.int8_table()
        if int8:
            notes += ["int8 against fp32, inference times measured in the same rounds:", int8]
        return "\n\n".join([f"# {title}", self.header(), self.table(), *notes]) + "\n"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b <= 0 else f"{a / b:.2f}"


def _share(row: BenchRow | None) -> str:
    return "-" if row is None else f"{100 * row.outside_share:.0f}%"


# --- the run ----------------------------------------------------------------------------------


def _timed(fn: Callable[[], Any]) -> float:
    """Milliseconds of one ``fn()``."""
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0


def _check_names(values: Sequence[str] | None, valid: Sequence[str], what: str) -> list[str]:
    if values is None:
        return list(valid)
    out = list(values)
    bad = [v for v in out if v not in valid]
    if bad or not out:
        raise ValueError(f"unknown {what} {bad or out}; valid: {', '.join(valid)}")
    return out


def _measure(
    estimators: Mapping[str, Estimator],
    image: npt.NDArray[np.uint8],
    repeat: int,
    warmup: int,
) -> dict[str, tuple[tuple[int, ...], float, float]]:
    """backend -> (input shape, median inference ms, median predict ms), interleaved."""
    feeds = {name: prepared_feeds(est, image) for name, est in estimators.items()}
    for name, est in estimators.items():
        for _ in range(warmup):
            est.backend.run(feeds[name])
            est.predict(image)
    infer: dict[str, list[float]] = {name: [] for name in estimators}
    predict: dict[str, list[float]] = {name: [] for name in estimators}
    order = list(estimators)
    for i in range(repeat):
        for name in order if i % 2 == 0 else order[::-1]:
            est, fd = estimators[name], feeds[name]
            est.backend.run(fd)  # untimed: warm caches, let the other runtime's threads settle
            infer[name].append(_timed(lambda est=est, fd=fd: est.backend.run(fd)))
            predict[name].append(_timed(lambda est=est: est.predict(image)))
    return {
        name: (
            next(iter(feeds[name].values())).shape,
            statistics.median(infer[name]),
            statistics.median(predict[name]),
        )
        for name in estimators
    }


def run_bench(
    models: Sequence[str] | None = None,
    precisions: Sequence[str] | None = None,
    backends: Sequence[str] | None = None,
    *,
    threads: int | None = 2,
    image: str | os.PathLike[str] | npt.NDArray[np.uint8] | None = None,
    repeat: int = 50,
    warmup: int = 5,
    store: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> BenchResult:
    """Median latency of inference and of ``predict`` for every model x precision x backend.

    Args:
        models: catalogue names (default all, :func:`~xpose.list_models`).
        precisions: ``fp32``, ``fp16``, ``int8`` (default all).
        backends: backend names or aliases, each optionally with a device as
            ``"backend:device"`` (e.g. ``"onnxruntime:cuda"``, ``"openvino:GPU"``; default:
            :func:`installed_backends`); the first is the reference of the ratios. tensorflow
            runs fp32 only.
        threads: threads for every backend (the same for all, so the comparison is fair);
            ``None``: each runtime's default.
        image: an image path or ``(H, W, 3)`` uint8 RGB array; ``None``: :func:`bench_image`.
        repeat: timed rounds (>= 1); each round runs every backend once, interleaved.
        warmup: untimed calls per backend before timing (>= 0).
        store: the model store (default ``$XPOSE_HOME``).
        progress: called with a line of text after each model and precision (e.g. ``print``).

    Returns:
        :class:`BenchResult`; combinations missing from the store, whose runtime is missing,
        or that the backend is known to compute wrong (:mod:`xpose.compat`) are listed in
        its ``skipped`` with the reason, not measured.

    Raises:
        ValueError: an unknown model, precision or backend, or a bad ``repeat``/``warmup``.
    """
    model_names = _check_names(models, list_models(), "model(s)")
    precision_names = _check_names(precisions, PRECISIONS, "precision(s)")
    backend_names = [backend_label(b) for b in (backends or installed_backends())]
    if len(set(backend_names)) != len(backend_names):
        raise ValueError(f"backends repeat a name: {backend_names}")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be an int >= 1, got {repeat!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    if image is None:
        description, pixels = BENCH_IMAGE_DESCRIPTION, bench_image()
    elif isinstance(image, np.ndarray):
        description, pixels = "an array given by the caller", to_rgb_uint8(image)
    else:
        description, pixels = f"{Path(image).name}, used at its own size", bench_image(image)
    rows: list[BenchRow] = []
    skipped: list[str] = []
    for model in model_names:
        # every precision and backend of a model in the same rounds, so that their ratios
        # (int8 against fp32 as much as one backend against another) share the machine's noise
        estimators: dict[str, Estimator] = {}
        try:
            for precision in precision_names:
                for backend in backend_names:
                    name, device = split_device(backend)
                    if name == _FP32_ONLY and precision != "fp32":
                        skipped.append(f"{model} {precision} {backend}: it runs fp32 only")
                        continue
                    try:
                        estimators[f"{precision} {backend}"] = load(
                            model,
                            backend=name,
                            precision=precision,
                            threads=None if name == _FP32_ONLY else threads,
                            store=store,
                            device=device,
                        )
                    except (FileNotFoundError, MissingExtraError, UnsupportedModelError) as err:
                        skipped.append(f"{model} {precision} {backend}: {err}")
                        logger.warning("skipping %s %s %s: %s", model, precision, backend, err)
            if not estimators:
                continue
            measured = _measure(estimators, pixels, repeat, warmup)
        finally:
            for est in estimators.values():
                est.close()
        for key, (shape, infer_ms, predict_ms) in measured.items():
            precision, backend = key.split(" ")
            rows.append(
                BenchRow(model, precision, backend, tuple(shape), infer_ms, predict_ms, repeat)
            )
        if progress is not None:
            progress(
                f"{model}: "
                + ", ".join(f"{k} {m[1]:.2f}/{m[2]:.2f} ms" for k, m in measured.items())
            )
    return BenchResult(
        rows=tuple(rows),
        backends=tuple(backend_names),
        threads=threads,
        repeat=repeat,
        warmup=warmup,
        image=description,
        image_shape=tuple(pixels.shape),
        cpu=cpu_name(),
        cpus=os.cpu_count() or 0,
        versions=versions(),
        int8_isa=int8_instructions(),
        skipped=tuple(skipped),
    )
