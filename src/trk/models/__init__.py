"""The model format: MLmodel, signatures, pyfunc loading and flavors (as `mlflow.models`)."""

from trk.models.mlmodel import Model, ModelInfo, ModelMetadata
from trk.models.signature import ColSpec, ModelSignature, Schema, TensorSpec, infer_signature

__all__ = [
    "ColSpec",
    "Model",
    "ModelInfo",
    "ModelMetadata",
    "ModelSignature",
    "Schema",
    "TensorSpec",
    "infer_signature",
]
