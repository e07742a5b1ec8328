"""onnxruntime's thread policy, measured: idle intra-op threads spinning or not.

Every configuration runs in a process of its own (a spinning thread pool slows whatever else
runs in its process, so configurations sharing one would measure each other), and the
configurations alternate round after round so that they share the machine's noise. Each
process times ``predict`` end to end on the 640x480 benchmark frame:

* one model, spinning on or off;
* two models in one process, alternating frame by frame (a MultiPose detector beside a
  Lightning tracker), both with spinning on or off.

Run from the project root with a converted store::

    XPOSE_HOME=/path/to/store python -m benchmarks.thread_policy [--rounds 3] [--calls 40]

It writes ``benchmarks/results/thread_policy.md``: the median ``predict`` time of each
configuration and the ratio spinning / not spinning (above 1: spinning is slower).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from xpose.store import atomic_path

from .common import RESULTS

#: name -> the models it runs (alternating, when several) in one process.
SETUPS: dict[str, tuple[str, ...]] = {
    "movenet-lightning": ("movenet-lightning",),
    "movenet-thunder": ("movenet-thunder",),
    "movenet-multipose": ("movenet-multipose",),
    "posenet": ("posenet",),
    "multipose + lightning": ("movenet-multipose", "movenet-lightning"),
}
THREADS = 2


def measure(models: tuple[str, ...], spinning: bool, calls: int) -> float:
    """Median ms of one ``predict`` of each model in turn (this process only)."""
    import xpose
    from xpose.bench import bench_image

    image = bench_image()
    estimators = [xpose.load(m, threads=THREADS, spinning=spinning) for m in models]
    try:
        for _ in range(5):
            for est in estimators:
                est.predict(image)
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            for est in estimators:
                est.predict(image)
            times.append(time.perf_counter() - t0)
    finally:
        for est in estimators:
            est.close()
    return 1000.0 * statistics.median(times)


def _child(setup: str, spinning: bool, calls: int) -> float:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.thread_policy",
        "--child",
        setup,
        "--calls",
        str(calls),
    ]
    if spinning:
        cmd.append("--spinning")
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ.copy())
    return float(json.loads(done.stdout.strip().splitlines()[-1])["ms"])


def run(rounds: int, calls: int) -> dict[tuple[str, bool], list[float]]:
    """Every setup x spinning, each in its own process, alternating for ``rounds`` rounds."""
    figures: dict[tuple[str, bool], list[float]] = {}
    for r in range(rounds):
        order = [(s, spin) for s in SETUPS for spin in ((True, False) if r % 2 else (False, True))]
        for setup, spinning in order:
            ms = _child(setup, spinning, calls)
            figures.setdefault((setup, spinning), []).append(ms)
            print(f"round {r + 1}: {setup}, spinning={spinning}: {ms:.2f} ms", file=sys.stderr)
    return figures


def markdown(figures: dict[tuple[str, bool], list[float]], rounds: int, calls: int) -> str:
    from xpose.bench import cpu_name, versions

    lines = [
        "# onnxruntime thread policy: spinning or not",
        "",
        f"- CPU: {cpu_name()} ({os.cpu_count()} logical CPUs); "
        + ", ".join(f"{k} {v}" for k, v in versions().items()),
        f"- `python -m benchmarks.thread_policy --rounds {rounds} --calls {calls}`: each "
        f"configuration in its own process, {THREADS} intra-op threads, `predict` end to end "
        "on the 640x480 benchmark frame, median ms over the calls, then the median over the "
        "rounds (the rounds' own figures in brackets)",
        "- spinning / not: above 1.00, spinning is slower",
        "",
        "| setup | spinning ms | not spinning ms | spinning / not |",
        "|---|---|---|---|",
    ]
    for setup in SETUPS:
        on, off = figures[(setup, True)], figures[(setup, False)]
        mon, moff = statistics.median(on), statistics.median(off)
        lines.append(
            f"| {setup} | {mon:.2f} ({', '.join(f'{v:.1f}' for v in on)}) "
            f"| {moff:.2f} ({', '.join(f'{v:.1f}' for v in off)}) | {mon / moff:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--child", choices=list(SETUPS), help=argparse.SUPPRESS)
    parser.add_argument("--spinning", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "thread_policy.md")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps({"ms": measure(SETUPS[args.child], args.spinning, args.calls)}))
        return 0
    figures = run(args.rounds, args.calls)
    text = markdown(figures, args.rounds, args.calls)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
