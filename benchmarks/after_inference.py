"""What pre- and post-processing cost where ``predict`` runs them: right after an inference.

Usage (from the project root, with the converted store in ``$XPOSE_HOME``)::

    python benchmarks/after_inference.py [--rounds 300]

For each precision of one model (default Lightning, whose inference is the shortest) on both
runtimes, the three steps of ``predict`` are timed

* **in place**: ``prepare``, ``backend.run``, ``decode``, one after the other as ``predict``
  runs them, each timed on its own;
* **back to back**: each step repeated with nothing in between (warm caches, the figures a
  micro-benchmark gives).

and, as a probe of the machine, one tiny numpy addition (17 floats) right after an inference
and right after another addition. The share ``(prepare + decode) / (prepare + run + decode)``
is given both ways. Writes ``results/after_inference.md``; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

import xpose
from xpose.bench import bench_image, cpu_name, describe_int8_instructions, int8_instructions
from xpose.store import PRECISIONS, atomic_path

OUT = ROOT / "benchmarks" / "results" / "after_inference.md"
BACKENDS = ("onnxruntime", "tflite")


def _ms(work: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    value = work()
    return 1000.0 * (time.perf_counter() - t0), value


def measure(model: str, precision: str, backend: str, rounds: int) -> dict[str, float]:
    """Median milliseconds of each step, in place and back to back, and of the probe."""
    image = bench_image()
    with xpose.load(model, backend=backend, precision=precision, threads=2) as est:
        head, binding, be = est.head, est.binding, est.backend
        x, geometry = head.prepare(image)
        outputs = binding.results(be.run(binding.feed(x)))
        for _ in range(10):
            est.predict(image)
        placed: dict[str, list[float]] = {"prepare": [], "run": [], "decode": []}
        for _ in range(rounds):
            t, (x, geometry) = _ms(lambda: head.prepare(image))  # type: ignore[misc]
            placed["prepare"].append(t)
            t, raw = _ms(lambda x=x: be.run(binding.feed(x)))
            placed["run"].append(t)
            t, _ = _ms(lambda raw=raw, g=geometry: head.decode(binding.results(raw), g))
            placed["decode"].append(t)
        steps = {
            "prepare": lambda: head.prepare(image),
            "run": lambda: be.run(binding.feed(x)),
            "decode": lambda: head.decode(outputs, geometry),
        }
        warm: dict[str, list[float]] = {}
        for name, step in steps.items():
            step()
            warm[name] = [_ms(step)[0] for _ in range(rounds)]
        a = np.ones(17, np.float32)
        after_run, after_add = [], []
        for _ in range(rounds):
            be.run(binding.feed(x))
            after_run.append(_ms(lambda: a + a)[0])
            after_add.append(_ms(lambda: a + a)[0])
    med = {f"{k} in place": statistics.median(v) for k, v in placed.items()}
    med.update({f"{k} back to back": statistics.median(v) for k, v in warm.items()})
    med["add after run"] = statistics.median(after_run)
    med["add after add"] = statistics.median(after_add)
    return med


def _share(m: dict[str, float], how: str) -> float:
    pre, run, dec = (m[f"{k} {how}"] for k in ("prepare", "run", "decode"))
    return (pre + dec) / (pre + run + dec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="movenet-lightning")
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    lines = [
        "# Pre- and post-processing in place, right after an inference",
        "",
        f"`python benchmarks/after_inference.py` on {cpu_name()} "
        f"({describe_int8_instructions(int8_instructions())}); the 640x480 "
        f"frame, 2 runtime threads, medians of {args.rounds} rounds in ms. `in place`: the "
        "steps one after the other as `predict` runs them; `back to back`: each step repeated "
        "alone. The probe: one numpy addition of 17 floats right after an inference, and "
        "right after another addition (in microseconds).",
        "",
        "| model | precision | backend | prepare | run | decode | share | prepare b2b | "
        "run b2b | decode b2b | share b2b | add after run us | add after add us |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for backend in BACKENDS:
        for precision in PRECISIONS:
            m = measure(args.model, precision, backend, args.rounds)
            cells = [
                args.model,
                precision,
                backend,
                *(f"{m[f'{k} in place']:.3f}" for k in ("prepare", "run", "decode")),
                f"{100 * _share(m, 'in place'):.1f}%",
                *(f"{m[f'{k} back to back']:.3f}" for k in ("prepare", "run", "decode")),
                f"{100 * _share(m, 'back to back'):.1f}%",
                f"{1000 * m['add after run']:.1f}",
                f"{1000 * m['add after add']:.1f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    with atomic_path(OUT) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
