"""Connect-time target check and a deadline per attempt, in the transport webhooks send with.

Checking a URL's host and then letting the HTTP client resolve it again leaves a gap a DNS
rebinding attack can use (public when checked, 169.254.169.254 when connecting). This
transport resolves once, refuses non-public answers (unless the endpoint is allow-listed),
and connects to exactly those addresses; TLS still verifies the certificate for the URL's host.

httpx's timeouts bound each socket operation, so a receiver that drips a byte now and then
keeps an attempt alive for ever. Every connection here carries one deadline, set when it is
opened: each read, write and TLS handshake may wait only for what is left of it. Connections
are never kept alive, so one connection is one attempt and the deadline is the attempt's.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from trk.exceptions import InvalidParameter
from trk.webhooks.targets import AllowList, is_public, resolve


class TargetRefused(InvalidParameter):
    """The host resolved to an address webhooks may not call (never retried)."""


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose operations all end by one monotonic `deadline`."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def _left(self, timeout: float | None, exc: type[Exception]) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise exc("webhook attempt deadline passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = self._left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, left), self._deadline
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _CheckedBackend(httpcore.SyncBackend):
    def __init__(self, allow: AllowList, attempt_s: float) -> None:
        self.allow = allow
        self.attempt_s = attempt_s

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        deadline = time.monotonic() + self.attempt_s
        addresses = [host] if self.allow.admits(host, port) else _public_addresses(host, port)
        failure: Exception | None = None
        for address in addresses:
            left = deadline - time.monotonic()
            if left <= 0:
                raise httpcore.ConnectTimeout("webhook attempt deadline passed")
            wait = left if timeout is None else min(timeout, left)
            try:
                stream = super().connect_tcp(address, port, wait, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            return _DeadlineStream(stream, deadline)
        raise failure or httpcore.ConnectError(f"no address for {host}")


def _public_addresses(host: str, port: int) -> list[str]:
    try:
        found = resolve(host, port)
    except InvalidParameter as exc:
        raise TargetRefused(exc.message) from None
    for ip in found:
        if not is_public(ip):
            raise TargetRefused(f"webhook host {host!r} resolves to non-public address {ip}")
    return list(dict.fromkeys(str(ip) for ip in found))


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport, with the checked connect, the attempt deadline and no proxies."""

    def __init__(self, allow: AllowList, attempt_s: float) -> None:
        super().__init__(verify=True, trust_env=False)
        # The pool httpx builds for these options, on the checking network backend, and
        # without keep-alive (see the module's note on deadlines).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=True, trust_env=False),
            max_keepalive_connections=0,
            network_backend=_CheckedBackend(allow, attempt_s),
        )
