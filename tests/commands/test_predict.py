"""Tests of ``xpose predict`` (run in-process through :func:`xpose.cli.main`, once as a script).

Inputs are built from real photos: ``tests/data`` (always present) and the COCO val2017 photos
of ``../shared/data`` (tests needing those skip when it is absent). Videos are written in
``tmp_path`` with ``cv2.VideoWriter``. Tests that run a model need the converted files in the
model store (``$XPOSE_HOME``) and skip with "run `xpose convert` first" otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.cli_fakes import install
from tests.helpers import (
    COCO_DIR,
    DATA,
    require_coco,
    require_store,
    rgb,
    write_video,
)
from xpose import store as xstore
from xpose.cli import main
from xpose.estimator import Estimator, PoseStream
from xpose.keypoints import KEYPOINT_NAMES
from xpose.output import KEYPOINT_FIELDS, POSE_FIELDS, RECORD_FIELDS, SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """``xpose predict`` runs a fake Lightning (a real Estimator on a fake backend), so the
    crash-safety tests run on a fresh clone, without a converted store."""
    install(monkeypatch)


# --- the documented schema, checked by hand ---------------------------------------------------

_JSON_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "array": list,
    "null": type(None),
}


def _is(value: Any, types: tuple[str, ...]) -> bool:
    if isinstance(value, bool):
        return False
    return any(isinstance(value, _JSON_TYPES[t]) for t in types)


def check_record(rec: dict[str, Any]) -> None:
    """Assert ``rec`` follows ``docs/output-schema.md``."""
    assert set(rec) == set(RECORD_FIELDS), sorted(rec)
    for name, types in RECORD_FIELDS.items():
        assert _is(rec[name], types), (name, rec[name])
    assert rec["schema"] == SCHEMA_VERSION
    assert rec["frame"] >= 0 and rec["width"] > 0 and rec["height"] > 0
    for person in rec["poses"]:
        assert set(person) == set(POSE_FIELDS), sorted(person)
        for name, types in POSE_FIELDS.items():
            assert _is(person[name], types), (name, person[name])
        assert len(person["box"]) == 4 and all(_is(v, ("number", "null")) for v in person["box"])
        assert 0.0 <= person["score"] <= 1.0
        assert person["track_id"] is None or person["track_id"] >= 0
        assert [k["name"] for k in person["keypoints"]] == list(KEYPOINT_NAMES)
        for kp in person["keypoints"]:
            assert set(kp) == set(KEYPOINT_FIELDS)
            for name, types in KEYPOINT_FIELDS.items():
                assert _is(kp[name], types), (name, kp[name])
            assert 0.0 <= kp["score"] <= 1.0


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    assert text == "" or text.endswith("\n"), "the last line is complete"
    records = [json.loads(line) for line in text.splitlines()]
    for rec in records:
        check_record(rec)
    return records


def test_schema_is_documented() -> None:
    doc = (ROOT / "docs" / "output-schema.md").read_text()
    for name in (*RECORD_FIELDS, *POSE_FIELDS, *KEYPOINT_FIELDS):
        assert f"`{name}`" in doc, name
    schema = json.loads((ROOT / "xpose" / "data" / "record.schema.json").read_text())
    assert set(schema["required"]) == set(RECORD_FIELDS)
    person = schema["properties"]["poses"]["items"]
    assert set(person["required"]) == set(POSE_FIELDS)
    assert set(person["properties"]["keypoints"]["items"]["required"]) == set(KEYPOINT_FIELDS)


# --- inputs -----------------------------------------------------------------------------------


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder of real photos, one in a sub-folder (folders are read recursively)."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(DATA / "astronaut.png", folder / "astronaut.png")
    shutil.copy(DATA / "camera.png", folder / "sub" / "camera.png")
    for photo in sorted(COCO_DIR.glob("*.jpg"))[:2]:
        shutil.copy(photo, folder / photo.name)
    (folder / "notes.txt").write_text("not an image")
    return folder


def _moving_clip(tmp_path: Path, n: int = 20, suffix: str = ".mp4") -> Path:
    """``n`` frames (160x128) of the astronaut, the crop sliding 4 px right per frame."""
    photo = rgb(DATA / "astronaut.png")
    frames = [
        np.ascontiguousarray(photo[40:296:2, 40 + 4 * i : 40 + 4 * i + 320 : 2]) for i in range(n)
    ]
    return write_video(tmp_path / f"clip{suffix}", frames)


# Two people crossing: the astronaut walks right along the top, the cameraman left along the
# bottom; their boxes overlap in the middle frames.
_CROSS_N, _CROSS_H, _CROSS_W, _CROSS_S = 24, 320, 512, 176
_CROSS_ROWS = (10, 140)


def _cross_x(i: int) -> tuple[int, int]:
    span = _CROSS_W - _CROSS_S - 8
    return 4 + round(span * i / (_CROSS_N - 1)), _CROSS_W - _CROSS_S - 4 - round(
        span * i / (_CROSS_N - 1)
    )


@pytest.fixture(scope="module")
def crossing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    size = (_CROSS_S, _CROSS_S)
    people = [
        cv2.resize(rgb(DATA / name), size, interpolation=cv2.INTER_AREA)
        for name in ("astronaut.png", "camera.png")
    ]
    frames = []
    for i in range(_CROSS_N):
        frame = np.full((_CROSS_H, _CROSS_W, 3), 128, np.uint8)
        for person, x, y in zip(people, _cross_x(i), _CROSS_ROWS, strict=True):
            frame[y : y + _CROSS_S, x : x + _CROSS_S] = person
        frames.append(frame)
    return write_video(tmp_path_factory.mktemp("cross") / "crossing.mp4", frames)


# --- images -----------------------------------------------------------------------------------


@pytest.mark.convert
def test_folder_to_jsonl(photos: Path, tmp_path: Path) -> None:
    require_store()
    out = tmp_path / "out" / "poses.jsonl"
    assert main(["predict", str(photos), "--out", str(out), "-q"]) == 0
    records = read_jsonl(out)
    names = sorted(str(p) for p in photos.rglob("*") if p.suffix in (".png", ".jpg"))
    assert [r["source"] for r in records] == names, "recursive, sorted, non-images left out"
    for rec in records:
        assert rec["frame"] == 0 and rec["timestamp"] is None
        assert (rec["model"], rec["backend"], rec["precision"]) == (
            "movenet-lightning",
            "onnxruntime",
            "fp32",
        )
        h, w = cv2.imread(rec["source"]).shape[:2]
        assert (rec["width"], rec["height"]) == (w, h)
        assert len(rec["poses"]) == 1 and rec["poses"][0]["track_id"] is None
    assert not [p for p in out.parent.iterdir() if p.name != out.name], "no temporary left"


@pytest.mark.convert
def test_summary_without_out(capsys: pytest.CaptureFixture[str]) -> None:
    require_store()
    assert main(["predict", str(DATA / "astronaut.png"), str(DATA / "camera.png")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "astronaut.png: 512x512, 1 person (pose score" in lines[0]


@pytest.mark.convert
def test_out_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    require_store()
    assert main(["predict", str(DATA / "astronaut.png"), "--out", "-", "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    check_record(rec)
    assert rec["source"].endswith("astronaut.png")


@pytest.mark.convert
def test_coco_running_index(tmp_path: Path) -> None:
    require_store()
    pycocotools = pytest.importorskip("pycocotools.coco", reason="needs pycocotools")
    out = tmp_path / "results.json"
    inputs = [str(DATA / "astronaut.png"), str(DATA / "camera.png")]
    assert main(["predict", *inputs, "--format", "coco", "--out", str(out), "-q"]) == 0
    results = json.loads(out.read_text())
    assert [r["image_id"] for r in results] == [0, 1]
    for r in results:
        assert r["category_id"] == 1 and len(r["keypoints"]) == 51 and 0 <= r["score"] <= 1
    gt = pycocotools.COCO()
    gt.dataset = {
        "images": [{"id": i, "width": 512, "height": 512} for i in (0, 1)],
        "annotations": [],
        "categories": [{"id": 1, "name": "person", "keypoints": list(KEYPOINT_NAMES)}],
    }
    gt.createIndex()
    dt = gt.loadRes(str(out))
    assert len(dt.getAnnIds()) == 2


@pytest.mark.convert
def test_coco_numeric_names_use_the_number(tmp_path: Path) -> None:
    require_store("movenet-multipose")
    photos = require_coco()
    pycocotools = pytest.importorskip("pycocotools.coco", reason="needs pycocotools")
    out = tmp_path / "results.json"
    args = ["predict", *map(str, photos), "-m", "movenet-multipose", "--format", "coco"]
    assert main([*args, "--out", str(out), "-q"]) == 0
    results = json.loads(out.read_text())
    assert {r["image_id"] for r in results} <= {int(p.stem) for p in photos}
    assert len(results) >= len(photos)
    gt = pycocotools.COCO(str(COCO_DIR / "person_keypoints.json"))
    dt = gt.loadRes(str(out))
    assert len(dt.getAnnIds()) == len(results)


@pytest.mark.convert
def test_draw_images(photos: Path, tmp_path: Path) -> None:
    require_store()
    before = {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()}
    drawn = tmp_path / "drawn"
    assert main(["predict", str(photos), "--draw", str(drawn), "-q"]) == 0
    for path in before:
        if path.suffix not in (".png", ".jpg"):
            continue
        overlay = drawn / f"{path.stem}.pose{'.png' if path.suffix == '.png' else '.jpg'}"
        picture = cv2.imread(str(overlay))
        assert picture is not None, overlay
        assert picture.shape == cv2.imread(str(path)).shape
        assert np.abs(picture.astype(int) - cv2.imread(str(path)).astype(int)).max() > 50, (
            "something was drawn"
        )
    assert {p: p.read_bytes() for p in before} == before, "inputs untouched"


@pytest.mark.convert
def test_corrupt_file_is_skipped(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_store()
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg " * 20)
    out = tmp_path / "poses.jsonl"
    assert main(["predict", str(photos), str(tmp_path / "missing.png"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "could not decode" in err
    assert "missing.png: no such file" in err
    sources = [Path(r["source"]).name for r in read_jsonl(out)]
    assert "broken.jpg" not in sources
    assert {"astronaut.png", "camera.png"} <= set(sources)


@pytest.mark.parametrize("fmt", ["jsonl", "coco"])
def test_ctrl_c_keeps_a_valid_file(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_model: None
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        shutil.copy(DATA / ("astronaut.png" if i % 2 else "camera.png"), folder / f"im{i}.png")
    real_infer_batch = Estimator.infer_batch
    calls = []

    def infer_batch(self: Estimator, x: Any, geometries: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_infer_batch(self, x, geometries)

    monkeypatch.setattr(Estimator, "infer_batch", infer_batch)
    out = tmp_path / f"out.{fmt}"
    args = ["predict", str(folder), "--format", fmt, "--out", str(out), "-q", "--batch-size", "1"]
    assert main(args) == 130
    if fmt == "jsonl":
        assert [Path(r["source"]).name for r in read_jsonl(out)] == ["im0.png", "im1.png"]
    else:
        assert [r["image_id"] for r in json.loads(out.read_text())] == [0, 1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", out.name], "no temporary left"
    # An existing result is never replaced by a partial one: that goes beside it.
    out.write_text("old content\n")
    calls.clear()
    assert main([*args, "--overwrite"]) == 130
    assert out.read_text() == "old content\n"
    partial = tmp_path / f"out.partial.{fmt}"
    if fmt == "jsonl":
        assert [Path(r["source"]).name for r in read_jsonl(partial)] == ["im0.png", "im1.png"]
    else:
        assert [r["image_id"] for r in json.loads(partial.read_text())] == [0, 1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", out.name, partial.name]


def test_a_bug_shows_its_traceback_and_leaves_target_untouched(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_model: None,
    capsys: pytest.CaptureFixture[str],
) -> None:

    def infer_batch(self: Estimator, x: Any, geometries: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(Estimator, "infer_batch", infer_batch)
    out = tmp_path / "out.jsonl"
    out.write_text("old content\n")
    args = ["predict", str(DATA / "astronaut.png"), "--out", str(out), "-q", "--overwrite"]
    assert main(args) == 70, "a bug is not a usage error"
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: boom" in err and "a bug in xpose" in err
    assert out.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


# --- videos -----------------------------------------------------------------------------------


@pytest.mark.convert
def test_video_records_and_overlay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_store()
    clip = _moving_clip(tmp_path, 20)
    out = tmp_path / "poses.jsonl"
    drawn = tmp_path / "drawn"
    assert main(["predict", str(clip), "--out", str(out), "--draw", str(drawn), "-q"]) == 0
    records = read_jsonl(out)
    assert [r["frame"] for r in records] == list(range(20))
    times = [r["timestamp"] for r in records]
    assert times[0] == pytest.approx(0.0) and np.all(np.diff(times) > 0)
    assert all((r["width"], r["height"]) == (160, 128) for r in records)
    assert all(len(r["poses"]) == 1 for r in records)
    cap = cv2.VideoCapture(str(drawn / "clip.pose.mp4"))
    assert cap.isOpened()
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 20
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (160, 128)
    cap.release()


@pytest.mark.convert
def test_video_overlay_file_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_store()
    clip = _moving_clip(tmp_path, 12, ".avi")
    target = tmp_path / "annotated.avi"
    assert main(["predict", str(clip), "--draw", str(target), "--no-smooth"]) == 0
    assert "clip.avi: 12 frames, 1.0 people per frame" in capsys.readouterr().out
    cap = cv2.VideoCapture(str(target))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    cap.release()


def test_ctrl_c_in_video_keeps_frames_so_far(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_model: None
) -> None:
    clip = _moving_clip(tmp_path, 10)
    real_update = PoseStream.update

    def update(self: PoseStream, frame: Any, timestamp: float | None = None) -> Any:
        if self.frames == 4:
            raise KeyboardInterrupt
        return real_update(self, frame, timestamp)

    monkeypatch.setattr(PoseStream, "update", update)
    out = tmp_path / "poses.jsonl"
    video = tmp_path / "annotated.mp4"
    assert main(["predict", str(clip), "--out", str(out), "--draw", str(video), "-q"]) == 130
    assert [r["frame"] for r in read_jsonl(out)] == [0, 1, 2, 3]
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    cap.release()


def _person_at(pose: dict[str, Any], i: int) -> int:
    """Which pasted person (0: astronaut, 1: cameraman) a pose's box centre is nearest to."""
    x1, y1, x2, y2 = pose["box"]
    centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    pasted = [
        np.array([x + _CROSS_S / 2, y + _CROSS_S / 2])
        for x, y in zip(_cross_x(i), _CROSS_ROWS, strict=True)
    ]
    return int(np.argmin([np.linalg.norm(centre - c) for c in pasted]))


