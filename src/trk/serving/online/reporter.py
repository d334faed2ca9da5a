"""Per-variant report windows logged as tracking runs by background threads.

Requests only touch in-memory counters (`observe`), so a slow or unreachable tracking store
never blocks or fails one. A closer thread ends a window every `interval_s` into a bounded
buffer; a flusher thread logs buffered windows oldest first, retrying with backoff and
warning once per outage; past the bound the oldest windows are dropped and counted.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from trk.entities import Metric
from trk.serving.online.records import Batch, summed
from trk.serving.online.serving_runs import ServingRuns
from trk.serving.online.window_stats import VariantInfo, WindowStats, window_metrics

log = logging.getLogger("trk.serving.online.reporter")
CounterSource = Callable[[], dict[str, dict[str, float]]]
# A window source returns this window's own values per variant (not cumulative: never diffed)
WindowSource = Callable[[], dict[str, dict[str, float]]]


@dataclass
class PendingWindow:
    info: VariantInfo
    step: int
    timestamp_ms: int
    metrics: dict[str, float]
    samples: str | None = None  # a local JSONL file to upload with the window
    metrics_logged: bool = False  # so a retry after a failed upload never logs twice


class Reporter:
    """Closes a window per variant every `interval_s` and logs it to the variant's run."""

    def __init__(
        self,
        client_factory: Callable[[], Any],
        experiment: str | Callable[[], str],
        variants: Callable[[], list[VariantInfo]],
        interval_s: float = 30.0,
        sources: Iterable[CounterSource] = (),
        buffer_windows: int = 1000,
        dropped: Any = None,
        samples: Any = None,
        retry_max_s: float = 30.0,
        host: str | None = None,
        pid: int | None = None,
        window_sources: Iterable[WindowSource] = (),
    ) -> None:
        self.interval_s, self.buffer_windows, self.retry_max_s = (
            interval_s,
            buffer_windows,
            retry_max_s,
        )
        self.variants, self.sources, self.samples = variants, list(sources), samples
        self.window_sources = list(window_sources)
        self.dropped = dropped  # a prometheus Counter (trk_reporter_dropped_windows_total)
        self.dropped_windows = 0
        self.runs = ServingRuns(
            client_factory, experiment, host or socket.gethostname(), pid or os.getpid()
        )
        self._stats: dict[tuple[str, str | None], WindowStats] = {}
        self._last: dict[str, dict[str, float]] = {}
        self._window_no = 0
        self._window_start = time.time()
        self._buffer: deque[PendingWindow] = deque()
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one flush at a time: stop() may overlap the thread
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._outage = False
        self._active: set[str] = set()  # variants that saw traffic: idle ones log nothing yet

    # -- request path -----------------------------------------------------------------------
    # Counts are kept per (variant, version): a window that spans an alias move logs the
    # requests each version answered under that version (None: whichever serves at close).
    def _window(self, variant: str, version: str | None) -> WindowStats:
        key = (variant, version)
        return self._stats.get(key) or self._stats.setdefault(key, WindowStats())

    def observe(
        self, variant: str, seconds: float | None, ok: bool, version: str | None = None
    ) -> None:
        """Count one request (any status) and its latency for `variant`."""
        with self._lock:
            self._window(variant, version).observe(seconds, ok)

    def observe_predictions(self, variant: str, predictions: Any) -> None:
        """Count predicted classes for the prediction-distribution plot."""
        with self._lock:
            self._window(variant, None).observe_classes(predictions)

    def fold(self, records: Batch) -> None:
        """Fold consumer: every routed request (4xx count as requests, not errors) and the
        classes each answer predicted; one lock per batch, one count per run of alike
        records. Shadow copies are not requests."""
        with self._lock:
            for run in records.runs:
                if run.shadow or not run.variant:
                    continue
                window = self._window(run.variant, run.version)
                n = len(run)
                window.observe_many(run.latencies(), n, n if run.status >= 500 else 0)
                if run.status != 200:
                    continue
                classes = run.classes
                if classes is None:  # some answers have nothing to count: the others do
                    classes = summed(run.counted)
                window.add_classes(classes)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the closer and flusher threads (daemons: a crash never holds the process)."""
        self._window_start = time.time()
        for target, name in ((self._close_loop, "closer"), (self._flush_loop, "flusher")):
            thread = threading.Thread(target=target, name=f"trk-reporter-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._wake.set()  # contact the store now: close runs an earlier process left open

    def stop(self, timeout_s: float = 10.0) -> None:
        """Close the last window, flush what the store takes within `timeout_s`, end the runs."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=timeout_s)
        self.close_window()
        deadline = time.monotonic() + timeout_s
        while not self.flush() and time.monotonic() < deadline:
            time.sleep(min(0.5, self.retry_max_s))
        if self._buffer:
            log.warning(
                "tracking store unavailable at shutdown: %d windows not logged", len(self._buffer)
            )
            return  # runs stay RUNNING; the next start on this host marks them KILLED
        try:
            self.runs.finish_all()
        except Exception as exc:
            log.warning("could not mark serving runs FINISHED: %s", exc)

    close = stop

    def _close_loop(self) -> None:
        next_at = time.monotonic() + self.interval_s
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.interval_s
            self.close_window()
            self._wake.set()

    def _flush_loop(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            self._wake.wait(timeout=backoff or None)
            self._wake.clear()
            if self._stop.is_set():
                return
            ok = self.flush()
            backoff = 0.0 if ok else min(self.retry_max_s, max(0.25, backoff * 2))

    # -- windows ----------------------------------------------------------------------------
    def close_window(self) -> list[PendingWindow]:
        """End the current window for every loaded variant and buffer it for logging.

        When a variant's version changed during the window, the requests the previous
        version answered close as a window of their own, one step before the current ones
        (every variant's current window keeps sharing a step, as shadow pairs need).
        """
        now = time.time()
        with self._lock:
            stats, self._stats = self._stats, {}
            seconds, self._window_start = now - self._window_start, now
            step, self._window_no = self._window_no, self._window_no + 1
        counters = self._counter_deltas()
        extra: dict[str, dict[str, float]] = {}
        for source in self.window_sources:
            for variant, values in source().items():
                extra.setdefault(variant, {}).update(values)
        self._active |= {n for n, _ in stats} | {v for v, c in counters.items() if any(c.values())}
        self._active |= set(extra)
        files = self.samples.rotate() if self.samples is not None else {}
        infos = [info for info in self.variants() if info.name in self._active]
        earlier = [
            (dataclasses.replace(info, model_version=version), counted)
            for info in infos
            for (name, version), counted in stats.items()
            if name == info.name and version not in (None, info.model_version)
        ]
        if earlier:
            with self._lock:
                self._window_no += 1
        closed = [
            PendingWindow(
                info,
                step,
                int(now * 1000),
                window_metrics(counted, seconds, {}, info.model_version),
            )
            for info, counted in earlier
        ]
        current_step = step + 1 if earlier else step
        for info in infos:
            counted = (
                stats.get((info.name, info.model_version))
                or stats.get((info.name, None))
                or WindowStats()
            )
            metrics = window_metrics(
                counted, seconds, counters.get(info.name, {}), info.model_version
            )
            metrics.update(extra.get(info.name, {}))
            closed.append(
                PendingWindow(info, current_step, int(now * 1000), metrics, files.get(info.name))
            )
        with self._lock:
            for window in closed:
                if len(self._buffer) >= self.buffer_windows:
                    self._drop(self._buffer.popleft())
                self._buffer.append(window)
        return closed

    def _drop(self, window: PendingWindow) -> None:
        self.dropped_windows += 1
        if self.dropped is not None:
            self.dropped.inc()
        if window.samples:
            _remove(window.samples)

    def _counter_deltas(self) -> dict[str, dict[str, float]]:
        """This window's share of the cumulative counters (feedback, shadow)."""
        now: dict[str, dict[str, float]] = {}
        for source in self.sources:
            for variant, values in source().items():
                now.setdefault(variant, {}).update(values)
        deltas = {
            v: {k: x - self._last.get(v, {}).get(k, 0.0) for k, x in values.items()}
            for v, values in now.items()
        }
        self._last = now
        return deltas

    # -- logging to the store ---------------------------------------------------------------
    def flush(self) -> bool:
        """Log buffered windows oldest first; False (and kept) when the store fails."""
        if not self._flushing.acquire(timeout=self.retry_max_s):
            return False
        try:
            return self._flush_buffer()
        finally:
            self._flushing.release()

    def _flush_buffer(self) -> bool:
        logged = 0
        try:
            self.runs.prepare()  # experiment + KILLED for runs a dead process left RUNNING
        except Exception as exc:
            self._went_down(exc)
            return False
        while True:
            with self._lock:
                window = self._buffer[0] if self._buffer else None
            if window is None:
                break
            try:
                self._log(window)
            except Exception as exc:  # any store failure: keep the window, retry later
                self._went_down(exc)
                return False
            with self._lock:
                if self._buffer and self._buffer[0] is window:
                    self._buffer.popleft()
            logged += 1
        if self._outage:
            self._outage = False
            log.warning("tracking store is back: logged %d buffered report windows", logged)
        return True

    def _log(self, window: PendingWindow) -> None:
        run_id = self.runs.run_for(window.info)
        metrics = [
            Metric(k, float(v), window.timestamp_ms, window.step) for k, v in window.metrics.items()
        ]
        if not window.metrics_logged:
            self.runs.client().log_batch(run_id, metrics)
            window.metrics_logged = True
        if window.samples:
            self.runs.client().log_artifact(run_id, window.samples, "samples")
            _remove(window.samples)
            window.samples = None

    def _went_down(self, exc: Exception) -> None:
        if not self._outage:
            self._outage = True
            log.warning(
                "tracking store unavailable (%s: %s); buffering report windows (up to %d) "
                "and retrying",
                type(exc).__name__,
                str(exc)[:200],
                self.buffer_windows,
            )

    @property
    def pending(self) -> int:
        return len(self._buffer)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
