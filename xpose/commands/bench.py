"""``xpose bench``: median latency of every model x precision x backend, side by side."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xpose.atomic import AtomicFile
from xpose.commands import add_store
from xpose.models import list_models
from xpose.store import PRECISIONS

DESCRIPTION = """\
Time one inference (backend.run on prepared feeds, batch 1) and the whole predict (image in,
poses out) for every model x precision x backend, with the same thread count for every
backend (tensorflow takes its own default). Backends are interleaved in each round so they
share the machine's noise; medians are reported, with each backend's ratio to the first
backend's time and the share of predict spent outside inference, as a Markdown table (printed,
and written to --out when given). By default every installed backend is measured; a
combination that is not converted, or that a backend is known to compute wrong, is listed as
not measured with the reason. The default image
is the packaged astronaut photo resized to 480x480 and padded to 640x480.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="latency of every model x precision x backend, as a Markdown table",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--models",
        nargs="+",
        choices=list_models(),
        default=None,
        metavar="MODEL",
        help=f"models to time (default all: {', '.join(list_models())})",
    )
    p.add_argument(
        "--precisions",
        nargs="+",
        choices=PRECISIONS,
        default=None,
        metavar="PRECISION",
        help=f"precisions to time (default all: {', '.join(PRECISIONS)})",
    )
    p.add_argument(
        "--backends",
        nargs="+",
        default=None,
        metavar="BACKEND",
        help="backends to compare, the first being the reference of the ratios "
        "(default: every installed backend, onnxruntime first); BACKEND:DEVICE picks a "
        "device, e.g. onnxruntime:cuda, onnxruntime:tensorrt, openvino:GPU, opencv:cuda",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=2,
        help="threads for every backend (default 2; 0: each runtime's default)",
    )
    p.add_argument(
        "--image",
        metavar="PATH",
        default=None,
        help="image to predict on, used at its own size (default: a 640x480 frame made from "
        "the packaged astronaut photo)",
    )
    p.add_argument("--repeat", type=int, default=50, help="timed rounds (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls first (default 5)")
    p.add_argument("--out", metavar="FILE.md", default=None, help="also write the table here")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    add_store(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; print the Markdown table (and write it to ``--out``)."""
    from xpose.bench import run_bench

    if args.threads < 0:
        raise ValueError(f"--threads must be >= 0 (0: the runtime's default), got {args.threads}")

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    result = run_bench(
        models=args.models,
        precisions=args.precisions,
        backends=args.backends,
        threads=args.threads or None,
        image=args.image,
        repeat=args.repeat,
        warmup=args.warmup,
        store=args.store,
        progress=None if args.quiet else progress,
    )
    text = result.to_markdown()
    print(text, end="")
    if args.out:
        out = Path(args.out)
        with AtomicFile(out) as file:
            file.open("w", encoding="utf-8").write(text)
        print(f"wrote {out}", file=sys.stderr)
    if not result.rows:
        print(
            "xpose bench: nothing measured: no model in the store; run `xpose convert` first",
            file=sys.stderr,
        )
        return 1
    return 0