@pytest.mark.convert
@pytest.mark.parametrize("tracker", ["iou", "oks"])
def test_two_people_keep_their_track_ids(crossing: Path, tmp_path: Path, tracker: str) -> None:
    require_store("movenet-multipose")
    out = tmp_path / "poses.jsonl"
    # the clip's people were placed for an input at the frame's aspect (256x160)
    args = ["predict", str(crossing), "-m", "movenet-multipose", "--tracker", tracker]
    args.append("--multipose-aspect")
    assert main([*args, "--out", str(out), "-q"]) == 0
    records = read_jsonl(out)
    assert len(records) == _CROSS_N
    owner: dict[int, int] = {}
    for i, rec in enumerate(records):
        assert len(rec["poses"]) == 2, f"frame {i}: {len(rec['poses'])} people"
        for pose in rec["poses"]:
            person = _person_at(pose, i)
            assert owner.setdefault(pose["track_id"], person) == person, f"id switch at frame {i}"
    assert sorted(owner) == [0, 1] and sorted(owner.values()) == [0, 1]


def test_draw_file_needs_one_stream(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = _moving_clip(tmp_path, 4)
    args = ["predict", str(clip), str(DATA / "astronaut.png"), "--draw", str(tmp_path / "a.mp4")]
    assert main(args) == 2
    assert "exactly one video" in capsys.readouterr().err


@pytest.mark.convert
def test_unreadable_video_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_store()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"garbage" * 100)
    out = tmp_path / "poses.jsonl"
    assert main(["predict", str(bad), str(DATA / "camera.png"), "--out", str(out), "-q"]) == 1
    assert "bad.mp4" in capsys.readouterr().err
    assert [Path(r["source"]).name for r in read_jsonl(out)] == ["camera.png"]


