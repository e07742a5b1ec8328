"""Cross-runtime parity: the same converted model on several backends, compared on real photos.

:func:`measure_parity` loads one estimator per backend for one catalogue model and precision,
runs :meth:`~xpose.Estimator.predict` on the same images and measures, for each pair of
backends (the first backend is the reference of every pair), how far the *decoded* results
lie apart:

keypoint difference
    the Euclidean distance between the two backends' ``(x, y)`` of one keypoint, in pixels of
    the image (``*_px``) and **normalized to the model input**: the pixel distance times the
    letterbox scale divided by the input side. Every catalogue model has a square input and is
    letterboxed, so the normalized distance is simply the pixel distance divided by the image's
    long side; 1e-4 is a tenth of a pixel on a 1000-pixel photo. Only keypoints the reference
    scores above :data:`CONFIDENT` (0.3) count: an unconfident keypoint may sit anywhere.
score difference
    ``|score_a - score_b|`` of every keypoint, confident or not.

MoveNet MultiPose returns people in no fixed order and may return a different number of them,
so each reference person is matched to the nearest unmatched candidate person (smallest mean
keypoint distance over all 17 keypoints); people left over on either side are counted in
:attr:`PairDiff.unmatched`. Images are predicted as given, with the default options: the same
call must give the same people on every backend (MultiPose runs a 256x256 input by default on
every file, see :class:`~xpose.models.movenet.MultiPoseOptions`).

>>> from xpose.parity import measure_parity, tolerance_for
>>> result = measure_parity("movenet-lightning", "fp32", images=["person.jpg"])  # doctest: +SKIP
>>> result.ok(tolerance_for("fp32"))  # doctest: +SKIP
True
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from xpose.backends import backend_label, split_device
from xpose.compat import UnsupportedModelError
from xpose.estimator import Estimator, load
from xpose.models import get_spec
from xpose.preprocess import to_rgb_uint8
from xpose.results import Poses

__all__ = [
    "CONFIDENT",
    "EXACT",
    "INT8",
    "PairDiff",
    "ParityResult",
    "Tolerance",
    "compare_predictions",
    "default_images",
    "measure_parity",
    "tolerance_for",
]

logger = logging.getLogger(__name__)

#: Keypoints the reference backend scores above this are compared in position.
CONFIDENT = 0.3

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class Tolerance:
    """What two backends may differ by (positions normalized to the model input, see module).

    Attributes:
        coord: bound on the ``quantile`` of the confident keypoints' normalized distances
            (``quantile=1.0``: on the largest one).
        score: bound on the ``quantile`` of the keypoint-score differences.
        quantile: which quantile ``coord`` and ``score`` bound.
        median: optional bound on the median normalized distance.
        far: a normalized distance counted as "far"; at most ``far_share`` of the confident
            keypoints may lie farther apart than that (``None``: no such bound).
        far_share: see ``far``.
        unmatched: how many people (MultiPose) per image, on average, may be found by one
            backend without a counterpart in the other.
    """

    coord: float
    score: float
    quantile: float = 1.0
    median: float | None = None
    far: float | None = None
    far_share: float = 0.0
    unmatched: float = 0.0

    @property
    def which(self) -> str:
        """``"max"``, or the bounded percentile such as ``"p95"``."""
        return "max" if self.quantile >= 1.0 else f"p{self.quantile * 100:g}"

    def describe(self) -> str:
        """A one-line summary, e.g. ``max<=1e-04 score<=1e-03``."""
        parts = [f"{self.which}<={self.coord:g}", f"score {self.which}<={self.score:g}"]
        if self.median is not None:
            parts.append(f"median<={self.median:g}")
        if self.far is not None:
            parts.append(f"share>{self.far:g}<={self.far_share:g}")
        if self.unmatched:
            parts.append(f"unmatched/image<={self.unmatched:g}")
        return " ".join(parts)


#: fp32 and fp16: both runtimes compute the same float graph; the design's quality bar.
#: Measured: at most 5e-7 of the input and 7e-6 in score (docs/parity.md).
EXACT = Tolerance(coord=1e-4, score=1e-3)

#: int8: the int8 ONNX (onnxruntime's static QDQ quantization of the fp32 ONNX) and the int8
#: TFLite file (the TFLite converter's) are different quantizations, each checked against
#: fp32 when converted (converters/check.py); here they are compared with each other, so the
#: bound covers both files' own error. Measured on the 7 sample photos (docs/parity.md).
INT8 = Tolerance(
    coord=0.10, score=0.6, quantile=0.95, median=0.04, far=0.1, far_share=0.08, unmatched=1.0
)


def tolerance_for(precision: str) -> Tolerance:
    """The tolerance :func:`measure_parity` results are held to at ``precision``."""
    if precision in ("fp32", "fp16"):
        return EXACT
    if precision == "int8":
        return INT8
    raise ValueError(f"unknown precision {precision!r}; valid precisions: fp32, fp16, int8")


@dataclass(frozen=True)
class PairDiff:
    """How far one candidate backend lies from the reference backend over all images.

    Attributes:
        reference, candidate: the two backends' canonical names.
        images: how many images were compared.
        distances_px: ``(K,)`` float64 pixel distance of every confident keypoint compared.
        distances: ``(K,)`` the same normalized to the model input (see the module).
        score_diffs: ``(M,)`` ``|score difference|`` of every keypoint of every matched person.
        unmatched: people found by one backend only (MultiPose; 0 for single-pose models).
    """

    reference: str
    candidate: str
    images: int
    distances_px: npt.NDArray[np.float64] = field(repr=False)
    distances: npt.NDArray[np.float64] = field(repr=False)
    score_diffs: npt.NDArray[np.float64] = field(repr=False)
    unmatched: int = 0

    @property
    def keypoints(self) -> int:
        """How many confident keypoints were compared in position."""
        return int(self.distances.size)

    @property
    def max_px(self) -> float:
        """Largest keypoint distance in image pixels."""
        return float(self.distances_px.max(initial=0.0))

    @property
    def max_norm(self) -> float:
        """Largest keypoint distance normalized to the model input."""
        return float(self.distances.max(initial=0.0))

    @property
    def max_score(self) -> float:
        """Largest keypoint-score difference."""
        return float(self.score_diffs.max(initial=0.0))

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of the normalized keypoint distances (0 when none were compared)."""
        return float(np.quantile(self.distances, q)) if self.distances.size else 0.0

    def share_above(self, distance: float) -> float:
        """Share of the confident keypoints whose normalized distance exceeds ``distance``."""
        return float((self.distances > distance).mean()) if self.distances.size else 0.0

    def score_quantile(self, q: float) -> float:
        """The ``q`` quantile of the keypoint-score differences (0 when none were compared)."""
        return float(np.quantile(self.score_diffs, q)) if self.score_diffs.size else 0.0

    def failures(self, tolerance: Tolerance) -> list[str]:
        """Why this pair breaks ``tolerance`` (empty when it holds)."""
        out: list[str] = []
        q, which = tolerance.quantile, tolerance.which
        coord = self.max_norm if q >= 1.0 else self.quantile(q)
        score = self.max_score if q >= 1.0 else self.score_quantile(q)
        if coord > tolerance.coord:
            out.append(f"{which} keypoint distance {coord:.2e} > {tolerance.coord:g}")
        if score > tolerance.score:
            out.append(f"{which} score difference {score:.2e} > {tolerance.score:g}")
        median = self.quantile(0.5)
        if tolerance.median is not None and median > tolerance.median:
            out.append(f"median keypoint distance {median:.2e} > {tolerance.median:g}")
        if tolerance.far is not None and self.share_above(tolerance.far) > tolerance.far_share:
            out.append(
                f"{self.share_above(tolerance.far):.1%} of keypoints more than {tolerance.far:g} "
                f"apart (allowed {tolerance.far_share:.0%})"
            )
        if self.images and self.unmatched / self.images > tolerance.unmatched:
            out.append(
                f"{self.unmatched} people over {self.images} images found by one backend only "
                f"(allowed {tolerance.unmatched:g} per image)"
            )
        return out

    def ok(self, tolerance: Tolerance) -> bool:
        """Whether this pair holds ``tolerance``."""
        return not self.failures(tolerance)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary figures (no per-keypoint arrays)."""
        return {
            "reference": self.reference,
            "candidate": self.candidate,
            "images": self.images,
            "keypoints": self.keypoints,
            "max_px": self.max_px,
            "max_norm": self.max_norm,
            "median_norm": self.quantile(0.5),
            "p95_norm": self.quantile(0.95),
            "max_score": self.max_score,
            "p95_score": self.score_quantile(0.95),
            "unmatched": self.unmatched,
        }


@dataclass(frozen=True)
class ParityResult:
    """Parity of one model at one precision across backends.

    Attributes:
        model, precision: what was compared.
        backends: the canonical backend names, the reference first.
        pairs: one :class:`PairDiff` per (reference, other backend) pair.
        refused: backend -> why it refused this model and precision
            (:data:`xpose.compat.KNOWN_ISSUES`); refused backends are not in ``backends``.
    """

    model: str
    precision: str
    backends: tuple[str, ...]
    pairs: tuple[PairDiff, ...]
    refused: Mapping[str, str] = field(default_factory=dict)

    def pair(self, a: str, b: str) -> PairDiff:
        """The comparison of backends ``a`` and ``b`` (names or aliases, either order)."""
        want = {backend_label(a), backend_label(b)}
        for p in self.pairs:
            if {p.reference, p.candidate} == want:
                return p
        raise KeyError(
            f"no pair {a!r} / {b!r}; measured: {[(p.reference, p.candidate) for p in self.pairs]}"
        )

    def ok(self, tolerance: Tolerance | None = None) -> bool:
        """Whether every pair holds ``tolerance`` (default :func:`tolerance_for` the precision)."""
        tol = tolerance_for(self.precision) if tolerance is None else tolerance
        return all(p.ok(tol) for p in self.pairs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "model": self.model,
            "precision": self.precision,
            "backends": list(self.backends),
            "pairs": [p.to_dict() for p in self.pairs],
            "refused": dict(self.refused),
        }


def default_images(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The project's sample photos: ``tests/data/*.png``, ``xpose/data/*.jpg`` and, when
    present, ``../shared/data/coco_val2017/*.jpg`` beside the project folder ``root``.

    ``root`` defaults to the folder holding the ``xpose`` package. Missing folders are skipped.
    """
    base = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    patterns = (
        (base / "tests" / "data", "*.png"),
        (base / "xpose" / "data", "*.jpg"),
        (base.parent / "shared" / "data" / "coco_val2017", "*.jpg"),
    )
    return [p for folder, pattern in patterns for p in sorted(folder.glob(pattern))]


