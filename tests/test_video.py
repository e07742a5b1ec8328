from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers import write_video
from xpose.video import DEFAULT_FPS, FrameSource, VideoWriter, read_frames

DATA = Path(__file__).parent / "data"
N_FRAMES = 12
FPS = 25.0
FH, FW = 96, 128


@pytest.fixture(scope="module")
def crops() -> list[np.ndarray]:
    """N_FRAMES RGB crops (FH, FW, 3) of the astronaut, sliding right and down."""
    bgr = cv2.imread(str(DATA / "astronaut.png"), cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return [
        np.ascontiguousarray(rgb[100 + 12 * i : 100 + 12 * i + FH, 60 + 16 * i : 60 + 16 * i + FW])
        for i in range(N_FRAMES)
    ]


@pytest.fixture(scope="module", params=[".avi", ".mp4"])
def video(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, crops) -> Path:
    """A short video of the crops, written with cv2 itself (not with xpose's writer)."""
    return write_video(tmp_path_factory.mktemp("video") / f"clip{request.param}", crops, FPS)


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_file_source_count_order_shapes(video: Path, crops: list[np.ndarray]) -> None:
    with FrameSource(video) as src:
        assert src.fps == pytest.approx(FPS)
        assert src.frame_count == N_FRAMES
        frames = list(src)
    assert [i for i, _, _ in frames] == list(range(N_FRAMES))
    times = np.array([t for _, t, _ in frames])
    np.testing.assert_allclose(times, np.arange(N_FRAMES) / FPS, atol=1e-3)
    for i, (_, _, rgb) in enumerate(frames):
        assert rgb.shape == (FH, FW, 3) and rgb.dtype == np.uint8
        # RGB (not BGR), and frame i is crop i: far closer to it than to any other crop
        own = _diff(rgb, crops[i])
        assert own < 12
        assert own < min(_diff(rgb, c) for j, c in enumerate(crops) if j != i) / 2
        assert own < _diff(rgb[..., ::-1], crops[i])
    assert src.closed


def test_fps_override(video: Path) -> None:
    with FrameSource(video, fps=10) as src:
        times = [t for _, t, _ in src]
    assert src.fps == 10
    np.testing.assert_allclose(times, np.arange(N_FRAMES) / 10)


def test_early_break_stops_thread_and_releases(video: Path) -> None:
    src = FrameSource(video, queue_size=2)
    for i, _, _ in src:
        if i == 2:
            break
    thread = src.thread
    assert thread is not None
    assert src.closed
    assert not thread.is_alive()
    assert not src._capture.isOpened()  # type: ignore[union-attr]


def test_context_exit_mid_iteration_stops_thread(video: Path) -> None:
    with FrameSource(video, queue_size=1) as src:
        it = iter(src)
        next(it)
        thread = src.thread
        assert thread is not None and thread.is_alive()
    assert not thread.is_alive()
    assert not src._capture.isOpened()  # type: ignore[union-attr]
    assert list(it) == []


def test_close_before_iterating_releases(video: Path) -> None:
    src = FrameSource(video)
    src.close()
    src.close()  # idempotent
    assert src.thread is None
    assert not src._capture.isOpened()  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="is closed"):
        iter(src)


def test_iterated_once(video: Path) -> None:
    with FrameSource(video) as src:
        iter(src)
        with pytest.raises(ValueError, match="only once"):
            iter(src)


def test_no_thread_left_behind(video: Path) -> None:
    before = {t.ident for t in threading.enumerate()}
    for _ in range(3):
        with FrameSource(video) as src:
            next(iter(src))
    assert {t.ident for t in threading.enumerate()} <= before


