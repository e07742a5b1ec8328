"""A fake model for ``xpose predict`` tests that need no converted store.

:func:`install` makes ``xpose predict`` load :func:`fake_estimator`: a real
:class:`~xpose.estimator.Estimator` on the fake Lightning backend of ``tests/helpers.py``, which
finds one person in every image. Run as a script (``python -m tests.cli_fakes predict ...``),
it is the ``xpose`` command with that fake, for tests that need a real process (signals,
pipes). Set ``XPOSE_FAKE_DELAY`` (seconds per image or frame) to make a run last.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from tests.helpers import fake_lightning
from xpose.estimator import Estimator


def fake_estimator(delay: float = 0.0) -> Estimator:
    """An Estimator on the fake Lightning backend; each run takes ``delay`` seconds more."""
    backend = fake_lightning()
    if delay:
        outputs = backend.outputs_fn
        assert outputs is not None

        def slow(feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
            time.sleep(delay)
            return outputs(feeds)

        backend.outputs_fn = slow
    return Estimator(backend)


def install(monkeypatch: Any, delay: float = 0.0) -> list[Estimator]:
    """Make ``xpose predict`` use :func:`fake_estimator`; returns the list of those loaded."""
    from xpose import engine

    loaded: list[Estimator] = []

    def load(job: Any, threads: int | None = None) -> Estimator:
        est = fake_estimator(delay)
        loaded.append(est)
        return est

    monkeypatch.setattr(engine, "load_estimator", load)
    return loaded


def main(argv: list[str]) -> int:
    """``xpose`` with the fake model."""
    from xpose import cli, engine

    # A test runner started in the background or under nohup may hand its children ignored
    # signals; xpose keeps ignored signals ignored, so start from the usual dispositions.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    delay = float(os.environ.get("XPOSE_FAKE_DELAY", "0"))
    engine.load_estimator = lambda job, threads=None: fake_estimator(delay)  # type: ignore[assignment]
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
