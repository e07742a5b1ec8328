"""Synthetic video clips with known keypoints: still photos filmed by a known camera path.

A *subject* is one person in one photo with known keypoints: the COCO labels of a labelled
person, or, for an unlabelled photo, the confident keypoints of a reference model run on the
untransformed photo. A *camera path* gives, for every frame, the affine map from photo pixels
to frame pixels (a scale and the photo point at the frame's centre). Rendering a frame warps the
photo with that map and adds sensor noise; the true keypoints of the frame are the subject's
keypoints moved by the same map. So every frame has exact ground truth, whatever the motion.

The paths (all 60 frames at 30 fps, a 640x480 frame, the subject's box about half the frame's
height):

* ``still``: a fixed camera; only the sensor noise changes from frame to frame.
* ``pan``: the subject crosses the frame from 30 % to 70 % of its width (about 130 px/s).
* ``zoom``: the camera zooms in to 1.6x and back out, on the subject.
* ``shake``: a hand-held camera: the view jumps by a random 4 px (standard deviation) per frame.
* ``cut``: half the clip on one subject at the left, then a hard cut to another subject at the
  right (the keypoints of the first frames after the cut measure how fast tracking recovers).

:func:`clip_metrics` turns predicted keypoints into the figures the benchmark reports: the mean
error in frame pixels and the jitter, the mean size of the second difference (px/frame^2) of
the error over time, so steady motion that is followed costs nothing and frame-to-frame
wobble counts fully.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from xpose.keypoints import NUM_KEYPOINTS
from xpose.preprocess import to_rgb_uint8

__all__ = [
    "FRAME_HW",
    "PATHS",
    "Clip",
    "ClipMetrics",
    "Subject",
    "clip_metrics",
    "coco_subject",
    "make_clip",
    "model_subject",
]

#: Frame size ``(height, width)`` of every clip.
FRAME_HW = (480, 640)
#: Frames per clip and frame rate.
FRAMES = 60
FPS = 30.0
#: The camera paths :func:`make_clip` knows.
PATHS = ("still", "pan", "zoom", "shake", "cut")
#: Standard deviation of the sensor noise added to every frame (grey levels).
NOISE = 3.0
#: Height of the subject's box as a share of the frame's height (before zooming).
SUBJECT_SHARE = 0.5
#: Grey level of frame areas outside the photo.
BACKGROUND = 114


@dataclass(frozen=True)
class Subject:
    """One person in one photo with known keypoints, and the other known people in it.

    The camera follows the first person. A single-pose model may follow another person of the
    photo, which is not an error, so each shot is scored against the known person nearest the
    predictions (:func:`clip_metrics`).

    Attributes:
        name: a short label for tables.
        image: ``(H, W, 3)`` uint8 RGB photo.
        keypoints: ``(P, 17, 2)`` float64 x, y in photo pixels, the filmed person first.
        known: ``(P, 17)`` bool, which keypoints are known (labelled or confident).
    """

    name: str
    image: npt.NDArray[np.uint8]
    keypoints: npt.NDArray[np.float64]
    known: npt.NDArray[np.bool_]

    @property
    def box(self) -> tuple[float, float, float, float]:
        """``(x1, y1, x2, y2)`` of the filmed person's known keypoints, in photo pixels."""
        pts = self.keypoints[0][self.known[0]]
        x1, y1 = pts.min(axis=0)
        x2, y2 = pts.max(axis=0)
        return float(x1), float(y1), float(x2), float(y2)


def coco_subject(
    annotations: str | Path, image_dir: str | Path, image_id: int, index: int = 0
) -> Subject:
    """The ``index``-th labelled person (largest first) of a COCO image, with the others."""
    data = json.loads(Path(annotations).read_text(encoding="utf-8"))
    image = next(i for i in data["images"] if i["id"] == image_id)
    people = [
        a for a in data["annotations"] if a["image_id"] == image_id and a["num_keypoints"] > 0
    ]
    people.sort(key=lambda a: -float(a["area"]))
    people.insert(0, people.pop(index))
    kps = np.stack(
        [np.asarray(a["keypoints"], np.float64).reshape(NUM_KEYPOINTS, 3) for a in people]
    )
    rgb = to_rgb_uint8(Path(image_dir) / image["file_name"])
    return Subject(f"coco{image_id}", rgb, kps[..., :2].copy(), kps[..., 2] > 0)


