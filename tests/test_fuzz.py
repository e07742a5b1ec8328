"""Property-based fuzzing: odd arrays, damaged files, and tangled command lines.

Every case must end in a result or a documented error (``ValueError``, ``TypeError``,
``OSError`` or an :class:`~xpose.errors.XposeError`; on the command line an exit status of
0, 1 or 2 with no traceback), never a crash, and never a changed input file (every input is
hashed before and after).

The default suite runs a few examples of each (well under a minute, reproducible); for a long
run: ``XPOSE_FUZZ=long pytest -m fuzz`` (hundreds of examples each, new ones every run).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import string
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.cli_fakes import install
from tests.helpers import require_store
from xpose import store as xstore
from xpose.errors import XposeError
from xpose.imagesize import header_size
from xpose.preprocess import letterbox, to_rgb_uint8
from xpose.video import FrameSource

pytestmark = pytest.mark.fuzz

DATA = Path(__file__).parent / "data"
LONG = os.environ.get("XPOSE_FUZZ") == "long"
_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}
settings.register_profile(
    "xpose-quick", max_examples=12, derandomize=True, database=None, **_COMMON
)
settings.register_profile("xpose-long", max_examples=400, **_COMMON)
QUICK = settings.get_profile("xpose-long" if LONG else "xpose-quick")

#: What the library may raise for bad input (anything else is a bug).
DOCUMENTED = (XposeError, ValueError, TypeError, OSError)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- arrays -----------------------------------------------------------------------------------

_dtypes = st.sampled_from(
    [np.uint8, np.int8, np.uint16, np.int32, np.int64, np.float16, np.float32, np.float64, bool]
)
_arrays = hnp.arrays(
    dtype=_dtypes,
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=12),
    elements=None,
)


@QUICK
@given(array=_arrays)
def test_any_array_is_an_image_or_a_documented_error(array: np.ndarray) -> None:
    copy = array.copy()
    try:
        image = to_rgb_uint8(array)
    except DOCUMENTED:
        return
    finally:
        np.testing.assert_array_equal(array, copy, "the caller's array is never changed")
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[0] > 0 and image.shape[1] > 0
    boxed, geometry = letterbox(image, (8, 8))
    assert boxed.shape == (8, 8, 3)
    assert np.isfinite(geometry.to_image(np.zeros((1, 2), np.float32))).all()


@QUICK
@given(
    frames=st.lists(
        hnp.arrays(np.uint8, st.tuples(st.integers(1, 70), st.integers(1, 70), st.just(3))),
        min_size=1,
        max_size=4,
    ),
    boxes=st.lists(
        st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=4, max_size=4)
    ),
)
def test_camera_motion_takes_any_frames_and_boxes(
    frames: list[np.ndarray], boxes: list[list[float]]
) -> None:
    """Frames of any size, in any order, and any people boxes (NaN, inf, reversed, outside):
    a transform, unknown or a cut, never an error."""
    from xpose.motion import CameraMotion

    motion = CameraMotion()
    for frame in frames:
        got = motion.update(frame, ignore=boxes or None)
        assert got.matrix is None or (got.matrix.shape == (2, 3) and np.isfinite(got.matrix).all())
        assert not (got.scene_cut and got.matrix is not None)


@pytest.fixture(scope="module")
def estimator() -> Iterator[object]:
    """The Lightning model if it is converted (skipped otherwise)."""
    import xpose

    require_store("movenet-lightning")
    with xpose.load("movenet-lightning", threads=1) as est:
        yield est


@pytest.mark.convert
@QUICK
@given(array=_arrays)
def test_any_array_gives_poses_or_a_documented_error(estimator: object, array: np.ndarray) -> None:
    try:
        poses = estimator.predict(array)  # type: ignore[attr-defined]
    except DOCUMENTED:
        return
    assert poses.keypoints.shape[1:] == (17, 2)


# --- damaged files ----------------------------------------------------------------------------


def _damage(data: bytes, cut: float, flips: list[tuple[float, int]]) -> bytes:
    """``data`` cut to a fraction ``cut`` of its length, with bits flipped at (place, bit)."""
    out = bytearray(data[: max(1, int(len(data) * cut))])
    for place, bit in flips:
        out[int(place * (len(out) - 1))] ^= 1 << bit
    return bytes(out)


@contextlib.contextmanager
def _damaged_file(
    name: str, data: bytes, cut: float, flips: list[tuple[float, int]]
) -> Iterator[Path]:
    """A damaged copy of ``data`` in a temporary folder; checks that it was not changed."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(_damage(data, cut, flips))
        digest = _sha(path)
        yield path
        assert _sha(path) == digest, "an input file was changed"


