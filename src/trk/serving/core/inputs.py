"""Turn decoded rows, records and columns into model input, checked against the signature."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from trk.exceptions import BadRequest, InvalidParameter
from trk.models.schema_enforcement import cast_array

MAX_DEPTH = 8  # list nesting a request may use; deeper is an attack or a mistake
NUMERIC_TYPES = {"boolean", "integer", "long", "float", "double"}
NUMERIC_KINDS = "biuf"


@dataclass(slots=True)
class ModelInput:
    """Decoded request data ready for predict: `fast` means a 2-D array for predict_checked.

    Slots: one is built per request (and read a dozen times)."""

    data: Any
    params: dict[str, Any] | None = None
    fast: bool = False
    rows: int = 1
    request_id: str | None = None  # an id the body itself carries (V2's `id`)
    request: Any = None  # what the protocol's encoder needs from its request


@dataclass(frozen=True)
class InputSpec:
    """What a model's signature says about its input, computed once per loaded model."""

    names: tuple[str, ...] | None  # column names of a named column signature
    types: tuple[str, ...]  # MLflow type per column ("" for tensors)
    tensor: bool
    tensor_shape: tuple[int, ...] | None
    fast_ok: bool  # numeric 2-D input may skip pandas entirely
    has_signature: bool
    # What the fast path's array is cast to (the model's `array_dtype`; None: kept as sent).
    dtype: np.dtype[Any] | None = None

    @classmethod
    def of(cls, model: Any) -> InputSpec:
        """Read the signature, `needs_dataframe` and `array_dtype` of a PyFuncModel."""
        sig = model.metadata.signature
        needs_df = bool(getattr(model, "needs_dataframe", True))
        dtype = getattr(model, "array_dtype", None)
        if sig is None or not len(sig.inputs):
            return cls(None, (), False, None, not needs_df, False, dtype)
        schema = sig.inputs
        if schema.is_tensor_spec():
            shape = tuple(schema.inputs[0].shape) if len(schema.inputs) == 1 else None
            names = tuple(schema.input_names()) if schema.has_input_names() else None
            return cls(names, (), True, shape, not needs_df and shape is not None, True, dtype)
        types = tuple(s.type for s in schema.inputs)
        names = tuple(schema.input_names()) if schema.has_input_names() else None
        numeric = all(t in NUMERIC_TYPES for t in types)
        return cls(names, types, False, None, numeric and not needs_df, True, dtype)

    @property
    def n_cols(self) -> int | None:
        if self.types:
            return len(self.types)
        if self.tensor_shape and len(self.tensor_shape) == 2 and self.tensor_shape[1] > 0:
            return self.tensor_shape[1]
        return None

    def describe_columns(self) -> str:
        return ", ".join(self.names) if self.names else f"{self.n_cols} unnamed"


