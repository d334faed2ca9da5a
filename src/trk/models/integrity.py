"""sha256 of every file in a model directory, recorded at save and verified at load."""

from __future__ import annotations

import hashlib
from pathlib import Path

from trk.exceptions import IntegrityError

_SKIP = {"MLmodel"}
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """Hex sha256 of one file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def hash_dir(root: Path) -> dict[str, str]:
    """{relative posix path: sha256} of every file under root except MLmodel."""
    root = Path(root)
    return {
        p.relative_to(root).as_posix(): file_sha256(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).as_posix() not in _SKIP
    }


def verify_dir(root: Path, expected: dict[str, str]) -> None:
    """Raise IntegrityError naming the first file that is missing or changed."""
    for rel, digest in expected.items():
        path = Path(root) / rel
        if not path.is_file():
            raise IntegrityError(f"Model file {rel} is missing from {root}")
        if file_sha256(path) != digest:
            raise IntegrityError(
                f"Model file {rel} in {root} does not match the sha256 recorded when it was "
                "saved: the file was changed or truncated"
            )
