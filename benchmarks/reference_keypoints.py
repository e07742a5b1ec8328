"""Record every model's keypoints on the shared photos, as a reference for later pipelines.

``tests/test_preprocess_reference.py`` holds the current pipeline to within 1% of the figures
this wrote at commit 0267073 (the two-pass letterbox: ``INTER_AREA`` to a near size, then a
bilinear ``warpAffine``), so a faster pre-processing cannot move the keypoints unseen.

Run from the project root, with a converted store::

    XPOSE_HOME=/path/to/store python -m benchmarks.reference_keypoints tests/data/reference_keypoints.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import xpose
from xpose.store import atomic_path

from .common import SHARED_DATA

BACKENDS = ("onnxruntime", "tflite")
SUFFIXES = (".jpg", ".jpeg", ".png")


def photos() -> list[Path]:
    """The shared photos, sorted by their path relative to the data folder."""
    return sorted(p for p in SHARED_DATA.rglob("*") if p.suffix.lower() in SUFFIXES)


def record() -> dict:
    """``{model: {backend: {photo: {"keypoints": [[x, y], ...], "scores": [...]}}}}``."""
    out: dict = {}
    for model in xpose.list_models():
        for backend in BACKENDS:
            with xpose.load(model, backend=backend, threads=1) as est:
                rows = {}
                for photo in photos():
                    poses = est.predict(photo)
                    rows[str(photo.relative_to(SHARED_DATA))] = {
                        "keypoints": [
                            [round(float(v), 2) for v in xy]
                            for xy in poses.keypoints.reshape(-1, 2)
                        ],
                        "scores": [round(float(s), 4) for s in poses.scores.ravel()],
                    }
                out.setdefault(model, {})[backend] = rows
    return out


def main(argv: list[str]) -> int:
    dst = Path(argv[0] if argv else "tests/data/reference_keypoints.json")
    data = record()
    with atomic_path(dst) as tmp:
        tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    print(f"wrote {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