def check_depth(obj: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse lists nested deeper than `limit` (walks the first element only: O(depth))."""
    depth = 0
    while isinstance(obj, list) and obj:
        depth += 1
        if depth > limit:
            raise BadRequest(f"Input is nested more than {limit} lists deep")
        obj = obj[0]


SCALARS = frozenset({bool, int, float})  # JSON values numpy turns into a numeric array


def scalar_kinds(values: list[Any]) -> set[type] | None:
    """The types of a flat or 2-D list's values, read without building anything; None when
    the list is deeper or irregular (then `object_values` tells)."""
    if not values or type(values[0]) is not list:
        return set(map(type, values))
    try:
        return set(map(type, chain.from_iterable(values)))
    except TypeError:  # a row that is no list (a number)
        return None


def object_values(values: list[Any]) -> tuple[np.ndarray, list[Any], set[type]] | None:
    """`values` as an array of references (`dtype=object`, 8 bytes a value: numpy's own string
    arrays pad every string to the longest, so a small body of many short strings and one
    long one would ask for gigabytes), its values flat and their types; None when ragged."""
    try:
        arr = np.array(values, dtype=object)
    except (ValueError, TypeError):
        return None
    flat = arr.ravel().tolist()
    kinds = set(map(type, flat))
    return None if list in kinds else (arr, flat, kinds)  # ragged rows end up as lists


def to_array(rows: list[Any]) -> np.ndarray:
    """np.array of nested lists, with ragged rows reported as a bad request.

    Numbers become a numeric array; anything else keeps its Python values (`dtype=object`,
    so errors name the culprit, and no string array is ever built: see `object_values`).
    """
    check_depth(rows)
    kinds = scalar_kinds(rows)
    if kinds is None or not kinds <= SCALARS:
        found = object_values(rows)
        if found is None:
            raise BadRequest("Rows must all have the same length and shape")
        arr, flat, kinds = found
        if not kinds <= SCALARS:
            return arr
        return np.array(flat).reshape(arr.shape)  # numbers deeper than 2-D
    try:
        return np.array(rows)  # numbers only: nothing for numpy to pad
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"Rows must all have the same length and shape ({exc})") from None


def from_rows(rows: Any, spec: InputSpec, params: dict[str, Any] | None) -> ModelInput:
    """`inputs`/`instances` given as a list of rows, or `dataframe_split` without columns."""
    if not isinstance(rows, list):
        raise BadRequest(f"Expected a list of rows, got {type(rows).__name__}")
    if not rows:
        raise BadRequest("The input holds no rows")
    if isinstance(rows[0], dict) and all(isinstance(r, dict) for r in rows):
        return from_records(rows, spec, params)
    return from_array(to_array(rows), spec, params)


def from_array(arr: np.ndarray, spec: InputSpec, params: dict[str, Any] | None) -> ModelInput:
    """Positional rows as one array; a flat list is one column."""
    if arr.ndim == 1 and not spec.tensor:
        if spec.n_cols not in (None, 1):
            raise InvalidParameter(
                f"Expected a list of rows like [[...]] with {spec.n_cols} values each "
                f"(columns {spec.describe_columns()}), got a flat list"
            )
        arr = arr.reshape(-1, 1)
    return _from_array(arr, spec, params)


def _from_array(arr: np.ndarray, spec: InputSpec, params: dict[str, Any] | None) -> ModelInput:
    """Check a positional array against the signature; fast path when numeric and allowed.

    The request's one schema check: a fast-path array leaves here 2-D, as wide as the
    signature and of the model's dtype, and the model's `predict_checked` takes it as it is.
    """
    if spec.tensor:
        _check_tensor_shape(arr, spec)
    elif spec.n_cols is not None and (arr.ndim != 2 or arr.shape[1] != spec.n_cols):
        got = arr.shape[1] if arr.ndim == 2 else f"shape {arr.shape}"
        raise InvalidParameter(
            f"Expected {spec.n_cols} values per row (columns {spec.describe_columns()}), got {got}"
        )
    if arr.dtype.kind not in NUMERIC_KINDS:
        _check_numeric(arr, spec)
    rows = int(arr.shape[0]) if arr.ndim else 1
    if spec.fast_ok and arr.ndim == 2 and arr.dtype.kind in NUMERIC_KINDS:
        if spec.dtype is not None and arr.dtype != spec.dtype:
            arr = cast_array(arr, spec.dtype)
        return ModelInput(arr, params, fast=True, rows=rows)
    if spec.names and not spec.tensor:
        import pandas as pd

        # positional rows are taken in the signature's column order (MLflow 3 refuses them)
        return ModelInput(pd.DataFrame(arr.tolist(), columns=list(spec.names)), params, rows=rows)
    return ModelInput(arr, params, rows=rows)


def _check_tensor_shape(arr: np.ndarray, spec: InputSpec) -> None:
    shape = spec.tensor_shape
    if shape is None:
        return
    fits = arr.ndim == len(shape)
    if fits:
        for want, got in zip(shape, arr.shape, strict=True):  # a loop: no generator per request
            if want != -1 and want != got:
                fits = False
                break
    if not fits:
        raise InvalidParameter(
            f"Expected a tensor of shape {tuple(shape)} (-1 = any), got {tuple(arr.shape)}"
        )


def _check_numeric(arr: np.ndarray, spec: InputSpec) -> None:
    """Name the first string where the signature wants numbers."""
    numeric = spec.tensor or (spec.types and all(t in NUMERIC_TYPES for t in spec.types))
    if not numeric or arr.ndim == 0:
        return
    flat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    for i, row in enumerate(flat):
        for j, value in enumerate(row):
            if not isinstance(value, int | float | bool | np.number | np.bool_):
                col = spec.names[j] if spec.names and j < len(spec.names) else str(j)
                want = spec.types[j] if spec.types and j < len(spec.types) else "a number"
                raise InvalidParameter(
                    f"Column {col!r} expects {want}, got {type(value).__name__} "
                    f"{str(value)[:40]!r} in row {i}"
                )


def check_columns(columns: list[str], spec: InputSpec) -> None:
    """Refuse missing or unknown column names, naming them."""
    if spec.names is None or spec.tensor:
        return
    check_names(columns, spec.names)


def check_names(columns: list[str], names: tuple[str, ...]) -> None:
    """Refuse names missing from `columns` or not among `names`, naming them."""
    missing = [c for c in names if c not in columns]
    unknown = [c for c in columns if c not in names]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(map(repr, missing))}")
        if unknown:
            parts.append(f"unknown column(s) {', '.join(map(repr, unknown))}")
        text = "; ".join(parts)
        raise InvalidParameter(f"{text[0].upper()}{text[1:]}; the model expects {', '.join(names)}")


def from_split(split: Any, spec: InputSpec, params: dict[str, Any] | None) -> ModelInput:
    """`dataframe_split`: {"columns": [...], "data": [[...]]}."""
    if not isinstance(split, dict):
        raise BadRequest("dataframe_split must be an object with 'columns' and 'data'")
    unknown = set(split) - {"columns", "data", "index"}
    if unknown or "data" not in split:
        raise BadRequest(
            "dataframe_split must be an object with 'data' and optionally 'columns' and 'index'"
        )
    columns = split.get("columns")
    if columns is None:
        return from_rows(split["data"], spec, params)
    if not isinstance(columns, list) or not all(isinstance(c, str | int) for c in columns):
        raise BadRequest("dataframe_split.columns must be a list of names")
    columns = [str(c) for c in columns]
    return from_columns(columns, split["data"], spec, params)


def from_columns(
    columns: list[str], data: Any, spec: InputSpec, params: dict[str, Any] | None
) -> ModelInput:
    """Rows with named columns (split or CSV): reorder to the signature's order."""
    if spec.names is None or spec.tensor:
        if spec.tensor or spec.fast_ok:
            return from_rows(data, spec, params)  # CSV with a header for a tensor model
        import pandas as pd

        _check_table(columns, data)
        return ModelInput(pd.DataFrame(data, columns=columns), params, rows=len(data))
    check_columns(columns, spec)
    arr = _check_table(columns, data)
    order = [columns.index(n) for n in spec.names]
    return _from_array(arr[:, order], spec, params)


def _check_table(columns: list[str], data: Any) -> np.ndarray:
    """Rows as a 2-D array with one value per named column, or a 4xx saying what is off."""
    if not isinstance(data, list) or not data:
        raise BadRequest("The input holds no rows")
    arr = to_array(data)
    if arr.ndim != 2 or arr.shape[1] != len(columns):
        raise InvalidParameter(
            f"Every row must have {len(columns)} values, one per column in 'columns'"
        )
    return arr


def from_records(records: list[Any], spec: InputSpec, params: dict[str, Any] | None) -> ModelInput:
    """`dataframe_records` (or `instances` as dicts): one object per row."""
    if not isinstance(records, list) or not records:
        raise BadRequest("dataframe_records must be a non-empty list of objects")
    if not all(isinstance(r, dict) for r in records):
        raise BadRequest("dataframe_records must hold one JSON object per row")
    if spec.names is None or spec.tensor:
        import pandas as pd

        return ModelInput(pd.DataFrame.from_records(records), params, rows=len(records))
    for i, rec in enumerate(records):
        if len(rec) != len(spec.names) or any(n not in rec for n in spec.names):
            try:
                check_columns(list(rec), spec)
            except InvalidParameter as exc:
                raise InvalidParameter(f"Row {i}: {exc.message}") from None
    rows = [[rec[n] for n in spec.names] for rec in records]
    return _from_array(to_array(rows), spec, params)


def from_column_dict(
    cols: dict[str, Any], spec: InputSpec, params: dict[str, Any] | None
) -> ModelInput:
    """`inputs` as {"name": [values...]}: columns of a table or named tensors."""
    if not cols:
        raise BadRequest("'inputs' holds no columns")
    if spec.tensor or spec.names is None:
        # a scalar is one value, as for a named signature below (it was a 0-d array)
        arrays = {str(k): to_array(v if isinstance(v, list) else [v]) for k, v in cols.items()}
        rows = len(next(iter(arrays.values()))) if arrays else 0
        return ModelInput(arrays, params, rows=rows)
    check_columns(list(cols), spec)
    values = [cols[n] if isinstance(cols[n], list) else [cols[n]] for n in spec.names]
    if len({len(v) for v in values}) > 1:
        raise BadRequest("Every column in 'inputs' must hold the same number of values")
    arr = to_array(values).T if values[0] else np.empty((0, len(values)))
    if not arr.shape[0]:
        raise BadRequest("The input holds no rows")
    return _from_array(arr, spec, params)


def from_tensors(
    tensors: dict[str, np.ndarray], spec: InputSpec, params: dict[str, Any] | None
) -> ModelInput:
    """Named tensors (V2 inputs): the signature's columns, its named tensors, or one table.

    One tensor that is not one of several named inputs is the model's whole input (rows
    in signature order, as `{"inputs": [[...]]}`), whatever its name.
    """
    names = spec.names or ()
    if len(tensors) == 1 and _whole_input(next(iter(tensors)), names):
        return from_array(next(iter(tensors.values())), spec, params)
    if spec.tensor or not names:
        if names:
            check_names(list(tensors), names)
        first = next(iter(tensors.values()))
        return ModelInput(tensors, params, rows=int(first.shape[0]) if first.ndim else 1)
    check_columns(list(tensors), spec)
    columns = [_column(n, tensors[n]) for n in names]
    if len({len(c) for c in columns}) > 1:
        raise InvalidParameter("Every column input must hold the same number of rows")
    if all(c.dtype.kind in NUMERIC_KINDS for c in columns):
        return _from_array(np.column_stack(columns), spec, params)
    for name, col, kind in zip(names, columns, spec.types, strict=True):
        if kind in NUMERIC_TYPES and col.dtype.kind not in NUMERIC_KINDS:
            raise InvalidParameter(f"Column {name!r} expects {kind}, got {col.dtype.kind!r} data")
    import pandas as pd

    frame = pd.DataFrame(dict(zip(names, columns, strict=True)))
    return ModelInput(frame, params, rows=len(frame))


def from_tensor(name: str, tensor: np.ndarray, spec: InputSpec) -> ModelInput:
    """`from_tensors` of one tensor and no params, without a dict around it (V2's usual
    request)."""
    if _whole_input(name, spec.names or ()):
        return from_array(tensor, spec, None)
    return from_tensors({name: tensor}, spec, None)


def _whole_input(name: str, names: tuple[str, ...]) -> bool:
    """Whether one tensor is the model's whole input: it is, unless it is one of the
    signature's several named inputs."""
    return len(names) <= 1 or name not in names


def _column(name: str, arr: np.ndarray) -> np.ndarray:
    """One column input: shape [n] or [n, 1]."""
    if arr.ndim == 1:
        return arr
    if arr.ndim == 2 and arr.shape[1] == 1:
        return arr[:, 0]
    raise InvalidParameter(
        f"Input {name!r} is one column of the signature: its shape must be [n] or [n, 1], "
        f"got {list(arr.shape)}"
    )
