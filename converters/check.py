"""Checks a converted model against its source on real photos: decoded keypoints, not raw tensors.

The parity figures are the differences, over all check images, of keypoint x, y (normalized
to the model input, over keypoints the source scores above 0.3) and of keypoint score: the
largest, a quantile, and the share of keypoints farther apart than a bound. Same arithmetic is
held to the largest difference; fp16 and int8, where a rare ambiguous keypoint may flip to
another spot while the rest stay close, to a quantile and a share of far keypoints. A figure
beyond the tolerance is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np

from converters.errors import ParityError
from xpose.models import Letterbox, ModelSpec, posenet

Runner = Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]]
CONFIDENT = 0.3


@dataclass(frozen=True)
class Tolerance:
    """Allowed differences: keypoint x, y normalized to the input size, and keypoint score.

    ``quantile`` 1.0 bounds the largest difference; below 1 it bounds that quantile (fp16 and
    int8, where a rare ambiguous keypoint may flip sides while the rest stay close). ``far``,
    when set, is a keypoint distance counted as far: at most ``far_share`` of the confident
    keypoints may lie farther than that.
    """

    coord: float
    score: float
    quantile: float = 1.0
    far: float | None = None
    far_share: float = 0.0


#: Same arithmetic on two runtimes or formats (fp32 anywhere; ONNX made from a TFLite file).
EXACT = Tolerance(1e-4, 1e-3)
#: fp16 TFLite against the fp32 SavedModel. MoveNet's weights are float16 already (no change);
#: PoseNet's float16 weights move a few keypoints, and a single ambiguous one may flip to the
#: other side of the image, so the bound is on the 99th percentile and on the share of
#: keypoints more than 0.1 of the input apart, not on the largest difference.
FP16 = Tolerance(0.05, 0.1, quantile=0.99, far=0.1, far_share=0.02)
#: int8 against float, on the 95th percentile: keypoints stay close, scores move a lot
#: (MultiPose's the most). Both int8 files are held to it: the TFLite converter's int8 file and
#: onnxruntime's own quantization of the fp32 ONNX (converters/quantize.py). On the check
#: views (crops of several people among them) PoseNet's single-pose decoding lets a few
#: keypoints jump from one person to another: its int8 files measure 0.05-0.06 at the 95th
#: percentile with 4-5 % of keypoints more than 0.1 apart. The bound on the 95th percentile is
#: 0.15, not 0.10: with up to 8 % of keypoints allowed more than 0.1 apart, a 0.10 bound on the
#: 95th percentile would contradict that share (Lightning's int8 TFLite file measures 0.13 with
#: 6 % beyond 0.1). A broken int8 file, whose confident keypoints all jump, measures 0.5 or more.
INT8 = Tolerance(0.15, 0.6, quantile=0.95, far=0.1, far_share=0.08)
#: tf2onnx's QDQ form of an int8 TFLite file on onnxruntime (models without an onnxruntime
#: scheme), whose fused integer kernels round differently from LiteRT's. Measured against
#: float: 0.01-0.13 of the input at the 95th percentile.
INT8_TFLITE_ONNX = Tolerance(0.2, 0.6, quantile=0.95)


@dataclass(frozen=True)
class Parity:
    """Largest differences seen, and how many images were compared."""

    max_coord: float
    max_score: float
    mean_coord: float
    p95_coord: float
    p95_score: float
    images: int
    tolerance: Tolerance
    far_share: float = 0.0

    def bounded(self) -> tuple[float, float]:
        """The (coord, score) figures the tolerance applies to."""
        if self.tolerance.quantile < 1.0:
            return self.p95_coord, self.p95_score
        return self.max_coord, self.max_score

    def ok(self) -> bool:
        coord, score = self.bounded()
        far_ok = self.tolerance.far is None or self.far_share <= self.tolerance.far_share
        return coord <= self.tolerance.coord and score <= self.tolerance.score and far_ok

    def to_dict(self) -> dict:
        d = asdict(self)
        d["tolerance"] = asdict(self.tolerance)
        return d


def keypoints_of(
    spec: ModelSpec, outputs: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Raw outputs -> ``((N, 17, 2) x, y normalized to the input, (N, 17) scores)``."""
    if spec.family == "posenet":
        h, w = spec.input_size
        lb = Letterbox(1.0, 0.0, 0.0, h, w, h, w)
        poses = posenet.decode_single(outputs["heatmaps"], outputs["offsets"], lb)
        xy = poses.keypoints / np.array([w, h], np.float32)
        return xy, poses.scores
    (raw,) = (outputs[n] for n in spec.output_names)
    raw = np.asarray(raw, np.float32)
    if spec.multi_person:
        people = raw.reshape(-1, 56)
        yxs = people[:, :51].reshape(-1, 17, 3)
    else:
        yxs = raw.reshape(-1, 17, 3)
    return yxs[..., [1, 0]], yxs[..., 2]


def _match(ref_xy: np.ndarray, new_xy: np.ndarray) -> np.ndarray:
    """For each reference person, the index of the nearest new person (MultiPose order may swap)."""
    d = np.abs(ref_xy[:, None] - new_xy[None]).mean(axis=(2, 3))
    return d.argmin(axis=1)


def compare(
    spec: ModelSpec,
    reference: Runner,
    candidate: Runner,
    feeds: Iterable[Mapping[str, np.ndarray]],
    tolerance: Tolerance,
    candidate_feeds: Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]] | None = None,
) -> Parity:
    """Run both on every feed and measure the decoded differences."""
    coords: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    images = 0
    for feed in feeds:
        images += 1
        rxy, rs = keypoints_of(spec, reference(feed))
        cxy, cs = keypoints_of(spec, candidate(candidate_feeds(feed) if candidate_feeds else feed))
        if spec.multi_person:
            keep = rs.mean(axis=1) >= 0.2
            rxy, rs = rxy[keep], rs[keep]
            if len(rxy) == 0:
                continue
            idx = _match(rxy, cxy)
            cxy, cs = cxy[idx], cs[idx]
        conf = rs > CONFIDENT
        coords.append(np.abs(rxy - cxy)[conf].max(axis=-1))
        scores.append(np.abs(rs - cs).ravel())
    if images == 0:
        raise ParityError("no check images were given")
    c = np.concatenate(coords) if coords else np.zeros(0)
    s = np.concatenate(scores) if scores else np.zeros(0)
    if c.size == 0:
        c = np.zeros(1)
    if s.size == 0:
        s = np.zeros(1)
    q = tolerance.quantile if tolerance.quantile < 1.0 else 0.95
    return Parity(
        max_coord=float(c.max()),
        max_score=float(s.max()),
        mean_coord=float(c.mean()),
        p95_coord=float(np.quantile(c, q)),
        p95_score=float(np.quantile(s, q)),
        images=images,
        tolerance=tolerance,
        far_share=float((c > tolerance.far).mean()) if tolerance.far is not None else 0.0,
    )


def require(parity: Parity, what: str) -> Parity:
    if not parity.ok():
        coord, score = parity.bounded()
        which = "max" if parity.tolerance.quantile >= 1.0 else f"q{parity.tolerance.quantile:g}"
        raise ParityError(
            f"{what} disagrees with its source: {which} keypoint difference {coord:.2e} "
            f"(allowed {parity.tolerance.coord:.0e}), {which} score difference {score:.2e} "
            f"(allowed {parity.tolerance.score:.0e}), {parity.far_share:.1%} of keypoints "
            f"farther than {parity.tolerance.far} (allowed {parity.tolerance.far_share:.0%}) "
            f"over {parity.images} images"
        )
    return parity
