"""Check and cast model input against a signature's input schema before predict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from trk.exceptions import SignatureMismatch
from trk.models.frames import is_frame, is_series
from trk.models.signature import DATA_TYPES, ColSpec, Schema, TensorSpec

if TYPE_CHECKING:
    import pandas as pd

_NUMERIC = {"integer", "long", "float", "double"}


def enforce(schema: Schema, data: Any) -> Any:
    """Input shaped and typed as the schema says: a DataFrame, an ndarray or a dict of them."""
    if not schema.inputs:
        return data
    if schema.is_tensor_spec():
        return _enforce_tensors(schema, data)
    return _enforce_columns(schema, data)


def _mismatch(msg: str) -> SignatureMismatch:
    return SignatureMismatch(f"Model input does not match the signature: {msg}")


# ---- columns ---------------------------------------------------------------------------


def _as_frame(schema: Schema, data: Any) -> pd.DataFrame:
    import pandas as pd

    names = schema.input_names()
    if isinstance(data, pd.DataFrame):
        if schema.has_input_names() and not any(n in data.columns for n in names):
            if all(isinstance(c, int) for c in data.columns):  # positional frame from an array
                return _positional(names, data, data.shape[1])
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, dict):
        return pd.DataFrame({k: np.atleast_1d(v) for k, v in data.items()})
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return pd.DataFrame.from_records(data)
    if isinstance(data, list) and data and isinstance(data[0], list | tuple):
        frame = pd.DataFrame(data)  # pandas types each column, unlike np.asarray
        return _positional(names, frame, frame.shape[1])
    arr = data if isinstance(data, np.ndarray) else np.asarray(data)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1) if len(names) == 1 else arr.reshape(1, -1)
    if arr.ndim != 2:
        raise _mismatch(f"expected a 2-D table of {len(names)} columns, got {arr.ndim}-D input")
    return _positional(names, arr, arr.shape[1])


def _positional(names: list[str], arr: Any, n_cols: int) -> pd.DataFrame:
    import pandas as pd

    if n_cols != len(names):
        raise _mismatch(f"expected {len(names)} columns {names}, got {n_cols}")
    if isinstance(arr, pd.DataFrame):
        frame = arr.set_axis(names, axis=1)
    else:
        frame = pd.DataFrame(arr, columns=names)
    return frame.infer_objects() if frame.dtypes.eq(object).any() else frame


def _enforce_columns(schema: Schema, data: Any) -> pd.DataFrame:
    import pandas as pd

    frame = _as_frame(schema, data)
    names = schema.input_names()
    missing = [s.name for s in schema.inputs if s.required and s.name not in frame.columns]
    if missing:
        raise _mismatch(f"missing column {missing[0]!r} (expected columns {names})")
    present = [s for s in schema.inputs if s.name in frame.columns]
    if list(frame.columns) == [s.name for s in present] and _types_match(frame, present):
        return frame  # the common case: no Series is built at all
    cols = {s.name: frame[s.name] for s in present}
    cast = {s.name: _cast_column(s.name, cols[s.name], s.type) for s in present}
    return pd.DataFrame(cast, index=frame.index)


def _types_match(frame: pd.DataFrame, specs: list[ColSpec]) -> bool:
    dtypes = frame.dtypes
    return all(
        s.type not in ("string", "binary") and dtypes[s.name] == DATA_TYPES[s.type] for s in specs
    )


def _cast_column(name: str | None, col: pd.Series, type_: str) -> pd.Series:
    target = DATA_TYPES[type_]
    if col.dtype == target and type_ not in ("string", "binary"):
        return col
    if type_ in ("string", "binary"):
        if col.dtype == object or str(col.dtype) in ("str", "string") or col.dtype.kind in "SU":
            return col
        raise _mismatch(f"column {name!r} must be {type_}, got {col.dtype}")
    if col.dtype == object:
        col = col.infer_objects()
    if type_ == "datetime":
        import pandas as pd

        try:
            return pd.to_datetime(col).astype("datetime64[ns]")
        except (ValueError, TypeError):
            raise _mismatch(f"column {name!r} must be datetime, got {col.dtype}") from None
    src = getattr(col.dtype, "numpy_dtype", col.dtype)
    if not isinstance(src, np.dtype) or not _safe(src, target):
        raise _mismatch(
            f"column {name!r} must be {type_}, got {col.dtype} which cannot be cast safely"
        )
    if target.kind in "iu" and src.kind in "iu" and not np.can_cast(src, target):
        info = np.iinfo(target)
        if len(col) and (col.min() < info.min or col.max() > info.max):
            raise _mismatch(f"column {name!r}: values out of range for {type_}")
    return col.astype(target)


def _safe(src: np.dtype, target: np.dtype) -> bool:
    """Casts that keep values: widening, int to float, and double to float (JSON has no float32)."""
    if target.kind == "b":
        return src.kind == "b"
    if target.kind in "iu":
        return src.kind in "iu"
    if target.kind == "f":
        return src.kind in "iuf"
    return False


# ---- tensors ---------------------------------------------------------------------------


def _enforce_tensors(schema: Schema, data: Any) -> Any:
    specs: list[TensorSpec] = schema.inputs
    frame = is_frame(data)
    if len(specs) == 1 and not isinstance(data, dict):
        if frame and specs[0].name in data.columns and data.shape[1] == 1:
            data = np.stack(data[specs[0].name].to_numpy())
        return _cast_tensor(specs[0], _as_array(data))
    if frame:
        data = {c: _frame_column(data[c]) for c in data.columns}
    if not isinstance(data, dict):
        raise _mismatch(f"model takes named tensors {schema.input_names()}; send a dict of arrays")
    out = {}
    for spec in specs:
        if spec.name not in data:
            raise _mismatch(f"missing input tensor {spec.name!r}")
        out[spec.name] = _cast_tensor(spec, _as_array(data[spec.name]))
    return out


def _frame_column(col: pd.Series) -> np.ndarray:
    """A column of scalars as an (n, 1) tensor, or a column of arrays stacked."""
    values = col.to_numpy()
    return np.stack(values) if values.dtype == object else values.reshape(-1, 1)


def _as_array(data: Any) -> np.ndarray:
    if is_frame(data) or is_series(data):
        values: np.ndarray = data.to_numpy()
        return values
    return np.asarray(data)


def _cast_tensor(spec: TensorSpec, arr: np.ndarray) -> np.ndarray:
    label = repr(spec.name) if spec.name else "input"
    if arr.ndim != len(spec.shape):
        raise _mismatch(f"tensor {label} must have shape {spec.shape}, got {arr.shape}")
    for got, want in zip(arr.shape, spec.shape, strict=True):
        if want != -1 and got != want:
            raise _mismatch(f"tensor {label} must have shape {spec.shape}, got {arr.shape}")
    if arr.dtype == spec.dtype:
        return arr
    if arr.dtype == object:
        try:
            return arr.astype(spec.dtype)
        except (TypeError, ValueError):
            raise _mismatch(
                f"tensor {label} must be {spec.dtype}, got non-numeric values"
            ) from None
    if not _safe(arr.dtype, spec.dtype):
        raise _mismatch(f"tensor {label} must be {spec.dtype}, got {arr.dtype}")
    return arr.astype(spec.dtype)


# ---- fast path -------------------------------------------------------------------------


def array_plan(schema: Schema | None) -> tuple[int | None, np.dtype | None, bool]:
    """(column count, dtype to cast to, usable) for 2-D numeric arrays, worked out once."""
    if schema is None or not schema.inputs:
        return None, None, True
    if schema.is_tensor_spec():
        spec = schema.inputs[0]
        if len(schema.inputs) != 1 or len(spec.shape) != 2:
            return None, None, False
        return (spec.shape[1] if spec.shape[1] != -1 else None), spec.dtype, True
    specs: list[ColSpec] = schema.inputs
    if any(s.type not in _NUMERIC for s in specs):
        return len(specs), None, False
    dtype = np.result_type(*(DATA_TYPES[s.type] for s in specs))
    return len(specs), dtype, True


def check_array(x: np.ndarray, n_cols: int | None, dtype: np.dtype | None) -> np.ndarray:
    """Validate a 2-D array for the fast path; cast it when the cast is safe."""
    if not isinstance(x, np.ndarray) or x.ndim != 2:
        raise _mismatch(f"expected a 2-D array, got {getattr(x, 'shape', type(x).__name__)}")
    if n_cols is not None and x.shape[1] != n_cols:
        raise _mismatch(f"expected {n_cols} columns, got {x.shape[1]}")
    if dtype is None or x.dtype == dtype:
        return x
    return cast_array(x, dtype)


def cast_array(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """`x` as `dtype` when the cast keeps its values (serving's decoder calls this alone: it
    has checked the shape already)."""
    if not _safe(x.dtype, dtype):
        raise _mismatch(f"expected {dtype} values, got {x.dtype}")
    return x.astype(dtype)
