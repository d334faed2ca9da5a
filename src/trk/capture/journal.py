"""The rows a writer holds in memory, appended to a local file as they are acknowledged.

The log shipper acknowledges a batch once every sink has it; the capture keeps rows in memory
for up to a minute before closing them into Parquet, so it appends each batch to a journal
segment first: one JSON line per batch, its columns (one `orjson.dumps` per batch, not one per
row: measured, a fifth of the per-row cost). A line cut by a kill is ignored, since its batch
was not acknowledged and comes again; a line of one row (a journal an earlier trk wrote)
reads too. A segment ends when its rows are closed into files, and
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

    def append(self, columns: list[list[Any]]) -> None:
        """Write a batch's columns to the open segment as one line, flushed to the OS (a
        killed process loses none)."""
        if not columns or not columns[0]:
            return
        if self._file is None:
            self._file = self.path.open("ab")
        self._file.write(orjson.dumps(columns) + b"\n")
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

    def recover(self, width: int) -> list[tuple[str, list[list[Any]]]]:
        """(segment id, its `width` columns) of each segment a killed writer left, oldest
        first."""
        found = []
        for path in self.left:
            columns: list[list[Any]] = [[] for _ in range(width)]
            for line in path.read_bytes().splitlines():
                try:
                    batch = orjson.loads(line)
                except orjson.JSONDecodeError:  # the last line, cut by the kill
                    log.info("capture: a cut line in %s skipped (it is sent again)", path)
                    continue
                if batch and not isinstance(batch[0], list):  # one row per line (earlier trk)
                    batch = [[v] for v in batch]
                for column, values in zip(columns, batch, strict=True):
                    column.extend(values)
            found.append((path.stem, columns))
        return found

    def forget(self, segment: str) -> None:
        (self.root / f"{segment}.jsonl").unlink(missing_ok=True)
