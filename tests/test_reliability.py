"""What ``xpose predict`` promises about the user's files (docs/reliability.md).

Each scenario of the reliability issue is run as written there. The model is replaced by
:class:`tests.cli_fakes.FakeEstimator`, so these tests run on a fresh clone without a converted
store; the ones that need a real process (signals, pipes) run ``python -m tests.cli_fakes``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.cli_fakes import install
from xpose.cli import main
from xpose.video import FrameSource

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]


def _hashes(*roots: Path) -> dict[Path, str]:
    """sha256 of every file under ``roots`` (links followed; broken links by their target)."""
    out: dict[Path, str] = {}
    for root in roots:
        paths = [root] if not root.is_dir() else sorted(root.rglob("*"))
        for p in paths:
            if p.is_symlink() and not p.exists():
                out[p] = "-> " + os.readlink(p)
            elif p.is_file():
                out[p] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _photos(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "astronaut.png", folder / "b.png")
    rgb = cv2.imread(str(DATA / "camera.png"))
    cv2.imwrite(str(folder / "a.jpg"), rgb)
    return folder


def _video(path: Path, n: int, size: tuple[int, int] = (64, 48)) -> Path:
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, 10.0, size)
    if not writer.isOpened():
        pytest.skip(f"this OpenCV build cannot write {path.suffix}")
    rng = np.random.default_rng(0)
    for i in range(n):
        frame = np.full((size[1], size[0], 3), (i * 7) % 255, np.uint8)
        frame[: size[1] // 2] = rng.integers(0, 255, (size[1] // 2, size[0], 3), dtype=np.uint8)
        writer.write(frame)
    writer.release()
    return path


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- 1. outputs never overwrite inputs --------------------------------------------------------


def test_draw_into_the_input_folder_keeps_the_photos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(monkeypatch)
    p = _photos(tmp_path / "p")
    before = _hashes(p)
    assert main(["predict", str(p), "--draw", str(p), "-q"]) == 0
    assert {k: v for k, v in _hashes(p).items() if k in before} == before
    assert sorted(x.name for x in p.iterdir()) == ["a.jpg", "a.pose.jpg", "b.png", "b.pose.png"]
    assert cv2.imread(str(p / "a.pose.jpg")).shape == cv2.imread(str(p / "a.jpg")).shape
    # The same command again: an overlay would now replace an input (a.pose.jpg): refused.
    before = _hashes(p)
    assert main(["predict", str(p), "--draw", str(p), "-q", "--overwrite"]) == 2
    assert _hashes(p) == before


def test_draw_onto_the_input_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded = install(monkeypatch)
    a = _photos(tmp_path / "p") / "a.jpg"
    before = _hashes(a)
    assert main(["predict", str(a), "--draw", str(a), "--overwrite"]) == 2
    assert "never writes over its inputs" in capsys.readouterr().err
    assert _hashes(a) == before and not loaded, "refused before any work"


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_out_onto_the_input_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    overwrite: list[str],
) -> None:
    install(monkeypatch)
    v = _photos(tmp_path) / "a.jpg"
    before = _hashes(tmp_path)
    assert main(["predict", str(v), "--out", str(v), *overwrite]) == 2
    assert "is the input" in capsys.readouterr().err
    assert _hashes(tmp_path) == before


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_out_through_a_link_to_the_input_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, link: str
) -> None:
    install(monkeypatch)
    v = _photos(tmp_path / "in") / "a.jpg"
    out = tmp_path / "out.jsonl"
    if link == "symlink":
        out.symlink_to(v)
    else:
        os.link(v, out)
    before = _hashes(tmp_path / "in")
    assert main(["predict", str(v), "--out", str(out), "--overwrite"]) == 2
    assert _hashes(tmp_path / "in") == before


def test_a_video_overlay_never_takes_the_video_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(monkeypatch)
    clip = _video(tmp_path / "clip.mp4", 6)
    before = _hashes(clip)
    assert main(["predict", str(clip), "--draw", str(tmp_path), "-q"]) == 0
    assert _hashes(clip) == before
    cap = cv2.VideoCapture(str(tmp_path / "clip.pose.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    cap.release()


# --- 2. existing results are safe -------------------------------------------------------------


def test_typo_does_not_empty_existing_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded = install(monkeypatch)
    monkeypatch.chdir(tmp_path)
    Path("results.jsonl").write_text('{"earlier": "results"}\n')
    assert main(["predict", "typo.jpg", "--out", "results.jsonl"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert not loaded, "refused before any work"
    assert Path("results.jsonl").read_text() == '{"earlier": "results"}\n'
    # With --overwrite, a run that reads nothing writes nothing.
    assert main(["predict", "typo.jpg", "--out", "results.jsonl", "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert "typo.jpg: no such file" in err and "not written" in err
    assert Path("results.jsonl").read_text() == '{"earlier": "results"}\n'
    assert sorted(os.listdir()) == ["results.jsonl"], "no temporary left"


def test_existing_out_needs_overwrite_and_gets_a_complete_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(monkeypatch)
    photos = _photos(tmp_path / "p")
    out = tmp_path / "notes.txt"
    out.write_text("unrelated\n")
    assert main(["predict", str(photos), "--out", str(out)]) == 2
    assert out.read_text() == "unrelated\n"
    assert main(["predict", str(photos), "--out", str(out), "--overwrite", "-q"]) == 0
    assert [Path(r["source"]).name for r in _records(out)] == ["a.jpg", "b.png"]


def test_partial_failure_writes_the_readable_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(monkeypatch)
    photos = _photos(tmp_path / "p")
    (photos / "c.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    out = tmp_path / "o.jsonl"
    assert main(["predict", str(photos), "--out", str(out), "-q"]) == 1
    assert [Path(r["source"]).name for r in _records(out)] == ["a.jpg", "b.png"]


# --- 3. signals -------------------------------------------------------------------------------


def _fake_xpose(args: list[str], delay: float, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), XPOSE_FAKE_DELAY=str(delay))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.cli_fakes", *args], cwd=ROOT, env=env, **kwargs
    )


def _wait_for_records(folder: Path, proc: subprocess.Popen, n: int = 3) -> None:
    """Until a temporary file in ``folder`` holds ``n`` records."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be stopped"
        for p in folder.iterdir():
            if p.name.startswith(".o.jsonl.xpose-") and p.read_bytes().count(b"\n") >= n:
                return
        time.sleep(0.05)
    pytest.fail("no records appeared")