# --- usage errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["predict"], "nothing to read"),
        (["predict", str(DATA / "astronaut.png"), "-m", "nope"], "unknown model 'nope'"),
        (["predict", str(DATA / "astronaut.png"), "--backend", "nope"], "nope"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.convert
def test_multi_pose_is_posenet_only(capsys: pytest.CaptureFixture[str]) -> None:
    require_store()
    assert main(["predict", str(DATA / "astronaut.png"), "--multi-pose"]) == 2
    assert "--multi-pose applies to posenet only" in capsys.readouterr().err


@pytest.mark.convert
def test_posenet_multi_pose_and_limits(tmp_path: Path) -> None:
    """Two people side by side: --multi-pose finds both, --max-poses 1 keeps the best one."""
    require_store("posenet")
    photo = rgb(DATA / "astronaut.png")
    two = tmp_path / "two.png"
    cv2.imwrite(
        str(two), cv2.cvtColor(np.concatenate([photo, photo[:, ::-1]], 1), cv2.COLOR_RGB2BGR)
    )
    args = ["predict", str(two), "-m", "posenet", "--multi-pose", "--min-pose-score", "0.1"]
    assert main([*args, "--out", str(tmp_path / "all.jsonl")]) == 0
    (everyone,) = read_jsonl(tmp_path / "all.jsonl")
    assert everyone["model"] == "posenet" and len(everyone["poses"]) >= 2
    assert main([*args, "--max-poses", "1", "--out", str(tmp_path / "best.jsonl")]) == 0
    (best,) = read_jsonl(tmp_path / "best.jsonl")
    assert best["poses"] == everyone["poses"][:1]  # the first decoded (strongest root) person


@pytest.mark.convert
def test_console_script(tmp_path: Path) -> None:
    require_store("movenet-lightning", "fp16")
    script = shutil.which("xpose", path=str(Path(sys.executable).parent)) or shutil.which("xpose")
    if script is None:
        pytest.skip("the xpose console script is not installed (pip install -e .)")
    env = dict(os.environ)
    proc = subprocess.run(
        [script, "predict", str(DATA / "astronaut.png"), "--out", "-", "--precision", "fp16"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    rec = json.loads(line)
    check_record(rec)
    assert rec["precision"] == "fp16"


@pytest.mark.convert
def test_multipose_options_and_device_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_store("movenet-multipose")
    out = tmp_path / "poses.jsonl"
    image = str(DATA / "astronaut.png")
    args = ["predict", image, "-m", "movenet-multipose", "--multipose-long-side", "384"]
    assert main([*args, "--device", "cpu", "--out", str(out), "-q"]) == 0
    assert read_jsonl(out)[0]["model"] == "movenet-multipose"
    capsys.readouterr()
    assert main(["predict", image, "--multipose-long-side", "384", "-q"]) == 2
    assert "--multipose-long-side applies to movenet-multipose only" in capsys.readouterr().err
    try:
        xstore.locate("movenet-multipose", "fp32", "tflite")
    except FileNotFoundError:
        return
    code = main(["predict", image, "-m", "movenet-multipose", "-b", "tflite", "--multipose-aspect"])
    assert code == 2
    assert "fixed 256x256 input and cannot run" in capsys.readouterr().err


def test_a_folder_runs_in_batches_of_batch_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_model: None
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(5):
        shutil.copy(DATA / "camera.png", folder / f"im{i}.png")
    real_infer_batch = Estimator.infer_batch
    sizes: list[int] = []

    def infer_batch(self: Estimator, x: Any, geometries: Any) -> Any:
        sizes.append(len(x))
        return real_infer_batch(self, x, geometries)

    monkeypatch.setattr(Estimator, "infer_batch", infer_batch)
    out = tmp_path / "out.jsonl"
    args = ["predict", str(folder), "--out", str(out), "-q", "--batch-size", "2"]
    assert main(args) == 0
    assert sizes == [2, 2, 1]
    assert [Path(r["source"]).name for r in read_jsonl(out)] == [f"im{i}.png" for i in range(5)]


@pytest.mark.parametrize(("flag", "expected"), [([], True), (["--no-camera-motion"], False)])
def test_camera_motion_flag_reaches_the_stream(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_model: None,
    flag: list[str],
    expected: bool,
) -> None:
    clip = _moving_clip(tmp_path, 3)
    seen: list[bool] = []
    real_init = PoseStream.__init__

    def init(self: PoseStream, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        seen.append(self.camera_motion)

    monkeypatch.setattr(PoseStream, "__init__", init)
    assert main(["predict", str(clip), "-q", *flag]) == 0
    assert seen == [expected]
