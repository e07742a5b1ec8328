"""Video-mode quality on clips with known motion: keypoint error and jitter, raw and smoothed.

Usage (from the project root, with the converted store in ``$XPOSE_HOME``)::

    python benchmarks/video_quality.py run --label new [--models M ...] [--set NAME=VALUE ...]
    python benchmarks/video_quality.py table

``run`` films the subjects (:mod:`benchmarks.clips`) along every camera path, runs each model
in video mode (:meth:`xpose.Estimator.track`) with smoothing off (raw) and on (smoothed), and
writes ``results/video_quality/<label>.json``. ``--set`` passes extra keyword arguments to
``track`` (values read as Python literals), so variants of the video mode are measured with
the same clips; only the keywords of ``track`` in the xpose being run are accepted, so the
same script measures an older xpose too (put it first on ``PYTHONPATH``).
``table`` gathers every ``<label>.json`` into ``results/video_quality.md``.

For multi-person models the pose nearest the true keypoints is scored in each frame. Nothing
here asserts anything: the figures go into the table.
"""

from __future__ import annotations

import argparse
import ast
import json
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # after PYTHONPATH, so an older xpose put there wins

import xpose
from benchmarks.clips import (
    PATHS,
    Clip,
    Subject,
    clip_metrics,
    coco_subject,
    make_clip,
    model_subject,
)
from xpose.bench import cpu_name, versions

RESULTS = ROOT / "benchmarks" / "results"
OUT_DIR = RESULTS / "video_quality"
DATA = ROOT.parent / "shared" / "data"
#: Unlabelled subjects: keypoints measured once by MoveNet Thunder fp32 on the whole photo.
MODEL_TRUTH = ROOT / "benchmarks" / "data" / "model_truth.json"
MODELS = ("movenet-lightning", "movenet-thunder", "movenet-multipose", "posenet")
#: What the two main labels of the table stand for.
LABELS = {
    "today": "xpose before the video-mode change (commit 0267073), its defaults",
    "new": "the defaults after that change, before camera motion (commit 2e78e4a; MultiPose "
    "then at the frame's aspect, crops by one INTER_AREA resize and a warp)",
    "still-camera": "the current defaults with camera_motion=False",
    "now": "the current defaults (camera motion followed)",
}
#: (COCO image id, person index by area) of the labelled subjects.
COCO_SUBJECTS = ((785, 0), (196141, 0), (197388, 0))


def subjects() -> list[Subject]:
    """The labelled COCO subjects, then the unlabelled ones with stored model truth."""
    coco = DATA / "coco_val2017"
    out = [
        coco_subject(coco / "person_keypoints.json", coco, image_id, index)
        for image_id, index in COCO_SUBJECTS
    ]
    truth = json.loads(MODEL_TRUTH.read_text(encoding="utf-8"))
    for name, entry in truth["subjects"].items():
        image = xpose.preprocess.to_rgb_uint8(ROOT / entry["image"])
        out.append(model_subject(name, image, entry["keypoints"], entry["scores"]))
    return out


def clips() -> list[Clip]:
    """Every camera path over every subject (a cut goes to the next subject)."""
    people = subjects()
    out = []
    for k, path in enumerate(PATHS):
        for i, who in enumerate(people):
            other = people[(i + 1) % len(people)]
            out.append(make_clip(path, who, other, seed=100 * k + i))
    return out


def _nearest(poses: Any, truth: np.ndarray, known: np.ndarray) -> int:
    """Index of the pose nearest the filmed person's true keypoints (``truth[0]``)."""
    if not known[0].any():
        return 0
    ok = known[0]
    dist = np.linalg.norm(poses.keypoints[:, ok] - truth[0][None, ok], axis=-1).mean(axis=1)
    return int(np.argmin(dist))


def run_clip(est: Any, clip: Clip, smooth: bool, options: dict[str, Any]) -> dict[str, Any]:
    """Track one clip; its metrics as a dict."""
    pred = np.zeros_like(clip.keypoints[0])
    found = np.zeros(len(clip.frames), bool)
    for index, poses in est.track(list(clip.frames), smooth=smooth, fps=clip.fps, **options):
        if len(poses):
            i = _nearest(poses, clip.keypoints[:, index], clip.known[:, index])
            pred[index] = poses.keypoints[i]
            found[index] = True
    m = clip_metrics(clip, pred, found)
    return {"error": m.error, "jitter": m.jitter, "missed": m.missed, "frames": m.frames}


