"""Model signatures: named typed columns or tensor specs, in MLflow's JSON layout."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trk.exceptions import InvalidParameter

# MLflow DataType name -> numpy dtype used when casting a column.
DATA_TYPES: dict[str, np.dtype] = {
    "boolean": np.dtype("bool"),
    "integer": np.dtype("int32"),
    "long": np.dtype("int64"),
    "float": np.dtype("float32"),
    "double": np.dtype("float64"),
    "string": np.dtype("object"),
    "binary": np.dtype("object"),
    "datetime": np.dtype("datetime64[ns]"),
}


@dataclass(frozen=True)
class ColSpec:
    """One named (or positional) column with an MLflow DataType name."""

    type: str
    name: str | None = None
    required: bool = True

    def __post_init__(self) -> None:
        if self.type not in DATA_TYPES:
            raise InvalidParameter(
                f"Unknown column type {self.type!r}; expected one of {sorted(DATA_TYPES)}"
            )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            d["name"] = self.name
        d["required"] = self.required
        return d


@dataclass(frozen=True)
class TensorSpec:
    """A tensor with a numpy dtype and a shape where -1 means any size."""

    dtype: np.dtype
    shape: tuple[int, ...]
    name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.name is not None:
            d["name"] = self.name
        d["type"] = "tensor"
        d["tensor-spec"] = {"dtype": self.dtype.name, "shape": list(self.shape)}
        return d


Spec = ColSpec | TensorSpec


def _spec_from_dict(d: dict[str, Any]) -> Spec:
    if d.get("type") == "tensor":
        ts = d["tensor-spec"]
        return TensorSpec(np.dtype(ts["dtype"]), tuple(ts["shape"]), d.get("name"))
    return ColSpec(d["type"], d.get("name"), bool(d.get("required", True)))


@dataclass
class Schema:
    """A list of ColSpecs or a list of TensorSpecs, never a mix."""

    inputs: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        kinds = {type(s) for s in self.inputs}
        if len(kinds) > 1:
            raise InvalidParameter("A schema mixes ColSpec and TensorSpec entries")
        names = [s.name for s in self.inputs]
        if any(n is not None for n in names) and None in names:
            raise InvalidParameter("A schema must name all of its entries or none")

    def __len__(self) -> int:
        return len(self.inputs)

    def is_tensor_spec(self) -> bool:
        return bool(self.inputs) and isinstance(self.inputs[0], TensorSpec)

    def input_names(self) -> list[str]:
        return [s.name if s.name is not None else str(i) for i, s in enumerate(self.inputs)]

    def has_input_names(self) -> bool:
        return bool(self.inputs) and self.inputs[0].name is not None

    def required_input_names(self) -> list[str]:
        return [s.name for s in self.inputs if getattr(s, "required", True) and s.name]

    def numpy_types(self) -> list[np.dtype]:
        """The numpy dtype of every entry, in order."""
        if self.is_tensor_spec():
            return [s.dtype for s in self.inputs]
        return [DATA_TYPES[s.type] for s in self.inputs]

    def to_dict(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.inputs]

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, s: str | list[dict[str, Any]]) -> Schema:
        """Parse MLflow's schema JSON (a string or the already-decoded list)."""
        items = json.loads(s) if isinstance(s, str) else s
        return cls([_spec_from_dict(d) for d in items])


@dataclass
class ModelSignature:
    """What a model accepts (inputs), returns (outputs) and takes as params."""

    inputs: Schema
    outputs: Schema | None = None
    params: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs.to_json(),
            "outputs": self.outputs.to_json() if self.outputs is not None else None,
            "params": json.dumps(self.params) if self.params is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSignature:
        outputs = d.get("outputs")
        params = d.get("params")
        return cls(
            Schema.from_json(d["inputs"]) if d.get("inputs") else Schema([]),
            Schema.from_json(outputs) if outputs else None,
            json.loads(params) if isinstance(params, str) else params,
        )


def _numpy_dtype(values: Any) -> np.dtype | None:
    """The numpy dtype behind a Series or array; None for string-like extension dtypes."""
    dtype = getattr(values.dtype, "numpy_dtype", values.dtype)
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        return None
    return None if dtype.kind == "O" else dtype


def _column_type(values: Any) -> str:
    """MLflow DataType name for a pandas Series or 1-D array."""
    dtype = _numpy_dtype(values)
    if dtype is None or str(values.dtype) in ("str", "string"):
        first = next((v for v in values if v is not None), "")
        return "binary" if isinstance(first, bytes) else "string"
    kind_map = {"b": "boolean", "f": "double", "M": "datetime", "S": "binary", "U": "string"}
    if dtype.kind in "iu":
        return "long" if dtype.itemsize > 4 else "integer"
    if dtype == np.float32:
        return "float"
    if dtype.kind in kind_map:
        return kind_map[dtype.kind]
    raise InvalidParameter(f"Cannot infer a signature type for dtype {values.dtype}")


def _tensor(arr: np.ndarray, name: str | None = None) -> TensorSpec:
    return TensorSpec(arr.dtype, (-1, *arr.shape[1:]), name)


def _infer_schema(data: Any) -> Schema:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return Schema([ColSpec(_column_type(data[c]), str(c)) for c in data.columns])
    if isinstance(data, pd.Series):
        return Schema([ColSpec(_column_type(data), data.name and str(data.name))])
    if isinstance(data, dict):
        return Schema([_tensor(np.asarray(v), str(k)) for k, v in data.items()])
    if _is_torch_tensor(data):
        data = data.detach().cpu().numpy()
    arr = np.asarray(data)
    if arr.dtype.kind in "OUS" and arr.ndim == 1:
        return Schema([ColSpec(_column_type(arr))])
    return Schema([_tensor(arr)])


def _is_torch_tensor(data: Any) -> bool:
    return type(data).__module__.startswith("torch") and hasattr(data, "detach")


def infer_signature(
    model_input: Any, model_output: Any = None, params: Any = None
) -> ModelSignature:
    """Infer a signature from example input (and output) data, as MLflow does."""
    outputs = _infer_schema(model_output) if model_output is not None else None
    return ModelSignature(_infer_schema(model_input), outputs, params)
