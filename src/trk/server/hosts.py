"""Host-header and Origin checks as one pure ASGI middleware, as MLflow 3's server does them:
a `Host` outside the allow-list is refused (DNS rebinding: a hostile page whose name now
resolves to 127.0.0.1), and so is a state-changing request whose `Origin` is another site
(a hostile page posting to this server from a developer's browser). Both answer 403."""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Sequence
from urllib.parse import urlparse

from starlette.types import ASGIApp, Receive, Scope, Send

from trk.exceptions import PermissionDenied
from trk.server.errors import error_response

# MLflow's wording, so clients and operators recognise the refusals.
INVALID_HOST = "Invalid Host header - possible DNS rebinding attack detected"
CROSS_ORIGIN = "Cross-origin request blocked"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OPEN_PATHS = frozenset({"/health", "/metrics"})  # probes and scrapes address a pod by IP
LOCALHOST = ("localhost", "127.0.0.1", "[::1]")
# RFC 1918 and RFC 4193 ranges, allowed by name as MLflow allows them when bound to all
# interfaces: a DNS-rebinding page cannot make a browser send a private IP as its Host.
PRIVATE = ("10.*", "192.168.*", *(f"172.{i}.*" for i in range(16, 32)), "[fc*", "[fd*")


def _is_wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_allowed_hosts(bound: str) -> tuple[str, ...]:
    """The localhost forms and the bound name (with any port); private addresses too when
    bound to every interface."""
    if _is_wildcard(bound):
        return (*LOCALHOST, *PRIVATE)
    name = f"[{bound}]" if ":" in bound else bound
    return LOCALHOST if name in LOCALHOST else (*LOCALHOST, name)


def _name(host: str) -> str:
    """`host` without its port: `a.b:5000` -> `a.b`, `[::1]:5000` -> `[::1]`."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0]


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """`host`, or its name without the port, against names and fnmatch patterns (`*`: all)."""
    if not host:
        return False
    candidates = (host.lower(), _name(host.lower()))
    return any(
        pattern == "*" or fnmatch.fnmatchcase(candidate, pattern.lower().replace("[", "[[]"))
        for pattern in allowed
        for candidate in candidates
    )


def same_origin(origin: str, host: str, allowed_origins: Sequence[str]) -> bool:
    """Whether a browser page at `origin` may change state on this server at `host`. The
    scheme is not compared: behind a TLS proxy the page is https and the request plain, and
    no other site can serve a page from this server's own host and port."""
    if origin in allowed_origins or "*" in allowed_origins:
        return True
    parsed = urlparse(origin)
    return parsed.scheme in ("http", "https") and parsed.netloc.lower() == host.lower()


class HostOriginCheck:
    """403 PERMISSION_DENIED for a foreign Host, or a cross-site Origin on a write."""

    def __init__(
        self, app: ASGIApp, allowed_hosts: Sequence[str], allowed_origins: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.allowed_hosts = tuple(allowed_hosts)
        self.allowed_origins = tuple(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1")
        origin = headers.get(b"origin", b"").decode("latin-1")
        refusal = None
        if not host_allowed(host, self.allowed_hosts):
            refusal = INVALID_HOST
        elif (
            origin
            and scope["method"] in STATE_CHANGING
            and not same_origin(origin, host, self.allowed_origins)
        ):
            refusal = CROSS_ORIGIN
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await error_response(PermissionDenied(f"{refusal}: {scope['path']}"))(scope, receive, send)
