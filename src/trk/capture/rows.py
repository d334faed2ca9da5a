"""One answered request as the capture's row: its record, and its answer and inputs as JSON."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

import numpy as np
import orjson

_JSON = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_PLAIN = {list, type(None)}


class CaptureRecord(NamedTuple):
    """What the log shipper hands the capture for each answer (of each variant, in shadow mode)."""

    request_id: str
    timestamp_ms: int
    model: str
    variant: str
    version: str
    routing_probability: float
    status: int
    latency_ms: float | None  # None where the shipper does not know it
    prediction: Any  # the answer (None for a failed request)
    inputs: Any = None  # the request's rows: a DataFrame, an array, a dict of columns, records


def answer_json(prediction: Any) -> str | None:
    """The answer's rows as JSON: one value per row (a single output column flattened)."""
    if prediction is None:
        return None
    if hasattr(prediction, "to_numpy"):
        prediction = prediction.to_numpy()
    if isinstance(prediction, np.ndarray) and prediction.ndim == 2 and prediction.shape[1] == 1:
        prediction = prediction[:, 0]
    return orjson.dumps(prediction, option=_JSON, default=_fallback).decode()


def inputs_json(inputs: Any, drop: Collection[str] = ()) -> str | None:
    """The request's rows as JSON: records for tables, lists for arrays; `drop` columns out."""
    if inputs is None:
        return None
    if hasattr(inputs, "to_dict") and hasattr(inputs, "columns"):  # a pandas DataFrame
        if drop:
            inputs = inputs.drop(columns=[c for c in drop if c in inputs.columns])
        inputs = inputs.to_dict(orient="records")
    elif isinstance(inputs, dict) and drop:
        inputs = {k: v for k, v in inputs.items() if k not in drop}
    elif isinstance(inputs, list) and drop and inputs and isinstance(inputs[0], dict):
        inputs = [{k: v for k, v in r.items() if k not in drop} for r in inputs]
    return orjson.dumps(inputs, option=_JSON, default=_fallback).decode()


def shipped_rows(inputs: Any) -> Any:
    """Rows as the log shipper carries them: a table as {"dataframe_split": {"columns",
    "data"}} -> its rows as records (so columns can be dropped by name); else as they are."""
    if isinstance(inputs, dict) and len(inputs) == 1 and "dataframe_split" in inputs:
        split = inputs["dataframe_split"]
        return [dict(zip(split["columns"], row, strict=False)) for row in split["data"]]
    return inputs


def plain_json(values: list[Any], drop: Collection[str] = ()) -> list[str | None]:
    """Answers or rows as the shipper decoded them (lists of plain JSON values, or None) ->
    their JSON text, as answer_json and inputs_json write them, without their per-value
    checks; TypeError for anything else (and for rows as records when `drop` names columns),
    so the caller takes the checked way."""
    if not {*map(type, values)} <= _PLAIN:
        raise TypeError("not a list of plain values")
    if drop and any(v and type(v[0]) is dict for v in values):
        raise TypeError("rows as records: columns to drop")
    dumps = orjson.dumps
    return [None if v is None else dumps(v).decode() for v in values]


def _fallback(value: Any) -> Any:
    """numpy scalars, timestamps and other leftovers: their plain form, else their text."""
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
