"""Live alias swaps: poll the registry, load a moved alias beside the old model, swap it in.

Within every `interval_s` the reloader asks where each slot's `models:/` URI points now. It
asks twice per interval, so that a moved alias is found within half an interval and its
load and warm-up fit in the other half: a promotion serves within one interval. When the
version moved (a promotion, a rollback), it loads and warms the new one while the old keeps
serving, then installs it with one attribute store; in-flight requests finish on the model
they started with. A failed load keeps the old version and marks the slot degraded (health
stays 200: the champion still serves); a slot that never loaded (a challenger URI that did
not resolve at start) is retried the same way. Both retry at every check.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from trk.exceptions import TrkError
from trk.serving.core.variant import Variant, VariantSlot

log = logging.getLogger("trk.serving")


def _one_line(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return message.strip().splitlines()[0][:300] if message.strip() else type(exc).__name__


class Follower(Protocol):
    """Something else read from the store at each pass (the rollout's split weight)."""

    def refresh(self) -> None:
        """Read once; never raises."""


class Reloader:
    """A background thread keeping each slot on the version its URI points at."""

    def __init__(
        self,
        slots: Mapping[str, VariantSlot],
        client: Any,
        interval_s: float,
        load_fn: Callable[[VariantSlot], Variant],
        metrics: Any = None,
        install: Callable[[VariantSlot, Variant], Any] | None = None,
        followers: Sequence[Follower] = (),
    ) -> None:
        """`client`: a Store or Client, or a zero-argument factory of one (called lazily)."""
        self.slots = slots
        self._client = client
        self.interval_s = interval_s
        self.load_fn = load_fn
        self.metrics = metrics
        self.install = install or (lambda slot, variant: slot.swap(variant))
        self.followers = tuple(followers)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checks = 0  # completed passes, for tests and /health

    @property
    def client(self) -> Any:
        if callable(self._client) and not hasattr(self._client, "get_model_version_by_alias"):
            self._client = self._client()
        return self._client

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="trk-reloader", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s / 2):
            self.check_once()

    def check_once(self) -> None:
        """One pass over every slot; never raises."""
        for slot in self.slots.values():
            try:
                self.check_slot(slot)
            except Exception:  # a bug must not end the thread: the next pass retries
                log.exception("checking %s failed", slot.name)
            if self.metrics is not None:
                self.metrics.set_state(slot.name, slot.serving_state)
        # After the slots: a promoted rollout's weight depends on the version now served.
        for follower in self.followers:
            follower.refresh()
        self.checks += 1

    def check_slot(self, slot: VariantSlot) -> str:
        """Reload `slot` if its URI moved or it never loaded; returns what happened."""
        current = slot.current
        try:
            target = self.target_version(slot.uri)
        except TrkError as exc:
            if current is None:
                slot.mark("failed", exc.message)
            log.warning("where %s points could not be read: %s", slot.uri, exc.message)
            self._count(slot, "check_failed")
            return "check_failed"
        if current is not None and target in (None, current.version):
            if slot.state == "degraded":  # the alias moved back to what we serve
                slot.mark("ready")
            return "unchanged"
        return self._load(slot, current, target)

    def _load(self, slot: VariantSlot, current: Variant | None, target: str | None) -> str:
        was = f"v{current.version}" if current is not None else "nothing"
        log.info("%s: %s moved to v%s (serving %s); loading", slot.name, slot.uri, target, was)
        try:
            variant = self.load_fn(slot)
            self.install(slot, variant)
        except Exception as exc:
            reason = _one_line(exc)
            state = "degraded" if current is not None else "failed"
            slot.mark(state, f"loading v{target or '?'} failed: {reason}")
            log.error("%s: loading %s failed (%s kept): %s", slot.name, slot.uri, was, reason)
            self._count(slot, "failure")
            return "failure"
        log.info("%s: now serving %s v%s", slot.name, variant.model_name, variant.version)
        self._count(slot, "success")
        return "success"

    def target_version(self, uri: str) -> str | None:
        """The version a `models:/` URI names now; None for URIs that cannot move."""
        if not uri.startswith("models:"):
            return None
        from trk.uri import find_model_version, parse_model_uri

        return str(find_model_version(self.client, parse_model_uri(uri)).version)

    def _count(self, slot: VariantSlot, result: str) -> None:
        if self.metrics is not None:
            self.metrics.reload(slot.name, result)
