"""The transport-free core of `trk-serve`: route, decode, predict, encode, time, count.

No Starlette here: `http/app.py` turns HTTP into `infer(body, content_type, headers)` calls
and `InferResult`s (answers and errors alike, each with its headers) back into responses.
Every part arrives typed through the constructor, built in one place (`serving/compose.py`);
nothing is attached afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import math
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from trk.exceptions import DeadlineExceeded, TrkError
from trk.serving.config import ServeSettings
from trk.serving.core import codecs, request_ids
from trk.serving.core.codecs import Codec
from trk.serving.core.events import Prediction, PredictionObserver, RequestListener
from trk.serving.core.inputs import ModelInput
from trk.serving.core.metrics import ServingMetrics
from trk.serving.core.pool import PredictPool
from trk.serving.core.predict import call_model
from trk.serving.core.slots import Variants
from trk.serving.core.variant import CHAMPION, Variant

log = logging.getLogger("trk.serving")
UNROUTED = ("none", "none", "none")
# Flavors whose predict is bounded CPU work in trk's own code (no user code, no I/O).
INLINE_FLAVORS = frozenset({"sklearn", "onnx"})
INLINE_MAX_SECONDS = 0.001  # predicts measured faster than this skip the thread hop...
INLINE_MAX_BODY = 16 * 1024  # ...when the body is small enough to be a few rows


@dataclass
class InferResult:
    """One request's answer or error: the JSON body plus what the response headers say."""

    body: bytes
    variant: str
    version: str
    request_id: str
    status: int = 200


class RouteChoice(Protocol):
    @property
    def primary(self) -> Variant: ...

    @property
    def shadow(self) -> Variant | None: ...


class RequestRouter(Protocol):
    def route(self, headers: Mapping[str, str], force: str | None = None) -> RouteChoice:
        """The variant that answers and the one (or None) that gets a copy; may raise.

        `force` names a variant the request's path asked for (V2's `versions/{v}`).
        """

    def describe(self) -> dict[str, Any]: ...


class Shadow(Protocol):
    def submit(
        self, request_id: str, variant: Variant, model_input: ModelInput, predictions: Any
    ) -> None:
        """Hand a copy of a request to the shadow variant; never blocks or raises."""


class Service(Protocol):
    """Started once the variants load, stopped at shutdown (may be async)."""

    def start(self) -> Any: ...

    def stop(self) -> Any: ...


