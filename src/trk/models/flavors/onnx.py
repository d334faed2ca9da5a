"""ONNX flavor: models run by an onnxruntime session tuned for serving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trk.exceptions import InvalidParameter, MissingDependency, ModelError, SignatureMismatch
from trk.models.flavors.base import FlavorModel, output_kind_of_dtype
from trk.models.integrity import confined
from trk.models.mlmodel import Model, ModelInfo
from trk.models.signature import ModelSignature, Schema, TensorSpec, infer_signature
from trk.models.writer import log_model_dir, pinned, save_model_dir

FLAVOR = "onnx"
LOADER_MODULE = "trk.onnx"
DATA = "model.onnx"

# onnxruntime type strings -> numpy dtypes.
_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}


def _import(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        raise MissingDependency(f"The onnx flavor needs {name}: pip install 'trk[onnx]'") from None


def _as_proto(onnx_model: Any) -> Any:
    onnx = _import("onnx")
    if isinstance(onnx_model, str | Path):
        return onnx.load(str(onnx_model))
    if isinstance(onnx_model, bytes):
        return onnx.load_from_string(onnx_model)
    if not isinstance(onnx_model, onnx.ModelProto):
        raise InvalidParameter(f"Expected an onnx.ModelProto, got {type(onnx_model).__name__}")
    return onnx_model


def _graph_signature(proto: Any) -> ModelSignature:
    """Tensor specs read from the graph's declared inputs and outputs."""
    from onnx import helper

    def specs(values: Any) -> Schema:
        out = []
        for v in values:
            if not v.type.HasField("tensor_type"):  # e.g. skl2onnx's ZipMap: a sequence of maps
                continue
            t = v.type.tensor_type
            dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim)
            out.append(TensorSpec(helper.tensor_dtype_to_np_dtype(t.elem_type), dims, v.name))
        return Schema(out)

    outputs = specs(proto.graph.output)
    return ModelSignature(specs(proto.graph.input), outputs if outputs.inputs else None)


def save_model(
    onnx_model: Any,
    path: str | Path,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    predict_output: str | None = None,
    proba_output: str | None = None,
    *,
    reference_data: Any = None,
) -> Model:
    """Save an ONNX model (ModelProto, bytes or .onnx path) after checking it.

    `predict_output` / `proba_output` name the graph outputs that `predict` returns by default
    and for params={"predict_method": "predict_proba"} (converted classifiers); else all.
    """
    onnx = _import("onnx")
    proto = _as_proto(onnx_model)
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as e:
        raise InvalidParameter(f"Invalid ONNX model: {e}") from None
    if signature is None:
        signature = _graph_signature(proto)
        if input_example is not None:
            from trk.models.input_example import as_example_data

            signature.inputs = infer_signature(as_example_data(input_example)).inputs

    def write_data(tmp: Path) -> dict[str, Any]:
        onnx.save(proto, str(tmp / DATA))
        conf = {"data": DATA, "onnx_version": onnx.__version__}
        outputs = {"predict_output": predict_output, "proba_output": proba_output}
        return {**conf, **{k: v for k, v in outputs.items() if v}}

    ort = _import("onnxruntime")
    return save_model_dir(
        path,
        flavor=FLAVOR,
        loader_module=LOADER_MODULE,
        write_data=write_data,
        signature=signature,
        input_example=input_example,
        requirements=[pinned("onnx", onnx.__version__), pinned("onnxruntime", ort.__version__)],
        reference_data=reference_data,
    )


def log_model(
    onnx_model: Any,
    name: str = "model",
    registered_model_name: str | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    *,
    reference_data: Any = None,
) -> ModelInfo:
    """Save into the active run's artifacts under `name` (and register it when asked)."""
    return log_model_dir(
        lambda p: save_model(
            onnx_model, p, signature, input_example, reference_data=reference_data
        ),
        name,
        registered_model_name,
    )


