"""The Open Inference Protocol (V2 REST) codec: infer request bytes to model input, and back.

Beside MLflow's codec (`codecs.py`); the DataPlane runs either one, so V2 requests get the
same routing, shadow copies, metrics and request ids. Real clients differ from the spec's
examples, and both are accepted: `tritonclient` sends no Content-Type, sends tensors in
Triton's binary extension (a JSON header of `Inference-Header-Content-Length` bytes, then
each tensor's raw bytes), and asks for `binary_data_output` (answered in JSON, which its
`InferResult` reads as well).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import orjson

from trk.exceptions import BadRequest, InvalidParameter, TrkError, UnsupportedMediaType
from trk.serving.core import codecs, inputs, request_ids
from trk.serving.core.inputs import InputSpec, ModelInput
from trk.serving.core.v2_types import (
    DATATYPE_OF,
    check_header,
    from_binary,
    from_json,
    to_output,
    usual_tensor,
)
from trk.serving.core.variant import DEFAULT_OUTPUT, Variant

REQUEST_KEYS = frozenset({"id", "inputs", "outputs", "parameters"})
MEDIA_TYPES = (None, "application/json", "application/octet-stream")
_PLAIN = frozenset({None, "application/json"})  # what clients send: no parsing needed
# Request parameters about transport and scheduling, not for the model's predict.
RESERVED_PARAMETERS = frozenset(
    {
        "binary_data_output",
        "content_type",
        "headers",
        "priority",
        "sequence_end",
        "sequence_id",
        "sequence_start",
        "timeout",
    }
)
_MAX_DIGITS = 15  # of Inference-Header-Content-Length: a petabyte, far past any body limit


class V2Request(NamedTuple):  # a tuple: built per request, a frozen dataclass costs ~1 us
    """What the encoder needs from the request: its id and the outputs asked for."""

    id: str | None
    outputs: tuple[str, ...] | None


class V2Codec:
    """One infer request's codec; `header_length` is `Inference-Header-Content-Length`."""

    def __init__(self, header_length: str | None = None) -> None:
        self.header_length = header_length

    def decode(self, body: bytes, content_type: str | None, spec: InputSpec) -> ModelInput:
        """Request bytes to model input; every problem is a 4xx naming it."""
        if content_type not in _PLAIN:
            _check_media_type(content_type)
        # No binary section (the usual request): the body is the JSON document.
        doc, binary = (_loads(body), b"") if self.header_length is None else self._split(body)
        try:
            usual = usual_tensor_of(doc) if not binary else None
            if usual is not None:  # no id, no parameters, every output: nothing more to read
                return inputs.from_tensor(*usual, spec)
            request, tensors, params = parse_request(doc, binary)
            model_input = inputs.from_tensors(tensors, spec, params or None)
        except (ValueError, TypeError, OverflowError) as exc:
            # Decoding is a function of the request alone: what it could not read is the
            # request's error (a 4xx, before the variant's error rate), never a 500.
            raise InvalidParameter(f"The inputs could not be read: {str(exc)[:200]}") from None
        model_input.request_id = request.id
        model_input.request = request
        return model_input

    def encode(
        self, predictions: Any, model_input: ModelInput, variant: Variant, request_id: str
    ) -> bytes:
        """The infer response: model, version, id, the answering variant, the outputs."""
        request = model_input.request
        wanted = request.outputs if isinstance(request, V2Request) else None
        if wanted is None and type(predictions) is np.ndarray:  # the usual answer: one output
            datatype = DATATYPE_OF.get(predictions.dtype)  # numeric: orjson writes it as is
            if datatype is not None and predictions.flags.c_contiguous:
                head, middle = _answer_parts(variant, datatype)
                return b"".join(
                    (
                        head,
                        orjson.dumps(request_id),
                        middle,
                        orjson.dumps(predictions.shape),
                        b',"data":',
                        orjson.dumps(predictions.reshape(-1), option=orjson.OPT_SERIALIZE_NUMPY),
                        b"}]}",
                    )
                )
            outputs = [to_output(_one_name(variant.output_names), predictions)]
        else:
            outputs = _outputs(predictions, wanted, variant)
        return codecs.dumps(
            {
                "model_name": variant.model_name,
                "model_version": variant.version,
                "id": request_id,
                "parameters": {"variant": variant.name},
                "outputs": outputs,
            }
        )

    def error(self, exc: TrkError) -> bytes:
        return error_body(exc.message)

    def _split(self, body: bytes) -> tuple[Any, bytes]:
        """The JSON header as a document, and the binary section after it (maybe empty)."""
        size = len(body)
        if self.header_length is not None:
            text = self.header_length.strip()
            # ASCII digits, few of them: str.isdigit() also passes '²' and '١', which int()
            # then refuses or misreads, and int() refuses past 4,300 digits.
            if not (text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS) or (
                int(text) > size
            ):
                raise BadRequest(
                    f"Inference-Header-Content-Length must be a byte count within the body "
                    f"({size} bytes), got {text[:40]!r}"
                )
            size = int(text)
        doc = _loads(body if size == len(body) else body[:size])
        return doc, body[size:] if size < len(body) else b""


