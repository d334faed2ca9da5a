"""`trk.pyfunc`: load any model as a PyFuncModel; save and log custom PythonModels."""

from trk.models.flavors.python_function import (
    PythonModel,
    PythonModelContext,
    log_model,
    save_model,
)
from trk.models.mlmodel import ModelInfo, ModelMetadata
from trk.models.pyfunc import PyFuncModel, load_model

__all__ = [
    "ModelInfo",
    "ModelMetadata",
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "load_model",
    "log_model",
    "save_model",
]
