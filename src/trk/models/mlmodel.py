"""The `MLmodel` file: YAML describing a model directory, in MLflow's layout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from trk.exceptions import ModelError
from trk.models.signature import ModelSignature

MLMODEL = "MLmodel"
PYFUNC = "python_function"

# loader_module -> the short flavor name the serving layer reports.
_SHORT_FLAVOR = {
    "trk.sklearn": "sklearn",
    "mlflow.sklearn": "sklearn",
    "trk.torch": "torch",
    "mlflow.pytorch": "torch",
    "trk.onnx": "onnx",
    "mlflow.onnx": "onnx",
}


@dataclass
class Model:
    """An MLmodel file's contents; `ModelMetadata` when it comes from a loaded model."""

    flavors: dict[str, dict[str, Any]] = field(default_factory=dict)
    signature: ModelSignature | None = None
    run_id: str | None = None
    artifact_path: str | None = None
    model_uuid: str = field(default_factory=lambda: uuid.uuid4().hex)
    utc_time_created: str = field(
        default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    )
    saved_input_example_info: dict[str, Any] | None = None
    model_id: str | None = None  # the logged model these files belong to (MLflow 3)
    extra: dict[str, Any] = field(default_factory=dict)  # keys trk does not know, kept as-is
    model_dir: Path | None = None  # set when read from a directory
    # Never read from the file: set by the loader when the registry's digest matched every
    # file, or the caller opted in to formats that run code (see models/integrity.py).
    code_trusted: bool = False

    def add_flavor(self, name: str, **conf: Any) -> Model:
        self.flavors[name] = conf
        return self

    @property
    def loader_module(self) -> str | None:
        return self.flavors.get(PYFUNC, {}).get("loader_module")

    @property
    def flavor(self) -> str:
        """Short flavor name: sklearn, torch, onnx or python_function."""
        return _SHORT_FLAVOR.get(self.loader_module or "", PYFUNC)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = dict(self.extra)
        if self.artifact_path is not None:
            d["artifact_path"] = self.artifact_path
        d["flavors"] = self.flavors
        d["model_uuid"] = self.model_uuid
        if self.run_id is not None:
            d["run_id"] = self.run_id
        if self.saved_input_example_info is not None:
            d["saved_input_example_info"] = self.saved_input_example_info
        if self.signature is not None:
            d["signature"] = self.signature.to_dict()
        if self.model_id is not None:
            d["model_id"] = self.model_id
        d["utc_time_created"] = self.utc_time_created
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), default_flow_style=False, sort_keys=True)

    def save(self, path: str | Path) -> None:
        """Write MLmodel into the directory `path` (or to `path` if it names the file)."""
        path = Path(path)
        target = path / MLMODEL if path.is_dir() else path
        target.write_text(self.to_yaml())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Model:
        d = dict(d)
        sig = d.pop("signature", None)
        known = {
            "flavors": d.pop("flavors", None) or {},
            "signature": ModelSignature.from_dict(sig) if sig else None,
            "run_id": d.pop("run_id", None),
            "artifact_path": d.pop("artifact_path", None),
            "model_uuid": d.pop("model_uuid", None) or uuid.uuid4().hex,
            "utc_time_created": str(d.pop("utc_time_created", "")),
            "saved_input_example_info": d.pop("saved_input_example_info", None),
            "model_id": d.pop("model_id", None),
        }
        return cls(**known, extra=d)

    @classmethod
    def load(cls, path: str | Path) -> Model:
        """Read the MLmodel of a model directory, with typed errors naming the file."""
        path = Path(path)
        file = path / MLMODEL if path.is_dir() else path
        if not file.is_file():
            raise ModelError(f"No MLmodel file in {path}: not a model directory")
        try:
            data = yaml.safe_load(file.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise ModelError(f"Corrupt MLmodel file {file}: {e}") from None
        if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
            raise ModelError(f"Corrupt MLmodel file {file}: no 'flavors' mapping")
        model = cls.from_dict(data)
        model.model_dir = file.parent
        return model


ModelMetadata = Model


@dataclass
class ModelInfo:
    """What `log_model` returns: where the model went and what it is."""

    model_uri: str
    run_id: str
    artifact_path: str
    signature: ModelSignature | None
    flavors: dict[str, Any]
    model_uuid: str
    utc_time_created: str
    saved_input_example_info: dict[str, Any] | None = None
    registered_model_version: str | None = None
    model_id: str | None = None
