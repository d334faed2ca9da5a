"""PyTorch flavor: torch.export (`model.pt2`) by default, TorchScript fallback, pickle on request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trk.exceptions import InvalidParameter, MissingDependency, ModelError
from trk.models.flavors.base import FlavorModel, output_kind_of_dtype
from trk.models.integrity import confined, require_code_trust
from trk.models.mlmodel import Model, ModelInfo
from trk.models.signature import ModelSignature, TensorSpec, infer_signature
from trk.models.writer import log_model_dir, pinned, save_model_dir

FLAVOR = "torch"
LOADER_MODULE = "trk.torch"
FILES = {
    "export": "data/model.pt2",
    "torchscript": "data/model.torchscript.pt",
    "pickle": "data/model.pth",
}


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingDependency("The torch flavor needs torch: pip install 'trk[torch]'") from None
    return torch


def _example_args(input_example: Any, signature: ModelSignature | None) -> tuple[Any, ...] | None:
    """Tensors to trace the model with: the input example, else zeros shaped by the signature."""
    torch = _torch()
    if input_example is not None:
        from trk.models.input_example import as_example_data

        data = as_example_data(input_example)
        arrays = list(data.values()) if isinstance(data, dict) else [np.asarray(data)]
    elif signature is not None and signature.inputs.is_tensor_spec():
        specs: list[TensorSpec] = signature.inputs.inputs
        arrays = [np.zeros([2 if d == -1 else d for d in s.shape], s.dtype) for s in specs]
    else:
        return None
    # Batch of >= 2 rows so torch.export does not specialise the batch dimension to 1.
    arrays = [np.concatenate([a, a]) if a.ndim and a.shape[0] == 1 else a for a in arrays]
    return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)


def _export(model: Any, args: tuple[Any, ...] | None, path: Path) -> None:
    torch = _torch()
    if args is None:
        raise ModelError("torch.export needs an input_example or a tensor signature")
    batch = torch.export.Dim("batch")
    dynamic = tuple({0: batch} if a.ndim else None for a in args)
    program = torch.export.export(model, args, dynamic_shapes=dynamic)
    torch.export.save(program, str(path))


def _script(model: Any, args: tuple[Any, ...] | None, path: Path) -> None:
    torch = _torch()
    try:
        scripted = torch.jit.script(model)
    except Exception:  # scripting rejects some Python; tracing needs an example
        if args is None:
            raise
        scripted = torch.jit.trace(model, args)
    torch.jit.save(scripted, str(path))


def _write(model: Any, serialization: str, args: tuple[Any, ...] | None) -> Any:
    torch = _torch()

    def write_data(tmp: Path) -> dict[str, Any]:
        (tmp / "data").mkdir()
        fmt = serialization
        if fmt == "pickle":
            torch.save(model, str(tmp / FILES[fmt]))
        elif fmt == "export":
            try:
                _export(model, args, tmp / FILES[fmt])
            except Exception as export_error:
                fmt = "torchscript"
                try:
                    _script(model, args, tmp / FILES[fmt])
                except Exception as e:
                    raise ModelError(
                        f"torch model {type(model).__name__} cannot be exported "
                        f"(torch.export: {export_error}; TorchScript: {e}); pass "
                        "serialization='pickle' to save the whole module instead"
                    ) from None
        else:
            _script(model, args, tmp / FILES[fmt])
        return {
            "model_data": FILES[fmt],
            "serialization": fmt,
            "pytorch_version": str(torch.__version__),
        }

    return write_data


def save_model(
    pytorch_model: Any,
    path: str | Path,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    serialization: str = "export",
    *,
    reference_data: Any = None,
) -> Model:
    """Save an nn.Module: exported so that loading needs no user class on the path."""
    torch = _torch()
    if serialization not in FILES:
        raise InvalidParameter(f"serialization must be one of {sorted(FILES)}")
    if not isinstance(pytorch_model, torch.nn.Module):
        raise InvalidParameter(f"Expected a torch.nn.Module, got {type(pytorch_model).__name__}")
    pytorch_model.eval()
    args = _example_args(input_example, signature)
    if signature is None and args is not None:
        with torch.inference_mode():
            out = pytorch_model(*args)
        example = [a.numpy() for a in args]
        signature = infer_signature(example[0] if len(example) == 1 else _named(example), _np(out))
    return save_model_dir(
        path,
        flavor=FLAVOR,
        loader_module=LOADER_MODULE,
        write_data=_write(pytorch_model, serialization, args),
        signature=signature,
        input_example=input_example,
        requirements=[pinned("torch", str(torch.__version__))],
        reference_data=reference_data,
    )


def _named(arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
    return {f"input_{i}": a for i, a in enumerate(arrays)}


def log_model(
    pytorch_model: Any,
    name: str = "model",
    registered_model_name: str | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    serialization: str = "export",
    *,
    reference_data: Any = None,
) -> ModelInfo:
    """Save into the active run's artifacts under `name` (and register it when asked)."""
    return log_model_dir(
        lambda p: save_model(
            pytorch_model,
            p,
            signature,
            input_example,
            serialization,
            reference_data=reference_data,
        ),
        name,
        registered_model_name,
    )


