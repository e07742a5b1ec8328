"""The Ray engine (``xpose.distributed``, ``xpose predict --engine ray``) against the local one.

Runs on a local Ray with 2 CPUs, started once for the module. Inputs are made in a temporary
folder from the real photos of ``tests/data`` and the shared COCO images: crops, flips and
resizes (small, so the module stays fast), and a short video of moving crops.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="the Ray engine needs ray: pip install 'xpose[ray]'")
pytest.importorskip("ray.data", reason="the Ray engine needs ray[data]: pip install 'xpose[ray]'")

import xpose
from tests.helpers import require_store
from xpose import store as _store
from xpose.cli import main
from xpose.distributed import (
    PoseActor,
    gather,
    materialize,
    plan_tasks,
    predict_dataset,
)
from xpose.errors import MissingExtraError
from xpose.output import build_record
from xpose.preprocess import to_rgb_uint8
from xpose.smoothing import PoseSmoother
from xpose.video import FrameSource, VideoWriter

MODEL, BACKEND, PRECISION = "movenet-lightning", "onnxruntime", "fp32"
DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "coco_val2017"
N_IMAGES = 60
VIDEO_FRAMES = 30

#: Coordinates are rounded to 0.01 px and scores to 1e-4 in records; allow one step of rounding
#: (the engines may run onnxruntime with different thread counts).
XY_TOL, SCORE_TOL = 0.0101, 1.01e-4


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store() -> Path:
    path = require_store(MODEL, PRECISION)
    return path.parents[1]


@pytest.fixture(scope="module")
def local_ray(store: Path) -> Iterator[None]:
    """A local Ray with 2 CPUs for the whole module."""
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        yield
    finally:
        ray.shutdown()


def _photos() -> list[np.ndarray]:
    paths = sorted(DATA.glob("*.png")) + sorted(SHARED.glob("*.jpg"))[:6]
    return [to_rgb_uint8(p) for p in paths]


def _variants(image: np.ndarray, n: int, seed: int) -> Iterator[np.ndarray]:
    """``n`` small crops, flips and resizes of ``image``."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    for i in range(n):
        ch, cw = int(h * rng.uniform(0.6, 1.0)), int(w * rng.uniform(0.6, 1.0))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = image[y : y + ch, x : x + cw]
        if i % 2:
            crop = crop[:, ::-1]
        long_side = int(rng.integers(96, 200))
        scale = long_side / max(crop.shape[:2])
        size = (max(8, round(crop.shape[1] * scale)), max(8, round(crop.shape[0] * scale)))
        yield cv2.resize(np.ascontiguousarray(crop), size, interpolation=cv2.INTER_AREA)


