"""The SSRF guard: where an endpoint URL may point, and connecting only to what was checked.

The host is resolved once per attempt; every address it resolves to must be public. The
request then goes to that checked address (the URL's host replaced by the IP, the name kept in
``Host`` and, for https, in the TLS SNI and certificate check), so a DNS answer that changes
between the check and the connection (a rebind) cannot point the request elsewhere.

``FACILBOT_WEBHOOKS_ALLOW_PRIVATE=1`` opens loopback and private addresses for development and
tests; link-local, multicast, reserved and cloud-metadata addresses stay refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: host -> the addresses it resolves to (injectable, so tests can resolve a name as they like)
Resolver = Callable[[str, int], Awaitable[list[str]]]

#: Cloud metadata services that are not link-local (AWS's 169.254.169.254 is).
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("100.100.100.200", "168.63.129.16", "fd00:ec2::254", "192.0.0.192")
)


class Refused(Exception):
    """The URL may not be called; the message says why."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_problem(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why an address may not be called (None when it may)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA or str(address) == "169.254.169.254":
        return "a cloud metadata address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return None if allow_private else "a loopback address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private or (
        isinstance(address, ipaddress.IPv4Address)
        and address in ipaddress.ip_network("100.64.0.0/10")
    ):
        return None if allow_private else "a private address"
    if not address.is_global:
        return "a reserved address"
    return None


def check_url_shape(url: str, *, production: bool) -> None:
    """The URL's form (scheme, host, no credentials); :class:`Refused` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Refused("the URL must be http:// or https://")
    if production and parts.scheme != "https":
        raise Refused("the URL must be https:// in production")
    if not parts.hostname:
        raise Refused("the URL has no host")
    if parts.username or parts.password:
        raise Refused("the URL must not carry a user name or password")
    if len(url) > 2000:
        raise Refused("the URL is longer than 2000 characters")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise Refused("the URL's port is not a number from 0 to 65535") from None


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send: the URL with the checked IP, the Host header and the TLS name."""

    url: str
    host_header: str
    sni_hostname: str | None
    address: str


async def resolve_target(
    url: str, *, allow_private: bool, production: bool, resolver: Resolver | None = None
) -> Target:
    """Check ``url`` and the addresses its host resolves to; :class:`Refused` when any is not
    allowed. The returned target names the first checked address."""
    check_url_shape(url, production=production)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            found = await (resolver or system_resolver)(host, port)
        except OSError as error:
            raise Refused(f"the host {host!r} does not resolve ({type(error).__name__})") from None
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
        if not addresses:
            raise Refused(f"the host {host!r} resolves to no address")
    for address in addresses:
        problem = address_problem(address, allow_private=allow_private)
        if problem:
            said = f"{host} is" if literal is not None else f"{host} resolves to {address},"
            raise Refused(f"{said} {problem}")
    chosen = addresses[0]
    ip_host = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = ip_host if parts.port is None else f"{ip_host}:{parts.port}"
    host_header = parts.netloc.rpartition("@")[2]
    sni = host if parts.scheme == "https" and literal is None else None
    return Target(
        urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
        host_header,
        sni,
        str(chosen),
    )