def test_iterable_sources(crops: list[np.ndarray]) -> None:
    out = list(FrameSource(crops))
    assert [i for i, _, _ in out] == list(range(N_FRAMES))
    np.testing.assert_allclose([t for _, t, _ in out], np.arange(N_FRAMES) / DEFAULT_FPS)
    for (_, _, frame), crop in zip(out, crops, strict=True):
        np.testing.assert_array_equal(frame, crop)

    def gen() -> Iterator[np.ndarray]:
        yield from crops[:5]

    src = FrameSource(gen(), fps=10)
    assert src.frame_count is None
    np.testing.assert_allclose([t for _, t, _ in src], np.arange(5) / 10)

    stacked = FrameSource(np.stack(crops[:4]))
    assert stacked.frame_count == 4
    assert [f.shape for _, _, f in stacked] == [(FH, FW, 3)] * 4


def test_iterable_bad_frame_and_error_propagates(crops: list[np.ndarray]) -> None:
    bad = [crops[0], np.zeros((FH, FW), np.uint8)]
    with pytest.raises(ValueError, match=r"frame 1 .*expected an \(H, W, 3\) RGB frame"):
        list(FrameSource(bad))

    def failing() -> Iterator[np.ndarray]:
        yield crops[0]
        raise RuntimeError("decoder exploded")

    src = FrameSource(failing())
    with pytest.raises(RuntimeError, match="decoder exploded"):
        list(src)
    assert src.closed and not src.thread.is_alive()  # type: ignore[union-attr]


def test_drop_frames_keeps_order_and_last(crops: list[np.ndarray]) -> None:
    frames = [crops[0]] * 40
    got = []
    for i, _, _ in FrameSource(frames, queue_size=1, drop_frames=True):
        got.append(i)
        time.sleep(0.002)
    assert got == sorted(set(got)) and got[-1] == 39