def model_subject(
    name: str, image: npt.NDArray[np.uint8], keypoints: npt.ArrayLike, scores: npt.ArrayLike
) -> Subject:
    """A subject whose truth is a reference model's keypoints scoring above 0.3."""
    kp = np.asarray(keypoints, np.float64).reshape(NUM_KEYPOINTS, 2)
    sc = np.asarray(scores, np.float64).reshape(NUM_KEYPOINTS)
    return Subject(name, image, kp[None], (sc > 0.3)[None])


@dataclass(frozen=True)
class Clip:
    """A rendered clip.

    Attributes:
        name: ``"<path>/<subject>"``.
        frames: ``(T, H, W, 3)`` uint8 RGB frames.
        keypoints: ``(P, T, 17, 2)`` float64 true x, y in frame pixels of up to P people
            (shots with fewer people pad with unknown keypoints); the filmed person first.
        known: ``(P, T, 17)`` bool: known and inside the frame.
        segments: ``(T,)`` int, which shot each frame belongs to (changes at a cut).
        fps: frame rate.
    """

    name: str
    frames: npt.NDArray[np.uint8]
    keypoints: npt.NDArray[np.float64]
    known: npt.NDArray[np.bool_]
    segments: npt.NDArray[np.int64]
    fps: float = FPS


def _camera(subject: Subject, share: float = SUBJECT_SHARE) -> tuple[float, float, float]:
    """Base scale and the subject's centre ``(scale, cx, cy)`` in photo pixels."""
    x1, y1, x2, y2 = subject.box
    height = max(y2 - y1, 0.5 * (x2 - x1), 1.0)
    scale = share * FRAME_HW[0] / (height * 1.15)
    return scale, (x1 + x2) / 2.0, (y1 + y2) / 2.0


