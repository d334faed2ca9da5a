"""A directory's manifest (sha256 of every file, MLmodel included) and one digest over it.

Registering a model version pins both in the registry; loading the version recomputes the
manifest of the downloaded files and refuses any difference before a byte is deserialized.
The digest is sha256 over the manifest's canonical JSON (sorted keys, no spaces), so any
client can recompute it from the manifest alone.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from trk.artifacts.base import ArtifactRepository
from trk.exceptions import IntegrityError, NotFound

Manifest = dict[str, str]  # relative posix path -> hex sha256
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """Hex sha256 of one file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def build(root: Path) -> Manifest:
    """{relative posix path: sha256} of every file under root."""
    root = Path(root)
    return {
        p.relative_to(root).as_posix(): file_sha256(p)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def digest(manifest: Manifest) -> str:
    """`sha256:<hex>` over the manifest's canonical JSON."""
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def verify(root: Path, manifest: Manifest, where: str) -> None:
    """Raise IntegrityError naming the first file missing, changed or added under root."""
    found = build(root)
    for rel, sha in sorted(manifest.items()):
        if rel not in found:
            raise IntegrityError(f"{where}: file {rel} is missing")
        if found[rel] != sha:
            raise IntegrityError(
                f"{where}: file {rel} does not match the sha256 pinned at registration "
                "(changed after the version was registered)"
            )
    for rel in sorted(set(found) - set(manifest)):
        raise IntegrityError(f"{where}: file {rel} was added after the version was registered")


def of_repository(repo: ArtifactRepository) -> Manifest | None:
    """The manifest of every file under the repository's root; None when it holds none."""
    from trk.artifacts.local import LocalArtifactRepository

    if isinstance(repo, LocalArtifactRepository):
        return build(repo.root) or None if repo.root.is_dir() else None
    tmp = Path(tempfile.mkdtemp(prefix="trk-pin-"))
    try:
        repo.download_artifacts("", tmp)
        return build(tmp) or None
    except NotFound:  # a source that holds nothing yet (MLflow allows registering one)
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def to_json(manifest: Manifest | None) -> str | None:
    return None if manifest is None else json.dumps(manifest, sort_keys=True)


def from_json(text: str | None) -> Manifest | None:
    """A manifest stored as JSON text."""
    if not text:
        return None
    try:
        return parse(json.loads(text))
    except ValueError:
        raise IntegrityError("The registry's stored manifest is corrupt (not JSON)") from None


def parse(value: Any) -> Manifest | None:
    """A manifest read from the registry: anything but {path: sha256} is refused."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise IntegrityError("The registry's manifest is corrupt (not a map of file to sha256)")
    return value