def _answer_parts(variant: Variant, datatype: str) -> tuple[bytes, bytes]:
    """The usual answer's bytes around its id and around its one tensor's shape and data,
    per variant and datatype: what dumping the answer as a dict writes there, built once
    (measured: 0.74 against 1.32 us an answer in-process)."""
    parts = variant.codec_cache.get(datatype)
    if parts is None:
        named = {"model_name": variant.model_name, "model_version": variant.version}
        tensor = {"name": _one_name(variant.output_names), "datatype": datatype}
        parts = variant.codec_cache[datatype] = (
            codecs.dumps(named)[:-1] + b',"id":',
            b',"parameters":'
            + codecs.dumps({"variant": variant.name})
            + b',"outputs":['
            + codecs.dumps(tensor)[:-1]
            + b',"shape":',
        )
    return parts


def _loads(header: bytes) -> Any:
    try:
        return orjson.loads(header)
    except orjson.JSONDecodeError as exc:
        if not header.strip():  # looked at only when it failed: strip copies the body
            raise BadRequest(
                'Empty request body: send {"inputs": [{"name", "shape", ...}]}'
            ) from None
        raise BadRequest(f"Invalid JSON: {exc}") from None


def _outputs(
    predictions: Any, wanted: tuple[str, ...] | None, variant: Variant
) -> list[dict[str, object]]:
    """The response tensors: every output the model answered, or the ones asked for."""
    outputs = name_outputs(predictions, variant.output_names)
    if wanted is not None:
        unknown = [n for n in wanted if n not in outputs]
        if unknown:
            raise InvalidParameter(
                f"Unknown output {unknown[0][:60]!r}; the model's outputs are {', '.join(outputs)}"
            )
        outputs = {n: outputs[n] for n in wanted}
    return [to_output(name, value) for name, value in outputs.items()]


def error_body(message: str) -> bytes:
    """The spec's error JSON: `{"error": "..."}`."""
    return codecs.dumps({"error": message})


def _check_media_type(content_type: str | None) -> None:
    mime = content_type.partition(";")[0].strip().lower() if content_type else None
    if mime not in MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {mime!r} is not supported: send application/json (or none)"
        )


def parse_request(
    doc: Any, binary: bytes
) -> tuple[V2Request, dict[str, np.ndarray[Any, Any]], dict[str, Any]]:
    """The request's id and output names, its input tensors by name, and the model's params."""
    if not isinstance(doc, dict):
        raise BadRequest(f"The body must be a JSON object, got a {type(doc).__name__}")
    if not REQUEST_KEYS.issuperset(doc):
        unknown = [k for k in doc if k not in REQUEST_KEYS]
        raise BadRequest(
            f"Unknown key {unknown[0][:40]!r} in the infer request; "
            f"use {', '.join(sorted(REQUEST_KEYS))}"
        )
    request_id = doc.get("id")
    # Refused rather than replaced (as a bad X-Request-Id is): the answer must echo it.
    if request_id is not None and (
        not isinstance(request_id, str) or not request_ids.acceptable(request_id)
    ):
        raise InvalidParameter(
            f"'id' must be 1-{request_ids.MAX_LENGTH} characters of [A-Za-z0-9._:-], "
            f"as X-Request-Id; got {str(request_id)[:40]!r}"
        )
    given = doc.get("parameters")  # usually absent: nothing to sort out then
    params = _parameters("parameters", given) if given is not None else None
    model_params = (
        {k: v for k, v in params.items() if k not in RESERVED_PARAMETERS} if params else {}
    )
    tensors = _inputs(doc.get("inputs"), binary)
    outputs = doc.get("outputs")
    names = _output_names(outputs) if outputs is not None else None
    return V2Request(request_id, names), tensors, model_params


