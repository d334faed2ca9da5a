"""Where captures and labels live under a capture URI, and the columns of their Parquet files.

Captures: `URI/model=NAME/date=YYYY-MM-DD/hour=HH/part-<uuid>.parquet`; labels:
`URI/labels/model=NAME/date=YYYY-MM-DD/part-<uuid>.parquet` (UTC). Hive-style names, so Spark,
Trino and DuckDB read the partitions without being told; readers take only `part-*.parquet`,
never the temporary names writers publish from.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from trk.exceptions import InvalidParameter, MissingDependency

LABELS = "labels"
PART = re.compile(r"^part-[0-9a-f]{32}\.parquet$")
_KEY = re.compile(
    r"^model=(?P<model>[^/]+)/date=(?P<date>\d{4}-\d{2}-\d{2})(?:/hour=(?P<hour>\d{2}))?/"
    r"part-[0-9a-f]{32}\.parquet$"
)
_SAFE_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$")
CAPTURE_COLUMNS = (
    "request_id",
    "timestamp",
    "model",
    "variant",
    "version",
    "routing_probability",
    "status",
    "latency_ms",
    "prediction",
    "inputs",
)
LABEL_COLUMNS = ("request_id", "label", "timestamp")


def pyarrow() -> Any:
    """pyarrow, or a one-line error naming the extra that installs it."""
    try:
        import pyarrow as pa
    except ImportError as exc:
        raise MissingDependency("Capture needs pyarrow: pip install 'trk[capture]'") from exc
    return pa


def capture_schema() -> Any:
    pa = pyarrow()
    return pa.schema(
        [
            ("request_id", pa.string()),
            ("timestamp", pa.timestamp("ms", tz="UTC")),
            ("model", pa.string()),
            ("variant", pa.string()),
            ("version", pa.string()),
            ("routing_probability", pa.float64()),
            ("status", pa.int32()),
            ("latency_ms", pa.float64()),
            ("prediction", pa.string()),
            ("inputs", pa.string()),
        ]
    )


def label_schema() -> Any:
    pa = pyarrow()
    return pa.schema(
        [
            ("request_id", pa.string()),
            ("label", pa.string()),
            ("timestamp", pa.timestamp("ms", tz="UTC")),
        ]
    )


def check_model(model: str) -> str:
    """A model name that is one path segment (no '/', '=', '..'): it becomes a partition."""
    if not isinstance(model, str) or not _SAFE_MODEL.match(model) or ".." in model:
        raise InvalidParameter(
            f"Model name {model!r} cannot name a capture partition (letters, digits, '.', '_', "
            "'-' and spaces, at most 128)"
        )
    return model


def _utc(at_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(at_ms / 1000, tz=dt.UTC)


def hour_of(at_ms: int) -> tuple[str, int]:
    """The (date, hour) partition of a time in milliseconds since the epoch."""
    t = _utc(at_ms)
    return t.strftime("%Y-%m-%d"), t.hour


def capture_dir(model: str, date: str, hour: int) -> str:
    return f"model={check_model(model)}/date={date}/hour={hour:02d}"


def label_dir(model: str, date: str) -> str:
    return f"{LABELS}/model={check_model(model)}/date={date}"


def model_prefix(model: str, labels: bool = False) -> str:
    return f"{LABELS + '/' if labels else ''}model={check_model(model)}/"


def part_name(seed: str | None = None) -> str:
    """A fresh unique name, or with `seed` always the same one (a journal segment's files)."""
    name = uuid.uuid5(uuid.NAMESPACE_URL, seed) if seed else uuid.uuid4()
    return f"part-{name.hex}.parquet"


def parse_key(key: str) -> tuple[str, str, int | None] | None:
    """(model, date, hour) of a published part key relative to the URI (labels/ stripped),
    None for anything else (temporary names, stray files)."""
    m = _KEY.match(key.removeprefix(f"{LABELS}/"))
    if m is None:
        return None
    return m["model"], m["date"], None if m["hour"] is None else int(m["hour"])


def dates_since(since_ms: int, until_ms: int) -> list[str]:
    """The UTC dates from `since_ms` to `until_ms`, oldest first (the day partitions to list)."""
    first, last = _utc(since_ms).date(), _utc(until_ms).date()
    return [str(first + dt.timedelta(days=i)) for i in range((last - first).days + 1)]


def hour_start_ms(date: str, hour: int) -> int:
    start = dt.datetime.fromisoformat(date).replace(tzinfo=dt.UTC) + dt.timedelta(hours=hour)
    return int(start.timestamp() * 1000)


def in_window(date: str, hour: int | None, since_ms: int | None) -> bool:
    """Whether a partition may hold rows at or after `since_ms` (its hour ends after it)."""
    if since_ms is None:
        return True
    start = dt.datetime.fromisoformat(date).replace(tzinfo=dt.UTC)
    end = start + (dt.timedelta(hours=hour + 1) if hour is not None else dt.timedelta(days=1))
    return end.timestamp() * 1000 > since_ms