def load_model(model_uri: str | Path) -> Any:
    """The saved onnx.ModelProto."""
    from trk.models.pyfunc import load_flavor_dir

    model_dir, mlmodel = load_flavor_dir(model_uri, FLAVOR)
    return _as_proto(_data_file(model_dir, mlmodel))


def _data_file(model_dir: Path, mlmodel: Model) -> Path:
    return confined(model_dir, mlmodel.flavors[FLAVOR].get("data", DATA), "onnx data")


def open_session(file: Path, config: dict[str, Any]) -> Any:
    """An InferenceSession with serving options; config: intra_op_num_threads, device."""
    ort = _import("onnxruntime")
    if not file.is_file():
        raise ModelError(f"Model file {file} is missing")
    opts = ort.SessionOptions()
    # One thread per request by default: the server runs requests in parallel already.
    opts.intra_op_num_threads = int(config.get("intra_op_num_threads", 1))
    opts.inter_op_num_threads = int(config.get("inter_op_num_threads", 1))
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    providers = ["CPUExecutionProvider"]
    if str(config.get("device", "cpu")).startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise InvalidParameter("device 'cuda' was asked for but onnxruntime has no CUDA")
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(str(file), sess_options=opts, providers=providers)
    except Exception as e:  # truncated or foreign file
        raise ModelError(f"Cannot read model file {file}: {type(e).__name__}: {e}") from None


def load_pyfunc(model_dir: Path, mlmodel: Model, config: dict[str, Any]) -> OnnxModel:
    """PyFuncModel loader for directories trk wrote."""
    conf = mlmodel.flavors[FLAVOR]
    session = open_session(_data_file(model_dir, mlmodel), config)
    return OnnxModel(session, conf.get("predict_output"), conf.get("proba_output"))


class OnnxModel(FlavorModel):
    """An InferenceSession; DataFrame columns or dict keys map to graph input names."""

    def __init__(
        self, session: Any, predict_output: str | None = None, proba_output: str | None = None
    ) -> None:
        self._session = session
        self._select = {"predict": predict_output, "predict_proba": proba_output}
        inputs = session.get_inputs()
        self._names = [i.name for i in inputs]
        self._dtypes = {i.name: np.dtype(_ORT_TYPES.get(i.type, np.float32)) for i in inputs}
        self._outputs = [o.name for o in session.get_outputs()]
        first = session.get_outputs()[0].type
        self.output_kind = output_kind_of_dtype(_ORT_TYPES.get(first, np.float32))

    @property
    def raw_model(self) -> Any:
        return self._session

    def _feed(self, data: Any) -> dict[str, np.ndarray]:
        if isinstance(data, dict):
            missing = [n for n in self._names if n not in data]
            if missing:
                raise SignatureMismatch(f"Missing ONNX input {missing[0]!r}")
            return {n: np.asarray(data[n]).astype(self._dtypes[n], copy=False) for n in self._names}
        if hasattr(data, "columns"):  # DataFrame
            if len(self._names) == 1:
                return {self._names[0]: data.to_numpy(dtype=self._dtypes[self._names[0]])}
            return self._feed({n: data[n].to_numpy().reshape(-1, 1) for n in data.columns})
        if len(self._names) != 1:
            raise SignatureMismatch(f"This ONNX model takes inputs {self._names}; send a dict")
        return {self._names[0]: np.asarray(data).astype(self._dtypes[self._names[0]], copy=False)}

    def _run(self, feed: dict[str, np.ndarray], params: dict[str, Any] | None) -> Any:
        method = (params or {}).get("predict_method", "predict")
        chosen = self._select.get(method)
        if chosen:
            return self._session.run([chosen], feed)[0]
        out = self._session.run(None, feed)
        return out[0] if len(out) == 1 else dict(zip(self._outputs, out, strict=True))

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self._run(self._feed(data), params)

    def predict_array(self, x: np.ndarray, params: dict[str, Any] | None = None) -> Any:
        if len(self._names) != 1:
            return self.predict(x, params)
        name = self._names[0]
        return self._run({name: x.astype(self._dtypes[name], copy=False)}, params)
