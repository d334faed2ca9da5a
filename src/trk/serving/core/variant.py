"""A variant: one loaded model with its name and metric labels, and the slot that holds it."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from trk.exceptions import InvalidParameter, TrkError
from trk.serving.core.breaker import CircuitBreaker
from trk.serving_contract import CHALLENGER as CHALLENGER
from trk.serving_contract import CHAMPION as CHAMPION

if TYPE_CHECKING:
    from trk.contracts.store import Store
    from trk.models.pyfunc import PyFuncModel

log = logging.getLogger("trk.serving")

STATES = ("loading", "ready", "degraded", "failed")
DEFAULT_OUTPUT = "predictions"  # the one output of a model whose signature names none


@dataclass
class Variant:
    """A loaded model plus what `/metadata`, headers and metric labels say about it."""

    name: str
    model_uri: str
    model: PyFuncModel
    model_name: str
    version: str
    alias: str | None = None
    flavor: str = ""
    loaded_at: float = field(default_factory=time.time)
    load_seconds: float = 0.0
    weight: float = 1.0
    spec: Any = None  # InputSpec, set by the DataPlane when the variant is installed
    batcher: Any = None  # set by the DataPlane when adaptive batching is on
    predict_ewma_s: float = math.inf  # moving average of predict time, once measured
    optimization: dict[str, Any] | None = None  # --optimize onnx outcome and agreement

    @cached_property
    def output_names(self) -> list[str]:
        """The outputs its signature names (V2 answers name their tensors so), read once."""
        return output_names(self.model.metadata.signature)

    @cached_property
    def codec_cache(self) -> dict[object, tuple[bytes, bytes]]:
        """What a codec builds once for this variant (V2's answer bytes per dtype): it lives
        and dies with the variant, so a reloaded model never meets another's."""
        return {}

    @property
    def labels(self) -> tuple[str, str, str]:
        """(variant, model, version): the labels every per-variant series carries."""
        return (self.name, self.model_name, self.version)

    def describe(self) -> dict[str, Any]:
        """JSON-ready facts about this variant for `/metadata`."""
        meta = self.model.metadata
        sig = meta.signature
        return {
            "variant": self.name,
            "model_uri": self.model_uri,
            "name": self.model_name,
            "version": self.version,
            "alias": self.alias,
            "flavor": self.flavor,
            "weight": self.weight,
            "loaded_at": self.loaded_at,
            "load_seconds": round(self.load_seconds, 4),
            "run_id": getattr(meta, "run_id", None),
            "model_uuid": getattr(meta, "model_uuid", None),
            "signature": sig.to_dict() if sig is not None else None,
            "optimization": self.optimization,
        }


def output_names(signature: Any) -> list[str]:
    """The outputs a signature names, in order; one unnamed output is `predictions`."""
    schema = signature.outputs if signature is not None else None
    if schema is None or not len(schema):
        return []
    if schema.has_input_names():
        return list(schema.input_names())
    if len(schema) == 1:
        return [DEFAULT_OUTPUT]
    return [f"{DEFAULT_OUTPUT}-{i}" for i in range(len(schema))]


@dataclass(frozen=True)
class ModelRef:
    """Registry facts about a model URI: the model's name, version and alias."""

    name: str
    version: str
    alias: str | None


def registry_ref(uri: str, store: Store | None) -> ModelRef:
    """Name, version and alias for `models:/` URIs; the directory's name for the rest."""
    if uri.startswith("models:"):
        from trk.uri import find_model_version, parse_model_uri

        parsed = parse_model_uri(uri)
        if store is None:
            raise InvalidParameter(f"{uri} needs a tracking store to resolve")
        mv = find_model_version(store, parsed)
        return ModelRef(parsed.name, str(mv.version), parsed.alias)
    tail = uri.rstrip("/").rsplit("/", 1)[-1] or uri
    return ModelRef(tail, "0", None)


def load_variant(
    name: str,
    uri: str,
    store: Store | None = None,
    weight: float = 1.0,
    optimize: str | None = None,
    allow_pickle: bool = False,
) -> Variant:
    """Resolve, load and warm up one model; raises a TrkError naming what failed."""
    from trk.models.pyfunc import load_model

    started = time.perf_counter()
    ref = registry_ref(uri, store)
    # A registered version is checked against its digest before anything is deserialized.
    model = load_model(uri, allow_pickle=allow_pickle, store=store)
    optimization = None
    if optimize == "onnx":
        model, optimization = optimize_onnx(model, uri)
    warm_up(model)
    seconds = time.perf_counter() - started
    flavor = getattr(model.metadata, "flavor", "") or ""
    log.info(
        "loaded %s %s (%s v%s, %s) in %.2fs", name, uri, ref.name, ref.version, flavor, seconds
    )
    return Variant(
        name=name,
        model_uri=uri,
        model=model,
        model_name=ref.name,
        version=ref.version,
        alias=ref.alias,
        flavor=flavor,
        load_seconds=seconds,
        weight=weight,
        optimization=optimization,
    )


def optimize_onnx(model: PyFuncModel, uri: str) -> tuple[PyFuncModel, dict[str, Any]]:
    """The model converted to ONNX when it predicts the same; else the original, with why."""
    from trk.models.optimize import to_onnx
    from trk.models.pyfunc import load_model

    try:
        onnx_dir, report = to_onnx(model)
        converted = load_model(str(onnx_dir))
    except TrkError as exc:
        log.warning("--optimize onnx: serving %s unconverted: %s", uri, exc.message)
        return model, {"onnx": "fallback", "reason": exc.message}
    except Exception as exc:  # skl2onnx raises its own types for unsupported estimators
        log.warning("--optimize onnx: serving %s unconverted: %s", uri, exc)
        return model, {"onnx": "fallback", "reason": f"{type(exc).__name__}: {exc}"}
    log.info("--optimize onnx: %s converted; agreement %s", uri, report)
    return converted, {"onnx": "converted", "agreement": report}


def warm_up(model: PyFuncModel) -> None:
    """One predict on the saved input example, so the first request pays no lazy setup."""
    try:
        example = model.input_example()
    except TrkError as exc:
        log.warning("could not read the input example for warm-up: %s", exc.message)
        return
    if example is None:
        return
    try:
        model.predict(example)
    except Exception as exc:  # a warm-up failure must not block serving; say so once
        log.warning("warm-up predict on the input example failed: %s", exc)


class VariantSlot:
    """Holds a variant's current model; `swap` is one attribute store, atomic under the GIL.

    Requests read `slot.current` once when they start, so in-flight requests finish on the
    model they started with while new ones get the swapped-in one.
    """

    def __init__(
        self, name: str, uri: str, weight: float = 1.0, breaker: CircuitBreaker | None = None
    ) -> None:
        self.name = name
        self.uri = uri
        self.weight = weight
        self.current: Variant | None = None
        self.state = "loading"
        self.error: str | None = None
        self.breaker = breaker  # a challenger's; the champion has nowhere to send traffic

    @property
    def serving_state(self) -> str:
        """`state`, except `degraded` while the breaker keeps traffic away."""
        if self.breaker is not None and self.breaker.is_open and self.state == "ready":
            return "degraded"
        return self.state

    def swap(self, new: Variant) -> Variant | None:
        """Serve `new` from now on; returns the variant it replaced."""
        old, self.current = self.current, new
        self.state, self.error = "ready", None
        return old

    def set_weight(self, weight: float) -> None:
        """This variant's share of traffic changed (a rollout moved the split)."""
        self.weight = weight

    def mark(self, state: str, error: str | None = None) -> None:
        """Record loading/degraded/failed (degraded: an old version still serves)."""
        if state not in STATES:
            raise ValueError(state)
        self.state, self.error = state, error

    def health(self) -> dict[str, Any]:
        """This slot's entry in `/health`."""
        cur = self.current
        return {
            "name": self.name,
            "model_uri": self.uri,
            "model": cur.model_name if cur else None,
            "version": cur.version if cur else None,
            "loaded_at": cur.loaded_at if cur else None,
            "weight": self.weight,
            "state": self.serving_state,
            **({"error": self.error} if self.error else {}),
            **({"breaker": self.breaker.describe()} if self.breaker is not None else {}),
        }
