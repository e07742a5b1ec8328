"""benchmarks/gpu_check.sh on a machine without a GPU: it says what it could not run, and why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("onnxruntime:cuda", "onnxruntime:tensorrt", "openvino:GPU", "opencv:cuda")


def test_gpu_check_names_what_it_could_not_run(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=ROOT,
    )
    rows = [line.split("\t") for line in (tmp_path / "devices.tsv").read_text().splitlines()]
    assert [r[0] for r in rows] == list(LABELS)
    if any(r[1] == "found" for r in rows):
        pytest.skip("an accelerator runtime is installed: the full check runs on it instead")
    assert done.returncode == 2, done.stderr
    for label, _, why in rows:
        assert f"NOT RUN: {label}: {why}" in done.stdout
    assert "nothing was measured on a GPU" in (tmp_path / "summary.txt").read_text()
