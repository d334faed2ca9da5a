"""Custom models: a cloudpickled `PythonModel` subclass plus the artifact files it needs."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trk.exceptions import InvalidParameter, ModelError
from trk.models.flavors.base import FlavorModel
from trk.models.integrity import confined, require_code_trust
from trk.models.mlmodel import PYFUNC, Model, ModelInfo
from trk.models.signature import ModelSignature, infer_signature
from trk.models.writer import log_model_dir, pinned, save_model_dir

LOADER_MODULE = "trk.pyfunc.model"
PICKLE = "python_model.pkl"


@dataclass
class PythonModelContext:
    """What `load_context` and `predict` get: local paths of artifacts, and the model config."""

    artifacts: dict[str, str] = field(default_factory=dict)
    model_config: dict[str, Any] = field(default_factory=dict)


class PythonModel:
    """Subclass and implement `predict(context, model_input, params=None)`, as in MLflow."""

    def load_context(self, context: PythonModelContext) -> None:
        """Load artifacts into memory once, before the first predict."""

    def predict(self, context: PythonModelContext, model_input: Any, params: Any = None) -> Any:
        raise NotImplementedError


def _write(python_model: PythonModel, artifacts: dict[str, str] | None) -> Any:
    def write_data(tmp: Path) -> dict[str, Any]:
        import cloudpickle

        with open(tmp / PICKLE, "wb") as f:
            cloudpickle.dump(python_model, f)
        copied = {}
        for name, src in (artifacts or {}).items():
            src_path = Path(src)
            if not src_path.exists():
                raise InvalidParameter(f"Artifact {name!r}: {src} does not exist")
            dest = tmp / "artifacts" / name / src_path.name
            dest.parent.mkdir(parents=True)
            (shutil.copytree if src_path.is_dir() else shutil.copy2)(src_path, dest)
            copied[name] = {"path": dest.relative_to(tmp).as_posix()}
        return {"python_model": PICKLE, "artifacts": copied}

    return write_data


def save_model(
    path: str | Path,
    python_model: PythonModel,
    artifacts: dict[str, str] | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: list[str] | None = None,
    *,
    reference_data: Any = None,
) -> Model:
    """Save a PythonModel (cloudpickled) with copies of its artifact files."""
    import cloudpickle

    if not isinstance(python_model, PythonModel):
        raise InvalidParameter("python_model must be an instance of a trk.pyfunc.PythonModel")
    if signature is None and input_example is not None:
        from trk.models.input_example import as_example_data

        signature = infer_signature(as_example_data(input_example))
    return save_model_dir(
        path,
        flavor=PYFUNC,
        loader_module=LOADER_MODULE,
        write_data=_write(python_model, artifacts),
        signature=signature,
        input_example=input_example,
        requirements=[pinned("cloudpickle", cloudpickle.__version__), *(pip_requirements or [])],
        reference_data=reference_data,
    )


def log_model(
    name: str = "model",
    python_model: PythonModel | None = None,
    artifacts: dict[str, str] | None = None,
    registered_model_name: str | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: list[str] | None = None,
    *,
    reference_data: Any = None,
) -> ModelInfo:
    """Log a PythonModel to the active run (and register it when asked)."""
    if python_model is None:
        raise InvalidParameter("log_model needs python_model=")
    return log_model_dir(
        lambda p: save_model(
            p,
            python_model,
            artifacts,
            signature,
            input_example,
            pip_requirements,
            reference_data=reference_data,
        ),
        name,
        registered_model_name,
    )


def load_pyfunc(model_dir: Path, mlmodel: Model, config: dict[str, Any]) -> PythonFuncModel:
    """Unpickle the PythonModel, then call its load_context once."""
    import cloudpickle

    conf = mlmodel.flavors[PYFUNC]
    file = confined(model_dir, conf.get("python_model", PICKLE), "python_model")
    artifacts = _artifacts(model_dir, conf.get("artifacts"))
    require_code_trust(mlmodel, file, "a cloudpickled PythonModel")
    try:
        with open(file, "rb") as f:
            python_model = cloudpickle.load(f)
    except Exception as e:  # truncated file, missing class: name the file
        raise ModelError(f"Cannot read model file {file}: {type(e).__name__}: {e}") from None
    context = PythonModelContext(artifacts, config)
    python_model.load_context(context)
    tabular = mlmodel.signature is not None and not mlmodel.signature.inputs.is_tensor_spec()
    return PythonFuncModel(python_model, context, needs_dataframe=tabular)


def _artifacts(model_dir: Path, entries: Any) -> dict[str, str]:
    """Local paths of the model's artifact files, each confined to the model directory."""
    if not isinstance(entries, dict):
        return {}
    return {
        str(k): str(confined(model_dir, (v or {}).get("path") if isinstance(v, dict) else v, k))
        for k, v in entries.items()
    }


class PythonFuncModel(FlavorModel):
    """A user's PythonModel behind the pyfunc interface."""

    def __init__(self, model: PythonModel, context: PythonModelContext, needs_dataframe: bool):
        self._model = model
        self._context = context
        self.needs_dataframe = needs_dataframe

    @property
    def raw_model(self) -> PythonModel:
        return self._model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self._model.predict(self._context, data, params=params)
