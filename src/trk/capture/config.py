"""The capture's settings, as `trk-serve --capture-*` flags give them."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from trk.capture.sampling import check_fraction
from trk.exceptions import InvalidParameter

FLUSH_S = 60.0  # a file per partition per replica per minute: few files, rows a minute late
MAX_ROWS = 200_000  # rows per file: ~10-40 MB of Parquet, read in one go by any engine
SPOOL_MB = 1024  # disk the spool may take while the bucket is unreachable


@dataclass(frozen=True)
class CaptureConfig:
    uri: str
    flush_s: float = FLUSH_S
    max_rows: int = MAX_ROWS
    sample: float = 1.0
    drop_columns: tuple[str, ...] = ()
    inputs: bool = True
    spool_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "trk-capture")
    spool_mb: float = SPOOL_MB

    def __post_init__(self) -> None:
        check_fraction(self.sample)
        if self.flush_s <= 0:
            raise InvalidParameter(f"--capture-flush-s must be positive, got {self.flush_s}")
        if self.max_rows < 1:
            raise InvalidParameter(f"capture rows per file must be at least 1, got {self.max_rows}")
        if self.spool_mb <= 0:
            raise InvalidParameter(f"--capture-spool-mb must be positive, got {self.spool_mb}")

    @property
    def spool_bytes(self) -> int:
        return int(self.spool_mb * 1024 * 1024)


def parse_columns(text: str | None) -> tuple[str, ...]:
    """`a,b` -> ('a', 'b') (--capture-columns-drop)."""
    return tuple(c.strip() for c in (text or "").split(",") if c.strip())