def usual_tensor_of(doc: object) -> tuple[str, np.ndarray] | None:
    """The name and array of the usual request's one tensor, `{"inputs": [one tensor of JSON
    numbers]}` (`v2_types.usual_tensor`); None for any other request, which `parse_request`
    reads."""
    if type(doc) is not dict or len(doc) != 1:
        return None
    items = doc.get("inputs")
    if type(items) is not list or len(items) != 1:
        return None
    tensor = usual_tensor(items[0])
    return None if tensor is None else (items[0]["name"], tensor)


def _parameters(where: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"'{where}' must be a JSON object")
    return value


def _inputs(items: Any, binary: bytes) -> dict[str, np.ndarray[Any, Any]]:
    """Each input tensor by name, from its JSON `data` or its slice of the binary section."""
    if not isinstance(items, list) or not items:
        raise BadRequest("'inputs' must be a non-empty list of {name, shape, datatype, data}")
    tensors: dict[str, np.ndarray[Any, Any]] = {}
    pos = 0
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadRequest(f"inputs[{i}] must be an object with name, shape, datatype, data")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise BadRequest(f"inputs[{i}] needs a 'name' (a non-empty string)")
        where = f"Input {name[:60]!r}"
        if name in tensors:
            raise BadRequest(f"{where} is given twice")
        shape, datatype = check_header(where, item)
        size = None
        if "parameters" in item:
            size = _parameters(f"inputs[{i}].parameters", item["parameters"]).get(
                "binary_data_size"
            )
        if size is None:
            tensors[name] = from_json(where, item.get("data"), shape, datatype)
            continue
        if type(size) is not int or size < 0 or pos + size > len(binary):
            raise InvalidParameter(
                f"{where}: binary_data_size {str(size)[:20]} does not fit the "
                f"{len(binary) - pos} bytes left after the JSON header"
            )
        tensors[name] = from_binary(where, binary[pos : pos + size], shape, datatype)
        pos += size
    if pos != len(binary):
        raise InvalidParameter(
            f"{len(binary) - pos} bytes after the JSON header belong to no input's binary_data_size"
        )
    return tensors


def _output_names(items: Any) -> tuple[str, ...] | None:
    """The names in `outputs` (None: every output); their parameters need no action here."""
    if items is None:
        return None
    if not isinstance(items, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in items
    ):
        raise BadRequest("'outputs' must be a list of objects with a 'name'")
    return tuple(o["name"] for o in items)


def name_outputs(predictions: Any, names: list[str]) -> dict[str, Any]:
    """Predictions as named outputs: a dict's keys, a table's columns, or one output."""
    if type(predictions) is np.ndarray:  # the common answer, decided in one check
        return {_one_name(names): predictions}
    if isinstance(predictions, dict):
        return {str(k): v for k, v in predictions.items()}
    if type(predictions).__module__.startswith("pandas"):
        if hasattr(predictions, "columns"):  # a DataFrame: one output per column
            return {str(c): predictions[c].to_numpy() for c in predictions.columns}
        name = predictions.name if isinstance(predictions.name, str) else None
        predictions = predictions.to_numpy()
        if name is not None and name in names:
            return {name: predictions}
    return {_one_name(names): predictions}


def _one_name(names: list[str]) -> str:
    """The name of a model's one output: the signature's, or `predictions`."""
    return names[0] if len(names) == 1 else DEFAULT_OUTPUT
