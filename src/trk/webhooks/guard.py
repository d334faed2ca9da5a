"""Connect-time target check: the address a delivery connects to is an address that was checked.

Checking a URL's host and then letting the HTTP client resolve it again leaves a gap a DNS
rebinding attack can use (public when checked, 169.254.169.254 when connecting). This
transport resolves once, refuses non-public answers (unless the host is allow-listed), and
connects to exactly those addresses; TLS still verifies the certificate for the URL's host.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from trk.exceptions import InvalidParameter
from trk.webhooks.targets import AllowList, is_public, resolve


class TargetRefused(InvalidParameter):
    """The host resolved to an address webhooks may not call (never retried)."""


class _CheckedBackend(httpcore.SyncBackend):
    def __init__(self, allow: AllowList) -> None:
        self.allow = allow

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = [host] if self.allow.admits(host) else _public_addresses(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
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
    """httpx's own transport, with the checked connect and no proxies."""

    def __init__(self, allow: AllowList) -> None:
        super().__init__(verify=True, trust_env=False)
        # The same pool httpx builds for these options, on the checking network backend.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=True, trust_env=False),
            network_backend=_CheckedBackend(allow),
        )
