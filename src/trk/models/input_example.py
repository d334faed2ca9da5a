"""`input_example.json` in MLflow's layout: save, and load back as data."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from trk.exceptions import InvalidParameter, ModelError
from trk.models.frames import is_frame, is_series

EXAMPLE_FILE = "input_example.json"
SERVING_FILE = "serving_input_example.json"


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, datetime | date):  # pandas' Timestamp is a datetime
        return o.isoformat()
    if isinstance(o, bytes):
        return base64.b64encode(o).decode()
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


def _dump(obj: Any) -> str:
    try:
        return json.dumps(obj, default=_default)
    except (TypeError, ValueError) as e:
        raise InvalidParameter(f"Input example cannot be saved as JSON: {e}") from None


def as_example_data(example: Any) -> Any:
    """A DataFrame, ndarray or dict of ndarrays from whatever the user passed."""
    if isinstance(example, np.ndarray) or is_frame(example):
        return example
    if is_series(example):
        return example.to_frame()
    if isinstance(example, dict):
        return {k: np.asarray(v) for k, v in example.items()}
    if isinstance(example, list) and example and isinstance(example[0], dict):
        import pandas as pd

        return pd.DataFrame.from_records(example)
    if type(example).__module__.startswith("torch"):
        return example.detach().cpu().numpy()
    return np.asarray(example)


def save_input_example(path: Path, example: Any) -> dict[str, Any]:
    """Write input_example.json (+ serving_input_example.json); return the MLmodel info."""
    data = as_example_data(example)
    info: dict[str, Any] = {"artifact_path": EXAMPLE_FILE, "serving_input_path": SERVING_FILE}
    if is_frame(data):
        body = {"columns": [str(c) for c in data.columns], "data": data.to_numpy().tolist()}
        serving = {"dataframe_split": body}
        info.update(type="dataframe", pandas_orient="split")
    else:
        body = {k: v.tolist() for k, v in data.items()} if isinstance(data, dict) else data.tolist()
        serving = {"inputs": body}
        info["type"] = "ndarray"
    (path / EXAMPLE_FILE).write_text(_dump(body))
    (path / SERVING_FILE).write_text(_dump(serving))
    return info


def load_input_example(path: Path, info: dict[str, Any] | None) -> Any:
    """The saved example as a DataFrame, ndarray or dict of ndarrays; None when there is none."""
    if not info:
        return None
    file = Path(path) / info.get("artifact_path", EXAMPLE_FILE)
    try:
        body = json.loads(file.read_text())
    except (OSError, ValueError) as e:
        raise ModelError(f"Cannot read input example {file}: {e}") from None
    if info.get("type") == "dataframe":
        import pandas as pd

        if isinstance(body, dict) and "columns" in body:
            return pd.DataFrame(body["data"], columns=body["columns"])
        return pd.DataFrame.from_records(body)
    if isinstance(body, dict) and set(body) == {"inputs"}:  # MLflow 2 "tf-serving" format
        body = body["inputs"]
    if isinstance(body, dict):
        return {k: np.asarray(v) for k, v in body.items()}
    return np.asarray(body)
