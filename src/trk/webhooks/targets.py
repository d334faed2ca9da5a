"""Which webhook URLs trk may call: public HTTPS hosts, plus what an allow-list names.

A webhook URL is attacker-controlled input that the server will POST to (SSRF). Refused:
schemes other than http(s), plain http, and hosts that resolve to loopback, link-local,
private, reserved or multicast addresses. The allow-list (`--webhook-allow-hosts`,
`TRK_WEBHOOK_ALLOW_HOSTS`) names hosts exactly as written in the URL, or networks (CIDR)
that an IP-literal host must fall in; an allowed host may use plain http. A name that merely
resolves to an allowed address is not allowed: only what the operator wrote is.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from trk.exceptions import InvalidParameter

MAX_URL_LENGTH = 500
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class AllowList:
    """Hosts (lower-case names or IP literals) and networks that may be called."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IpNetwork, ...] = field(default=())

    @classmethod
    def parse(cls, text: str | None) -> AllowList:
        """From `"127.0.0.1, 10.0.0.0/8, hooks.internal"` (commas or spaces)."""
        hosts, networks = set(), []
        for entry in (text or "").replace(",", " ").split():
            entry = entry.lower().strip("[]")
            if any(c.isalpha() for c in entry) and "/" not in entry and ":" not in entry:
                hosts.add(entry)
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise InvalidParameter(f"Invalid webhook allow-list entry {entry!r}") from None
        return cls(frozenset(hosts), tuple(networks))

    def admits(self, host: str) -> bool:
        host = host.lower().strip("[]")
        if host in self.hosts:
            return True
        ip = _as_ip(host)
        return ip is not None and any(ip in net for net in self.networks)


def _as_ip(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_public(ip: IpAddress) -> bool:
    """Globally routable unicast (an IPv4-mapped IPv6 address is judged as its IPv4)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidParameter(f"Webhook host {host!r} does not resolve: {exc}") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def check_url(url: object, allow: AllowList) -> str:
    """`url` when trk may POST to it now; InvalidParameter saying why not otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidParameter("Webhook URL must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidParameter(f"Webhook URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise InvalidParameter(f"Invalid webhook URL {url!r}: {exc}") from None
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidParameter(f"Webhook URL must be http(s)://HOST/...: {url!r}")
    if allow.admits(host):
        return url
    for ip in resolve(host, port):
        if not is_public(ip):
            raise InvalidParameter(
                f"Webhook URL {url!r} resolves to non-public address {ip}; "
                "name the host in --webhook-allow-hosts (TRK_WEBHOOK_ALLOW_HOSTS) to allow it"
            )
    if parts.scheme != "https":
        raise InvalidParameter(
            f"Webhook URL {url!r} must use https (plain http only for allow-listed hosts)"
        )
    return url
