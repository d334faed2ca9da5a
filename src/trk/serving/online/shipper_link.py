"""The serving process's end of the log shipper: folded answers go down, acks come back.

A fold consumer and a service. `fold` encodes the batch's answers (shadow ones included) as
one frame and writes it to the shipper without waiting (the event loop's transport buffers
it). Every frame is kept until the shipper acknowledges it, so a shipper that dies loses
nothing: it is started again (counted in `trk_prediction_log_shipper_restarts_total`) and the
kept frames are sent again (the log's idempotent key makes the resend harmless). Answers
waiting for an ack are bounded by `max_backlog` rows: past it a frame is dropped and counted
(`trk_prediction_log_dropped_total{reason="queue_full"}`, in answers), never waited for, and
past `degraded_backlog` rows `/health` says `degraded`. At shutdown the last frames are sent, the
pipe is closed, and the shipper is given `stop_timeout_s` to write them all.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections import deque
from collections.abc import Callable
from itertools import repeat
from typing import Any

from trk.serving.online.prediction_log import REASONS, LogMetrics
from trk.serving.online.records import Batch, column
from trk.serving.online.shipping import decode_ack, decode_frame, encode_frame, hello, run_items

log = logging.getLogger("trk.serving.online.shipper")
MAX_BACKLOG = 1_000_000  # rows sent and not yet acknowledged; more are dropped (counted)
DEGRADED_BACKLOG = 10_000  # /health says degraded past this many
RESTART_MAX_S = 10.0
STREAM_LIMIT = 1 << 20  # longest ack line read
ROWS = column("rows")


def shipper_command(
    tracking_uri: str | None, retention_s: float | None, extra: list[str] | None = None
) -> list[str]:
    """The child process: this interpreter running `trk.serving.online.shipper` (`extra`: its
    capture flags, or --no-prediction-log)."""
    cmd = [sys.executable, "-m", "trk.serving.online.shipper"]
    if tracking_uri:
        cmd += ["--tracking-uri", tracking_uri]
    if retention_s is not None:
        cmd += ["--retention-s", repr(retention_s)]
    return cmd + (extra or [])


class ShipperLink:
    """Sends folded answers to a shipper child (or a sidecar's socket) and tracks its acks."""

    def __init__(
        self,
        model: Callable[[], str],
        command: list[str] | None = None,
        socket_path: str | None = None,
        metrics: LogMetrics | None = None,
        max_backlog: int = MAX_BACKLOG,
        degraded_backlog: int = DEGRADED_BACKLOG,
        stop_timeout_s: float = 30.0,
        ship_inputs: bool = False,
        ship_errors: bool = False,
        flags: list[str] | None = None,
    ) -> None:
        self.model, self.command, self.socket_path = model, command, socket_path
        self.metrics = metrics
        self.max_backlog, self.degraded_backlog = max_backlog, degraded_backlog
        self.stop_timeout_s, self.ship_inputs = stop_timeout_s, ship_inputs
        # Error answers of a variant (4xx/5xx after routing) go down too where a capture
        # records every answered request; the prediction log skips them.
        self.ship_errors = ship_errors
        self.flags = flags or []  # the shipper's flags, sent to a sidecar (a child has argv)
        self.seq = 0
        self.backlog = 0  # rows of the answers in unacked frames
        self._unacked: deque[tuple[int, bytes, int]] = deque()  # (seq, frame, rows)
        self.written = 0  # rows the shippers have written
        self.dropped: dict[str, int] = dict.fromkeys(REASONS, 0)
        # What the shipper now running reported last (its counts start at 0 when restarted).
        self._rows_reported = 0
        self._reported: dict[str, int] = {}
        self.restarts = 0
        self.proc: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._connected = False
        self._sink_degraded: str | None = None  # a sink the shipper's last ack said is behind
        self.capture_dropped: dict[str, int] = {}
        self._capture_reported: dict[str, int] = {}

    # -- fold -------------------------------------------------------------------------------
    def fold(self, records: Batch) -> None:
        """Fold consumer: one frame of this batch's answers, sent without waiting."""
        offset, errors, inputs = records.wall_offset, self.ship_errors, self.ship_inputs
        room = self.max_backlog - self.backlog
        items: list[tuple[object, ...]] = []
        rows = full = 0
        for run in records.runs:  # one pass: what fits is kept, the rest dropped (counted)
            if not run.variant or (run.status != 200 and not errors):
                continue
            if full:
                full += len(run)
                continue
            need = sum(map(max, map(ROWS, run.records), repeat(1)))  # an error is one row
            if rows + need <= room:  # the usual: the whole run
                rows += need
                items += run_items(run, offset, inputs)
                continue
            fits = 0
            for r in run.records:
                if rows + (r.rows or 1) > room:
                    break
                rows, fits = rows + (r.rows or 1), fits + 1
            items += run_items(run, offset, inputs, fits)
            full = len(run) - fits
        if full:
            self.drop("queue_full", full)
        if not items:
            return
        self.seq += 1
        try:
            frame = encode_frame(self.seq, self.model(), items)
        except (TypeError, ValueError):  # an answer JSON cannot hold: drop it alone
            frame = self._encode_each(items)
        self._unacked.append((self.seq, frame, rows))
        self.backlog += rows
        self._send(frame)

    def _encode_each(self, items: list[tuple[object, ...]]) -> bytes:
        kept = []
        for i in items:
            try:
                encode_frame(0, "", [i])
                kept.append(i)
            except (TypeError, ValueError):
                self.drop("unloggable", 1)
        return encode_frame(self.seq, self.model(), kept)

    def _send(self, frame: bytes) -> None:
        writer = self._writer
        if writer is not None and self._connected and not writer.is_closing():
            writer.write(frame)

    def drop(self, reason: str, n: int) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n
        if self.metrics is not None:
            self.metrics.dropped.labels(reason).inc(n)

    # -- health -----------------------------------------------------------------------------
    def degraded(self) -> str | None:
        """Why /health should say degraded (None: the log keeps up)."""
        if self._stopping:
            return None
        if not self._connected:
            return "the log shipper is not running (restarting)"
        if self.backlog > self.degraded_backlog:
            return f"the prediction log is behind by {self.backlog} rows"
        return self._sink_degraded

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        await self._connect()

    async def _connect(self) -> None:
        if self.socket_path is not None:
            reader, self._writer = await asyncio.open_unix_connection(
                self.socket_path, limit=STREAM_LIMIT
            )
            self._writer.write(hello(self.flags))
        else:
            assert self.command is not None
            # Its own session (and process group): a terminal's Ctrl-C reaches trk-serve only,
            # which then drains the shipper instead of both dying at once.
            self.proc = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                start_new_session=True,
                limit=STREAM_LIMIT,
            )
            assert self.proc.stdin is not None and self.proc.stdout is not None
            reader, self._writer = self.proc.stdout, self.proc.stdin
        self._connected = True
        self._rows_reported, self._reported, self._capture_reported = 0, {}, {}
        for _, frame, _ in self._unacked:  # what a dead shipper had not acknowledged
            self._writer.write(frame)
        self._reader_task = asyncio.get_running_loop().create_task(self._read_acks(reader))

    async def _read_acks(self, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await reader.readline()
            except (OSError, ValueError):
                line = b""
            if not line:
                break
            try:
                self._acked(decode_ack(line))
            except (ValueError, KeyError, TypeError):
                log.warning("log shipper: an ack it cannot read: %r", line[:200])
        self._connected = False
        if self._writer is not None and not self._writer.is_closing():
            # The shipper ended the connection: a socket's end of file leaves our side of
            # the transport open (an fd per sidecar restart), so close it here.
            self._writer.close()
        if self.proc is not None:
            await self.proc.wait()
        if not self._stopping:
            await self._restart()

    async def _restart(self) -> None:
        code = self.proc.returncode if self.proc is not None else None
        self.restarts += 1
        if self.metrics is not None:
            self.metrics.restarts.inc()
        delay = min(RESTART_MAX_S, 0.1 * 2 ** min(self.restarts, 10))
        log.warning(
            "log shipper exited (%s) with %d rows unacknowledged; starting it again in "
            "%.1f s (restart %d)",
            code,
            self.backlog,
            delay,
            self.restarts,
        )
        await asyncio.sleep(delay)
        try:
            await self._connect()
        except OSError as exc:
            log.warning("log shipper: cannot start it again: %s", exc)
            self._reader_task = asyncio.get_running_loop().create_task(self._retry_later())

    async def _retry_later(self) -> None:
        if not self._stopping:
            await self._restart()

    def _acked(self, ack: dict[str, Any]) -> None:
        seq = int(ack["ack"])
        while self._unacked and self._unacked[0][0] <= seq:
            self.backlog -= self._unacked.popleft()[2]
        self._sink_degraded = ack.get("degraded") or None
        self._capture_drops(ack.get("capture_dropped") or {})
        rows = int(ack.get("rows", 0))
        if rows > self._rows_reported:
            self.written += rows - self._rows_reported
            if self.metrics is not None:
                self.metrics.written.inc(rows - self._rows_reported)
            self._rows_reported = rows
        for reason, n in (ack.get("dropped") or {}).items():
            new = int(n) - self._reported.get(reason, 0)
            if new > 0:
                self._reported[reason] = int(n)
                self.drop(reason, new)
        if self.metrics is not None:
            self.metrics.queued.set(self.backlog)

    def _capture_drops(self, counts: dict[str, Any]) -> None:
        """The capture's cumulative drops, as increments of trk_capture_dropped_total."""
        for reason, n in counts.items():
            new = int(n) - self._capture_reported.get(reason, 0)
            if new > 0:
                self._capture_reported[reason] = int(n)
                self.capture_dropped[reason] = self.capture_dropped.get(reason, 0) + new
                if self.metrics is not None:
                    self.metrics.capture_dropped.labels(reason).inc(new)

    async def stop(self) -> None:
        """Close the input; wait up to `stop_timeout_s` for the shipper to write it all."""
        self._stopping = True
        writer, task = self._writer, self._reader_task
        if writer is not None and not writer.is_closing():
            # End of input: the shipper writes what it holds and exits (a socket stays open
            # the other way, for the last acks).
            if writer.can_write_eof():
                writer.write_eof()
            else:
                writer.close()
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), self.stop_timeout_s)
            except TimeoutError:
                log.warning(
                    "log shipper: still writing after %g s; stopping it", self.stop_timeout_s
                )
                self._kill()
                task.cancel()
        if self.backlog:
            lost = sum(len(decode_frame(frame).items) for _, frame, _ in self._unacked)
            log.warning("prediction log: %d answered request(s) not written at shutdown", lost)
            self.drop("shutdown", lost)
            self.backlog = 0
            self._unacked.clear()

    def _kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
