"""The transport-free core of `trk-serve`: route, decode, predict, encode, time, count.

No Starlette here: `app.py` turns HTTP into `infer(body, content_type, headers)` calls and
`InferResult`s back into responses. Routing, shadowing and feedback plug in through three
attributes (`router`, `shadow`, `on_prediction`) and `services` (started and stopped with
the process), so the routing and A/B layers attach without editing this module.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import platform
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from trk.exceptions import DeadlineExceeded, PredictError, TrkError, Unavailable
from trk.serving.config import ServeSettings
from trk.serving.core import codecs
from trk.serving.core.batching import Batcher
from trk.serving.core.inputs import InputSpec, ModelInput
from trk.serving.core.metrics import ServingMetrics
from trk.serving.core.variant import CHALLENGER, CHAMPION, Variant, VariantSlot, load_variant

log = logging.getLogger("trk.serving")
UNROUTED = ("none", "none", "none")
# Flavors whose predict is bounded CPU work in trk's own code (no user code, no I/O).
INLINE_FLAVORS = frozenset({"sklearn", "onnx"})
INLINE_MAX_SECONDS = 0.001  # predicts measured faster than this skip the thread hop...
INLINE_MAX_BODY = 16 * 1024  # ...when the body is small enough to be a few rows


@dataclass
class InferResult:
    """One answered request: the JSON body plus what the response headers say."""

    body: bytes
    variant: str
    version: str
    request_id: str
    status: int = 200


class SingleRouter:
    """Every request goes to the champion; `serving/router.py` replaces this for two variants."""

    def __init__(self, slots: Mapping[str, VariantSlot]) -> None:
        self.slots = slots

    def route(self, headers: Mapping[str, str]) -> tuple[Variant, Variant | None]:
        """(variant that answers, variant that gets a shadow copy or None)."""
        slot = self.slots[CHAMPION]
        current = slot.current
        if current is None:
            raise Unavailable(f"The model is not ready ({slot.state}): {slot.error or 'loading'}")
        return current, None


class NullShadow:
    """Shadow hook: `serving/shadow.py` replaces this with a bounded background queue."""

    def submit(
        self, request_id: str, variant: Variant, model_input: ModelInput, predictions: Any
    ) -> None:
        """Hand a copy of a request to the shadow variant; must never block or raise."""


def _no_prediction_hook(
    request_id: str, variant: Variant, model_input: ModelInput, predictions: Any
) -> None:
    """Default `on_prediction`: feedback and sample logging replace it."""


class DataPlane:
    """Loads the variants and answers inference, health and metadata calls."""

    def __init__(
        self,
        settings: ServeSettings,
        metrics: ServingMetrics,
        store_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.store_factory = store_factory or _default_store_factory(settings.tracking_uri)
        self.slots: dict[str, VariantSlot] = {CHAMPION: VariantSlot(CHAMPION, settings.model_uri)}
        if settings.challenger_uri:
            weight = settings.challenger_weight if settings.mode == "split" else 0.0
            self.slots[CHALLENGER] = VariantSlot(CHALLENGER, settings.challenger_uri, weight)
            self.slots[CHAMPION].weight = 1.0 - weight
        self.router: Any = SingleRouter(self.slots)
        self.shadow: Any = NullShadow()
        self.on_prediction: Callable[..., None] = _no_prediction_hook
        # (slot, variant) -> None, or raises to refuse a loaded variant (routing: signatures)
        self.install_guard: Callable[[VariantSlot, Variant], None] | None = None
        self.services: list[Any] = []  # objects with start()/stop(), e.g. reloader, reporter
        self.executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="trk-predict")
        self.started_at = time.time()
        self._load_task: asyncio.Task | None = None

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Begin loading in the background: `/ping` answers at once, `/health` when loaded.

        With several workers sharing one socket a worker still loading would take requests
        only to answer 503, so there each worker loads before it starts accepting.
        """
        self._load_task = asyncio.ensure_future(self._load_then_start_services())
        if self.settings.workers > 1:
            await self._load_task

    async def _load_then_start_services(self) -> None:
        await self.run_in_thread(self.load_all)
        for service in self.services:
            await _maybe_await(service.start())

    async def wait_loaded(self) -> None:
        if self._load_task is not None:
            await self._load_task

    async def stop(self) -> None:
        """Stop the services (reporters flush here), then the predict threads."""
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        for service in reversed(self.services):
            try:
                await _maybe_await(service.stop())
            except Exception:
                log.exception("stopping %r failed", service)
        self.executor.shutdown(wait=False, cancel_futures=True)

    def load_all(self) -> None:
        """Load every configured variant; a failure marks that slot failed, never raises."""
        store = None
        for slot in self.slots.values():
            try:
                if store is None and slot.uri.startswith(("models:", "runs:")):
                    store = self.store_factory()
                variant = load_variant(
                    slot.name,
                    slot.uri,
                    store,
                    slot.weight,
                    self.settings.optimize,
                    self.settings.allow_pickle,
                )
                self.install(slot, variant)
            except TrkError as exc:
                log.error("loading %s from %s failed: %s", slot.name, slot.uri, exc.message)
                slot.mark("failed", exc.message)
            except Exception as exc:  # a broken model file: report, keep the process up
                log.exception("loading %s from %s failed", slot.name, slot.uri)
                slot.mark("failed", f"{type(exc).__name__}: {exc}")

    def install(self, slot: VariantSlot, variant: Variant) -> Variant | None:
        """Prepare a loaded variant (input spec, batcher, metrics) and swap it into its slot."""
        if self.install_guard is not None:
            self.install_guard(slot, variant)
        variant.spec = InputSpec.of(variant.model)
        if self.settings.batching:
            variant.batcher = self._make_batcher(variant)
        old = slot.current
        previous = (old.labels, old.alias or "") if old is not None else None
        self.metrics.set_model(variant.labels, variant.alias or "", variant.load_seconds, previous)
        return slot.swap(variant)

    def _make_batcher(self, variant: Variant) -> Batcher:
        labels = variant.labels

        def on_batch(rows: int, seconds: float) -> None:
            self.metrics.observe_predict(labels, seconds, rows)

        return Batcher(
            functools.partial(call_model, variant.model, fast=True),
            self.run_in_thread,
            self.settings.max_batch_size or 1,
            self.settings.max_batch_delay_ms / 1000.0,
            on_batch,
        )

    async def run_in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run blocking work on the predict threads, never on the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # -- inference --------------------------------------------------------------------------
    async def infer(
        self, body: bytes, content_type: str | None, headers: Mapping[str, str]
    ) -> InferResult:
        """Answer one `/invocations` request; TrkErrors carry `.headers` for the response."""
        request_id = headers.get("x-request-id") or os.urandom(16).hex()
        started = time.perf_counter()
        try:
            variant, shadow = self.router.route(headers)
        except TrkError as exc:
            self.metrics.observe_request(UNROUTED, int(exc.status), None)
            exc.headers = {"X-Request-Id": request_id}
            raise
        in_flight = self.metrics.in_flight_for(variant.name)
        in_flight.inc()
        try:
            if _inline_ok(variant, body):
                model_input, predictions, payload = self._predict_sync(variant, body, content_type)
            else:
                async with asyncio.timeout(self.settings.timeout_s):
                    model_input, predictions, payload = await self._predict(
                        variant, body, content_type
                    )
        except (TimeoutError, TrkError) as exc:
            if isinstance(exc, TimeoutError):
                exc = DeadlineExceeded(
                    f"The request ran past --timeout-s {self.settings.timeout_s:g} s"
                )
            self._count(variant, int(exc.status), started)
            exc.headers = _headers(variant, request_id)
            raise exc from None
        except Exception:
            self._count(variant, 500, started)
            raise
        finally:
            in_flight.dec()
        self._count(variant, 200, started)
        self.on_prediction(request_id, variant, model_input, predictions)
        if shadow is not None:
            self.shadow.submit(request_id, shadow, model_input, predictions)
        return InferResult(payload, variant.name, variant.version, request_id)

    def _count(self, variant: Variant, status: int, started: float) -> None:
        self.metrics.observe_request(variant.labels, status, time.perf_counter() - started)

    async def _predict(
        self, variant: Variant, body: bytes, content_type: str | None
    ) -> tuple[ModelInput, Any, bytes]:
        if variant.batcher is None:
            return await self.run_in_thread(self._predict_sync, variant, body, content_type)
        model_input = codecs.decode(body, content_type, variant.spec)
        if not model_input.fast or model_input.params:
            return await self.run_in_thread(self._predict_decoded, variant, model_input)
        predictions = await variant.batcher.submit(model_input.data)
        return model_input, predictions, codecs.encode(predictions)

    def _predict_sync(
        self, variant: Variant, body: bytes, content_type: str | None
    ) -> tuple[ModelInput, Any, bytes]:
        """Decode, predict and encode in one thread hop."""
        model_input = codecs.decode(body, content_type, variant.spec)
        return self._predict_decoded(variant, model_input)

    def _predict_decoded(
        self, variant: Variant, model_input: ModelInput
    ) -> tuple[ModelInput, Any, bytes]:
        started = time.perf_counter()
        predictions = call_model(
            variant.model, model_input.data, model_input.params, model_input.fast
        )
        seconds = time.perf_counter() - started
        prev = variant.predict_ewma_s
        variant.predict_ewma_s = seconds if prev == math.inf else prev + 0.1 * (seconds - prev)
        self.metrics.observe_predict(variant.labels, seconds, model_input.rows)
        return model_input, predictions, codecs.encode(predictions)

    # -- health and metadata ----------------------------------------------------------------
    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        """Ready when the champion serves (a failed challenger does not take the server down)."""
        return self.slots[CHAMPION].current is not None

    def health(self) -> dict[str, Any]:
        """Each variant's name, version, loaded-at and state."""
        return {
            "status": "ready" if self.ready() else self.slots[CHAMPION].state,
            "mode": self.settings.mode,
            "variants": [slot.health() for slot in self.slots.values()],
            **_routing(self.router),
        }

    def metadata(self) -> dict[str, Any]:
        """The champion's URI, name, version, alias, flavor and signature, and every variant."""
        variants = [s.current.describe() for s in self.slots.values() if s.current is not None]
        champion = next((v for v in variants if v["variant"] == CHAMPION), {})
        return {
            **{k: v for k, v in champion.items() if k != "variant"},
            "mode": self.settings.mode,
            "variants": variants,
            **_routing(self.router),
        }

    def version(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {"trk": version("trk"), "python": platform.python_version()}


def call_model(model: Any, data: Any, params: dict | None = None, fast: bool = False) -> Any:
    """One predict call; a model that raises becomes a PredictError naming the exception."""
    try:
        if fast:
            return model.predict_array(data, params) if params else model.predict_array(data)
        return model.predict(data, params) if params else model.predict(data)
    except TrkError:
        raise
    except Exception as exc:
        log.exception("model predict failed")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise PredictError(f"Model predict failed: {type(exc).__name__}: {first}"[:500]) from None


def _inline_ok(variant: Variant, body: bytes) -> bool:
    """Run on the event loop when a thread hop would cost more than the predict itself.

    A hop to the pool and back costs 50-250 us (more on a busy host); a small logistic
    regression predicts in well under that. Only trk's own bounded flavors qualify, only
    while their measured predict time stays under 1 ms, only for small bodies and never
    with batching; everything else runs in the pool under --timeout-s.
    """
    return (
        variant.flavor in INLINE_FLAVORS
        and variant.batcher is None
        and len(body) <= INLINE_MAX_BODY
        and variant.predict_ewma_s < INLINE_MAX_SECONDS
    )


def _routing(router: Any) -> dict[str, Any]:
    """The router's settings (weights, sample, sticky header) when it describes them."""
    describe = getattr(router, "describe", None)
    return {"routing": describe()} if describe is not None else {}


def _headers(variant: Variant, request_id: str) -> dict[str, str]:
    return {
        "X-Trk-Variant": variant.name,
        "X-Trk-Model-Version": variant.version,
        "X-Request-Id": request_id,
    }


async def _maybe_await(value: Any) -> Any:
    if asyncio.iscoroutine(value):
        return await value
    return value


def _default_store_factory(tracking_uri: str | None) -> Callable[[], Any]:
    def factory() -> Any:
        from trk.tracking.client import Client

        return Client(tracking_uri).store

    return factory
