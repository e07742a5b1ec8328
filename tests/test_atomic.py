"""Tests of :mod:`xpose.atomic`, the one file-writing rule, and of the error hierarchy."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from xpose import errors
from xpose import store as xstore
from xpose.atomic import AtomicFile, partial_name, remove_stale_temporaries
from xpose.output import open_writer, write_image


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_commit_replaces_the_target_with_a_normal_mode(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.bin"
    old = os.umask(0o022)
    try:
        with AtomicFile(target) as file:
            file.open("wb").write(b"new")
            assert target.parent.is_dir() and not target.exists()
            assert file.path.name.startswith(".f.bin.xpose-")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert _names(target.parent) == ["f.bin"]


@pytest.mark.parametrize("partial_ok", [False, True])
def test_an_error_keeps_the_old_file(tmp_path: Path, partial_ok: bool) -> None:
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), AtomicFile(target, partial_ok=partial_ok) as file:
        file.open("w").write("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old" and _names(tmp_path) == ["f.txt"]


def test_an_interrupt_keeps_a_complete_stream_beside_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "f.jsonl"
    with pytest.raises(KeyboardInterrupt), AtomicFile(target, partial_ok=True) as file:
        file.open("w").write("{}\n")
        raise KeyboardInterrupt
    assert target.read_text() == "{}\n", "no earlier file: the partial result is the target"
    with pytest.raises(KeyboardInterrupt), AtomicFile(target, partial_ok=True) as file:
        file.open("w").write("[]\n")
        raise KeyboardInterrupt
    assert target.read_text() == "{}\n"
    assert file.saved_to == tmp_path / "f.partial.jsonl"
    assert (tmp_path / "f.partial.jsonl").read_text() == "[]\n"
    assert partial_name(target) == tmp_path / "f.partial-2.jsonl"


def test_an_interrupt_discards_a_blob(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    with pytest.raises(KeyboardInterrupt), xstore.atomic_path(target) as tmp:
        tmp.write_bytes(b"half a model")
        raise KeyboardInterrupt
    assert _names(tmp_path) == []


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = tmp_path / ".o.jsonl.xpose-999999999-0123abcd.tmp"
    alive = tmp_path / f".o.jsonl.xpose-{os.getpid()}-0123abcd.tmp"
    foreign = tmp_path / ".o.jsonl.999999999.tmp"  # not xpose's naming
    for p in (dead, alive, foreign):
        p.write_text("x")
    with AtomicFile(tmp_path / "other.txt") as file:
        file.open("w").write("y")
    assert not dead.exists() and alive.exists() and foreign.exists()
    assert remove_stale_temporaries(tmp_path) == []


@pytest.mark.parametrize("kind", ["folder", "file-in-path"])
def test_impossible_targets_name_the_problem(tmp_path: Path, kind: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    target = tmp_path if kind == "folder" else tmp_path / "file.txt" / "x.jsonl"
    message = "it is a folder" if kind == "folder" else "file.txt is a file, not a folder"
    with pytest.raises(errors.OutputError, match=message):
        open_writer(target)
    with pytest.raises(errors.OutputError, match=message):
        write_image(target if kind == "folder" else tmp_path / "file.txt" / "x.png", _tiny())
    assert _names(tmp_path) == ["file.txt"]


def _tiny():
    import numpy as np

    return np.zeros((4, 4, 3), np.uint8)


# --- the error hierarchy ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.ModelNotConvertedError, FileNotFoundError),
        (errors.ModelFileError, ValueError),
        (errors.OutputError, ValueError),
        (errors.OutputExistsError, FileExistsError),
        (errors.MissingExtraError, ImportError),
    ],
)
def test_user_errors_derive_from_xpose_error_and_the_builtin(cls: type, builtin: type) -> None:
    assert issubclass(cls, errors.XposeError) and issubclass(cls, builtin)


def test_model_file_error_is_still_importable_from_the_store() -> None:
    assert xstore.ModelFileError is errors.ModelFileError


def test_conversion_errors_are_xpose_errors() -> None:
    from converters.errors import ChecksumError

    assert issubclass(ChecksumError, errors.XposeError)


@pytest.mark.parametrize(
    "content",
    ["[1, 2, 3]", '"text"', "3", '{"files": [1]}', '{"files": {"a/a-fp32.onnx": 5}}', "{bad"],
)
def test_a_manifest_that_is_not_one_is_a_model_file_error(tmp_path: Path, content: str) -> None:
    (tmp_path / "manifest.json").write_text(content)
    with pytest.raises(errors.ModelFileError, match="manifest.json"):
        xstore.Manifest.load(tmp_path)
    with pytest.raises(errors.ModelFileError):
        xstore.locate("movenet-lightning", "fp32", "onnx", store=tmp_path)


def test_a_missing_model_is_model_not_converted(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 1, "files": {}}))
    with pytest.raises(errors.ModelNotConvertedError, match="xpose convert"):
        xstore.locate("movenet-lightning", "fp32", "onnx", store=tmp_path)


def test_cli_reports_user_errors_and_shows_bugs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from xpose import engine
    from xpose.cli import EXIT_BUG, main

    (tmp_path / "manifest.json").write_text("[1, 2, 3]")
    image = str(Path(__file__).parent / "data" / "astronaut.png")
    assert main(["predict", image, "--store", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is not a model store manifest" in err and "Traceback" not in err

    def broken(job: object, threads: object = None) -> None:
        raise TypeError("an internal mistake")

    monkeypatch.setattr(engine, "load_estimator", broken)
    assert main(["predict", image]) == EXIT_BUG == 70
    err = capsys.readouterr().err
    assert "Traceback" in err and "TypeError: an internal mistake" in err


def test_a_folder_without_write_permission_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("xpose.atomic.os.open", refuse)  # the tests may run as root
    with pytest.raises(errors.OutputError, match=r"no permission to create files in"):
        AtomicFile(tmp_path / "o.jsonl")
