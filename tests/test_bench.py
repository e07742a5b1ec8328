"""Tests of :mod:`xpose.bench` and ``xpose bench``: table shape and contents, never timings.

They need the converted store (``$XPOSE_HOME``); without it they skip with
"run `xpose convert` first".
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import require_backend, require_store
from xpose.backends import backend_status
from xpose.bench import (
    BENCH_IMAGE_SIZE,
    BenchResult,
    BenchRow,
    bench_image,
    cpu_name,
    describe_int8_instructions,
    installed_backends,
    int8_instructions,
    prepared_feeds,
    run_bench,
    versions,
)
from xpose.cli import main

MODEL = "movenet-lightning"
BACKENDS = ("onnxruntime", "tflite", "openvino", "opencv")


def _need(model: str, precision: str, formats: tuple[str, ...] = ("onnx", "tflite")) -> None:
    """Skip unless the store holds ``model`` at ``precision`` in every format (and every
    backend of ``BACKENDS`` runs)."""
    require_store(model, precision, formats)
    for backend in BACKENDS:
        require_backend(backend)


@pytest.fixture(scope="module")
def result() -> BenchResult:
    _need(MODEL, "fp32")
    return run_bench(models=[MODEL], precisions=["fp32"], backends=BACKENDS, repeat=2, warmup=1)


def test_bench_image_is_a_vga_rgb_frame() -> None:
    image = bench_image()
    assert image.shape == (*BENCH_IMAGE_SIZE, 3)
    assert image.dtype == np.uint8
    assert image[:, :40].max() == 0  # black padding columns
    assert image[:, 100:540].std() > 10  # a photo in the middle


def test_cpu_name_reads_proc_cpuinfo_else_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    import xpose.bench

    cpuinfo = "processor\t: 0\nvendor_id\t: Test\nmodel name\t: Test CPU 9000 @ 1GHz\n"
    monkeypatch.setattr(xpose.bench, "open", lambda *a, **k: io.StringIO(cpuinfo), raising=False)
    assert cpu_name() == "Test CPU 9000 @ 1GHz"

    def unreadable(*args: object, **kwargs: object) -> None:
        raise OSError("no /proc here")

    monkeypatch.setattr(xpose.bench, "open", unreadable, raising=False)
    monkeypatch.setattr(xpose.bench.platform, "processor", lambda: "")
    monkeypatch.setattr(xpose.bench.platform, "machine", lambda: "riscv64")
    assert cpu_name() == "riscv64"


def test_default_backends_are_the_installed_ones() -> None:
    installed = installed_backends()
    assert installed[0] == "onnxruntime"
    assert set(installed) == {b for b, missing in backend_status().items() if missing is None}


def test_versions_are_reported() -> None:
    found = versions()
    assert {"python", "xpose", "onnxruntime", "numpy"} <= set(found)


def test_int8_instruction_sets_are_read_from_cpu_flags() -> None:
    vnni = "processor : 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n"
    found = int8_instructions(vnni)
    assert found == {"AVX2": True, "AVX-512 VNNI": True, "AVX-VNNI": False, "AMX": False}
    assert describe_int8_instructions(found) == "AVX2 yes, AVX-512 VNNI yes, AVX-VNNI no, AMX no"
    sapphire = "flags : avx2 avx_vnni amx_tile amx_int8 amx_bf16\n"
    assert int8_instructions(sapphire) == {
        "AVX2": True,
        "AVX-512 VNNI": False,
        "AVX-VNNI": True,
        "AMX": True,
    }
    assert not any(int8_instructions("").values())


def test_int8_speedup_table_divides_times_of_one_run() -> None:
    rows = tuple(
        BenchRow("posenet", p, b, (1, 385, 385, 3), ms, ms + 1, 3)
        for p, b, ms in [
            ("fp32", "onnxruntime", 8.0),
            ("fp32", "tflite", 6.0),
            ("int8", "onnxruntime", 4.0),
            ("int8", "tflite", 5.0),
        ]
    )
    res = BenchResult(rows, BACKENDS, 2, 3, 1, "img", (480, 640, 3), "cpu", 2, {})
    table = res.int8_table()
    assert "| posenet | onnxruntime | 8.00 | 4.00 | 2.00 | 1.00 |" in table
    assert "| posenet | tflite | 6.00 | 5.00 | 1.20 | 1.25 |" in table
    assert "int8 against fp32" in res.to_markdown()
    only_fp32 = BenchResult(rows[:2], BACKENDS, 2, 3, 1, "img", (480, 640, 3), "cpu", 2, {})
    assert only_fp32.int8_table() == ""


@pytest.mark.convert
def test_rows_cover_every_backend(result: BenchResult) -> None:
    assert result.backends == BACKENDS
    assert [(r.model, r.precision, r.backend) for r in result.rows] == [
        (MODEL, "fp32", b) for b in BACKENDS
    ]
    for row in result.rows:
        assert row.samples == 2
        assert row.infer_ms > 0 and row.predict_ms > 0
        assert row.input_shape == (1, 192, 192, 3)
    assert result.row(MODEL, "fp32", "tflite") is result.rows[1]
    assert result.row(MODEL, "int8", "tflite") is None
    assert result.threads == 2 and result.repeat == 2
    assert result.skipped == ()


@pytest.mark.convert
def test_markdown_table_is_well_formed(result: BenchResult) -> None:
    text = result.to_markdown()
    assert text.startswith("# xpose latency benchmark")
    assert result.cpu in text and "onnxruntime " in text and "threads per backend: 2" in text
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(BACKENDS)  # header, separator, one line per backend
    header = [c.strip() for c in table[0].strip("|").split("|")]
    assert header == [
        "model",
        "precision",
        "backend",
        "input",
        "inference ms",
        "inference / reference",
        "predict ms",
        "predict / reference",
        "outside inference",
    ]
    for line, backend in zip(table[2:], BACKENDS, strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == len(header)
        assert cells[:4] == [MODEL, "fp32", backend, "192x192"]
        for cell in cells[4:8]:
            float(cell)  # every time and ratio is a number
        assert cells[8].endswith("%")
    reference = [c.strip() for c in table[2].strip("|").split("|")]
    assert reference[5] == reference[7] == "1.00"  # onnxruntime against itself


@pytest.mark.convert
def test_prepared_feeds_are_what_predict_runs() -> None:
    _need(MODEL, "fp32", ("onnx",))
    import xpose

    with xpose.load(MODEL, precision="fp32") as est:
        feeds = prepared_feeds(est, bench_image())
        (name,) = feeds
        assert name == est.backend.inputs[0].name
        assert feeds[name].shape == (1, 192, 192, 3)
        assert feeds[name].dtype == est.backend.inputs[0].dtype
        out = est.backend.run(feeds)
        assert set(out) == {o.name for o in est.backend.outputs}


def test_missing_store_files_are_listed_not_measured(tmp_path) -> None:
    empty = run_bench(
        models=[MODEL],
        precisions=["fp32"],
        backends=("onnxruntime", "opencv"),
        repeat=1,
        warmup=0,
        store=tmp_path,
    )
    assert empty.rows == ()
    assert len(empty.skipped) == 2
    assert all("xpose convert" in line for line in empty.skipped)
    assert "Not measured" in empty.to_markdown()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"models": ["nope"]}, "unknown model"),
        ({"precisions": ["int4"]}, "unknown precision"),
        ({"backends": ["nope"]}, "unknown backend"),
        ({"repeat": 0}, "repeat must be"),
        ({"warmup": -1}, "warmup must be"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        run_bench(**kwargs)


@pytest.mark.convert
def test_cli_writes_the_table(tmp_path, capsys) -> None:
    _need(MODEL, "fp32")
    out = tmp_path / "bench.md"
    code = main(
        [
            "bench",
            "--models",
            MODEL,
            "--precisions",
            "fp32",
            "--backends",
            "onnxruntime",
            "opencv",
            "--repeat",
            "2",
            "--warmup",
            "0",
            "--out",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert out.read_text(encoding="utf-8") == printed
    assert f"| {MODEL} | fp32 |" in printed


@pytest.mark.convert
def test_refused_combinations_are_listed_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    _need("movenet-lightning", "int8", ("onnx",))
    import xpose.compat

    issue = xpose.compat.KnownIssue("opencv", "movenet-lightning", "int8", "an example reason")
    monkeypatch.setattr(xpose.compat, "KNOWN_ISSUES", (issue,))
    result = run_bench(
        models=["movenet-lightning"],
        precisions=["int8"],
        backends=("onnxruntime", "opencv"),
        repeat=1,
        warmup=0,
    )
    assert [r.backend for r in result.rows] == ["onnxruntime"]
    (line,) = result.skipped
    assert line.startswith("movenet-lightning int8 opencv: the 'opencv' backend does not compute")
