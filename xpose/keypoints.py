"""The 17 COCO keypoints, their names and the skeleton edges between them."""

from __future__ import annotations

from enum import IntEnum


class Keypoint(IntEnum):
    """COCO's 17 body keypoints, in the order every model here outputs them."""

    NOSE = 0
    LEFT_EYE = 1
    RIGHT_EYE = 2
    LEFT_EAR = 3
    RIGHT_EAR = 4
    LEFT_SHOULDER = 5
    RIGHT_SHOULDER = 6
    LEFT_ELBOW = 7
    RIGHT_ELBOW = 8
    LEFT_WRIST = 9
    RIGHT_WRIST = 10
    LEFT_HIP = 11
    RIGHT_HIP = 12
    LEFT_KNEE = 13
    RIGHT_KNEE = 14
    LEFT_ANKLE = 15
    RIGHT_ANKLE = 16


NUM_KEYPOINTS = len(Keypoint)

#: Lower-case names, index-aligned with :class:`Keypoint`.
KEYPOINT_NAMES: tuple[str, ...] = tuple(k.name.lower() for k in Keypoint)

K = Keypoint
#: 0-based skeleton edges (pairs of keypoint indices) for drawing.
SKELETON: tuple[tuple[int, int], ...] = (
    (K.NOSE, K.LEFT_EYE),
    (K.NOSE, K.RIGHT_EYE),
    (K.LEFT_EYE, K.LEFT_EAR),
    (K.RIGHT_EYE, K.RIGHT_EAR),
    (K.LEFT_SHOULDER, K.RIGHT_SHOULDER),
    (K.LEFT_SHOULDER, K.LEFT_ELBOW),
    (K.LEFT_ELBOW, K.LEFT_WRIST),
    (K.RIGHT_SHOULDER, K.RIGHT_ELBOW),
    (K.RIGHT_ELBOW, K.RIGHT_WRIST),
    (K.LEFT_SHOULDER, K.LEFT_HIP),
    (K.RIGHT_SHOULDER, K.RIGHT_HIP),
    (K.LEFT_HIP, K.RIGHT_HIP),
    (K.LEFT_HIP, K.LEFT_KNEE),
    (K.LEFT_KNEE, K.LEFT_ANKLE),
    (K.RIGHT_HIP, K.RIGHT_KNEE),
    (K.RIGHT_KNEE, K.RIGHT_ANKLE),
)
SKELETON = tuple((int(a), int(b)) for a, b in SKELETON)
del K