class DataPlane:
    """Loads the variants and answers inference, health and metadata calls."""

    def __init__(
        self,
        settings: ServeSettings,
        metrics: ServingMetrics,
        variants: Variants,
        router: RequestRouter,
        pool: PredictPool,
        shadow: Shadow | None = None,
        observers: Sequence[PredictionObserver] = (),
        listeners: Sequence[RequestListener] = (),
        services: Sequence[Service] = (),
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.variants = variants
        self.slots = variants.slots
        self.router = router
        self.pool = pool
        self.shadow = shadow
        self.observers = tuple(observers)
        self.listeners = tuple(listeners)
        self.services = tuple(services)
        self.started_at = time.time()
        self._load_task: asyncio.Task[None] | None = None

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
        await self.pool.run(self.variants.load_all)
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
        self.pool.shutdown()

    # -- inference --------------------------------------------------------------------------
    async def infer(
        self,
        body: bytes,
        content_type: str | None,
        headers: Mapping[str, str],
        codec: Codec = codecs.MLFLOW,
        force: str | None = None,
        deadline: float | None = None,
    ) -> InferResult:
        """Answer one request in `codec`'s protocol; an error is a result too, with its headers.

        `force` names the variant the request's path asked for (routing may refuse it).
        `deadline` (event-loop time) is when the request's --timeout-s ends, counted from
        its arrival when the caller read the body first; else --timeout-s from now.
        """
        request_id = request_ids.request_id(headers.get("x-request-id"))
        started = time.perf_counter()
        try:
            route = self.router.route(headers, force)
        except TrkError as exc:
            self.metrics.observe_request(UNROUTED, int(exc.status), None)
            return _error(codec, exc, "", "", request_id)
        variant = route.primary
        in_flight = self.metrics.in_flight_for(variant.name)
        in_flight.inc()
        timed_out = False
        try:
            call = Call(codec, body, content_type, request_id)
            if _inline_ok(variant, body):
                model_input, predictions, payload = self._predict_sync(variant, call)
            else:
                if deadline is None:
                    deadline = asyncio.get_running_loop().time() + self.settings.timeout_s
                async with asyncio.timeout_at(deadline):
                    model_input, predictions, payload = await self._predict(variant, call)
        except (TimeoutError, TrkError) as exc:
            if isinstance(exc, TimeoutError):
                timed_out = True
                exc = DeadlineExceeded(
                    f"The request ran past --timeout-s {self.settings.timeout_s:g} s"
                )
            self._count(variant, int(exc.status), started)
            return _error(codec, exc, variant.name, variant.version, request_id)
        except Exception:
            self._count(variant, 500, started)
            raise
        finally:
            in_flight.dec()
            self._breaker_record(variant, timed_out)
        self._count(variant, 200, started)
        request_id = model_input.request_id or request_id
        if self.observers:
            event = Prediction(request_id, variant, model_input, predictions)
            for observer in self.observers:
                observer.on_prediction(event)
        if route.shadow is not None and self.shadow is not None:
            self.shadow.submit(request_id, route.shadow, model_input, predictions)
        return InferResult(payload, variant.name, variant.version, request_id)

    def _breaker_record(self, variant: Variant, timed_out: bool) -> None:
        breaker = self.slots[variant.name].breaker
        if breaker is not None and breaker.record(timed_out):
            log.warning(
                "%s: %d predicts in a row ran past --timeout-s; its traffic goes to the "
                "champion for %g s, then one request probes it",
                variant.name, breaker.in_a_row, breaker.cooldown_s,
            )  # fmt: skip
            self.metrics.breaker_opened(variant.name)

    def _count(self, variant: Variant, status: int, started: float) -> None:
        seconds = time.perf_counter() - started
        self.metrics.observe_request(variant.labels, status, seconds)
        for listener in self.listeners:
            listener.on_request(variant, seconds, status < 500)

    async def _predict(self, variant: Variant, call: Call) -> tuple[ModelInput, Any, bytes]:
        run = self.pool.run
        if variant.batcher is None:
            return await run(self._predict_sync, variant, call, variant=variant.name)
        model_input = call.codec.decode(call.body, call.content_type, variant.spec)
        if not model_input.fast or model_input.params:
            return await run(
                self._predict_decoded, variant, call, model_input, variant=variant.name
            )
        predictions = await variant.batcher.submit(model_input.data)
        return model_input, predictions, call.encode(predictions, model_input, variant)

    def _predict_sync(self, variant: Variant, call: Call) -> tuple[ModelInput, Any, bytes]:
        """Decode, predict and encode in one thread hop."""
        model_input = call.codec.decode(call.body, call.content_type, variant.spec)
        return self._predict_decoded(variant, call, model_input)

    def _predict_decoded(
        self, variant: Variant, call: Call, model_input: ModelInput
    ) -> tuple[ModelInput, Any, bytes]:
        started = time.perf_counter()
        predictions = call_model(
            variant.model, model_input.data, model_input.params, model_input.fast
        )
        seconds = time.perf_counter() - started
        prev = variant.predict_ewma_s
        variant.predict_ewma_s = seconds if prev == math.inf else prev + 0.1 * (seconds - prev)
        self.metrics.observe_predict(variant.labels, seconds, model_input.rows)
        return model_input, predictions, call.encode(predictions, model_input, variant)

    # -- health and metadata ----------------------------------------------------------------
    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        """Ready when the champion serves and no variant is still loading.

        A failed challenger does not take the server down, but one still loading holds
        readiness back: replicas behind a Service then all route a sticky caller to the same
        variant from their first request, instead of sending it to the champion meanwhile.
        """
        loading = any(slot.state == "loading" for slot in self.slots.values())
        return self.slots[CHAMPION].current is not None and not loading

    def health(self) -> dict[str, Any]:
        """Each variant's name, version, loaded-at and state."""
        champion = self.slots[CHAMPION]
        status = "ready" if self.ready() else "loading" if champion.current else champion.state
        return {
            "status": status,
            "mode": self.settings.mode,
            "variants": [slot.health() for slot in self.slots.values()],
            "routing": self.router.describe(),
        }

    def metadata(self) -> dict[str, Any]:
        """The champion's URI, name, version, alias, flavor and signature, and every variant."""
        variants = [s.current.describe() for s in self.slots.values() if s.current is not None]
        champion = next((v for v in variants if v["variant"] == CHAMPION), {})
        return {
            **{k: v for k, v in champion.items() if k != "variant"},
            "mode": self.settings.mode,
            "variants": variants,
            "routing": self.router.describe(),
        }

    def version(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {"trk": version("trk"), "python": platform.python_version()}


@dataclass(frozen=True)
class Call:
    """One request's bytes and the codec that reads and answers them."""

    codec: Codec
    body: bytes
    content_type: str | None
    request_id: str

    def encode(self, predictions: Any, model_input: ModelInput, variant: Variant) -> bytes:
        request_id = model_input.request_id or self.request_id
        return self.codec.encode(predictions, model_input, variant, request_id)


def _error(codec: Codec, exc: TrkError, variant: str, version: str, request_id: str) -> InferResult:
    return InferResult(codec.error(exc), variant, version, request_id, int(exc.status))


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


async def _maybe_await(value: Any) -> Any:
    if asyncio.iscoroutine(value):
        return await value
    return value
