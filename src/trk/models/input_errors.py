"""Which predict failures are the request's fault: the model could not read its input.

A failure is the input's when it is raised where the input is read, before the model
computes anything: trk's own conversion to the model's input type, scikit-learn's input
validation (conversion to numbers, feature count and names, NaN and infinity),
onnxruntime's input check (INVALID_ARGUMENT) and torch.export's shape guards. Anything
raised later, by the model's own code on input it accepted, is the model's failure.
Models without a signature meet most of these: nothing checked their input before.
"""

from __future__ import annotations

from types import FrameType

# Library modules whose ValueError / TypeError means "this input cannot be read".
_READERS = ("sklearn.utils.validation", "sklearn.utils._array_api", "sklearn.utils._indexing")
# trk's own conversions of request data to what a flavor's model takes.
_TRK_CONVERTERS = frozenset(
    {
        ("trk.models.pyfunc", "predict"),
        ("trk.models.flavors.torch", "_tensor"),
        ("trk.models.flavors.onnx", "_feed"),
    }
)


def raised_reading_input(exc: BaseException) -> bool:
    """True when `exc` was raised while the model read (converted, shape-checked) its input."""
    kind = type(exc)
    if kind.__name__ == "InvalidArgument" and kind.__module__.startswith("onnxruntime"):
        return True
    frame = _innermost(exc)
    if frame is None:
        return False
    module, function = frame.f_globals.get("__name__", ""), frame.f_code.co_name
    if isinstance(exc, AssertionError):  # torch.export checks input shapes with torch._assert
        return module == "torch" and function == "_assert" and str(exc).startswith("Guard failed")
    if not isinstance(exc, ValueError | TypeError):
        return False
    return module.startswith(_READERS) or (module, function) in _TRK_CONVERTERS


def _innermost(exc: BaseException) -> FrameType | None:
    tb = exc.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame
