"""The transport-free core of `trk-serve`: route, decode, predict, encode, and one record.

No Starlette here: `http/app.py` turns HTTP into `infer(body, content_type, headers)` calls
and `InferResult`s (answers and errors alike, each with its headers) back into responses.
Every part arrives typed through the constructor, built in one place (`serving/compose.py`);
nothing is attached afterwards. A request's only side effect is one `Record` appended to the
record buffer: counting, windows, joins and the log fold the records elsewhere
(`serving/online/fold.py`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from trk.exceptions import DeadlineExceeded, TrkError
from trk.serving.config import ServeSettings
from trk.serving.core import codecs, request_ids
from trk.serving.core.codecs import Codec
from trk.serving.core.inputs import ModelInput
from trk.serving.core.metrics import ServingMetrics
from trk.serving.core.pool import PredictPool
from trk.serving.core.slots import Variants
from trk.serving.core.variant import CHAMPION, Variant
from trk.serving.online.records import UNROUTED, Record
from trk.serving.online.series import InFlight

log = logging.getLogger("trk.serving")
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


# (decoded input, predictions, answer bytes, predict seconds or None when batched, and
# the clock read that ended the model call: the inline path's answer is ready then)
Predicted = tuple[ModelInput, Any, bytes, float | None, float]


class RecordSink(Protocol):
    def append(self, record: Record) -> None:
        """Take one record: O(1), never blocks, never raises (a full sink drops and counts)."""


class RouteChoice(Protocol):
    @property
    def primary(self) -> Variant: ...

    @property
    def shadow(self) -> Variant | None: ...

    @property
    def probability(self) -> float:
        """The chance a request reaches `primary` (the prediction log's propensity)."""


class RequestRouter(Protocol):
    def route(self, headers: Mapping[str, str], force: str | None = None) -> RouteChoice:
        """The variant that answers and the one (or None) that gets a copy; may raise.

        `force` names a variant the request's path asked for (V2's `versions/{v}`).
        """

    def probability(self, variant: str) -> float:
        """The chance a request reaches `variant` (the prediction log's propensity)."""

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
        records: RecordSink,
        shadow: Shadow | None = None,
        in_flight: InFlight | None = None,
        services: Sequence[Service] = (),
        degraded: Callable[[], str | None] | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.variants = variants
        self.slots = variants.slots
        self.router = router
        self.pool = pool
        self.records = records
        self.shadow = shadow
        self.in_flight = in_flight or InFlight()
        self.services = tuple(services)
        self.degraded = degraded
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
        """Stop the services in reverse (the fold drains, the log ships), then the pool."""
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
        Whatever happens, one record of the request goes to the record buffer.

        The clock is read at arrival (the record's time, the fresh id's millisecond and the
        latency's start), around the model call, and, when the predict ran in a thread, once
        more on return: on the inline path the answer is ready when the model call ends.
        """
        started = time.perf_counter()
        request_id = request_ids.request_id(headers.get("x-request-id"), started)
        try:
            route = self.router.route(headers, force)
        except TrkError as exc:
            self.refused(request_id, int(exc.status), started)
            return _error(codec, exc, "", "", request_id)
        variant = route.primary
        name = variant.name
        self.in_flight.enter(name)
        try:
            call = Call(codec, body, content_type, request_id)
            if _inline_ok(variant, body):
                model_input, predictions, payload, predict_s, ended = self._predict_sync(
                    variant, call
                )
            else:
                if deadline is None:
                    deadline = asyncio.get_running_loop().time() + self.settings.timeout_s
                async with asyncio.timeout_at(deadline):
                    model_input, predictions, payload, predict_s, _ = await self._predict(
                        variant, call
                    )
                ended = time.perf_counter()  # the thread hop back is part of the latency
        except (TimeoutError, TrkError) as exc:
            if isinstance(exc, TimeoutError):
                exc = DeadlineExceeded(
                    f"The request ran past --timeout-s {self.settings.timeout_s:g} s"
                )
            self._record(variant, route.probability, request_id, started, int(exc.status))
            return _error(codec, exc, name, variant.version, request_id)
        except BaseException as exc:  # a bug (500), or cancelled at shutdown (the app's 503)
            status = 503 if isinstance(exc, asyncio.CancelledError) else 500
            self._record(variant, route.probability, request_id, started, status)
            raise
        self.in_flight.leave(name)
        request_id = model_input.request_id or request_id
        self.records.append(
            Record(
                request_id,
                started,
                name,
                variant.version,
                variant.model_name,
                route.probability,
                200,
                ended - started,
                predictions,
                model_input.data,
                model_input.params,
                predict_s,
                model_input.rows,
            )
        )
        if route.shadow is not None and self.shadow is not None:
            self.shadow.submit(request_id, route.shadow, model_input, predictions)
        return InferResult(payload, name, variant.version, request_id)

    def refused(self, request_id: str, status: int, started: float | None = None) -> None:
        """Record a request refused before routing (a bad body, a forced variant refused)."""
        at = time.perf_counter() if started is None else started
        self.records.append(Record(request_id, at, UNROUTED, "", "", 0.0, status, None))

    def _record(
        self, variant: Variant, probability: float, request_id: str, started: float, status: int
    ) -> None:
        self.in_flight.leave(variant.name)
        seconds = time.perf_counter() - started
        self.records.append(
            Record(
                request_id,
                started,
                variant.name,
                variant.version,
                variant.model_name,
                probability,
                status,
                seconds,
            )
        )

    async def _predict(self, variant: Variant, call: Call) -> Predicted:
        run = self.pool.run
        if variant.batcher is None:
            return await run(self._predict_sync, variant, call, variant=variant.name)
        model_input = call.codec.decode(call.body, call.content_type, variant.spec)
        if not model_input.fast or model_input.params:
            return await run(
                self._predict_decoded, variant, call, model_input, variant=variant.name
            )
        predictions = await variant.batcher.submit(model_input.data)
        payload = call.encode(predictions, model_input, variant)
        return model_input, predictions, payload, None, 0.0

    def _predict_sync(self, variant: Variant, call: Call) -> Predicted:
        """Decode, predict and encode in one thread hop."""
        model_input = call.codec.decode(call.body, call.content_type, variant.spec)
        return self._predict_decoded(variant, call, model_input)

    def _predict_decoded(self, variant: Variant, call: Call, model_input: ModelInput) -> Predicted:
        """The model call, its errors wrapped once (by the PyFuncModel), and the answer."""
        model, data, params = variant.model, model_input.data, model_input.params
        started = time.perf_counter()
        if model_input.fast:  # checked once, by the decoder
            predictions = model.predict_checked(data, params)
        else:
            predictions = model.predict(data, params)
        ended = time.perf_counter()
        seconds = ended - started
        prev = variant.predict_ewma_s
        variant.predict_ewma_s = seconds if prev == math.inf else prev + 0.1 * (seconds - prev)
        payload = call.encode(predictions, model_input, variant)
        return model_input, predictions, payload, seconds, ended

    # -- health and metadata ----------------------------------------------------------------
    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        """Ready when the champion serves, no variant is still loading and the services run.

        A failed challenger does not take the server down, but one still loading holds
        readiness back: replicas behind a Service then all route a sticky caller to the same
        variant from their first request, instead of sending it to the champion meanwhile.
        """
        loading = any(slot.state == "loading" for slot in self.slots.values())
        # and its services (the fold, the log shipper) are up: answers are then counted
        starting = self._load_task is not None and not self._load_task.done()
        return self.slots[CHAMPION].current is not None and not loading and not starting

    def health(self) -> dict[str, Any]:
        """Each variant's name, version, loaded-at and state."""
        champion = self.slots[CHAMPION]
        status = "ready" if self.ready() else "loading" if champion.current else champion.state
        behind = self.degraded() if self.degraded is not None else None
        if behind and status == "ready":
            status = "degraded"  # answering, but the evidence is not keeping up
        return {
            "status": status,
            **({"degraded": behind} if behind else {}),
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


@dataclass(slots=True)
class Call:
    """One request's bytes and the codec that reads and answers them (not frozen: a frozen
    dataclass's __init__ sets each field through object.__setattr__, ~1 us a request)."""

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