def _options(items: list[str] | None) -> dict[str, Any]:
    """``--set NAME=VALUE`` arguments as keyword arguments (values are Python literals)."""
    options = {}
    for item in items or []:
        name, _, value = item.partition("=")
        options[name] = ast.literal_eval(value)
    return options


def run(args: argparse.Namespace) -> None:
    options = _options(args.set)
    all_clips = clips()
    result: dict[str, Any] = {
        "label": args.label,
        "options": {k: repr(v) for k, v in options.items()},
        "xpose": str(Path(xpose.__file__).resolve().parent),
        "cpu": cpu_name(),
        "versions": versions(),
        "models": {},
    }
    for model in args.models:
        with xpose.load(model, backend=args.backend, precision="fp32", threads=2) as est:
            rows = {}
            start = time.perf_counter()
            for smooth in (False, True):
                for clip in all_clips:
                    rows[f"{'smoothed' if smooth else 'raw'}:{clip.name}"] = run_clip(
                        est, clip, smooth, options
                    )
            result["models"][model] = rows
            print(f"{model}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"{args.label}.json"
    if out.exists():  # add these models to an earlier run of the same label
        earlier = json.loads(out.read_text(encoding="utf-8"))
        result["models"] = {**earlier["models"], **result["models"]}
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out)
    print(out)


def summarize(rows: dict[str, dict[str, Any]], kind: str, path: str | None = None) -> dict:
    """Mean error, jitter and missed frames of one kind (raw/smoothed) over clips."""
    picked = [
        r
        for name, r in rows.items()
        if name.startswith(kind + ":")
        and (path is None or name.split(":", 1)[1].startswith(path + "/"))
    ]
    return {
        "error": float(np.nanmean([r["error"] for r in picked])),
        "jitter": float(np.nanmean([r["jitter"] for r in picked])),
        "missed": int(sum(r["missed"] for r in picked)),
    }


def table(args: argparse.Namespace) -> None:
    files = sorted(OUT_DIR.glob("*.json"))
    results = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    order = list(LABELS)  # the main labels first, in their order, then the variants
    results.sort(key=lambda r: order.index(r["label"]) if r["label"] in order else len(order))
    lines = [
        "# Video quality on clips with known motion",
        "",
        "Written by `python benchmarks/video_quality.py table` from "
        "`results/video_quality/*.json` (`... run --label L`). Mean keypoint error (px, "
        "640x480 frames) and jitter (px/frame^2, mean second difference of the error); "
        "`missed`: frames without a pose, out of "
        f"{len(PATHS)} paths x subjects x 60 frames. fp32 on onnxruntime, 2 threads.",
        "",
    ]
    for res in results:
        opts = ", ".join(f"{k}={v}" for k, v in res["options"].items()) or "defaults"
        opts = LABELS.get(res["label"], opts)
        lines.append(f"- `{res['label']}`: {opts} ({res['cpu']})")
    lines += [
        "",
        "| model | label | raw error | raw jitter | smoothed error | smoothed jitter | missed |",
        "|---|---|---|---|---|---|---|",
    ]
    models = sorted({m for r in results for m in r["models"]}, key=MODELS.index)
    for model in models:
        for res in results:
            rows = res["models"].get(model)
            if rows is None:
                continue
            raw, smo = summarize(rows, "raw"), summarize(rows, "smoothed")
            lines.append(
                f"| {model} | {res['label']} | {raw['error']:.2f} | {raw['jitter']:.2f} | "
                f"{smo['error']:.2f} | {smo['jitter']:.2f} | {raw['missed']} / {smo['missed']} |"
            )
    lines += ["", "Per camera path (error / jitter, raw then smoothed):", ""]
    lines += ["| model | label | " + " | ".join(PATHS) + " |", "|---|---|" + "---|" * len(PATHS)]
    for model in models:
        for res in results:
            rows = res["models"].get(model)
            if rows is None:
                continue
            cells = []
            for path in PATHS:
                r, s = summarize(rows, "raw", path), summarize(rows, "smoothed", path)
                cells.append(
                    f"{r['error']:.1f}/{r['jitter']:.2f} -> {s['error']:.1f}/{s['jitter']:.2f}"
                )
            lines.append(f"| {model} | {res['label']} | " + " | ".join(cells) + " |")
    out = RESULTS / "video_quality.md"
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(out)
    print(out)


