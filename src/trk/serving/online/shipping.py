"""The wire between a serving process and its log shipper: frames of records down, acks up.

One line of JSON per frame, both ways (orjson escapes newlines inside strings, so a line is a
frame). Down, from the fold: `[seq, model, [item, ...]]`, each item one answer as
`[request_id, variant, version, answer, probability, at_ms, shadow, inputs, latency_ms,
status]` (`inputs`: the request rows, a table as `{"dataframe_split": {"columns", "data"}}`,
or null unless the shipper was asked to capture them; `latency_ms`: null for shadow answers;
`status`: the HTTP status answered, 200 unless the shipper captures error answers too, whose
`answer` and `inputs` are null; an item without it is a 200). Up, from the shipper, once
every item of frames up to `seq` is in every sink: `{"ack": seq, "rows": rows written,
"dropped": {reason: count}, "degraded": why or null, "capture_dropped": {reason: count}}`
with cumulative counts (`degraded`: a sink that is behind, such as a capture that cannot reach
its bucket; `capture_dropped`: the capture's drops, a series of their own).

A pipe to a child process by default (measured: a frame of 100 one-row answers costs the
serving process ~25 us to encode and write; the same bytes over a Unix socket to a sidecar
cost the same), or a Unix socket to `trk log ship --listen PATH`. On a socket the serving
process first sends `{"hello": [flag, ...]}`: the shipper flags a child would get on its
command line (its capture, or --no-prediction-log), so a sidecar writes what a child would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np
import orjson

from trk.serving.online.records import (
    ANSWER,
    AT,
    INPUTS,
    LATENCY,
    PROBABILITY,
    REQUEST_ID,
    Record,
    Run,
)

DUMP_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
F8 = np.dtype(np.float64)


class Shipped(NamedTuple):
    """One answer as the shipper's sinks read it."""

    request_id: str
    variant: str
    version: str
    answer: Any  # plain JSON: a list per row, or a scalar
    probability: float
    at_ms: int
    shadow: bool = False
    inputs: Any = None
    latency_ms: float | None = None
    status: int = 200


@dataclass
class Frame:
    seq: int
    model: str
    items: list[Shipped]


def run_items(
    run: Run, wall_offset: float, inputs: bool = False, count: int | None = None
) -> list[tuple[object, ...]]:
    """The first `count` (all) records of a run as frame items: its shared fields repeated,
    the rest read out of the records in C."""
    records = run.records if count is None else run.records[:count]
    return list(
        zip(
            map(REQUEST_ID, records),
            repeat(run.variant),
            repeat(run.version),
            _answers(run, records),
            map(PROBABILITY, records),
            [int((at + wall_offset) * 1000) for at in map(AT, records)],
            repeat(run.shadow),
            map(_rows, map(INPUTS, records)) if inputs else repeat(None),
            [None if s is None else s * 1000 for s in map(LATENCY, records)],
            repeat(run.status),
        )
    )


def _answers(run: Run, records: list[Record]) -> Iterable[object]:
    """The records' answers as orjson writes them: a run of one-value arrays of ints, bools or
    float64 as lists of their value (a third of an array's time; float32 would print more
    digits than numpy does), other numeric arrays as they are, the rest as plain values."""
    scalars, dtypes, answers = run.scalars, run.dtypes, map(ANSWER, records)
    if scalars is None or not dtypes:
        return map(_plain, answers)
    if run.ndims in ({1}, {2}) and all(d.kind in "biu" or d == F8 for d in dtypes):
        values = scalars[: len(records)]
        return [[v] for v in values] if run.ndims == {1} else [[[v]] for v in values]
    if 0 not in run.ndims and all(d.kind in "biuf" and d.isnative for d in dtypes):
        return answers  # one-value numeric arrays: always contiguous
    return map(_plain, answers)


def encode_frame(seq: int, model: str, items: Sequence[Sequence[object]]) -> bytes:
    return orjson.dumps([seq, model, items], option=DUMP_OPTIONS) + b"\n"


def decode_frame(line: bytes) -> Frame:
    seq, model, items = orjson.loads(line)
    return Frame(int(seq), str(model), [Shipped(*i) for i in items])


def encode_ack(
    seq: int,
    rows: int,
    dropped: dict[str, int],
    degraded: str | None = None,
    capture_dropped: dict[str, int] | None = None,
) -> bytes:
    body = {
        "ack": seq,
        "rows": rows,
        "dropped": dropped,
        "degraded": degraded,
        "capture_dropped": capture_dropped or {},
    }
    return orjson.dumps(body) + b"\n"


def decode_ack(line: bytes) -> dict[str, Any]:
    ack: dict[str, Any] = orjson.loads(line)
    return ack


def _rows(inputs: Any) -> Any:
    """Request rows for the capture: a table keeps its column names (the capture drops PII
    columns by name and writes rows as records)."""
    columns = getattr(inputs, "columns", None)
    if columns is not None and hasattr(inputs, "to_numpy"):
        return {"dataframe_split": {"columns": [str(c) for c in columns], "data": _plain(inputs)}}
    return _plain(inputs)


def _plain(value: Any) -> Any:
    """What orjson can write: numeric numpy arrays as they are (its fast path), other arrays
    and pandas objects as lists, dicts of them member by member, else as is."""
    if type(value) is np.ndarray:  # the usual answer, decided in one look
        return value if _native(value) else value.tolist()
    if value is None or isinstance(value, list | int | float | str):
        return value
    to_numpy = getattr(value, "to_numpy", None)
    if to_numpy is not None:  # a DataFrame or Series
        value = to_numpy()
    if isinstance(value, np.ndarray):
        return value if _native(value) else value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _native(arr: np.ndarray) -> bool:
    """Whether orjson writes the array as it is: numeric, contiguous, the machine's byte order
    (it refuses the other order outright)."""
    return (
        arr.dtype.kind in "biuf"
        and arr.flags.c_contiguous
        and arr.dtype.isnative
        and arr.ndim > 0  # orjson refuses a 0-d array: it is written as its value
    )


def hello(args: list[str]) -> bytes:
    """The line a serving process sends a sidecar first: its shipper flags."""
    return orjson.dumps({"hello": args}) + b"\n"


def hello_args(line: bytes) -> tuple[list[str], list[bytes]]:
    """(flags, frames to read before the rest): a serving process without a hello sends none."""
    if line.startswith(b"{"):
        try:
            args = orjson.loads(line)["hello"]
            if isinstance(args, list) and all(isinstance(a, str) for a in args):
                return args, []
        except (orjson.JSONDecodeError, KeyError, TypeError):
            pass
        return [], []  # an object that is no hello: skipped like any line that is no frame
    return [], [line] if line else []
