"""trk: model tracking, registry and champion/challenger serving.

The fluent tracking API mirrors MLflow's names, so `import trk as mlflow` ports most scripts.
Flavor modules (`trk.sklearn`, `trk.torch`, `trk.onnx`, `trk.pyfunc`) load on first use, so
`import trk` never pulls in torch or onnxruntime.
"""

from __future__ import annotations

import importlib
from typing import Any

from trk.tracking import config
from trk.tracking.client import Client, MlflowClient
from trk.tracking.config import flush_async_logging
from trk.tracking.fluent import (
    ActiveRun,
    active_run,
    create_experiment,
    end_run,
    get_artifact_uri,
    get_experiment_by_name,
    get_run,
    get_tracking_uri,
    last_active_run,
    log_artifact,
    log_artifacts,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    register_model,
    search_runs,
    set_experiment,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)

__version__ = "0.1.0"

_LAZY_MODULES = {"pyfunc", "sklearn", "torch", "onnx", "models", "serving", "server"}


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"trk.{name}")
    raise AttributeError(f"module 'trk' has no attribute {name!r}")


__all__ = [
    "ActiveRun",
    "Client",
    "MlflowClient",
    "active_run",
    "config",
    "create_experiment",
    "end_run",
    "flush_async_logging",
    "get_artifact_uri",
    "get_experiment_by_name",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "register_model",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
