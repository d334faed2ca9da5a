"""A bounded local directory of closed Parquet files waiting to be published.

Every file goes through it: written under a temporary name, renamed into place, published,
then deleted. So a bucket that is down costs nothing but disk up to the bound, and a shipper
killed at any point loses no closed file: the next one to open the spool publishes what it
finds. A file is published under its own unique name, so one published twice (killed after
the upload, before the delete) is the same object again, never a duplicate.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from trk.capture.target import Target

log = logging.getLogger(__name__)


class Spool:
    """Files keyed by their place under the capture URI, at most `max_bytes` of them."""

    def __init__(self, root: Path, target: Target, max_bytes: int) -> None:
        self.root, self.target, self.max_bytes = root, target, max_bytes
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        files = self._files()
        self.used = sum(p.stat().st_size for p in files)
        self.waiting = len(files)  # kept in memory: the writer asks on every batch
        self.failing = False  # the last publish failed (the bucket is unreachable)

    def _files(self) -> list[Path]:
        return sorted(self.root.rglob("part-*.parquet"))

    def pending(self) -> int:
        return self.waiting

    def add(self, table: Any, key: str) -> bool:
        """Write `table` as the file for `key`; False (nothing written) when the spool is full."""
        import pyarrow.parquet as pq

        if self.used >= self.max_bytes:
            return False
        dest = self.root / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".tmp-{uuid.uuid4().hex}"
        pq.write_table(table, tmp, compression="zstd")
        size = tmp.stat().st_size
        again = dest.stat().st_size if dest.exists() else None  # a recovered segment's file
        os.replace(tmp, dest)
        with self._lock:
            self.used += size - (again or 0)
            self.waiting += 0 if again is not None else 1
        return True

    def publish(self) -> bool:
        """Publish every waiting file, oldest first; False at the first that fails (kept)."""
        for path in self._files():
            key = path.relative_to(self.root).as_posix()
            size = path.stat().st_size
            try:
                self.target.put(path, key)
            except Exception as exc:
                if not self.failing:
                    log.warning(
                        "capture: cannot publish to %s (kept in the spool, retried): %s",
                        self.target.uri,
                        exc,
                    )
                self.failing = True
                return False
            path.unlink()
            with self._lock:
                self.used -= size
                self.waiting -= 1
        if self.failing:
            log.warning("capture: publishing to %s again", self.target.uri)
        self.failing = False
        return True
