"""The table of combinations a runtime computes wrong, and how they are refused (xpose.compat)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import xpose.compat
from xpose.backends import TensorInfo, list_backends
from xpose.compat import (
    EXPLICIT_PADS,
    KNOWN_ISSUES,
    KnownIssue,
    UnsupportedModelError,
    check_supported,
    find_issue,
)
from xpose.estimator import Estimator
from xpose.models import list_models
from xpose.store import PRECISIONS

#: An int8 entry like those the table once held, for the tests of how entries are matched.
INT8_ISSUE = KnownIssue(
    backend="opencv",
    model="movenet-thunder",
    precision="int8",
    reason="an example of an int8 file that one runtime computes wrong, for the tests",
)


@pytest.fixture
def int8_issue(monkeypatch: pytest.MonkeyPatch) -> KnownIssue:
    """The table with :data:`INT8_ISSUE` added (and the same for movenet-lightning)."""
    lightning = KnownIssue("opencv", "movenet-lightning", "int8", INT8_ISSUE.reason)
    monkeypatch.setattr(xpose.compat, "KNOWN_ISSUES", (*KNOWN_ISSUES, INT8_ISSUE, lightning))
    return INT8_ISSUE


def test_table_names_real_backends_models_and_precisions() -> None:
    for issue in KNOWN_ISSUES:
        assert issue.backend in list_backends()
        assert issue.model is None or issue.model in list_models()
        assert issue.precision is None or issue.precision in PRECISIONS
        assert len(issue.reason) > 40


def test_find_issue_matches_backend_model_and_precision(int8_issue: KnownIssue) -> None:
    assert find_issue("opencv", "movenet-thunder", "int8") is int8_issue
    assert find_issue("opencv", "movenet-thunder", "fp32") is None
    assert find_issue("onnxruntime", "movenet-thunder", "int8") is None
    assert find_issue("openvino", "movenet-multipose", "fp32") is None


def test_fix_marker_in_the_file_lifts_the_refusal(int8_issue: KnownIssue) -> None:
    assert find_issue("opencv", "movenet-multipose", "fp32") is not None
    assert find_issue("opencv", "movenet-multipose", "fp32", {EXPLICIT_PADS: "66"}) is None
    # the marker lifts only the issue it fixes
    assert find_issue("opencv", "movenet-thunder", "int8", {EXPLICIT_PADS: "0"}) is not None


def test_check_supported_says_why_and_what_to_use() -> None:
    with pytest.raises(UnsupportedModelError, match=r"'opencv' backend does not compute") as info:
        check_supported("opencv", "movenet-multipose", "fp32", {})
    message = str(info.value)
    assert "SAME_UPPER" in message
    assert "xpose convert --models movenet-multipose --precisions fp32 --force" in message
    assert "'onnxruntime' or 'openvino'" in message
    assert isinstance(info.value, ValueError)
    check_supported("opencv", "movenet-multipose", "fp16", {})  # not listed: no error


def test_unknown_precision_warns(caplog: pytest.LogCaptureFixture, int8_issue: KnownIssue) -> None:
    check_supported("opencv", "movenet-lightning", None, {})
    assert "precision is unknown" in caplog.text
    assert "int8" in caplog.text


class _FakeBackend:
    """A backend with MoveNet Lightning's tensors that must never be run."""

    def __init__(self, name: str, metadata: dict[str, str]) -> None:
        self.name = name
        self.path = Path("movenet-lightning-int8.onnx")
        self.metadata = metadata
        self.inputs = (TensorInfo("input", (1, 192, 192, 3), np.dtype(np.int32)),)
        self.outputs = (TensorInfo("keypoints", (1, 1, 17, 3), np.dtype(np.float32)),)
        self.closed = False

    def run(self, feeds):  # type: ignore[no-untyped-def]
        raise AssertionError("a refused model must not run")

    def close(self) -> None:
        self.closed = True


def test_native_int8_files_are_not_refused() -> None:
    """The onnxruntime-native int8 files agree on OpenCV within the int8 tolerance (the parity
    matrix checks it on the real files), so no int8 entry is listed."""
    for model in list_models():
        assert find_issue("opencv", model, "int8") is None


def test_estimator_refuses_a_listed_combination(int8_issue: KnownIssue) -> None:
    with pytest.raises(UnsupportedModelError, match="movenet-lightning int8"):
        Estimator(_FakeBackend("opencv", {}), precision="int8")
    est = Estimator(_FakeBackend("opencv", {}), precision="fp32")
    assert est.spec.name == "movenet-lightning"
    est = Estimator(_FakeBackend("openvino", {}), precision="int8")
    assert est.backend_name == "openvino"
