"""A fake estimator for ``xpose predict`` tests that need no converted model.

:func:`install` makes ``xpose predict`` load :class:`FakeEstimator`, which finds one person in
the middle of every image. Run as a script (``python -m tests.cli_fakes predict ...``), it is
the ``xpose`` command with that fake, for tests that need a real process (signals, pipes).
Set ``XPOSE_FAKE_DELAY`` (seconds per image or frame) to make a run last.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import numpy.typing as npt

from xpose.keypoints import NUM_KEYPOINTS
from xpose.results import Poses
from xpose.video import FrameSource


class FakeEstimator:
    """Stands in for :class:`xpose.estimator.Estimator` in ``xpose predict``."""

    spec = SimpleNamespace(name="fake-model", multi_person=False)
    backend_name = "fake"
    precision = "fp32"
    options: dict[str, Any] = {}  # noqa: RUF012
    multi_person = False

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0
        self.closed = False

    def predict(self, image: npt.NDArray[np.uint8]) -> Poses:
        """One person: 17 keypoints on a small circle in the middle of ``image``."""
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        h, w = image.shape[:2]
        angle = np.linspace(0, 2 * np.pi, NUM_KEYPOINTS, endpoint=False)
        xy = np.stack([w / 2 + w / 4 * np.cos(angle), h / 2 + h / 4 * np.sin(angle)], axis=-1)
        return Poses(xy[None].astype(np.float32), np.full((1, NUM_KEYPOINTS), 0.9, np.float32))

    def track_frames(
        self, source: FrameSource, **_: Any
    ) -> Iterator[tuple[int, float, npt.NDArray[np.uint8], Poses]]:
        """Every frame of ``source`` with :meth:`predict`'s person."""
        try:
            for index, timestamp, frame in source:
                yield index, timestamp, frame, self.predict(frame)
        finally:
            source.close()

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> FakeEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def install(monkeypatch: Any, delay: float = 0.0) -> list[FakeEstimator]:
    """Make ``xpose predict`` use a :class:`FakeEstimator`; returns the list of those loaded."""
    from xpose.commands import predict

    loaded: list[FakeEstimator] = []

    def load(args: Any) -> FakeEstimator:
        est = FakeEstimator(delay)
        loaded.append(est)
        return est

    monkeypatch.setattr(predict, "_load", load)
    return loaded


def main(argv: list[str]) -> int:
    """``xpose`` with the fake estimator."""
    from xpose import cli
    from xpose.commands import predict

    # A test runner started in the background or under nohup may hand its children ignored
    # signals; xpose keeps ignored signals ignored, so start from the usual dispositions.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    delay = float(os.environ.get("XPOSE_FAKE_DELAY", "0"))
    predict._load = lambda args: FakeEstimator(delay)  # type: ignore[assignment]
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
