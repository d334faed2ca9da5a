"""Load directories that MLflow 3 wrote (mlflow.sklearn / .pytorch / .onnx) without mlflow.

The MLmodel's flavor entry says which files to read; nothing from mlflow is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trk.exceptions import ModelError
from trk.models.flavors import onnx as onnx_flavor
from trk.models.flavors import sklearn as sklearn_flavor
from trk.models.flavors import torch as torch_flavor
from trk.models.integrity import confined, require_code_trust
from trk.models.mlmodel import Model


def _conf(mlmodel: Model, flavor: str, model_dir: Path) -> dict[str, Any]:
    conf = mlmodel.flavors.get(flavor)
    if not isinstance(conf, dict):
        raise ModelError(f"MLmodel in {model_dir} names no {flavor!r} flavor entry")
    return conf


def load_sklearn(model_dir: Path, mlmodel: Model, config: dict[str, Any]) -> Any:
    """mlflow.sklearn: pickle, cloudpickle or skops, under trk's loading policy."""
    conf = _conf(mlmodel, "sklearn", model_dir)
    pyfunc = mlmodel.flavors["python_function"]
    rel = conf.get("pickled_model") or pyfunc.get("model_path") or "model.pkl"
    file = confined(model_dir, rel, "pickled_model")
    fmt = conf.get("serialization_format", "cloudpickle")
    # cloudpickle.load reads plain pickle too; both run code and need trusted files.
    estimator = sklearn_flavor.read_estimator(
        file, "skops" if fmt == "skops" else "cloudpickle", mlmodel
    )
    return sklearn_flavor.SklearnModel(estimator, pyfunc.get("predict_fn", "predict"))


def load_pytorch(model_dir: Path, mlmodel: Model, config: dict[str, Any]) -> Any:
    """mlflow.pytorch: data/model.pt2 (torch.export) or data/model.pth (pickled module)."""
    conf = _conf(mlmodel, "pytorch", model_dir)
    data = confined(model_dir, conf.get("model_data", "data"), "model_data")
    saved = mlmodel.flavors["python_function"].get("config") or {}
    device = torch_flavor.resolve_device({**saved, **config})
    if (data / "model.pt2").is_file():
        module = torch_flavor.read_module(data / "model.pt2", "export", device)
    else:
        # MLflow pickles the whole module: code on load, so only from trusted files.
        require_code_trust(mlmodel, data / "model.pth", "a pickled torch module")
        module = torch_flavor.read_module(data / "model.pth", "pickle", device)
    return torch_flavor.TorchModel(module, device, mlmodel.signature)


def load_onnx(model_dir: Path, mlmodel: Model, config: dict[str, Any]) -> Any:
    """mlflow.onnx: the file named by flavors.onnx.data."""
    conf = _conf(mlmodel, "onnx", model_dir)
    file = confined(model_dir, conf.get("data", "model.onnx"), "onnx data")
    return onnx_flavor.OnnxModel(onnx_flavor.open_session(file, config))
