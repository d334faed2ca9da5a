"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 that records each POST.

`answers` is the status for each request in turn (then 200); `hang_s` makes every request
wait that long before answering, as a stuck CI endpoint would; `tls` serves HTTPS. A hostile
receiver: `body` and `headers` are what it answers with (a huge body, a gzip bomb,
`Retry-After`), `drip_s` sends its whole answer a byte at a time with that pause between
bytes; `write_errors` records how sending the answer failed (the caller hung up).
Behaviour is plain attributes, so a test may set them on a receiver already running.
"""

from __future__ import annotations

import functools
import json
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Hit:
    headers: dict[str, str]
    body: str
    at: float

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def event(self) -> str:
        return f"{self.json['entity']}.{self.json['action']}"

    @property
    def delivery_id(self) -> str:
        return self.headers["X-MLflow-Delivery-Id"]


class Receiver:
    def __init__(
        self,
        answers: list[int] | None = None,
        hang_s: float = 0.0,
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.answers = list(answers or [])
        self.hang_s = hang_s
        self.body = b"ok"
        self.headers: dict[str, str] = {}
        self.drip_s = 0.0
        self.hits: list[Hit] = []
        self.write_errors: list[str] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode()
                with receiver._cond:
                    receiver.hits.append(Hit(dict(self.headers), body, time.monotonic()))
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver._cond.notify_all()
                if receiver.hang_s:
                    time.sleep(receiver.hang_s)
                try:
                    receiver._answer(self, status)
                except OSError as exc:  # the caller closed the connection mid-answer
                    with receiver._cond:
                        receiver.write_errors.append(type(exc).__name__)
                        receiver._cond.notify_all()
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if tls:  # HTTPS with the given (certificate, key) files
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.origin = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.origin}/hook"
        # a short poll: shutdown() waits up to one interval (0.5 s by default, per receiver)
        serve = functools.partial(self.server.serve_forever, poll_interval=0.02)
        self.thread = threading.Thread(target=serve, daemon=True)

    def _answer(self, handler: BaseHTTPRequestHandler, status: int) -> None:
        head = f"HTTP/1.1 {status} Answer\r\nContent-Length: {len(self.body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in self.headers.items()) + "\r\n"
        answer = head.encode() + self.body
        if not self.drip_s:
            handler.wfile.write(answer)
            return
        for n in range(len(answer)):
            handler.wfile.write(answer[n : n + 1])
            handler.wfile.flush()
            time.sleep(self.drip_s)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Hit]:
        """The first `count` hits, waiting up to `timeout` seconds for them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.hits) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [h.event for h in self.hits]
                    raise AssertionError(f"expected {count} webhook hits, got {got}")
                self._cond.wait(left)
            return list(self.hits)

    def wait_for_write_error(self, timeout: float = 20.0) -> str:
        """How sending an answer failed, waiting up to `timeout` seconds for it to fail."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.write_errors:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("the caller read the whole answer")
                self._cond.wait(left)
            return self.write_errors[0]


def allow_list(receivers: list[Receiver]) -> str:
    """The `--webhook-allow-hosts` value naming each receiver's endpoint."""
    return ",".join(r.origin for r in receivers)
