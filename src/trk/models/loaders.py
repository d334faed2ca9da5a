"""Which code loads a model directory: loader_module -> "module:function" of a flavor."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from trk.exceptions import ModelError

ENTRY_POINT_GROUP = "trk.flavors"

# Each loader is `load_pyfunc(model_dir: Path, mlmodel: Model, config: dict) -> FlavorModel`.
LOADERS: dict[str, str] = {
    "trk.sklearn": "trk.models.flavors.sklearn:load_pyfunc",
    "trk.torch": "trk.models.flavors.torch:load_pyfunc",
    "trk.onnx": "trk.models.flavors.onnx:load_pyfunc",
    "trk.pyfunc.model": "trk.models.flavors.python_function:load_pyfunc",
    "mlflow.sklearn": "trk.models.mlflow_compat:load_sklearn",
    "mlflow.pytorch": "trk.models.mlflow_compat:load_pytorch",
    "mlflow.onnx": "trk.models.mlflow_compat:load_onnx",
}


def _from_entry_points(loader_module: str) -> str | None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == loader_module:
            return ep.value
    return None


def get_loader(loader_module: str | None) -> Callable[..., Any]:
    """The load_pyfunc function for a loader_module, from LOADERS or the entry points."""
    target = LOADERS.get(loader_module or "") or _from_entry_points(loader_module or "")
    if target is None:
        raise ModelError(
            f"Unknown loader_module {loader_module!r} in MLmodel: trk loads "
            f"{sorted(LOADERS)} and '{ENTRY_POINT_GROUP}' entry points"
        )
    module, _, func = target.partition(":")
    loader: Callable[..., Any] = getattr(importlib.import_module(module), func or "load_pyfunc")
    return loader
