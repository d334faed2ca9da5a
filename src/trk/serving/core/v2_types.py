"""Open Inference Protocol (V2) tensors: datatypes, JSON and binary data to arrays and back.

Datatype names and the binary layout follow the spec (KServe `predict-api/v2`) and Triton's
binary tensor data extension: fixed-size types as little-endian bytes, BYTES as a 4-byte
little-endian length before each element. Every problem is a typed 4xx naming the tensor.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trk.exceptions import BadRequest, InvalidParameter
from trk.serving.core.inputs import check_depth

DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
# MLflow signature column types as V2 datatypes (datetimes travel as ISO strings).
COLUMN_DATATYPES = {
    "boolean": "BOOL",
    "integer": "INT32",
    "long": "INT64",
    "float": "FP32",
    "double": "FP64",
    "string": "BYTES",
    "binary": "BYTES",
    "datetime": "BYTES",
}
MAX_DIMS = 8  # the most dimensions a request's shape may have
# JSON value kinds (numpy's, after np.array of the data) each datatype family accepts.
_ACCEPTS = {"BOOL": "b", "INT": "iu", "UINT": "iu", "FP": "iuf", "BYTES": "U"}
_FAMILY = {name: name.rstrip("0123456789") for name in DTYPES}  # FP32 -> FP
# Per datatype: its dtype, the kinds it accepts and its family, looked up once per tensor.
_JSON_RULES = {
    name: (dtype, _ACCEPTS[_FAMILY[name]], _FAMILY[name]) for name, dtype in DTYPES.items()
}
# The V2 datatype of each exact dtype a model commonly answers with (`datatype_of` otherwise).
_DATATYPE_OF = {dtype: name for name, dtype in DTYPES.items() if name != "BYTES"}


def datatype_of(dtype: np.dtype[Any]) -> str:
    """The V2 datatype of a numpy dtype; strings, objects and datetimes are BYTES."""
    kind = dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return f"{'UINT' if kind == 'u' else 'INT'}{dtype.itemsize * 8}"
    if kind == "f" and dtype.itemsize in (2, 4, 8):
        return f"FP{dtype.itemsize * 8}"
    if kind == "f":  # long double: sent as FP64
        return "FP64"
    return "BYTES"


def check_header(where: str, item: dict[str, Any]) -> tuple[list[int], str]:
    """A tensor's `shape` (non-negative ints) and known `datatype`, or a 400 naming it."""
    shape, datatype = item.get("shape"), item.get("datatype")
    if datatype not in DTYPES:
        known = ", ".join(DTYPES)
        raise InvalidParameter(f"{where}: datatype {str(datatype)[:40]!r} is not one of {known}")
    if type(shape) is not list or len(shape) > MAX_DIMS or not _dims_ok(shape):
        raise InvalidParameter(
            f"{where}: shape must be a list of at most {MAX_DIMS} non-negative integers, "
            f"got {str(shape)[:60]}"
        )
    return shape, datatype


def _dims_ok(shape: list[Any]) -> bool:
    for d in shape:
        if type(d) is not int or d < 0:
            return False
    return True


def from_json(where: str, data: Any, shape: list[int], datatype: str) -> np.ndarray[Any, Any]:
    """Row-major JSON `data` (flat or nested) as an array of `shape` and `datatype`."""
    if type(data) is not list:
        raise BadRequest(f"{where}: data must be a list, got {type(data).__name__}")
    check_depth(data)
    try:
        values = np.array(data)
    except (ValueError, TypeError):
        raise BadRequest(f"{where}: data is ragged (nested lists of different lengths)") from None
    if values.size != math.prod(shape):
        _check_size(where, int(values.size), shape)
    dtype, accepts, family = _JSON_RULES[datatype]
    if values.size == 0:
        return np.empty(shape, dtype=dtype)
    if values.dtype.kind not in accepts:
        raise InvalidParameter(
            f"{where}: {datatype} data must hold {_WANTS[family]}, got {_kind_name(values)}"
        )
    if family in ("INT", "UINT"):
        limits = np.iinfo(dtype)
        if values.min() < limits.min or values.max() > limits.max:
            raise InvalidParameter(f"{where}: a value is out of range for {datatype}")
    return values.astype(dtype, copy=False).reshape(shape)


_WANTS = {
    "BOOL": "true/false",
    "INT": "integers",
    "UINT": "integers",
    "FP": "numbers",
    "BYTES": "strings",
}


def _kind_name(values: np.ndarray[Any, Any]) -> str:
    return {"b": "booleans", "i": "integers", "u": "integers", "f": "floats", "U": "strings"}.get(
        values.dtype.kind, "mixed or non-scalar values"
    )


def _check_size(where: str, size: int, shape: list[int]) -> None:
    expected = math.prod(shape)
    if size != expected:
        raise InvalidParameter(
            f"{where}: shape {shape} holds {expected} values, but data holds {size}"
        )


def from_binary(where: str, raw: bytes, shape: list[int], datatype: str) -> np.ndarray[Any, Any]:
    """One tensor's bytes from the binary section, as an array of `shape`."""
    if datatype == "BYTES":
        values = _split_bytes(where, raw)
        _check_size(where, len(values), shape)
        return np.array(values + [None], dtype=object)[:-1].reshape(shape)
    dtype = DTYPES[datatype]
    if len(raw) % dtype.itemsize:
        raise InvalidParameter(f"{where}: {len(raw)} bytes is not a whole number of {datatype}")
    _check_size(where, len(raw) // dtype.itemsize, shape)
    if datatype == "BOOL":
        arr = np.frombuffer(raw, dtype=np.uint8)
        if arr.size and arr.max() > 1:
            raise InvalidParameter(f"{where}: BOOL bytes must be 0 or 1")
        return arr.astype(np.bool_).reshape(shape)
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _split_bytes(where: str, raw: bytes) -> list[Any]:
    """BYTES elements: each a 4-byte little-endian length, then that many bytes."""
    values: list[Any] = []
    pos = 0
    while pos < len(raw):
        if pos + 4 > len(raw):
            raise InvalidParameter(f"{where}: BYTES data ends inside a length prefix")
        n = int.from_bytes(raw[pos : pos + 4], "little")
        pos += 4
        if pos + n > len(raw):
            raise InvalidParameter(f"{where}: a BYTES element runs past the tensor's data")
        chunk = raw[pos : pos + n]
        pos += n
        try:
            values.append(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            values.append(chunk)  # binary payloads reach the model as bytes
    return values


def to_output(name: str, value: Any) -> dict[str, Any]:
    """One response tensor: name, datatype, shape and row-major flat data."""
    arr = np.asarray(value)
    datatype = _DATATYPE_OF.get(arr.dtype) or datatype_of(arr.dtype)
    flat = arr.reshape(-1)
    if datatype == "BYTES":
        data: Any = [_text(v) for v in flat.tolist()]
    elif arr.dtype.kind == "f" and arr.dtype.itemsize > 8:
        data = flat.astype(np.float64)
    else:
        data = flat  # orjson writes numeric arrays natively
    return {"name": name, "datatype": datatype, "shape": list(arr.shape), "data": data}


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)