def _render(
    subject: Subject,
    scale: float,
    anchor_xy: tuple[float, float],
    frame_xy: tuple[float, float],
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Warp the photo so that photo point ``anchor_xy`` lands on frame point ``frame_xy``."""
    h, w = FRAME_HW
    ax, ay = anchor_xy
    fx, fy = frame_xy
    tx, ty = fx - scale * ax, fy - scale * ay
    # OpenCV maps pixel centres; continuous coordinates put pixel i's centre at i + 0.5.
    matrix = np.array(
        [[scale, 0.0, tx + 0.5 * scale - 0.5], [0.0, scale, ty + 0.5 * scale - 0.5]], np.float64
    )
    frame = cv2.warpAffine(
        subject.image,
        matrix,
        (w, h),
        flags=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(BACKGROUND,) * 3,
    ).astype(np.float32)
    frame += rng.normal(0.0, NOISE, frame.shape).astype(np.float32)
    kp = subject.keypoints * scale + np.array([tx, ty])
    inside = (kp[..., 0] >= 0) & (kp[..., 0] < w) & (kp[..., 1] >= 0) & (kp[..., 1] < h)
    return np.clip(frame, 0, 255).astype(np.uint8), kp, subject.known & inside


def make_clip(path: str, subject: Subject, other: Subject | None = None, seed: int = 0) -> Clip:
    """Film ``subject`` along camera path ``path`` (one of :data:`PATHS`).

    Args:
        path: the camera path.
        subject: the person filmed.
        other: the person after the cut (``path="cut"`` only).
        seed: seeds the noise and the shake.
    """
    if path not in PATHS:
        raise ValueError(f"unknown camera path {path!r}; expected one of {PATHS}")
    if path == "cut" and other is None:
        raise ValueError("a cut needs a second subject (other=...)")
    rng = np.random.default_rng(seed)
    h, w = FRAME_HW
    t = np.arange(FRAMES, dtype=np.float64) / (FRAMES - 1)
    centre = (w / 2.0, h / 2.0)
    frames, kps, known, segments = [], [], [], []
    shake = rng.normal(0.0, 4.0, (FRAMES, 2))
    for i in range(FRAMES):
        who, segment = subject, 0
        if path == "cut" and i >= FRAMES // 2:
            who, segment = other, 1  # type: ignore[assignment]
        scale, cx, cy = _camera(who)
        frame_xy = centre
        if path == "pan":
            frame_xy = (w * (0.3 + 0.4 * t[i]), h / 2.0)
        elif path == "zoom":
            scale *= 1.0 + 0.3 * (1.0 - np.cos(2.0 * np.pi * t[i]))
        elif path == "shake":
            frame_xy = (w / 2.0 + shake[i, 0], h / 2.0 + shake[i, 1])
        elif path == "cut":
            frame_xy = (w * (0.35 if segment == 0 else 0.65), h / 2.0)
        frame, kp, ok = _render(who, scale, (cx, cy), frame_xy, rng)
        frames.append(frame)
        kps.append(kp)
        known.append(ok)
        segments.append(segment)
    people = max(len(k) for k in kps)
    truth = np.zeros((people, FRAMES, NUM_KEYPOINTS, 2))
    seen = np.zeros((people, FRAMES, NUM_KEYPOINTS), bool)
    for i, (k, ok) in enumerate(zip(kps, known, strict=True)):
        truth[: len(k), i] = k
        seen[: len(k), i] = ok
    return Clip(
        f"{path}/{subject.name}", np.stack(frames), truth, seen, np.asarray(segments, np.int64)
    )


@dataclass(frozen=True)
class ClipMetrics:
    """Error and jitter of predicted keypoints against a clip's truth.

    Attributes:
        error: mean distance in frame pixels over known keypoints of frames with a pose.
        jitter: mean length of the error's second difference over three consecutive frames
            of one shot that all have a pose and the keypoint known (px/frame^2).
        missed: frames without a pose.
        frames: frames in the clip.
    """

    error: float
    jitter: float
    missed: int
    frames: int


def clip_metrics(
    clip: Clip, predicted: npt.ArrayLike, found: Sequence[bool] | npt.ArrayLike
) -> ClipMetrics:
    """Score predicted keypoints ``(T, 17, 2)`` against the clip; ``found[t]``: a pose in frame t.

    Each shot is scored against the known person nearest the predictions over that shot.
    """
    pred = np.asarray(predicted, np.float64)
    has = np.asarray(found, bool)
    if pred.shape != clip.keypoints.shape[1:] or has.shape != (len(clip.frames),):
        raise ValueError(
            f"expected predictions {clip.keypoints.shape[1:]} and found ({len(clip.frames)},), "
            f"got {pred.shape} and {has.shape}"
        )
    truth = np.zeros_like(pred)
    known = np.zeros(pred.shape[:2], bool)
    for shot in np.unique(clip.segments):
        frames = clip.segments == shot
        best, best_err = 0, np.inf
        for person in range(len(clip.keypoints)):
            ok = clip.known[person, frames] & has[frames, None]
            if ok.sum() < NUM_KEYPOINTS:  # fewer than one pose's worth of known keypoints
                continue
            dist = np.linalg.norm(pred[frames] - clip.keypoints[person, frames], axis=-1)
            if dist[ok].mean() < best_err:
                best, best_err = person, float(dist[ok].mean())
        truth[frames] = clip.keypoints[best, frames]
        known[frames] = clip.known[best, frames]
    err = pred - truth
    valid = known & has[:, None]
    dist = np.linalg.norm(err, axis=-1)
    error = float(dist[valid].mean()) if valid.any() else float("nan")
    same = (clip.segments[2:] == clip.segments[1:-1]) & (clip.segments[1:-1] == clip.segments[:-2])
    ok = valid[2:] & valid[1:-1] & valid[:-2] & same[:, None]
    second = np.linalg.norm(err[2:] - 2.0 * err[1:-1] + err[:-2], axis=-1)
    jitter = float(second[ok].mean()) if ok.any() else float("nan")
    return ClipMetrics(error, jitter, int((~has).sum()), len(has))
