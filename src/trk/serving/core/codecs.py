"""MLflow's scoring protocol: request bytes to model input, predictions to response bytes."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import orjson

from trk.exceptions import BadRequest, UnsupportedMediaType
from trk.serving.core import inputs
from trk.serving.core.inputs import InputSpec, ModelInput

if TYPE_CHECKING:
    from trk.exceptions import TrkError
    from trk.serving.core.variant import Variant

JSON = "application/json"
CSV = "text/csv"
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_EXAMPLE = 'send {"inputs": [[...]]} or {"dataframe_split": {"columns": [...], "data": [[...]]}}'


class Codec(Protocol):
    """A protocol's request bytes to model input, and predictions or errors to bytes."""

    def decode(self, body: bytes, content_type: str | None, spec: InputSpec) -> ModelInput: ...

    def encode(
        self, predictions: Any, model_input: ModelInput, variant: Variant, request_id: str
    ) -> bytes: ...

    def error(self, exc: TrkError) -> bytes: ...


class MlflowCodec:
    """MLflow's scoring protocol (`/invocations`) as a Codec."""

    def decode(self, body: bytes, content_type: str | None, spec: InputSpec) -> ModelInput:
        return decode(body, content_type, spec)

    def encode(
        self, predictions: Any, model_input: ModelInput, variant: Variant, request_id: str
    ) -> bytes:
        return encode(predictions)

    def error(self, exc: TrkError) -> bytes:
        return dumps(exc.to_dict())


_MEDIA_TYPES: dict[str, str] = {}  # Content-Type headers seen, and what each reads as
_MEDIA_TYPES_KEPT = 64  # clients send one or two; a client varying it gets no cache


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header, refusing what the server cannot read."""
    known = _MEDIA_TYPES.get(content_type) if content_type else None
    if known is not None:
        return known
    mime = _media_type(content_type)
    if len(_MEDIA_TYPES) < _MEDIA_TYPES_KEPT and content_type and len(content_type) <= 100:
        _MEDIA_TYPES[content_type] = mime
    return mime


def _media_type(content_type: str | None) -> str:
    if not content_type:
        raise UnsupportedMediaType("Missing Content-Type header: use application/json or text/csv")
    mime, _, rest = content_type.partition(";")
    mime = mime.strip().lower()
    charset = rest.strip().lower()
    if charset and charset.replace(" ", "") not in ("charset=utf-8", 'charset="utf-8"'):
        raise UnsupportedMediaType(f"Content-Type {content_type!r}: only UTF-8 is supported")
    if mime not in (JSON, CSV):
        raise UnsupportedMediaType(
            f"Content-Type {mime!r} is not supported: use application/json or text/csv"
        )
    return mime


def decode(body: bytes, content_type: str | None, spec: InputSpec) -> ModelInput:
    """Request body to model input; every problem is a BadRequest/InvalidParameter."""
    mime = media_type(content_type)
    if mime == CSV:
        if not body.strip():
            raise BadRequest(f"Empty request body: {_EXAMPLE}")
        return decode_csv(body, spec)
    return decode_json(body, spec)


def decode_json(body: bytes, spec: InputSpec) -> ModelInput:
    """One of MLflow's four JSON input forms, plus optional `params`."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if not body.strip():  # looked at only when it failed: strip copies the body
            raise BadRequest(f"Empty request body: {_EXAMPLE}") from None
        raise BadRequest(f"Invalid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BadRequest(
            f"The body must be a JSON object with exactly one of {', '.join(FORMATS)}; "
            f"got a {type(doc).__name__}"
        )
    if len(doc) == 1:  # the usual body: one input form and no params, known at one look
        key = next(iter(doc))
        if key in FORMATS:
            return _decode_form(key, doc[key], spec, None)
    params = doc.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadRequest("'params' must be a JSON object")
    keys = [k for k in doc if k != "params"]
    unknown = [k for k in keys if k not in FORMATS]
    if unknown:
        raise BadRequest(
            f"Unknown top-level key(s) {', '.join(map(repr, unknown))}; "
            f"use exactly one of {', '.join(FORMATS)} (and optionally 'params')"
        )
    if len(keys) != 1:
        found = f"got {', '.join(keys)}" if keys else "got none"
        raise BadRequest(f"Use exactly one of {', '.join(FORMATS)}; {found}")
    return _decode_form(keys[0], doc[keys[0]], spec, params)


def _decode_form(
    key: str, value: Any, spec: InputSpec, params: dict[str, Any] | None
) -> ModelInput:
    if key == "dataframe_split":
        return inputs.from_split(value, spec, params)
    if key == "dataframe_records":
        return inputs.from_records(value, spec, params)
    if isinstance(value, dict):
        return inputs.from_column_dict(value, spec, params)
    return inputs.from_rows(value, spec, params)


def decode_csv(body: bytes, spec: InputSpec) -> ModelInput:
    """CSV with a header row (or, for a named signature, without one when all cells are numbers)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"The CSV body is not valid UTF-8: {exc}") from None
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if r]
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
        raise BadRequest(f"The CSV body cannot be read: {exc}") from None
    if not rows:
        raise BadRequest("The CSV body holds no rows")
    header: list[str] | None = rows[0]
    data = rows[1:]
    if _all_numbers(rows[0]) and (spec.tensor or spec.names or spec.fast_ok):
        header, data = None, rows  # no header: take the columns positionally
    if not data:
        raise BadRequest("The CSV body has a header but no data rows")
    values = [[_cell(c) for c in row] for row in data]
    if header is None:
        return inputs.from_rows(values, spec, None)
    return inputs.from_columns([h.strip() for h in header], values, spec, None)


def _all_numbers(cells: list[str]) -> bool:
    try:
        for c in cells:
            float(c)
    except ValueError:
        return False
    return True


def _cell(text: str) -> Any:
    """A CSV cell as int, float or (when it is not a number) the string itself."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _default(obj: Any) -> Any:
    """orjson fallback for what it cannot write natively (object arrays, pandas values)."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if hasattr(obj, "to_dict"):  # pandas DataFrame / Series
        return jsonable(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if isinstance(obj, bytes):
        import base64

        return base64.b64encode(obj).decode("ascii")
    raise TypeError(f"Cannot encode {type(obj).__name__} as JSON")


def jsonable(predictions: Any) -> Any:
    """MLflow's shape: arrays as lists, DataFrames as records, Series as one-column records."""
    mod = type(predictions).__module__
    if mod.startswith("pandas"):
        import pandas as pd

        if isinstance(predictions, pd.Series):
            predictions = pd.DataFrame(predictions)
        if isinstance(predictions, pd.DataFrame):
            return predictions.to_dict(orient="records")
    return predictions


_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def encode(predictions: Any) -> bytes:
    """`{"predictions": ...}` as bytes."""
    return dumps({"predictions": jsonable(predictions)})


def dumps(obj: Any) -> bytes:
    """JSON bytes: answers (`encode`) and every other endpoint's documents."""
    try:
        return orjson.dumps(obj, default=_default, option=_OPTS)
    except TypeError:
        return _as_lists(obj)


def _as_lists(obj: object) -> bytes:
    """JSON of `obj` with every numpy array written through `_default`, as a list: orjson
    refuses some arrays outright instead of handing them to `_default` (a byte order not
    the machine's, as a model loaded from such data answers). Unencodable still raises."""
    return orjson.dumps(obj, default=_default, option=orjson.OPT_NON_STR_KEYS)


MLFLOW = MlflowCodec()
