"""Track-ID stability and people found on the real street video (MultiPose, PoseNet multi-pose).

Usage (from the project root, with the converted store in ``$XPOSE_HOME``)::

    python benchmarks/video_tracks.py [--video PATH] [--set NAME=VALUE ...]
        [--track-set NAME=VALUE ...] [--label L]

``--set`` passes options to ``xpose.load``, ``--track-set`` to ``Estimator.track`` (e.g.
``--track-set camera_motion=False``).

The video (``../shared/data/openpose_media/video.avi``: 205 frames, 1280x720 at 50 fps, people
walking, a pair dancing, a hand-held camera) has no labels, so stability is measured from the
tracks themselves:

* ``people/frame``: mean number of poses per frame;
* ``ids``: track ids handed out (fewer is better for the same people found);
* ``short``: tracks that live fewer than 10 frames (flicker, or a broken track);
* ``lost and found``: a track that ends, then within 25 frames a new id starts within one box
  width of where it ended (a person whose identity was lost and given a new id);
* ``switches``: frames where two live tracks' positions swap so that each is nearer the other's
  previous position than its own (identity exchanged between two people).

Results go to ``results/video_tracks.md`` (one row per run, appended under its label).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

import xpose
from benchmarks.video_quality import _options
from xpose.bench import cpu_name

VIDEO = ROOT.parent / "shared" / "data" / "openpose_media" / "video.avi"
OUT = ROOT / "benchmarks" / "results" / "video_tracks.md"
SHORT = 10
GAP = 25


def track_stats(frames: list[Any]) -> dict[str, float]:
    """Stability figures of ``frames``, the :class:`~xpose.Poses` of each frame in order."""
    spans: dict[int, list[int]] = {}
    centres: dict[int, dict[int, np.ndarray]] = {}
    widths: dict[int, float] = {}
    switches = 0
    for k, poses in enumerate(frames):
        live = {}
        for i, tid in enumerate(poses.track_ids.tolist()):
            box = poses.boxes[i]
            centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
            spans.setdefault(tid, []).append(k)
            centres.setdefault(tid, {})[k] = centre
            widths[tid] = float(box[2] - box[0])
            live[tid] = centre
        ids = [t for t in live if k - 1 in centres.get(t, {})]
        for a_i, a in enumerate(ids):
            for b in ids[a_i + 1 :]:
                pa, pb = centres[a][k - 1], centres[b][k - 1]
                ca, cb = live[a], live[b]
                own = np.linalg.norm(ca - pa) + np.linalg.norm(cb - pb)
                swapped = np.linalg.norm(ca - pb) + np.linalg.norm(cb - pa)
                if swapped < 0.5 * own:
                    switches += 1
    lost_found = 0
    ends = {t: (max(f), centres[t][max(f)]) for t, f in spans.items()}
    starts = {t: (min(f), centres[t][min(f)]) for t, f in spans.items()}
    for t, (end, where) in ends.items():
        for u, (start, there) in starts.items():
            near = np.linalg.norm(there - where) <= max(widths[t], 1.0)
            if u != t and 0 < start - end <= GAP and near:
                lost_found += 1
                break
    return {
        "people/frame": float(np.mean([len(p) for p in frames])),
        "ids": float(len(spans)),
        "short": float(sum(1 for f in spans.values() if len(f) < SHORT)),
        "lost and found": float(lost_found),
        "switches": float(switches),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--video", default=str(VIDEO))
    parser.add_argument("--models", nargs="+", default=["movenet-multipose", "posenet"])
    parser.add_argument("--label", default="default")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE", help="load() option")
    parser.add_argument("--track-set", action="append", metavar="NAME=VALUE", help="track() option")
    parser.add_argument("--tracker", default="iou")
    args = parser.parse_args(argv)
    options = _options(args.set)
    track_options = _options(args.track_set)
    rows = []
    for model in args.models:
        opts = dict(options)
        if model == "posenet":
            opts["multi_pose"] = True
        opts = {k: v for k, v in opts.items() if k in xpose.estimator.model_options(model)}
        with xpose.load(model, precision="fp32", threads=2, **opts) as est:
            frames = [p for _, p in est.track(args.video, tracker=args.tracker, **track_options)]
        stats = track_stats(frames)
        shown = ", ".join(f"{k}={v}" for k, v in {**opts, **track_options}.items()) or "defaults"
        rows.append(
            f"| {model} | {args.label} | {shown}, tracker={args.tracker} | "
            + " | ".join(
                f"{v:.2f}" if k == "people/frame" else f"{v:.0f}" for k, v in stats.items()
            )
            + " |"
        )
        print(rows[-1])
    header = [
        "# Track-ID stability on the street video",
        "",
        f"`python benchmarks/video_tracks.py` on `{Path(args.video).name}` ({cpu_name()}); "
        "see the script's docstring for the measures.",
        "",
        "| model | label | options | people/frame | ids | short | lost and found | switches |",
        "|---|---|---|---|---|---|---|---|",
    ]
    old = OUT.read_text(encoding="utf-8").splitlines()[len(header) :] if OUT.exists() else []
    tmp = OUT.with_suffix(".md.tmp")
    tmp.write_text("\n".join(header + old + rows) + "\n", encoding="utf-8")
    tmp.replace(OUT)


if __name__ == "__main__":
    main()