def tune(args: argparse.Namespace) -> None:
    """Record raw keypoints once per clip, then score smoother settings on them offline.

    The crop regions come from the raw keypoints here (smoothing is applied afterwards), so
    the figures approximate the full loop, where the next crop follows smoothed keypoints.
    """
    import itertools

    from xpose.results import Poses
    from xpose.smoothing import PoseSmoother

    options = _options(args.set)
    all_clips = clips()
    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.exists():
        recorded = pickle.loads(cache.read_bytes())
    else:
        with xpose.load(args.models[0], precision="fp32", threads=2) as est:
            recorded = []
            for clip in all_clips:
                frames = []
                for index, poses in est.track(
                    list(clip.frames), smooth=False, fps=clip.fps, **options
                ):
                    i = (
                        _nearest(poses, clip.keypoints[:, index], clip.known[:, index])
                        if poses
                        else -1
                    )
                    frames.append(poses[i : i + 1] if i >= 0 else Poses.empty())
                recorded.append(frames)
        if cache is not None:
            cache.write_bytes(pickle.dumps(recorded))
    grid = itertools.product(args.min_cutoff, args.beta, args.d_cutoff, args.speed, args.units)
    print("min_cutoff beta d_cutoff speed units | error jitter (raw error jitter)")
    raw = [clip_metrics(c, _stack(f), [len(p) > 0 for p in f]) for c, f in zip(all_clips, recorded)]
    raw_e = np.nanmean([m.error for m in raw])
    raw_j = np.nanmean([m.jitter for m in raw])
    for mc, beta, dc, speed, units in grid:
        metrics = []
        for clip, frames in zip(all_clips, recorded):
            smoother = PoseSmoother(mc, beta, dc, units=units, speed=speed)
            out = []
            for k, poses in enumerate(frames):
                if len(poses):
                    out.append(smoother(poses, k / clip.fps, clip.frames.shape[1:3]))
                else:
                    smoother.reset()
                    out.append(poses)
            metrics.append(clip_metrics(clip, _stack(out), [len(p) > 0 for p in out]))
        err = np.nanmean([m.error for m in metrics])
        jit = np.nanmean([m.jitter for m in metrics])
        print(f"{mc} {beta} {dc} {speed} {units} | {err:.2f} {jit:.2f} ({raw_e:.2f} {raw_j:.2f})")


def _stack(frames: list[Any]) -> np.ndarray:
    return np.stack(
        [p.keypoints[0] if len(p) else np.zeros((17, 2), np.float32) for p in frames]
    ).astype(np.float64)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="measure the clips with the installed xpose")
    p_run.add_argument("--label", required=True, help="name of this run in the table")
    p_run.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p_run.add_argument("--backend", default="onnxruntime")
    p_run.add_argument("--set", action="append", metavar="NAME=VALUE", help="track() keyword")
    p_run.set_defaults(func=run)
    p_tune = sub.add_parser("tune", help="score smoother settings offline (first model)")
    p_tune.add_argument("--models", nargs="+", default=["movenet-lightning"], choices=MODELS)
    p_tune.add_argument("--min-cutoff", nargs="+", type=float, default=[1.0])
    p_tune.add_argument("--beta", nargs="+", type=float, default=[50.0])
    p_tune.add_argument("--d-cutoff", nargs="+", type=float, default=[1.0])
    p_tune.add_argument("--speed", nargs="+", default=["raw"])
    p_tune.add_argument("--units", nargs="+", default=["image"])
    p_tune.add_argument("--set", action="append", metavar="NAME=VALUE", help="track() keyword")
    p_tune.add_argument("--cache", help="pickle file keeping the recorded keypoints")
    p_tune.set_defaults(func=tune)
    p_table = sub.add_parser("table", help="write results/video_quality.md")
    p_table.set_defaults(func=table)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
