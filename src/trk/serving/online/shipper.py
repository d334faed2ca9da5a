"""The log shipper: a process that writes the answers trk-serve sends it to its sinks.

`trk-serve` starts one per serving process as a child in its own process group (a terminal's
Ctrl-C reaches only trk-serve, which then drains it) and feeds it frames over a pipe
(`online/shipping.py`); the same loop runs as a sidecar with `trk log ship --listen PATH`,
fed over a Unix socket. Frames are read by a thread as they come; the main loop decodes what
has arrived and writes it in one batch per sink, then acknowledges the last frame it holds, so
the serving process knows what it no longer needs to keep. The reader only reads: decoding
there fought the main loop for the GIL (measured: the shipper's CPU per answer fell from
about 7 to 5 us when the decoding moved to the main loop). A sink that fails keeps the
batch, and it is retried with backoff (frames keep arriving meanwhile; the serving process
bounds them). At end of input (trk-serve stopping, or dying: the pipe closes either way)
everything received is written before the shipper exits, so a `kill -9` of trk-serve loses
only what its record buffer had not yet folded (one fold interval).

Adding a sink (the capture writer, say): a class with `name`, `rows` (rows written so far),
`dropped` (reason -> answers dropped, cumulative), `write(model, items) -> bool` (True when
the batch is in or was refused for good, False to have it retried; a retry passes the same
list, and writes must be idempotent since a restarted shipper resends what was not acked)
and `idle()` (called between batches), and optionally `drain()` (called once at end of
input). Build it in `make_sinks` from the command's options; `item.inputs` carries the
request rows when trk-serve runs with inputs shipped (ShipperLink(ship_inputs=True)).
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import IO, Any, Protocol

from trk.exceptions import TrkError
from trk.serving.online.shipping import Frame, Shipped, decode_frame, encode_ack, hello_args

log = logging.getLogger("trk.serving.online.shipper")
# After the first frame of a batch, wait this long for more, or until this many bytes of
# frames wait (about 2,400 one-row answers: 120 ms of the one-row benchmark's rate). The
# shipper sleeps between batches and starts each one with cold caches, so fewer, longer ones
# cost less a row: 7.75 against 9.0 us for this against a 50 ms linger, fed at that rate
# (loadtest/bench_shipper.py). The bytes bound keeps the rows waiting for an ack, which
# trk-serve's --log-degraded-backlog counts, well under its 10,000 in shadow mode on a
# saturated host (twice the bound flapped /health to degraded there, at 11,000-14,000).
LINGER_S = 0.25
LINGER_BYTES = 256 * 1024
IDLE_S = 1.0  # with no frames, sinks' `idle` still runs this often (the capture's flush timer)
RETRY_MAX_S = 30.0
DRAIN_S = 30.0  # a sidecar told to stop waits this long for its connections to end
_EOF = None


class Sink(Protocol):
    name: str

    @property
    def rows(self) -> int: ...

    @property
    def dropped(self) -> dict[str, int]: ...

    def write(self, model: str, items: list[Shipped]) -> bool: ...

    def idle(self) -> None: ...


class Shipper:
    """Reads frames from `source`, writes them to every sink, acks on `acks`."""

    def __init__(
        self,
        sinks: list[Sink],
        source: Iterable[bytes],
        acks: IO[bytes],
        linger_s: float = LINGER_S,
        sleep: Callable[[float], None] = time.sleep,
        linger_bytes: int = LINGER_BYTES,
    ) -> None:
        self.sinks, self.source, self.acks = sinks, source, acks
        self.linger_s, self.sleep, self.linger_bytes = linger_s, sleep, linger_bytes
        self._lines: queue.Queue[bytes | None] = queue.Queue()  # frames, not yet decoded
        # Bytes read since the batch began, and the reader's call to end the linger early
        # (enough waiting, or end of input). The reader adds, the main loop resets: an add
        # lost to the race only ends one linger later, never later than linger_s.
        self._waiting = 0
        self._enough = threading.Event()
        self._acked: int | None = None  # the last frame acknowledged

    def run(self) -> None:
        """Until end of input and everything received is written (or retried out)."""
        threading.Thread(target=self._read, name="trk-shipper-read", daemon=True).start()
        held: list[Frame] = []
        done, delay, frozen = False, 0.0, False
        while not (done and not held):
            if not held:
                try:
                    first = self._lines.get(timeout=IDLE_S)
                except queue.Empty:  # no traffic: sinks still close files on their timers
                    self._idle()
                    continue
                if first is _EOF:
                    break
                _decoded(first, held)
                if not held:  # a line that is no frame
                    continue
                self._enough.wait(self.linger_s)
            self._waiting = 0
            self._enough.clear()
            done = self._take(held) or done
            if self._write(held):
                self._ack(held[-1].seq)
                held, delay = [], 0.0
                for sink in self.sinks:
                    sink.idle()
                if not frozen:  # after the first batch: see _freeze
                    _freeze()
                    frozen = True
            else:
                delay = min(RETRY_MAX_S, max(0.25, delay * 2))
                self.sleep(delay)
        for sink in self.sinks:  # end of input: a sink that buffers publishes what it holds
            drain = getattr(sink, "drain", None)
            if drain is not None:
                drain()

    def _idle(self) -> None:
        for sink in self.sinks:
            sink.idle()
        if self._acked is not None:  # the last ack again: drops and lag a sink found while
            self._ack(self._acked)  # idle (a capture file it could not keep) reach trk-serve

    def _take(self, held: list[Frame]) -> bool:
        """Add every frame that arrived; True at end of input."""
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return False
            if line is _EOF:
                return True
            _decoded(line, held)

    def _write(self, held: list[Frame]) -> bool:
        by_model: dict[str, list[Shipped]] = {}
        for frame in held:
            by_model.setdefault(frame.model, []).extend(frame.items)
        ok = True
        for model, items in by_model.items():
            for sink in self.sinks:
                ok = sink.write(model, items) and ok
        return ok

    def _ack(self, seq: int) -> None:
        self._acked = seq
        dropped: dict[str, int] = {}
        captured: dict[str, int] = {}  # the capture's own series (trk_capture_dropped_total)
        for sink in self.sinks:
            into = captured if sink.name == "capture" else dropped
            for reason, n in sink.dropped.items():
                into[reason] = into.get(reason, 0) + n
        rows = sum(sink.rows for sink in self.sinks if sink.name == "prediction_log")
        why = [w for w in (getattr(s, "degraded", lambda: None)() for s in self.sinks) if w]
        try:
            self.acks.write(encode_ack(seq, rows, dropped, "; ".join(why) or None, captured))
            self.acks.flush()
        except (BrokenPipeError, ValueError, OSError):  # trk-serve is gone: keep writing
            pass

    def _read(self) -> None:
        try:
            for line in self.source:
                if line.strip():
                    self._lines.put(line)
                    self._waiting += len(line)
                    if self._waiting >= self.linger_bytes:
                        self._enough.set()
        except OSError as exc:
            log.warning("log shipper: input closed: %s", exc)
        finally:
            self._lines.put(_EOF)
            self._enough.set()  # nothing more comes: write what is held now


def _decoded(line: bytes, held: list[Frame]) -> None:
    """Add the frame a line holds to `held`; a line that is no frame is skipped with a warning."""
    try:
        held.append(decode_frame(line))
    except (ValueError, TypeError):
        log.warning("log shipper: skipped a frame it cannot read")


def _freeze() -> None:
    """After a shipper's first batch (its sinks' libraries imported, the store opened), move
    what the process holds out of the collector's reach, as trk-serve does after loading a
    model. Frames flowing through promote objects to the oldest generation, and each full
    collection then walked every object of sqlalchemy, numpy and pyarrow: measured over
    30,000 one-row answers, 2-5 us per answer with the capture on, 0.1 after the freeze."""
    gc.collect()
    gc.freeze()


def make_sinks(
    tracking_uri: str | None,
    retention_s: float | None,
    capture: Any = None,
    prediction_log: bool = True,
) -> list[Sink]:
    """The sinks a shipper writes to: the store's prediction log, and the capture on object
    storage where a CaptureConfig is given (trk-serve --capture-uri)."""
    from trk.serving.online.prediction_log import LogSink

    def log_factory() -> Any:
        from trk.tracking.client import Client

        store: Any = Client(tracking_uri).store
        return store.predictions

    sinks: list[Sink] = [LogSink(log_factory, retention_s)] if prediction_log else []
    if capture is not None:
        from trk.capture.sink import CaptureSink

        sinks.append(CaptureSink(capture))
    return sinks


def serve_pipe(
    tracking_uri: str | None,
    retention_s: float | None,
    capture: Any = None,
    prediction_log: bool = True,
) -> None:
    """The child of trk-serve: frames on stdin, acks on stdout."""
    sinks = make_sinks(tracking_uri, retention_s, capture, prediction_log)
    Shipper(sinks, sys.stdin.buffer, sys.stdout.buffer).run()


def serve_socket(
    path: str,
    tracking_uri: str | None,
    retention_s: float | None,
    spool_dir: str | None = None,
    drain_s: float = DRAIN_S,
) -> None:
    """A sidecar: serving processes (each worker of each replica in the pod) connect to the
    Unix socket at `path`; each connection gets its own shipper and sinks, on a thread, built
    from the flags its serving process sends first (its capture, or no prediction log), as a
    child shipper's are from its command line. The capture's spool is the sidecar's own
    (`spool_dir`; each connection takes a slot of it). SIGTERM stops taking connections and
    waits up to `drain_s` for the open ones to end (their serving processes drain into them)."""
    threads: list[threading.Thread] = []

    def ship(conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as source, conn.makefile("wb") as acks:
            args, frames = hello_args(source.readline())
            try:
                ns = parser().parse_args(args)
                ns.capture_spool_dir = spool_dir  # the sidecar's disk, never a path sent to it
                sinks = make_sinks(
                    tracking_uri, retention_s, capture_of(ns), not ns.no_prediction_log
                )
            except (SystemExit, TrkError) as exc:  # argparse exits on flags it cannot read
                log.warning("log shipper: refused a connection's flags %s: %s", args, exc)
                return
            try:
                Shipper(sinks, itertools.chain(frames, source), acks).run()
            finally:
                for sink in sinks:
                    getattr(sink, "close", lambda: None)()

    if os.path.exists(path):  # a socket left by an earlier sidecar
        os.remove(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(64)
        stop = _stop_on_sigterm(server)
        log.info("log shipper listening on %s", path)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:  # closed by SIGTERM
                break
            thread = threading.Thread(target=ship, args=(conn,), name="trk-shipper", daemon=True)
            thread.start()
            threads = [t for t in threads if t.is_alive()] + [thread]
    deadline = time.monotonic() + drain_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def _stop_on_sigterm(server: socket.socket) -> threading.Event:
    stop = threading.Event()

    def on_term(signum: int, frame: Any) -> None:
        stop.set()
        server.shutdown(socket.SHUT_RDWR)  # wakes accept()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_term)
    return stop


def parser() -> Any:
    """The shipper's flags (trk-serve's child reads them from argv, a sidecar from the hello)."""
    import argparse

    from trk.capture.config import add_arguments

    p = argparse.ArgumentParser(prog="trk-log-shipper")
    p.add_argument("--tracking-uri", default=None)
    p.add_argument("--retention-s", type=float, default=None)
    p.add_argument("--no-prediction-log", action="store_true")
    add_arguments(p)
    return p


def capture_of(ns: Any) -> Any:
    from trk.capture.config import from_args

    return from_args(ns)


def main(argv: list[str] | None = None) -> None:
    """`python -m trk.serving.online.shipper [--tracking-uri URI] [--retention-s S]`."""
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    serve_pipe(args.tracking_uri, args.retention_s, capture_of(args), not args.no_prediction_log)


if __name__ == "__main__":
    main()
