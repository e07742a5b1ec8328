"""``xpose evaluate``: COCO keypoint AP / AR of one model on an annotated image set."""

from __future__ import annotations

import argparse
import json
from typing import Any

from xpose.commands import add_model_choice, add_store

DESCRIPTION = """\
COCO keypoint AP / AR (pycocotools) of one model x backend x precision on a COCO-style
person_keypoints JSON and its images.

Protocols: 'single' crops a square around each labelled person (box side x --crop-scale) and
keeps the best pose of each crop, as the published MoveNet single-pose figures were measured;
'multi' runs on whole images and keeps every pose. The default is 'multi' for
movenet-multipose and 'single' for the others. PoseNet with --protocol multi decodes several
people (multi_pose=True); with 'single' it decodes one per crop.

Needs pycocotools (pip install pycocotools, or xpose[dev]).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="COCO keypoint AP/AR of a model on annotated images",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--annotations",
        "-a",
        required=True,
        metavar="COCO.json",
        help="COCO person_keypoints JSON (e.g. person_keypoints_val2017.json)",
    )
    p.add_argument(
        "--images", "-i", required=True, metavar="DIR", help="folder holding the annotated images"
    )
    add_model_choice(p)
    p.add_argument(
        "--protocol",
        choices=("single", "multi"),
        default=None,
        help="'single' (a crop per person) or 'multi' (whole images); default: multi for "
        "movenet-multipose, single otherwise",
    )
    p.add_argument(
        "--crop-scale",
        type=float,
        default=None,
        help="single protocol: box enlargement of the crop (default 1.25)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    add_store(p)
    p.set_defaults(run=run)


def default_protocol(model: str) -> str:
    """``multi`` for MoveNet MultiPose (by name or a file name holding it), else ``single``."""
    return "multi" if "multipose" in str(model) else "single"


def run(args: argparse.Namespace) -> int:
    """Evaluate; print pycocotools' summary table, or JSON with ``--json``."""
    import xpose
    from xpose.evaluate import CROP_SCALE, evaluate, load_coco

    protocol = args.protocol or default_protocol(args.model)
    crop_scale = CROP_SCALE if args.crop_scale is None else args.crop_scale
    if not crop_scale > 0:
        raise ValueError(f"--crop-scale must be > 0, got {crop_scale}")
    # Check the data first: a wrong path should not wait for a model to load.
    coco = load_coco(args.annotations, args.images)
    options: dict[str, Any] = {}
    if protocol == "multi" and str(args.model) == "posenet":
        options["multi_pose"] = True
    with xpose.load(
        args.model,
        backend=args.backend,
        precision=args.precision,
        store=args.store,
        threads=args.threads,
        **options,
    ) as est:
        result = evaluate(
            est.predict,
            coco,
            args.images,
            protocol=protocol,
            crop_scale=crop_scale,
            progress=args.progress,
        )
        described = {
            "model": est.spec.name,
            "backend": est.backend_name,
            "precision": est.precision,
            "path": str(est.path),
            "options": dict(est.options),
        }
    if args.json:
        print(json.dumps({**described, **result.to_dict()}, indent=2))
    else:
        print(
            f"{described['model']} {described['precision'] or ''} on {described['backend']} "
            f"({described['path']})"
        )
        print(result.summary())
    return 0
