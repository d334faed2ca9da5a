"""The capture's settings, as `trk-serve --capture-*` flags give them."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def to_args(config: CaptureConfig) -> list[str]:
    """The log shipper's command-line flags for `config` (read back by `add_arguments`)."""
    args = [
        "--capture-uri",
        config.uri,
        "--capture-flush-s",
        repr(config.flush_s),
        "--capture-max-rows",
        str(config.max_rows),
        "--capture-sample",
        repr(config.sample),
        "--capture-spool-dir",
        str(config.spool_dir),
        "--capture-spool-mb",
        repr(config.spool_mb),
    ]
    if config.drop_columns:
        args += ["--capture-columns-drop", ",".join(config.drop_columns)]
    if not config.inputs:
        args.append("--no-capture-inputs")
    return args


def add_arguments(parser: Any) -> None:
    """The flags `to_args` writes, on an argparse parser (the log shipper's)."""
    parser.add_argument("--capture-uri", default=None)
    parser.add_argument("--capture-flush-s", type=float, default=FLUSH_S)
    parser.add_argument("--capture-max-rows", type=int, default=MAX_ROWS)
    parser.add_argument("--capture-sample", type=float, default=1.0)
    parser.add_argument("--capture-spool-dir", default=None)
    parser.add_argument("--capture-spool-mb", type=float, default=SPOOL_MB)
    parser.add_argument("--capture-columns-drop", default=None)
    parser.add_argument("--no-capture-inputs", action="store_true")


def from_args(ns: Any) -> CaptureConfig | None:
    """The config parsed flags describe (None without --capture-uri)."""
    if not ns.capture_uri:
        return None
    spool = {"spool_dir": Path(ns.capture_spool_dir)} if ns.capture_spool_dir else {}
    return CaptureConfig(
        ns.capture_uri,
        ns.capture_flush_s,
        ns.capture_max_rows,
        ns.capture_sample,
        parse_columns(ns.capture_columns_drop),
        not ns.no_capture_inputs,
        spool_mb=ns.capture_spool_mb,
        **spool,
    )
