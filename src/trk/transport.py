"""HTTP transport to a `trk server`: timeouts, retries with backoff, errors as TrkError.

Shared by the REST store and the artifact proxy client, so both retry and fail the same way.
A request the server may have applied (a timeout after sending, a 5xx) is retried only when
the caller says the call is idempotent; a connection that never opened is always retried.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson

from trk import settings
from trk.exceptions import TrkError, Unavailable, from_error_code

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRIES = 4
_RETRY_STATUS = {429, 502, 503, 504}
# Nothing reached the server: safe to send again whatever the call does.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MAYBE_SENT = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError, httpx.ReadError)


class Transport:
    """One connection pool per process to `base_url`, sending JSON and bearer tokens."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        backoff_s: float = 0.1,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        # A basic-auth server signs users in by name and password; a token wins when both are set.
        self.credentials = None if token else settings.tracking_credentials()
        self.timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        self.retries = retries
        self.backoff_s = backoff_s
        self._client: httpx.Client | None = None
        self._pid = 0
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        # A forked child must not share the parent's sockets: one pool per process.
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                headers = {"User-Agent": "trk"}
                if self.token:
                    headers["Authorization"] = f"Bearer {self.token}"
                limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
                self._client = httpx.Client(
                    base_url=self.base_url,
                    headers=headers,
                    timeout=self.timeout,
                    limits=limits,
                    auth=httpx.BasicAuth(*self.credentials) if self.credentials else None,
                )
                self._pid = os.getpid()
            return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def call(
        self,
        method: str,
        path: str,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """One JSON request; the decoded response, or the server's error as a TrkError."""
        content = orjson.dumps(json) if json is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        response = self.send(
            method,
            path,
            content=content,
            params=params,
            headers=headers,
            idempotent=method == "GET" if idempotent is None else idempotent,
        )
        return orjson.loads(response.content) if response.content else {}

    def send(
        self,
        method: str,
        path: str,
        idempotent: bool = False,
        body: Callable[[], Any] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """The response to a request, after retries; raises on an error status.

        `body()` makes fresh content for each attempt (a streamed file cannot be resent).
        """
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self._delay(attempt))
            if body is not None:
                kwargs["content"] = body()
            try:
                response = self.client.request(method, path, **kwargs)
            except _NOT_SENT as exc:
                last = exc
                continue
            except _MAYBE_SENT as exc:
                last = exc
                if idempotent:
                    continue
                raise Unavailable(self._unreachable(exc)) from exc
            if response.status_code in _RETRY_STATUS and idempotent and attempt < self.retries:
                last = raise_for_error(response, raise_it=False)
                continue
            raise_for_error(response)
            return response
        if isinstance(last, TrkError):
            raise last
        raise Unavailable(self._unreachable(last)) from last

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A streamed response (downloads); failures to connect are retried before any byte."""
        response = self._open_stream(method, path, **kwargs)
        try:
            yield response
        finally:
            response.close()

    def _open_stream(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(self.retries + 1):
            try:
                request = self.client.build_request(method, path, **kwargs)
                response = self.client.send(request, stream=True)
            except _NOT_SENT + _MAYBE_SENT as exc:
                if attempt == self.retries:
                    raise Unavailable(self._unreachable(exc)) from exc
                time.sleep(self._delay(attempt + 1))
                continue
            if response.status_code >= 400:
                response.read()
                response.close()
                raise_for_error(response)
            return response
        raise AssertionError("unreachable")

    def _delay(self, attempt: int) -> float:
        # Exponential backoff with jitter, so many clients do not retry in lockstep.
        return float(self.backoff_s * (2 ** (attempt - 1)) * (0.5 + random.random()))

    def _unreachable(self, exc: BaseException | None) -> str:
        kind = type(exc).__name__ if exc else "error"
        return (
            f"Tracking server {self.base_url} is unreachable after {self.retries + 1} "
            f"attempts ({kind}: {exc})"
        )


def raise_for_error(response: httpx.Response, raise_it: bool = True) -> TrkError | None:
    """The server's `{"error_code", "message"}` as the matching TrkError."""
    if response.status_code < 400:
        return None
    try:
        body = orjson.loads(response.content)
        code, message = str(body["error_code"]), str(body.get("message", ""))
        error = from_error_code(code, message, response.status_code)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        text = response.text[:200]
        error = TrkError(f"HTTP {response.status_code} from {response.request.url}: {text}")
    if response.status_code == 503 and type(error) is TrkError:
        error = Unavailable(error.message)
    if raise_it:
        raise error
    return error