_cuts = st.one_of(st.just(1.0), st.floats(0.0, 1.0))
_flips = st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 7)), max_size=6)


@pytest.fixture(scope="module")
def encoded() -> dict[str, bytes]:
    """The test photo, 96 x 64, in every format xpose reads by header."""
    rgb = cv2.resize(cv2.imread(str(DATA / "astronaut.png")), (96, 64))
    out = {}
    for ext in (".png", ".jpg", ".bmp", ".webp", ".tiff", ".ppm", ".pgm", ".gif"):
        image = cv2.cvtColor(rgb, cv2.COLOR_BGR2GRAY) if ext == ".pgm" else rgb
        with contextlib.suppress(cv2.error):
            ok, data = cv2.imencode(ext, image)
            if ok:
                out[ext] = data.tobytes()
    return out


def test_header_sizes_match_the_decoded_images(encoded: dict[str, bytes]) -> None:
    assert {".png", ".jpg", ".bmp"} <= set(encoded)
    for ext, data in encoded.items():
        assert header_size(data) == (96, 64), ext


@QUICK
@given(
    ext=st.sampled_from([".png", ".jpg", ".bmp", ".webp", ".tiff", ".ppm"]), cut=_cuts, flips=_flips
)
def test_damaged_images_are_read_or_refused(
    encoded: dict[str, bytes], ext: str, cut: float, flips: list[tuple[float, int]]
) -> None:
    if ext not in encoded:
        return
    size = header_size(_damage(encoded[ext], cut, flips))  # never raises
    assert size is None or (len(size) == 2 and all(v >= 0 for v in size))
    with _damaged_file(f"damaged{ext}", encoded[ext], cut, flips) as path:
        try:
            image = to_rgb_uint8(path)
        except DOCUMENTED:
            return
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("clip") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (48, 32))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG AVI")
    for i in range(12):
        writer.write(np.full((32, 48, 3), i * 20, np.uint8))
    writer.release()
    return path.read_bytes()


@QUICK
@given(cut=_cuts, flips=_flips)
def test_damaged_videos_give_frames_or_a_documented_error(
    clip: bytes, cut: float, flips: list[tuple[float, int]]
) -> None:
    with _damaged_file("damaged.avi", clip, cut, flips) as path:
        try:
            with FrameSource(path) as source:
                frames = [frame.shape for _, _, frame in source]
        except DOCUMENTED:
            return
        assert all(len(shape) == 3 and shape[2] == 3 for shape in frames)


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return require_store("movenet-lightning", "int8").read_bytes()


@pytest.mark.convert
@QUICK
@given(cut=_cuts, flips=_flips)
def test_damaged_model_files_load_or_are_refused(
    model_bytes: bytes, cut: float, flips: list[tuple[float, int]]
) -> None:
    import xpose

    with _damaged_file("damaged.onnx", model_bytes, cut, flips) as path:
        try:
            with xpose.load(path, threads=1) as est:
                est.predict(np.zeros((40, 30, 3), np.uint8))
        except DOCUMENTED as err:
            event(f"refused: {type(err).__name__}")
        else:
            event("loaded and ran")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@QUICK
@given(
    content=st.one_of(
        _json.map(json.dumps),
        st.fixed_dictionaries({"files": _json}).map(json.dumps),
        st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
    )
)
def test_any_manifest_loads_or_is_a_model_file_error(content: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "manifest.json").write_text(content, encoding="latin-1")
        try:
            manifest = xstore.Manifest.load(tmp)
        except xstore.ModelFileError:
            return
        assert isinstance(manifest.files, dict)
        with contextlib.suppress(FileNotFoundError, xstore.ModelFileError):
            xstore.locate("movenet-lightning", "fp32", "onnx", store=tmp)


# --- command lines ----------------------------------------------------------------------------

