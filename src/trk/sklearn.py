"""`trk.sklearn`: save, log and load scikit-learn models (the flavor lives in trk.models)."""

from trk.models.autolog import autolog
from trk.models.flavors.sklearn import load_model, load_pyfunc, log_model, save_model

__all__ = ["autolog", "load_model", "load_pyfunc", "log_model", "save_model"]