def _match_people(ref: Poses, cand: Poses) -> list[tuple[int, int]]:
    """Greedy one-to-one matching by mean keypoint distance, closest pairs first."""
    if len(ref) == 0 or len(cand) == 0:
        return []
    d = np.linalg.norm(ref.keypoints[:, None] - cand.keypoints[None], axis=-1).mean(axis=-1)
    pairs: list[tuple[int, int]] = []
    used_r: set[int] = set()
    used_c: set[int] = set()
    for flat in np.argsort(d, axis=None, kind="stable"):
        r, c = np.unravel_index(flat, d.shape)
        if int(r) in used_r or int(c) in used_c:
            continue
        pairs.append((int(r), int(c)))
        used_r.add(int(r))
        used_c.add(int(c))
    return pairs


def _compare(ref: Poses, cand: Poses) -> tuple[np.ndarray, np.ndarray, int]:
    """Confident-keypoint pixel distances, score differences and unmatched people of one image."""
    matches = _match_people(ref, cand)
    unmatched = len(ref) + len(cand) - 2 * len(matches)
    if not matches:
        return np.zeros(0), np.zeros(0), unmatched
    r = np.array([m[0] for m in matches])
    c = np.array([m[1] for m in matches])
    dist = np.linalg.norm(
        ref.keypoints[r].astype(np.float64) - cand.keypoints[c].astype(np.float64), axis=-1
    )
    confident = ref.scores[r] > CONFIDENT
    scores = np.abs(ref.scores[r].astype(np.float64) - cand.scores[c].astype(np.float64))
    return dist[confident], scores.ravel(), unmatched


