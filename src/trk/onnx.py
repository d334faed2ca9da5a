"""`trk.onnx`: save, log and load ONNX models (the flavor lives in trk.models)."""

from trk.models.flavors.onnx import load_model, load_pyfunc, log_model, save_model

__all__ = ["load_model", "load_pyfunc", "log_model", "save_model"]
