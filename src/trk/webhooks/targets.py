"""Which webhook URLs trk may call: public HTTPS hosts, plus the endpoints an allow-list names.

A webhook URL is attacker-controlled input that the server will POST to (SSRF). Refused:
schemes other than http(s), plain http, userinfo (`user:pass@`), and hosts that resolve to
loopback, link-local, private, site-local, reserved or multicast addresses, or to an IPv6
address that carries an IPv4 one (mapped, compatible, NAT64, 6to4, Teredo: a gateway may
forward those to the IPv4 inside, private or not). The allow-list (`--webhook-allow-hosts`,
`TRK_WEBHOOK_ALLOW_HOSTS`) names endpoints as `scheme://host:port`, the host exactly as
written in the URL or a network (CIDR) an IP-literal host must fall in; an allowed endpoint
may use plain http. A name that merely resolves to an allowed address is not allowed, nor is
another port or scheme of an allowed host: only what the operator wrote is.

A URL's path and query often carry a token (Slack, Teams, CI triggers), so what trk shows of
a URL (answers, errors, logs) is `redact(url)`: scheme, host and port only.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from trk.exceptions import InvalidParameter

MAX_URL_LENGTH = 500
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Printable ASCII without space and the characters RFC 3986 never allows unescaped: a URL
# with anything else is refused rather than guessed at (and `<redacted>` cannot come back).
_URL_CHARS = re.compile(r"[!#-;=?-\[\]_a-z~]+", re.I)
_REDACTED = "<redacted>"
# IPv6 ranges whose addresses embed an IPv4 one; `ipaddress` counts most of them global.
_EMBEDS_IPV4 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/96",  # IPv4-compatible (deprecated)
        "::ffff:0:0/96",  # IPv4-mapped
        "64:ff9b::/96",  # NAT64, well-known prefix
        "64:ff9b:1::/48",  # NAT64, local use
        "2002::/16",  # 6to4
        "2001::/32",  # Teredo
    )
)


@dataclass(frozen=True)
class Endpoint:
    """One allow-list entry: a scheme, a host name or network, and a port."""

    scheme: str
    host: str | IpNetwork
    port: int

    def admits(self, host: str, port: int, scheme: str | None = None) -> bool:
        if port != self.port or (scheme is not None and scheme != self.scheme):
            return False
        if isinstance(self.host, str):
            return host == self.host
        ip = _as_ip(host)
        return ip is not None and ip in self.host


@dataclass(frozen=True)
class AllowList:
    """The endpoints that may be called although not public, over http or https."""

    endpoints: tuple[Endpoint, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> AllowList:
        """From `"http://127.0.0.1:8080, https://ci.internal, https://10.0.0.0/8:8443"`."""
        return cls(tuple(_endpoint(e) for e in (text or "").replace(",", " ").split()))

    def admits(self, host: str, port: int, scheme: str | None = None) -> bool:
        """Whether an entry names this host and port (and scheme, when one is given)."""
        host = host.lower().strip("[]")
        return any(e.admits(host, port, scheme) for e in self.endpoints)


def _endpoint(entry: str) -> Endpoint:
    scheme, sep, rest = entry.lower().partition("://")
    match = re.fullmatch(r"\[?([^\[\]]+?)\]?(?::(\d{1,5}))?/?", rest)
    if not sep or scheme not in _DEFAULT_PORTS or match is None:
        raise InvalidParameter(
            f"Invalid webhook allow-list entry {entry!r}: expected SCHEME://HOST[:PORT], "
            "e.g. http://127.0.0.1:8080 or https://10.0.0.0/8:8443"
        )
    host, port = match[1], int(match[2] or _DEFAULT_PORTS[scheme])
    if not 0 < port < 65536:
        raise InvalidParameter(f"Invalid port in webhook allow-list entry {entry!r}")
    if any(c.isalpha() for c in host) and "/" not in host and ":" not in host:
        return Endpoint(scheme, host, port)
    try:
        return Endpoint(scheme, ipaddress.ip_network(host, strict=False), port)
    except ValueError:
        raise InvalidParameter(f"Invalid webhook allow-list entry {entry!r}") from None


def _as_ip(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_public(ip: IpAddress) -> bool:
    """Globally routable unicast that does not embed an IPv4 address, nor is site-local."""
    if isinstance(ip, ipaddress.IPv6Address) and (
        ip.is_site_local or any(ip in net for net in _EMBEDS_IPV4)
    ):
        return False
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidParameter(f"Webhook host {host!r} does not resolve: {exc}") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def redact(url: str) -> str:
    """`scheme://host:port`, and `/<redacted>` where the URL had a path, query or fragment."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return _REDACTED
    if not host or parts.scheme not in _DEFAULT_PORTS:
        return _REDACTED
    origin = f"{parts.scheme}://{_bracketed(host)}" + (f":{port}" if port else "")
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment
    return f"{origin}/{_REDACTED}" if hidden else origin + parts.path


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def check_url(url: object, allow: AllowList) -> str:
    """`url` when trk may POST to it now; InvalidParameter saying why not otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidParameter("Webhook URL must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidParameter(f"Webhook URL is longer than {MAX_URL_LENGTH} characters")
    shown = redact(url)
    if not _URL_CHARS.fullmatch(url):
        raise InvalidParameter(f"Webhook URL {shown!r} has characters a URL may not contain")
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        raise InvalidParameter(f"Invalid webhook URL {shown!r}") from None
    host = parts.hostname
    if parts.scheme not in _DEFAULT_PORTS or not host:
        raise InvalidParameter(f"Webhook URL must be http(s)://HOST/...: {shown!r}")
    if "@" in parts.netloc:  # credentials would be stored, shown and sent to whoever answers
        raise InvalidParameter("Webhook URL must not carry a user name or password (user@)")
    if allow.admits(host, port, parts.scheme):
        return url
    for ip in resolve(host, port):
        if not is_public(ip):
            raise InvalidParameter(
                f"Webhook URL {shown!r} resolves to non-public address {ip}; name the endpoint "
                f"({parts.scheme}://{_bracketed(host)}:{port}) in --webhook-allow-hosts "
                "(TRK_WEBHOOK_ALLOW_HOSTS) to allow it"
            )
    if parts.scheme != "https":
        raise InvalidParameter(
            f"Webhook URL {shown!r} must use https (plain http only for allow-listed endpoints)"
        )
    return url