def compare_predictions(
    pictures: Sequence[npt.NDArray[np.uint8]],
    reference: Sequence[Poses],
    candidate: Sequence[Poses],
    names: tuple[str, str] = ("reference", "candidate"),
) -> PairDiff:
    """How far ``candidate`` poses lie from ``reference`` poses of the same pictures.

    Args:
        pictures: the ``(H, W, 3)`` images both predicted on (their long side normalizes).
        reference, candidate: one :class:`~xpose.Poses` per picture each.
        names: labels of the two sides in the result.
    """
    px: list[np.ndarray] = []
    norm: list[np.ndarray] = []
    sc: list[np.ndarray] = []
    unmatched = 0
    for picture, ref, cand in zip(pictures, reference, candidate, strict=True):
        long_side = max(picture.shape[:2])
        d, s, u = _compare(ref, cand)
        px.append(d)
        norm.append(d / long_side)
        sc.append(s)
        unmatched += u
    return PairDiff(
        names[0],
        names[1],
        len(pictures),
        np.concatenate(px) if px else np.zeros(0),
        np.concatenate(norm) if norm else np.zeros(0),
        np.concatenate(sc) if sc else np.zeros(0),
        unmatched,
    )


def measure_parity(
    model: str,
    precision: str,
    backends: Sequence[str] = ("onnxruntime", "tflite"),
    images: Iterable[Any] | None = None,
    store: str | os.PathLike[str] | None = None,
    *,
    threads: int | None = None,
    options: Mapping[str, Any] | None = None,
    estimators: Mapping[str, Estimator] | None = None,
) -> ParityResult:
    """Run one model at one precision on several backends and measure how far they disagree.

    Args:
        model: a catalogue name (:func:`~xpose.list_models`).
        precision: ``"fp32"``, ``"fp16"`` or ``"int8"`` (``"tensorflow"`` runs fp32 only).
        backends: two or more backend names or aliases; the first is the reference.
        images: RGB arrays or image paths; ``None`` for :func:`default_images`.
        store: the model store (default ``$XPOSE_HOME``).
        threads: runtime threads per estimator.
        options: model options passed to :func:`~xpose.load` (e.g. ``multi_pose=True``).
        estimators: already loaded estimators by canonical backend name, used instead of
            loading (and not closed); lets callers load each estimator once.

    Returns:
        A :class:`ParityResult` with one :class:`PairDiff` per (reference, other) pair.

    Raises:
        ValueError: fewer than two distinct backends, no images, or an unknown name.
        FileNotFoundError: a model file is not in the store (the message gives the
            ``xpose convert`` command).
        xpose.errors.MissingExtraError: a backend's runtime is not installed.
    """
    spec = get_spec(model)
    names = list(dict.fromkeys(backend_label(b) for b in backends))
    if len(names) < 2:
        raise ValueError(f"parity needs at least two different backends, got {list(backends)}")
    paths = default_images() if images is None else list(images)
    if not paths:
        raise ValueError("parity needs at least one image; none were given or found")
    pictures = [to_rgb_uint8(p) for p in paths]

    given = dict(estimators or {})
    opened: dict[str, Estimator] = {}
    refused: dict[str, str] = {}
    try:
        for name in names:
            if name in given:
                opened[name] = given[name]
                continue
            backend, device = split_device(name)
            # TensorFlow's thread pools are process-wide: it takes no per-model setting.
            n_threads = None if backend == "tensorflow" else threads
            try:
                opened[name] = load(
                    model,
                    backend,
                    precision,
                    store=store,
                    threads=n_threads,
                    device=device,
                    **dict(options or {}),
                )
            except UnsupportedModelError as err:
                if name == names[0]:
                    raise
                refused[name] = str(err)
        predictions = {name: [est.predict(p) for p in pictures] for name, est in opened.items()}
    finally:
        for name, est in opened.items():
            if name not in given:
                est.close()

    reference = names[0]
    pairs = []
    for other in [n for n in names[1:] if n not in refused]:
        pairs.append(
            compare_predictions(
                pictures, predictions[reference], predictions[other], (reference, other)
            )
        )
        logger.debug("%s %s %s vs %s: %s", model, precision, reference, other, pairs[-1].to_dict())
    kept = tuple(n for n in names if n not in refused)
    return ParityResult(spec.name, precision, kept, tuple(pairs), refused)