def _save(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok = cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not write {path}")


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder (with a subfolder) of N_IMAGES real-photo images, .jpg and .png."""
    root = tmp_path_factory.mktemp("collection")
    photos = _photos()
    per = -(-N_IMAGES // len(photos))
    count = 0
    for p, photo in enumerate(photos):
        for i, variant in enumerate(_variants(photo, per, seed=p)):
            if count == N_IMAGES:
                break
            folder = root / "sub" if i % 3 == 0 else root
            _save(folder / f"p{p}_{i:02d}.{'png' if i % 2 else 'jpg'}", variant)
            count += 1
    return root


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A VIDEO_FRAMES-frame MJPG video at 30 fps: a window moving over a real photo."""
    photo = to_rgb_uint8(DATA / "astronaut.png")
    path = tmp_path_factory.mktemp("video") / "walk.avi"
    with VideoWriter(path, fps=30.0) as out:
        for i in range(VIDEO_FRAMES):
            x = 4 * i
            out.write(np.ascontiguousarray(photo[40:360, x : x + 240]))
    return path


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _key(record: dict[str, Any]) -> tuple[str, int]:
    return (record["source"], record["frame"])


def _assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Same record up to XY_TOL / SCORE_TOL (keypoints, boxes, scores)."""
    meta = [k for k in want if k != "poses"]
    assert {k: got[k] for k in meta} == {k: want[k] for k in meta}
    assert len(got["poses"]) == len(want["poses"]), _key(want)
    for g, w in zip(got["poses"], want["poses"], strict=True):
        assert g["track_id"] == w["track_id"]
        assert abs(g["score"] - w["score"]) <= SCORE_TOL
        assert np.allclose(g["box"], w["box"], atol=XY_TOL, rtol=0), _key(want)
        for gk, wk in zip(g["keypoints"], w["keypoints"], strict=True):
            assert gk["name"] == wk["name"]
            assert abs(gk["x"] - wk["x"]) <= XY_TOL, (_key(want), gk, wk)
            assert abs(gk["y"] - wk["y"]) <= XY_TOL, (_key(want), gk, wk)
            assert abs(gk["score"] - wk["score"]) <= SCORE_TOL, (_key(want), gk, wk)


def _assert_same_records(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    keys = [_key(r) for r in got]
    assert len(keys) == len(set(keys)), "duplicated records"
    assert sorted(keys) == sorted(_key(r) for r in want)
    by_key = {_key(r): r for r in got}
    for record in want:
        _assert_same(by_key[_key(record)], record)


# --- no Ray cluster needed --------------------------------------------------------------------


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.delitem(sys.modules, "xpose.distributed", raising=False)
    with pytest.raises(MissingExtraError, match=r"pip install 'xpose\[ray\]'"):
        import xpose.distributed  # noqa: F401


def test_plan_tasks_cuts_videos_into_chunks(collection: Path, video: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.jpg"
    tasks = plan_tasks([collection, video, missing], batch_size=16, chunk_frames=12)
    images = [t for t in tasks if t["kind"] == "images"]
    assert sum(len(t["sources"]) for t in images) == N_IMAGES
    assert max(len(t["sources"]) for t in images) == 16
    chunks = [(t["start"], t["stop"]) for t in tasks if t["kind"] == "video"]
    assert chunks == [(0, 12), (12, 24), (24, -1)]  # the last reads to the end
    problems = [t for t in tasks if t["kind"] == "problem"]
    assert [t["sources"] for t in problems] == [[str(missing)]]
    whole = plan_tasks(video, chunk_frames=None)
    assert [(t["start"], t["stop"]) for t in whole] == [(0, -1)]
    with pytest.raises(ValueError, match="chunk_frames must be >= 1"):
        plan_tasks(video, chunk_frames=0)


def test_materialize_checks_the_sha256(tmp_path: Path) -> None:
    data = b"model bytes"
    import hashlib

    good = hashlib.sha256(data).hexdigest()
    assert materialize(data, "m.onnx", good, tmp_path).read_bytes() == data
    with pytest.raises(_store.ModelFileError, match="does not match the manifest"):
        materialize(data, "bad.onnx", "0" * 64, tmp_path)
    assert not (tmp_path / "bad.onnx").exists()


def test_cli_ray_options_need_the_ray_engine(
    collection: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", str(collection), "--actors", "2"]) == 2
    assert "--actors: only with --engine ray" in capsys.readouterr().err
    assert main(["predict", str(collection), "--engine", "ray", "--draw", "out"]) == 2
    assert "--draw is not supported with --engine ray" in capsys.readouterr().err


# --- on the local Ray -------------------------------------------------------------------------


@pytest.mark.convert
def test_cli_ray_engine_matches_the_local_engine(
    local_ray: None, store: Path, collection: Path, video: Path, tmp_path: Path
) -> None:
    common = ["predict", str(collection), str(video), "--store", str(store), "-q"]
    assert main([*common, "--out", str(tmp_path / "local.jsonl")]) == 0
    assert main([*common, "--engine", "ray", "--out", str(tmp_path / "ray.jsonl")]) == 0
    local, distributed = _jsonl(tmp_path / "local.jsonl"), _jsonl(tmp_path / "ray.jsonl")
    assert len(local) == N_IMAGES + VIDEO_FRAMES
    assert distributed == sorted(distributed, key=_key), "records not sorted by (source, frame)"
    # one chunk per video by default (30 < 300 frames): video mode as the local engine's
    _assert_same_records(distributed, local)


@pytest.mark.convert
def test_video_chunks_restart_video_mode(
    local_ray: None, store: Path, video: Path, tmp_path: Path
) -> None:
    chunk = 10
    ds = predict_dataset(
        [video], MODEL, BACKEND, PRECISION, store=store, chunk_frames=chunk, ship_model=True
    )
    records, errors = gather(ds)
    assert errors == []
    assert [r["frame"] for r in records] == list(range(VIDEO_FRAMES))
    # each chunk is what the local engine gives for that frame range on its own
    with FrameSource(video) as reader:
        frames = list(reader)
    with xpose.load(MODEL, BACKEND, PRECISION, store=store) as est:
        want = []
        for start in range(0, VIDEO_FRAMES, chunk):
            stream = est.stream(smoother=PoseSmoother(), fps=30.0)
            for index, t, frame in frames[start : start + chunk]:
                poses = stream.update(frame, t)
                want.append(
                    build_record(
                        poses,
                        source=str(video),
                        width=frame.shape[1],
                        height=frame.shape[0],
                        model=MODEL,
                        backend=BACKEND,
                        precision=PRECISION,
                        frame=index,
                        timestamp=t,
                    )
                )
    _assert_same_records(records, want)


@pytest.mark.convert
def test_corrupt_inputs_are_reported_and_the_run_goes_on(
    local_ray: None,
    store: Path,
    collection: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = sorted(collection.glob("*.jpg"))[:3]
    for path in good:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "empty.png").write_bytes(b"")
    (folder / "clip.avi").write_bytes(b"RIFF garbage")
    out = tmp_path / "out.jsonl"
    argv = ["predict", str(folder), str(folder / "clip.avi"), str(tmp_path / "missing.jpg")]
    status = main([*argv, "--store", str(store), "--engine", "ray", "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert status == 1
    assert len(_jsonl(out)) == len(good)
    for name in ("broken.jpg", "empty.png", "clip.avi", "missing.jpg"):
        assert name in err
    assert "ValueError: cannot read image" in err
    assert "4 input(s) failed" in err
    records, errors = gather(predict_dataset([folder / "broken.jpg"], store=store))
    assert records == []
    assert errors[0]["error"].startswith("ValueError: ")


@pytest.mark.convert
def test_an_actor_that_dies_mid_run_loses_and_duplicates_nothing(
    local_ray: None, store: Path, collection: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "kill-once"
    marker.touch()

    class DiesOnce(PoseActor):
        """Kills its own process on its second batch, once for the whole pool."""

        calls = 0

        def __call__(self, batch: dict[str, Any]) -> Any:
            self.calls += 1
            if self.calls == 2:
                try:
                    os.unlink(marker)  # only one actor wins this
                except FileNotFoundError:
                    pass
                else:
                    os._exit(1)
            return super().__call__(batch)

    kwargs: dict[str, Any] = {"store": store, "batch_size": 4}
    reference, _ = gather(predict_dataset([collection], **kwargs))
    records, errors = gather(predict_dataset([collection], actor_class=DiesOnce, **kwargs))
    assert not marker.exists(), "no actor died"
    assert errors == []
    assert len(records) == N_IMAGES
    _assert_same_records(records, reference)


@pytest.mark.convert
def test_a_dataset_of_images(local_ray: None, store: Path) -> None:
    photos = [np.ascontiguousarray(v) for v in _variants(_photos()[0], 5, seed=7)]
    items = [{"image": p, "source": f"mem{i}"} for i, p in enumerate(photos)]
    records, errors = gather(predict_dataset(ray.data.from_items(items), store=store))
    assert errors == []
    assert [r["source"] for r in records] == [f"mem{i}" for i in range(len(photos))]
    with xpose.load(MODEL, BACKEND, PRECISION, store=store) as est:
        want = [
            build_record(
                est.predict(p),
                source=f"mem{i}",
                width=p.shape[1],
                height=p.shape[0],
                model=MODEL,
                backend=BACKEND,
                precision=PRECISION,
            )
            for i, p in enumerate(photos)
        ]
    _assert_same_records(records, want)