@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)],
)
def test_signal_during_a_video_keeps_the_complete_records(
    tmp_path: Path, signum: int, status: int
) -> None:
    clip = _video(tmp_path / "v300.avi", 300)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "o.jsonl"
    proc = _fake_xpose(
        ["predict", str(clip), "--out", str(out), "-q"], 0.05, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for_records(out_dir, proc)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == status, err
    records = _records(out)
    assert 3 <= len(records) < 300
    assert [r["frame"] for r in records] == list(range(len(records)))
    assert _hidden(out_dir) == [], "no hidden temporary file left"
    assert "interrupted" in err


def test_a_hard_kill_leaves_a_temporary_the_next_run_removes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = _video(tmp_path / "v300.avi", 300)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "o.jsonl"
    proc = _fake_xpose(["predict", str(clip), "--out", str(out), "-q"], 0.05)
    try:
        _wait_for_records(out_dir, proc)
        proc.kill()
    finally:
        proc.wait(timeout=60)
    assert len(_hidden(out_dir)) == 1 and not out.exists()
    install(monkeypatch)
    photos = _photos(tmp_path / "p")
    assert main(["predict", str(photos), "--out", str(out_dir / "again.jsonl"), "-q"]) == 0
    assert _hidden(out_dir) == [], "the stale temporary was removed"
    assert sorted(p.name for p in out_dir.iterdir()) == ["again.jsonl"]


# --- 4. truncated and odd inputs --------------------------------------------------------------


def test_truncated_video_is_reported_with_its_records_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    install(monkeypatch)
    clip = _video(tmp_path / "v.avi", 30)
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 2])
    cap = cv2.VideoCapture(str(clip))
    if not cap.isOpened() or int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) != 30:
        pytest.skip("this OpenCV build does not open the cut AVI with its header's count")
    cap.release()
    out = tmp_path / "o.jsonl"
    assert main(["predict", str(clip), "--out", str(out), "-q"]) == 1
    n = len(_records(out))
    assert 0 < n < 30
    assert f"read {n} of 30 frames" in capsys.readouterr().err


