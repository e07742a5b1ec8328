"""How the model reaches Ray's workers: :class:`ModelSource`, checked by sha256 on each node."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray

from xpose import store as _store
from xpose.estimator import Estimator, load

__all__ = ["ModelSource", "materialize"]


@dataclass(frozen=True)
class ModelSource:
    """What an actor needs to load the model, without converting anything.

    Attributes:
        path: the model file (or SavedModel folder) as the driver sees it.
        sha256: the file's checksum (the manifest's for a store file); ``None`` for a folder.
        model: the catalogue name (``None`` for a file identified from its tensors).
        backend, precision: as :func:`xpose.load` resolved them.
        options: the model options (checked on the driver).
        blob: an object reference to the file's bytes when shipped through the object store.
    """

    path: str
    sha256: str | None
    model: str | None
    backend: str
    precision: str | None
    options: Mapping[str, Any] = field(default_factory=dict)
    blob: Any = None

    @classmethod
    def resolve(
        cls,
        model: str | os.PathLike[str],
        backend: str,
        precision: str,
        *,
        store: str | os.PathLike[str] | None = None,
        ship_model: bool = False,
        **options: Any,
    ) -> ModelSource:
        """Load the model once on the driver (checking names, options, file and checksum).

        Raises:
            whatever :func:`xpose.load` raises (unknown model, not converted yet, bad option...).
        """
        with load(model, backend, precision, store=store, **options) as est:
            path = est.path
            spec_name = est.spec.name if _is_catalogue(model) else None
            backend_name, file_precision = est.backend_name, est.precision
        sha = _manifest_sha(spec_name, precision, backend_name, store) if spec_name else None
        if sha is None and path.is_file():
            sha = _store.sha256_file(path)
        blob = None
        if ship_model:
            if not path.is_file():
                raise ValueError(
                    f"ship_model needs a model file, {path} is a folder; put it where every "
                    "node sees it instead"
                )
            blob = ray.put(path.read_bytes())
        return cls(
            path=str(path.resolve()),
            sha256=sha,
            model=spec_name,
            backend=backend_name,
            precision=file_precision,
            options=dict(options),
            blob=blob,
        )

    def open(self, threads: int | None, workdir: str) -> Estimator:
        """Load the estimator on a worker: from the shipped bytes, else from :attr:`path`.

        Raises:
            FileNotFoundError: the path is not visible on this node (the message says what to do).
            xpose.store.ModelFileError: the file's sha256 differs from the driver's.
        """
        from xpose.backends import open_backend
        from xpose.models import get_spec

        if self.blob is not None:
            path = materialize(ray.get(self.blob), Path(self.path).name, self.sha256, workdir)
        else:
            path = Path(self.path)
            if not path.exists():
                raise FileNotFoundError(
                    f"the model {path} is not visible on this node; put the model store on a "
                    "filesystem every node mounts at the same path, or pass ship_model=True "
                    "(--ship-model)"
                )
            if self.sha256 is not None and path.is_file():
                _check_sha(path, self.sha256)
        spec = get_spec(self.model) if self.model is not None else None
        opened = open_backend(self.backend, path, threads=threads)
        try:
            return Estimator(opened, spec=spec, precision=self.precision, **dict(self.options))
        except (ValueError, TypeError):
            opened.close()
            raise


def _is_catalogue(model: str | os.PathLike[str]) -> bool:
    from xpose.models import MODELS

    return isinstance(model, str) and model in MODELS


def _manifest_sha(
    model: str, precision: str, backend: str, store: str | os.PathLike[str] | None
) -> str | None:
    fmt = _store.BACKEND_FORMATS.get(backend)
    if fmt is None or fmt not in _store.FORMATS:
        return None
    entry = _store.Manifest.load(store).entry(_store.relpath(model, precision, fmt))
    return None if entry is None else entry.get("sha256")


def _check_sha(path: Path, sha256: str) -> None:
    digest = _store.sha256_file(path)
    if digest != sha256:
        raise _store.ModelFileError(
            f"{path}: sha256 {digest} does not match the manifest ({sha256}); the file is "
            "corrupt or differs from the driver's copy"
        )


def materialize(data: bytes, name: str, sha256: str | None, folder: str | os.PathLike[str]) -> Path:
    """Write shipped model bytes to ``folder/name`` (atomically) after checking their sha256.

    Raises:
        xpose.store.ModelFileError: the bytes do not match ``sha256``; nothing is written.
    """
    import hashlib

    if sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise _store.ModelFileError(
                f"shipped model {name}: sha256 {digest} does not match the manifest ({sha256})"
            )
    target = Path(folder) / name
    with _store.atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return target
