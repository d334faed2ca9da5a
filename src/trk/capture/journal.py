"""The rows a writer holds in memory, appended to a local file as they are acknowledged.

The log shipper acknowledges a batch once every sink has it; the capture keeps rows in memory
for up to a minute before closing them into Parquet, so it appends each batch to a journal
segment first (one JSON line per row; a line cut by a kill is ignored, since its batch was
not acknowledged and comes again). A segment ends when its rows are closed into files, and
names them: the files closed from a segment take names derived from its id, so a segment
recovered after a kill closes into the very same names, and nothing is published twice
under two names.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)


class Journal:
    """Segments `<id>.jsonl` in a directory: the open one, and any a killed writer left."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.left = sorted(self.root.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
        self.segment = uuid.uuid4().hex
        self._file: Any = None

    @property
    def path(self) -> Path:
        return self.root / f"{self.segment}.jsonl"

    def append(self, rows: list[tuple[Any, ...]]) -> None:
        """Write rows to the open segment, flushed to the OS (a killed process loses none)."""
        if not rows:
            return
        if self._file is None:
            self._file = self.path.open("ab")
        self._file.write(b"".join(orjson.dumps(r) + b"\n" for r in rows))
        self._file.flush()

    def close(self) -> None:
        """Stop appending (the open segment stays, for the next writer on the spool)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def end(self) -> None:
        """The open segment's rows are in files now: delete it and open a new one."""
        self.close()
        self.path.unlink(missing_ok=True)
        self.segment = uuid.uuid4().hex

    def recover(self) -> list[tuple[str, list[list[Any]]]]:
        """(segment id, rows) of each segment a killed writer left, oldest first."""
        found = []
        for path in self.left:
            rows = []
            for line in path.read_bytes().splitlines():
                try:
                    rows.append(orjson.loads(line))
                except orjson.JSONDecodeError:  # the last line, cut by the kill
                    log.info("capture: a cut line in %s skipped (it is sent again)", path)
            found.append((path.stem, rows))
        return found

    def forget(self, segment: str) -> None:
        (self.root / f"{segment}.jsonl").unlink(missing_ok=True)
