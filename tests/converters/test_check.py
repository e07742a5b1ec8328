"""Conversion checks: which differences each tolerance lets through (hand-made outputs, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from converters import check
from converters.errors import ParityError
from xpose.models import get_spec

SPEC = get_spec("movenet-lightning")
FEEDS = [{"input": np.full((1, 192, 192, 3), i, np.int32)} for i in range(100)]


def _reference(feed):
    """17 confident keypoints on a diagonal: (y, x, score)."""
    yx = np.linspace(0.1, 0.9, 17)
    return {"keypoints": np.stack([yx, yx, np.full(17, 0.9)], -1).reshape(1, 1, 17, 3)}


def _moved(which, by):
    """The reference with keypoints ``which(i) -> list of indices`` of view i moved by ``by``."""

    def run(feed):
        out = _reference(feed)["keypoints"].copy()
        out[0, 0, which(int(feed["input"][0, 0, 0, 0])), 1] += by
        return {"keypoints": out}

    return run


def test_one_flipped_keypoint_passes_fp16_but_not_exact():
    flip = _moved(lambda i: [3] if i == 7 else [], 0.5)
    parity = check.compare(SPEC, _reference, flip, FEEDS, check.FP16)
    assert parity.max_coord == pytest.approx(0.5)
    assert parity.ok() and parity.far_share == pytest.approx(1 / 1700)
    assert not check.compare(SPEC, _reference, flip, FEEDS, check.EXACT).ok()


def test_many_far_keypoints_fail_fp16_with_the_share_named():
    """One keypoint in 17 off by 0.2 everywhere: the 99th percentile and the share both fail."""
    many = _moved(lambda i: [0], 0.2)
    parity = check.compare(SPEC, _reference, many, FEEDS, check.FP16)
    assert parity.far_share == pytest.approx(1 / 17)
    with pytest.raises(ParityError, match=r"5\.9% of keypoints farther than 0\.1 \(allowed 2%\)"):
        check.require(parity, "m-fp16.tflite")


def test_int8_lets_a_few_far_keypoints_through():
    """1 keypoint in 17 off by 0.3 on half the views (2.9 %) passes int8; 150 in 1700
    (8.8 %) does not."""
    few = _moved(lambda i: [0] if i % 2 == 0 else [], 0.3)
    assert check.compare(SPEC, _reference, few, FEEDS, check.INT8).ok()
    more = _moved(lambda i: [0, 1] if i % 2 == 0 else [0], 0.3)
    parity = check.compare(SPEC, _reference, more, FEEDS, check.INT8)
    assert parity.far_share == pytest.approx(150 / 1700)
    assert not parity.ok()