def read_module(file: Path, fmt: str, device: str = "cpu") -> Any:
    """Load a saved module; any failure becomes a ModelError naming the file."""
    torch = _torch()
    if not file.is_file():
        raise ModelError(f"Model file {file} is missing")
    try:
        if fmt == "export":
            program = torch.export.load(str(file))
            if device != "cpu":
                from torch.export.passes import move_to_device_pass

                program = move_to_device_pass(program, device)
            return program.module()
        if fmt == "torchscript":
            return torch.jit.load(str(file), map_location=device).eval()
        # Whole pickled module: only for models saved that way on purpose (or by MLflow).
        return torch.load(str(file), map_location=device, weights_only=False).eval()
    except Exception as e:  # truncated zip, foreign file, missing class
        raise ModelError(f"Cannot read model file {file}: {type(e).__name__}: {e}") from None


def resolve_device(config: dict[str, Any]) -> str:
    device = str(config.get("device") or "cpu")
    if device.startswith("cuda") and not _torch().cuda.is_available():
        raise InvalidParameter(f"device {device!r} was asked for but CUDA is not available")
    return device


def load_model(model_uri: str | Path, device: str = "cpu", allow_pickle: bool | None = None) -> Any:
    """The saved module (an exported GraphModule, ScriptModule or nn.Module)."""
    from trk.models.pyfunc import load_flavor_dir

    model_dir, mlmodel = load_flavor_dir(model_uri, FLAVOR, allow_pickle)
    return _read(model_dir, mlmodel, device)


def _read(model_dir: Path, mlmodel: Model, device: str) -> Any:
    conf = mlmodel.flavors[FLAVOR]
    file = confined(model_dir, conf.get("model_data"), "model_data")
    fmt = conf.get("serialization")
    if fmt not in ("export", "torchscript"):
        require_code_trust(mlmodel, file, "a pickled torch module")
    return read_module(file, str(fmt), device)


def load_pyfunc(model_dir: Path, mlmodel: Model, config: dict[str, Any]) -> TorchModel:
    """PyFuncModel loader for directories trk wrote."""
    device = resolve_device(config)
    return TorchModel(_read(model_dir, mlmodel, device), device, mlmodel.signature)


def _np(out: Any) -> Any:
    if isinstance(out, list | tuple):
        return _np(out[0]) if len(out) == 1 else [_np(o) for o in out]
    if isinstance(out, dict):
        return {k: _np(v) for k, v in out.items()}
    return out.detach().cpu().numpy() if hasattr(out, "detach") else out


class TorchModel(FlavorModel):
    """A module run under torch.inference_mode on one device."""

    def __init__(self, module: Any, device: str, signature: ModelSignature | None) -> None:
        self._module = module
        self._device = device
        self._torch = _torch()
        dtypes = signature.inputs.numpy_types() if signature else []
        self._dtype = dtypes[0] if dtypes and dtypes[0].kind == "f" else np.dtype("float32")
        outputs = signature.outputs if signature else None
        self.output_kind = output_kind_of_dtype(outputs.numpy_types()[0]) if outputs else "unknown"

    @property
    def raw_model(self) -> Any:
        return self._module

    def _tensor(self, a: Any) -> Any:
        if hasattr(a, "to_numpy"):  # a DataFrame from a column signature
            a = a.to_numpy(dtype=self._dtype)
        a = np.asarray(a)
        if a.dtype == np.float64 and self._dtype == np.float32:
            a = a.astype(np.float32)
        if not a.flags.writeable:  # pandas copy-on-write views; torch warns on these
            a = a.copy()
        return self._torch.from_numpy(np.ascontiguousarray(a)).to(self._device)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        values = list(data.values()) if isinstance(data, dict) else [data]
        args = [self._tensor(v) for v in values]
        with self._torch.inference_mode():
            return _np(self._module(*args))