_names = st.text(
    alphabet=st.sampled_from(string.ascii_letters + "é中 -_\n"), min_size=1, max_size=6
).filter(lambda n: n.strip() == n and n not in (".", ".."))
_suffixes = st.sampled_from([".jpg", ".png", ".jsonl", ".mp4", ".txt", ""])


@st.composite
def _layouts(draw: st.DrawFn) -> dict[str, object]:
    """Files, folders and links, and a command line over them."""
    files = draw(
        st.lists(st.tuples(st.sampled_from(["", "d/", "d/e/"]), _names, _suffixes), max_size=6)
    )
    links = draw(st.lists(st.tuples(_names, st.integers(0, 8)), max_size=2))
    pick = st.one_of(st.integers(0, 20), st.just(-1))  # an index into what exists, or a new name
    inputs = draw(st.lists(pick, min_size=1, max_size=4))
    out = draw(st.one_of(st.none(), pick, st.just("-")))
    drawn = draw(st.one_of(st.none(), pick))
    return {
        "files": files,
        "links": links,
        "inputs": inputs,
        "out": out,
        "draw": drawn,
        "overwrite": draw(st.booleans()),
        "format": draw(st.sampled_from(["jsonl", "coco"])),
    }


def _build(root: Path, layout: dict[str, object]) -> list[Path]:
    """Create the layout's files under ``root``; returns every path made (files, folders, links)."""
    made: list[Path] = [root / "d"]
    (root / "d" / "e").mkdir(parents=True)
    made.append(root / "d" / "e")
    photo = (DATA / "camera.png").read_bytes()
    for folder, name, suffix in layout["files"]:  # type: ignore[attr-defined]
        path = root / folder / f"{name}{suffix}"
        if path.exists():
            continue
        if suffix == ".jpg":
            cv2.imwrite(str(path), cv2.imread(str(DATA / "camera.png")))
        elif suffix == ".png":
            path.write_bytes(photo)
        else:
            path.write_bytes(b"user data " + name.encode())
        made.append(path)
    for name, target in layout["links"]:  # type: ignore[attr-defined]
        link = root / f"{name}.lnk.jpg"
        if not link.exists() and not link.is_symlink():
            link.symlink_to(made[target % len(made)] if target < 7 else root / "missing.jpg")
            made.append(link)
    return made


def _arg(root: Path, made: list[Path], choice: object, suffix: str) -> str:
    if choice is None or choice == "-":
        return str(choice)
    index = int(choice)  # type: ignore[call-overload]
    return str(made[index % len(made)] if index >= 0 else root / f"new{suffix}")


@QUICK
@given(layout=_layouts())
def test_cli_never_changes_an_input_nor_crashes(
    layout: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    from xpose.cli import main

    install(monkeypatch)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        made = _build(root, layout)
        named = [_arg(root, made, i, ".jpg") for i in layout["inputs"]]  # type: ignore[attr-defined]
        args = ["predict", "--format", str(layout["format"]), *named]
        if layout["out"] is not None:
            args += ["--out", _arg(root, made, layout["out"], ".jsonl")]
        if layout["draw"] is not None:
            args += ["--draw", _arg(root, made, layout["draw"], "")]
        if layout["overwrite"]:
            args.append("--overwrite")
        before = {p: _sha(p) for p in root.rglob("*") if p.is_file() and not p.is_symlink()}
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            status = main(args)
        event(f"exit {status}")
        assert status in (0, 1, 2), err.getvalue()
        assert "Traceback" not in err.getvalue()
        inputs = {Path(a).resolve() for a in named if Path(a).exists()}
        for path, digest in before.items():
            if not path.exists() or _sha(path) == digest:
                assert path.exists() or path.resolve() not in inputs, f"input {path} deleted"
                continue
            assert path.resolve() not in _input_files(inputs), f"input {path} changed"
            assert layout["overwrite"], f"{path} replaced without --overwrite"
        assert not [p for p in root.rglob(".*xpose-*")], "no temporary left"
        shutil.rmtree(root / "d")


def _input_files(inputs: set[Path]) -> set[Path]:
    files = set()
    for path in inputs:
        files |= {p.resolve() for p in path.rglob("*")} if path.is_dir() else {path}
    return files