def test_missing_and_unreadable_video(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    with pytest.raises(FileNotFoundError, match=r"video not found: .*nope\.mp4"):
        FrameSource(missing)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video" * 100)
    with pytest.raises(ValueError, match=r"cannot open video .*garbage\.mp4"):
        FrameSource(garbage)
    with pytest.raises(ValueError, match="directory"):
        FrameSource(tmp_path)


def test_bad_sources() -> None:
    with pytest.raises(TypeError, match="expected a path, a camera index"):
        FrameSource(3.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        FrameSource(True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        FrameSource(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="fps"):
        FrameSource([], fps=0)
    with pytest.raises(ValueError, match="queue_size"):
        FrameSource([], queue_size=0)


def test_missing_camera() -> None:
    with pytest.raises(ValueError, match="cannot open camera 97"):
        FrameSource(97)


# -- VideoWriter -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_writer_round_trip(tmp_path: Path, crops: list[np.ndarray], suffix: str) -> None:
    path = tmp_path / f"out{suffix}"
    with VideoWriter(path, fps=FPS) as writer:
        for crop in crops:
            writer.write(crop)
        assert not path.exists()  # only renamed into place on close
    assert writer.frames_written == N_FRAMES
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    with FrameSource(path) as src:
        frames = list(src)
    assert len(frames) == N_FRAMES
    assert src.fps == pytest.approx(FPS)
    for (_, _, frame), crop in zip(frames, crops, strict=True):
        assert frame.shape == crop.shape
        assert _diff(frame, crop) < 12


def test_writer_exception_leaves_nothing(tmp_path: Path, crops: list[np.ndarray]) -> None:
    path = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="inference failed"), VideoWriter(path) as writer:
        writer.write(crops[0])
        writer.write(crops[1])
        raise RuntimeError("inference failed")
    assert list(tmp_path.iterdir()) == []


def test_writer_exception_keeps_previous_file(tmp_path: Path, crops: list[np.ndarray]) -> None:
    path = tmp_path / "out.avi"
    path.write_bytes(b"previous")
    with pytest.raises(RuntimeError), VideoWriter(path) as writer:
        writer.write(crops[0])
        raise RuntimeError("inference failed")
    assert path.read_bytes() == b"previous"
    assert list(tmp_path.iterdir()) == [path]


def test_interrupt_keeps_the_frames_beside_an_existing_file(
    tmp_path: Path, crops: list[np.ndarray]
) -> None:
    path = tmp_path / "out.avi"
    path.write_bytes(b"previous")
    with pytest.raises(KeyboardInterrupt), VideoWriter(path) as writer:
        writer.write(crops[0])
        writer.write(crops[0])
        raise KeyboardInterrupt
    assert path.read_bytes() == b"previous", "an existing file is not replaced by a partial one"
    partial = tmp_path / "out.partial.avi"
    assert writer.saved_to == partial
    assert sorted(tmp_path.iterdir()) == [path, partial]
    cap = cv2.VideoCapture(str(partial))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 2
    cap.release()


def test_writer_dropped_without_close_cleans_up(tmp_path: Path, crops: list[np.ndarray]) -> None:
    writer = VideoWriter(tmp_path / "out.mp4")
    writer.write(crops[0])
    del writer
    assert list(tmp_path.iterdir()) == []


def test_writer_no_frames_writes_nothing(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "empty.mp4"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_writer_errors(tmp_path: Path, crops: list[np.ndarray]) -> None:
    with pytest.raises(ValueError, match=r"unsupported extension '\.gif'.*\.avi, \.mp4"):
        VideoWriter(tmp_path / "out.gif")
    with pytest.raises(FileNotFoundError, match="no directory"):
        VideoWriter(tmp_path / "missing" / "out.mp4")
    with pytest.raises(ValueError, match="fps"):
        VideoWriter(tmp_path / "out.mp4", fps=0)
    path = tmp_path / "out.avi"
    with pytest.raises(ValueError, match=r"expected size 128x96"), VideoWriter(path) as writer:
        writer.write(crops[0])
        writer.write(crops[0][:50])
    assert not path.exists()
    with pytest.raises(ValueError, match="dtype uint8"), VideoWriter(path) as writer:
        writer.write(crops[0].astype(np.float32))
    assert list(tmp_path.iterdir()) == []
    with VideoWriter(path) as writer:
        writer.write(crops[0])
    with pytest.raises(ValueError, match="closed"):
        writer.write(crops[0])


def test_a_cut_video_is_logged_and_counted(
    video: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if video.suffix != ".avi":
        pytest.skip("an MP4 cut in half loses its index (moov) and does not open at all")
    cut = tmp_path / "cut.avi"
    data = video.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with FrameSource(cut) as source:
        frames = list(source)
    assert source.frame_count == N_FRAMES
    assert 0 < len(frames) == source.frames_read < N_FRAMES
    assert f"read {len(frames)} of {N_FRAMES} frames" in caplog.text


def test_read_frames_is_frame_source_without_the_thread(video: Path) -> None:
    """``read_frames(path, start, stop)`` and ``FrameSource(path, start=, stop=)`` give the
    frames, indexes and timestamps of that range of the whole video."""
    with FrameSource(video) as reader:
        whole = list(reader)
    part = list(read_frames(video, 3, 7))
    assert [i for i, _, _ in part] == [3, 4, 5, 6]
    with FrameSource(video, start=3, stop=7) as reader:
        assert reader.frame_count == 4
        threaded = list(reader)
    for (i, t, frame), (j, u, same), (k, v, again) in zip(part, whole[3:7], threaded, strict=True):
        assert i == j == k and t == pytest.approx(u) and v == pytest.approx(u)
        np.testing.assert_array_equal(frame, same)
        np.testing.assert_array_equal(again, same)
    assert [i for i, _, _ in read_frames(video, len(whole) - 2)] == [len(whole) - 2, len(whole) - 1]
    with pytest.raises(ValueError, match="0 <= start <= stop"):
        list(read_frames(video, 5, 2))
    with pytest.raises(FileNotFoundError, match="video not found"):
        list(read_frames(video.with_name("nope.mp4")))
    with pytest.raises(ValueError, match="video files only"):
        FrameSource([whole[0][2]], start=1)
