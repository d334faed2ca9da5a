"""Background delivery: a bounded queue, a few worker threads, scheduled retries with backoff.

`publish` is what a registry write calls after it committed: it never blocks and never
raises (a full queue drops the event and logs it). Workers expand an event into one delivery
per subscribed, active webhook, each with its own id kept across retries (at-least-once:
receivers drop duplicates by `X-MLflow-Delivery-Id`), and record every outcome in the
`DeliveryLog`. A worker makes one attempt at a time; a retry waits in a `RetrySchedule`, not
in the worker. A finishing process (a CLI command) waits up to `flush_s` for what is pending.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from trk.contracts.webhooks import DELIVERED, FAILED, PENDING, Delivery, Target
from trk.exceptions import TrkError
from trk.webhooks.events import Event, Occurrence
from trk.webhooks.policy import DeliveryPolicy
from trk.webhooks.schedule import RetrySchedule

if TYPE_CHECKING:
    from trk.webhooks.sender import Poster

log = logging.getLogger("trk.webhooks")


class DeliveryLog(Protocol):
    """Where webhooks are looked up and deliveries recorded (the SQL store)."""

    def targets_for(self, event: Event) -> list[Target]: ...

    def record_delivery(self, delivery: Delivery) -> None:
        """Insert or update the record (its `last_updated_timestamp` becomes now)."""
        ...


@dataclass(frozen=True)
class _Job:
    target: Target
    occurrence: Occurrence
    body: str
    delivery: Delivery


class Dispatcher:
    """Delivers published occurrences to the webhooks that `log` lists for them."""

    def __init__(self, deliveries: DeliveryLog, policy: DeliveryPolicy) -> None:
        self.deliveries = deliveries
        self.policy = policy
        self.dropped = 0
        self._queue: queue.Queue[tuple[Occurrence, float] | _Job] = queue.Queue(policy.queue_size)
        self._later = RetrySchedule(policy.queue_size, self._requeue, "trk-webhooks-retry")
        self._lock = threading.Lock()
        self._started = False

    def publish(self, occurrence: Occurrence) -> None:
        """Queue `occurrence` for delivery; never blocks, never raises."""
        self._start()
        try:
            self._queue.put_nowait((occurrence, time.time()))
        except queue.Full:
            self.dropped += 1
            log.warning("webhook queue full: dropped %s for %s", occurrence.event, occurrence.data)

    def flush(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for every queued delivery to finish; True if they did."""
        deadline = time.monotonic() + timeout
        done = self._queue.all_tasks_done
        with done:
            # A retry is counted by the schedule before its worker's task is done, and by the
            # queue before the schedule lets go of it: both zero means nothing is pending.
            while self._queue.unfinished_tasks or len(self._later):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                done.wait(min(left, 0.05))  # the schedule does not notify this condition
        return True

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            for n in range(self.policy.workers):
                name = f"trk-webhooks-{n}"
                threading.Thread(target=self._work, name=name, daemon=True).start()
            if self.policy.workers:  # with none, nothing would ever drain: do not wait at exit
                self._later.start()
                atexit.register(self._flush_at_exit)

    def _flush_at_exit(self) -> None:
        if not self.flush(self.policy.flush_s):
            log.warning(
                "webhooks: exiting with deliveries still pending (%ss)", self.policy.flush_s
            )

    def _work(self) -> None:
        client = _sender().new_client(self.policy.timeout_s, self.policy.allow)
        while True:
            item = self._queue.get()
            try:
                if isinstance(item, _Job):
                    self._deliver(client, item)
                else:
                    self._fan_out(*item)
            except TrkError as exc:  # the store is down (or gone): one line, keep working
                log.warning("webhook delivery failed: %s", exc.message)
            except Exception:  # a bug: its traceback, and the worker stays alive
                log.exception("webhook delivery failed")
            finally:
                self._queue.task_done()

    def _fan_out(self, occurrence: Occurrence, at: float) -> None:
        targets = self.deliveries.targets_for(occurrence.event)
        body = _sender().body_for(occurrence, at) if targets else ""
        for target in targets:
            now = int(time.time() * 1000)
            delivery = Delivery(
                str(uuid.uuid4()),
                target.webhook_id,
                str(occurrence.event),
                occurrence.model_name,
                PENDING,
                0,
                now,
                now,
            )
            job = _Job(target, occurrence, body, delivery)
            self.deliveries.record_delivery(delivery)  # before a worker can touch it
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                self._finish(job, FAILED, "dropped: delivery queue full")

    def _deliver(self, client: Poster, job: _Job) -> None:
        """One attempt; a retry is scheduled, never waited for here."""
        d = job.delivery
        d.attempts += 1
        attempt = _sender().post(client, job.target, job.body, d.delivery_id, self.policy.allow)
        d.response_status, d.last_error = attempt.status, attempt.error
        if attempt.ok:
            return self._finish(job, DELIVERED, None)
        if not attempt.retryable or d.attempts >= self.policy.max_attempts:
            return self._finish(job, FAILED, attempt.error)
        self.deliveries.record_delivery(d)  # still PENDING: show the attempt so far
        if not self._later.put(self.policy.backoff(d.attempts, attempt.retry_after), job):
            self._finish(job, FAILED, f"dropped: retry schedule full ({attempt.error})")

    def _requeue(self, job: _Job) -> None:
        """A scheduled retry is due: back to the workers (or failed, if they are swamped)."""
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self._finish(job, FAILED, f"dropped: delivery queue full ({job.delivery.last_error})")

    def _finish(self, job: _Job, status: str, error: str | None) -> None:
        d = job.delivery
        d.status, d.last_error = status, error
        self.deliveries.record_delivery(d)
        if status == FAILED:
            log.warning("webhook %s: %s %s failed: %s", d.webhook_id, d.event, d.delivery_id, error)


_dispatchers: dict[str, Dispatcher] = {}
_registry_lock = threading.Lock()


def dispatcher_for(key: str, deliveries: DeliveryLog, policy: DeliveryPolicy) -> Dispatcher:
    """One dispatcher (and its threads) per store URI per process, however often it is opened."""
    with _registry_lock:
        found = _dispatchers.get(key)
        if found is None:
            found = _dispatchers[key] = Dispatcher(deliveries, policy)
        return found


def _sender() -> Any:
    """The sender module, imported with the first delivery: every SQL store opens a
    dispatcher, and most processes (trk-serve) never publish, so httpx waits until needed."""
    from trk.webhooks import sender

    return sender
