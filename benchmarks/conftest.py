"""Fixtures of the pytest-benchmark suites: models from the store, images, and result tables.

Run (from the project root; the suites are outside ``testpaths``, so ``pytest tests`` never
runs them)::

    XPOSE_HOME=/path/to/store python -m pytest benchmarks --benchmark-only

Every suite records its medians with the ``table`` fixture; at the end of the session each
table is written to ``benchmarks/results/pytest_<name>.md`` with the CPU and versions. The
budgets an issue set (pre/post share of ``predict``, a folder against the inference bound)
are asserted by their suites as ratios measured side by side in one run, after the row is
recorded; no absolute time is asserted anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt
import pytest

import xpose
from xpose.bench import bench_image, cpu_name, versions
from xpose.preprocess import to_rgb_uint8

from .common import RESULTS, SHARED_DATA, THREADS

#: table name -> (column names, rows); filled by the ``table`` fixture.
_TABLES: dict[str, tuple[list[str], list[list[str]]]] = {}


@pytest.fixture(scope="session")
def image() -> npt.NDArray[np.uint8]:
    """The 640x480 benchmark frame of :func:`xpose.bench.bench_image`."""
    return bench_image()


@pytest.fixture(scope="session")
def photos(image: npt.NDArray[np.uint8]) -> list[npt.NDArray[np.uint8]]:
    """32 real photos of people: the shared COCO and scikit-image photos (cycled), else the
    benchmark frame repeated."""
    files = sorted((SHARED_DATA / "coco_val2017").glob("*.jpg"))
    files += sorted((SHARED_DATA / "images").glob("*.png"))
    pool = [to_rgb_uint8(f) for f in files] or [image]
    return [pool[i % len(pool)] for i in range(32)]


@pytest.fixture(scope="session")
def table() -> Callable[..., None]:
    """``table(name, columns, row)``: add a row to a results table (written at the end)."""

    def add(name: str, columns: list[str], row: list[object]) -> None:
        _cols, rows = _TABLES.setdefault(name, (list(columns), []))
        rows.append([f"{v:.2f}" if isinstance(v, float) else str(v) for v in row])

    return add


@pytest.fixture
def median_ms() -> Callable[[object], float]:
    """The median of a finished ``benchmark`` fixture, in milliseconds."""

    def get(benchmark: object) -> float:
        return float(benchmark.stats.stats.median) * 1000.0  # type: ignore[attr-defined]

    return get


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write every recorded table to ``benchmarks/results/pytest_<name>.md``."""
    if not _TABLES:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    vers = ", ".join(f"{k} {v}" for k, v in versions().items())
    for name, (cols, rows) in _TABLES.items():
        lines = [
            f"# pytest-benchmark: {name}",
            "",
            f"- CPU: {cpu_name()}; versions: {vers}; {THREADS} threads per backend unless stated",
            "- medians in ms, each measured on its own (not interleaved: for side-by-side "
            "ratios use `xpose bench`)",
            "",
            "| " + " | ".join(cols) + " |",
            "|" + "---|" * len(cols),
        ]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        (RESULTS / f"pytest_{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def closing() -> Iterator[Callable[[xpose.Estimator], xpose.Estimator]]:
    """Register estimators to close at the end of the test."""
    opened: list[xpose.Estimator] = []

    def register(est: xpose.Estimator) -> xpose.Estimator:
        opened.append(est)
        return est

    yield register
    for est in opened:
        est.close()
