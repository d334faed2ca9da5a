"""`trk.torch`: save, log and load PyTorch modules (the flavor lives in trk.models)."""

from trk.models.flavors.torch import load_model, load_pyfunc, log_model, save_model

__all__ = ["load_model", "load_pyfunc", "log_model", "save_model"]
