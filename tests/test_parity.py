"""Cross-runtime parity on real photos: every model x precision x backend pair (xpose.parity).

Every installed backend is compared with onnxruntime. fp32 and fp16: the decoded keypoints
agree within 1e-4 of the model input and 1e-3 in score (the design's quality bar; measured:
5e-7 and 7e-6). int8: the bounds of :data:`xpose.parity.INT8`, measured first
(docs/parity.md) and held with about 2x margin. Combinations a runtime is known to compute
wrong (:data:`xpose.compat.KNOWN_ISSUES`) must be refused with their reason instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import xpose
from tests.helpers import COCO_DIR, CONVERT_FIRST, DATA, EstimatorCache, require_backend
from xpose.cli import main
from xpose.compat import KNOWN_ISSUES, KnownIssue, UnsupportedModelError
from xpose.parity import (
    EXACT,
    INT8,
    PairDiff,
    ParityResult,
    Tolerance,
    _match_people,
    measure_parity,
    tolerance_for,
)
from xpose.preprocess import to_rgb_uint8
from xpose.results import Poses

TEST_DATA = DATA
PRECISIONS = ("fp32", "fp16", "int8")
REFERENCE = "onnxruntime"
PAIRS = tuple((REFERENCE, b) for b in xpose.list_backends() if b != REFERENCE)


def _images() -> list[Path]:
    paths = sorted(TEST_DATA.glob("*.png"))
    return paths + sorted(COCO_DIR.glob("*.jpg"))


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    """The real photos every parity test runs on, read once."""
    return [to_rgb_uint8(p) for p in _images()]


@pytest.fixture(scope="module")
def parity(
    photos: list[np.ndarray], estimators: EstimatorCache
) -> Callable[[str, str, tuple[str, str]], ParityResult]:
    """``measure(model, precision, pair)``, cached so each combination runs once."""
    cache: dict[tuple[str, str, tuple[str, str]], ParityResult] = {}

    def measure(model: str, precision: str, pair: tuple[str, str]) -> ParityResult:
        key = (model, precision, pair)
        if key not in cache:
            ests = {b: estimators(model, b, precision) for b in pair}
            cache[key] = measure_parity(model, precision, pair, photos, estimators=ests)
        return cache[key]

    return measure


def _ids(pair: tuple[str, str]) -> str:
    return "-".join(pair)


# --- the matrix -------------------------------------------------------------------------------


@pytest.mark.convert
@pytest.mark.parametrize("pair", PAIRS, ids=_ids)
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("model", xpose.list_models())
def test_float_parity(parity, model: str, precision: str, pair: tuple[str, str]) -> None:
    diff = parity(model, precision, pair).pair(*pair)
    assert diff.keypoints > 0, "no confident keypoint was compared"
    assert diff.max_norm <= 1e-4, f"max keypoint distance {diff.max_norm:.2e} of the input"
    assert diff.max_score <= 1e-3, f"max score difference {diff.max_score:.2e}"
    assert diff.unmatched == 0
    assert diff.ok(EXACT)


@pytest.mark.convert
@pytest.mark.parametrize("pair", PAIRS, ids=_ids)
@pytest.mark.parametrize("model", xpose.list_models())
def test_int8_parity(parity, model: str, pair: tuple[str, str]) -> None:
    """int8 runtimes disagree (different integer rounding); the measured bounds hold.

    Worst measured over the 6 photos (docs/parity.md; with the 2 project photos alone,
    MultiPose's p95 is 0.088): p95 distance 0.05 of the input and
    median 0.019 (MultiPose); 3% of keypoints more than 0.1 apart (PoseNet, flipped sides);
    p95 score difference 0.35. Bounds: p95 0.10, median 0.04, share beyond 0.1 at most 8%,
    p95 score 0.6, at most 1 unmatched person per photo on average.
    """
    diff = parity(model, "int8", pair).pair(*pair)
    assert diff.keypoints > 0, "no confident keypoint was compared"
    assert diff.failures(INT8) == []


def _issue_id(issue: KnownIssue) -> str:
    return f"{issue.backend}-{issue.model or 'all'}-{issue.precision or 'all'}"


@pytest.mark.convert
@pytest.mark.parametrize("issue", KNOWN_ISSUES, ids=_issue_id)
def test_known_issues_are_refused(issue: KnownIssue, parity) -> None:
    """A listed combination is refused with its reason, unless the file carries the fix marker:
    then it must agree with onnxruntime like any other combination."""
    require_backend(issue.backend)
    models = [issue.model] if issue.model else xpose.list_models()
    precisions = [issue.precision] if issue.precision else list(PRECISIONS)
    for model in models:
        for precision in precisions:
            try:
                est = xpose.load(model, issue.backend, precision)
            except FileNotFoundError as err:
                pytest.skip(f"{CONVERT_FIRST}: {err}")
            except UnsupportedModelError as err:
                assert issue.reason in str(err)
                assert f"the {issue.backend!r} backend does not compute {model}" in str(err)
                continue
            with est:
                assert issue.fixed_by is not None and issue.fixed_by in est.backend.metadata
            diff = parity(model, precision, (REFERENCE, issue.backend)).pair(
                REFERENCE, issue.backend
            )
            assert diff.failures(tolerance_for(precision)) == []


# --- the measurement itself -------------------------------------------------------------------


def _poses(xy: list[list[float]], score: float = 0.9) -> Poses:
    kp = np.zeros((len(xy), 17, 2), np.float32)
    kp[:] = np.asarray(xy, np.float32)[:, None, :]
    return Poses(kp, np.full((len(xy), 17), score, np.float32))


def test_match_people_is_one_to_one_nearest_first() -> None:
    ref = _poses([[10, 10], [100, 100]])
    cand = _poses([[101, 99], [12, 10], [500, 500]])
    assert sorted(_match_people(ref, cand)) == [(0, 1), (1, 0)]
    assert _match_people(ref, Poses.empty()) == []


def _pair(distances: list[float], scores: list[float], unmatched: int = 0) -> PairDiff:
    d = np.asarray(distances, np.float64)
    return PairDiff("onnxruntime", "tflite", 2, d * 100, d, np.asarray(scores), unmatched)


def test_failures_name_each_broken_bound() -> None:
    assert _pair([1e-5], [1e-4]).failures(EXACT) == []
    failures = _pair([2e-4], [2e-3], unmatched=1).failures(EXACT)
    assert any("max keypoint distance" in f for f in failures)
    assert any("max score difference" in f for f in failures)
    assert any("found by one backend only" in f for f in failures)
    tol = Tolerance(coord=0.1, score=0.5, quantile=0.5, median=0.01, far=0.2, far_share=0.1)
    failures = _pair([0.0, 0.05, 0.3, 0.3], [0.0] * 4).failures(tol)
    assert any("median" in f for f in failures)
    assert any("more than 0.2 apart" in f for f in failures)


def test_tolerance_for() -> None:
    assert tolerance_for("fp32") == tolerance_for("fp16") == EXACT
    assert tolerance_for("int8") == INT8
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        tolerance_for("fp8")


def test_measure_parity_needs_two_backends() -> None:
    with pytest.raises(ValueError, match="at least two different backends"):
        measure_parity("posenet", "fp32", ("onnxruntime", "ort"), images=[TEST_DATA / "camera.png"])


def test_measure_parity_missing_model_says_convert(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="xpose convert"):
        measure_parity(
            "posenet", "fp32", images=[TEST_DATA / "camera.png"], store=tmp_path / "empty"
        )


# --- the command ------------------------------------------------------------------------------


@pytest.mark.convert
def test_cli_parity_json(capsys: pytest.CaptureFixture[str], estimators: EstimatorCache) -> None:
    estimators("movenet-lightning", "onnxruntime", "fp32")  # skips when not converted
    estimators("movenet-lightning", "tflite", "fp32")
    code = main(
        [
            "parity",
            "--models",
            "movenet-lightning",
            "--precisions",
            "fp32",
            "--backends",
            "onnxruntime",
            "tflite",
            "--images",
            str(TEST_DATA / "astronaut.png"),
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    (record,) = out["results"]
    assert record["model"] == "movenet-lightning"
    assert record["pairs"][0]["ok"] is True
    assert record["pairs"][0]["max_norm"] <= 1e-4


def test_cli_parity_missing_store_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "parity",
            "--models",
            "posenet",
            "--precisions",
            "fp32",
            "--backends",
            "onnxruntime",
            "tflite",
            "--images",
            str(TEST_DATA / "camera.png"),
            "--store",
            str(tmp_path),
        ]
    )
    captured = capsys.readouterr()
    assert code == 2
    assert "MISSING" in captured.out
    assert "xpose convert" in captured.err


@pytest.mark.convert
def test_backend_labels_pick_a_device(estimators: EstimatorCache) -> None:
    """``backend:device`` labels (as the GPU check passes them) load that device; here the CPU."""
    estimators("movenet-lightning", "onnxruntime", "fp32")  # skips when not converted
    result = measure_parity(
        "movenet-lightning",
        "fp32",
        ("onnxruntime", "ort:cpu"),
        images=[TEST_DATA / "camera.png"],
        threads=1,
    )
    assert result.backends == ("onnxruntime", "onnxruntime:cpu")
    diff = result.pair("onnxruntime", "onnxruntime:cpu")
    assert diff.keypoints > 0 and diff.max_norm == 0.0
