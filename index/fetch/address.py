"""Stage: an IP address -> the kind of non-public address it is ("loopback", "private", ...),
or None when it is public; CIDR strings -> the networks a fetch policy allows. Side effects: none.

The address rules of the connect-time SSRF guard (`index.fetch.feeds.GuardedBackend`): an IPv6
address that carries an IPv4 one (IPv4-mapped, 6to4, Teredo) is judged by that one too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (IPv4-mapped, 6to4, Teredo)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    return [v4 for v4 in found if v4 is not None]


def address_kind(ip: IPAddress) -> str | None:
    """The kind of non-public address `ip` is ("loopback", "private", ...), or None if public."""
    for candidate in (*embedded_ipv4(ip), ip):
        if candidate.is_unspecified:
            return "unspecified"
        if candidate.is_loopback:
            return "loopback"
        if candidate.is_link_local:
            return "link-local"
        if candidate.is_multicast:
            return "multicast"
        if candidate.is_reserved:
            return "reserved"
        if candidate.is_private or (
            isinstance(candidate, ipaddress.IPv6Address) and candidate.is_site_local
        ):
            return "private"
        if not candidate.is_global:
            return "non-public"
    return None


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """The networks `cidrs` name (host bits ignored). Raises ValueError naming the one that is
    not in CIDR form."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(
                f"allowed_networks: {cidr!r} is not a network in CIDR form "
                f"(e.g. 10.1.2.0/24 or fd00::/8): {exc}"
            ) from exc
    return tuple(networks)
