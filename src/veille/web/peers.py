"""Which address a request comes from, believing proxy headers only from known proxies.

Anyone can send ``X-Forwarded-For``; believing it from every client let one
client post the hotline form as 15 different addresses past its rate limit.
The header is read only when the direct peer is one of
``VEILLE_TRUSTED_PROXIES``, and then from the right: each proxy appends the
address it received the request from, so the client is the rightmost
address that is not itself a trusted proxy. ``veille serve`` turns uvicorn's
own handling of the header off, so this is the only place that reads it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def proxy_networks(addresses: Sequence[str]) -> tuple[Network, ...]:
    """The networks of ``VEILLE_TRUSTED_PROXIES`` (already checked by the settings)."""
    return tuple(ipaddress.ip_network(item, strict=False) for item in addresses)


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(peer: str, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address: ``peer``, or from ``X-Forwarded-For`` if ``peer`` is a proxy."""
    address = peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    while hops and _is_trusted(address, trusted):
        hop = hops.pop()
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            # A trusted proxy passed on something that is not an address: stop at that proxy.
            break
        address = hop
    return address


def resolve_client(scope: Scope, trusted: Sequence[Network]) -> None:
    """Set ``scope["client"]`` to the client's address (a no-op without trusted proxies)."""
    client = scope.get("client")
    if not trusted or not client:
        return
    forwarded = [
        value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"
    ]
    if forwarded:
        address = client_address(client[0], forwarded, trusted)
        if address != client[0]:
            scope["client"] = (address, 0)