def test_negative_camera_index_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--camera", "-1"])
    assert exit_info.value.code == 2
    assert "camera number >= 0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="camera index must be >= 0"):
        FrameSource(-1)
    with pytest.raises(ValueError, match="camera index must be >= 0"):
        FrameSource(np.int64(-3))


def test_broken_pipe_ends_quietly(tmp_path: Path) -> None:
    clip = _video(tmp_path / "v.avi", 200)
    proc = _fake_xpose(
        ["predict", str(clip), "--out", "-", "-q"],
        0.0,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert json.loads(first)["frame"] == 0
    assert proc.returncode == 141, err
    assert "Broken pipe" not in err and "Traceback" not in err


def test_broken_symlinks_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    install(monkeypatch)
    photos = _photos(tmp_path / "p")
    (photos / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (tmp_path / "named.jpg").symlink_to(tmp_path / "nowhere.jpg")
    out = tmp_path / "o.jsonl"
    assert main(["predict", str(photos), str(tmp_path / "named.jpg"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "gone.jpg" in err and "named.jpg" in err
    assert err.count("broken symbolic link") == 2
    assert [Path(r["source"]).name for r in _records(out)] == ["a.jpg", "b.png"]


def test_output_modes_are_those_of_a_new_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(monkeypatch)
    photos = _photos(tmp_path / "p")
    clip = _video(tmp_path / "v.avi", 4)
    old = os.umask(0o027)
    try:
        assert main(["predict", str(photos), "--out", str(tmp_path / "o.jsonl"), "-q"]) == 0
        assert main(["predict", str(photos), "--draw", str(tmp_path / "d"), "-q"]) == 0
        assert main(["predict", str(clip), "--draw", str(tmp_path / "v.mp4"), "-q"]) == 0
    finally:
        os.umask(old)
    for name in ("o.jsonl", "d/a.pose.jpg", "d/b.pose.png", "v.mp4"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name


def test_out_under_a_file_names_the_real_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    install(monkeypatch)
    (tmp_path / "file.txt").write_text("x")
    target = tmp_path / "file.txt" / "x.jsonl"
    assert main(["predict", str(DATA / "astronaut.png"), "--out", str(target)]) == 2
    assert "file.txt is a file, not a folder" in capsys.readouterr().err


def test_newline_in_a_file_name_keeps_one_summary_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    install(monkeypatch)
    odd = tmp_path / "a\nb.png"
    shutil.copy(DATA / "astronaut.png", odd)
    assert main(["predict", str(odd)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "a\\nb.png: 512x512" in lines[0]


def test_image_above_the_pixel_limit_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    install(monkeypatch)
    big = tmp_path / "big.png"
    big.write_bytes(_png_header(20000, 20000))  # a header only: decoding would fail
    assert main(["predict", str(big)]) == 1
    err = capsys.readouterr().err
    assert "20000x20000 is 400,000,000 pixels" in err and "--max-pixels" in err
    image = str(DATA / "astronaut.png")  # 512 x 512 = 262,144 pixels
    assert main(["predict", image, "--max-pixels", "262143"]) == 1
    assert main(["predict", image, "--max-pixels", "262144"]) == 0
    monkeypatch.setenv("XPOSE_MAX_IMAGE_PIXELS", "1000")
    assert main(["predict", image]) == 1
    assert "above the limit of 1,000" in capsys.readouterr().err


def _png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


def test_a_signal_ignored_by_the_parent_stays_ignored() -> None:
    """``nohup xpose ...``: SIGHUP stays ignored; SIGTERM gets xpose's handler, then its own back."""
    from xpose.cli import _signals_stop_the_run

    hup, term = signal.getsignal(signal.SIGHUP), signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with _signals_stop_the_run():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) not in (term, signal.SIG_IGN)
        assert signal.getsignal(signal.SIGTERM) == term
    finally:
        signal.signal(signal.SIGHUP, hup)


def test_a_limit_raised_past_opencvs_names_opencvs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    install(monkeypatch)
    big = tmp_path / "big.png"
    big.write_bytes(_png_header(40000, 40000))
    assert main(["predict", str(big), "--max-pixels", str(2 * 10**9)]) == 1
    assert "OPENCV_IO_MAX_IMAGE_PIXELS" in capsys.readouterr().err
