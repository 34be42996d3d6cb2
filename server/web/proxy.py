"""Who the client is, and whether it came over TLS, behind configured trusted proxies.

Behind the TLS reverse proxy the README recommends, every request's TCP peer is
the proxy.  ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only when
that peer is one of ``http.trusted_proxies`` (server.yaml); from anyone else they
are ignored, because any client can send them.

The client is the right-most address in ``X-Forwarded-For`` that is not itself a
trusted proxy: each proxy appends the address it saw, so entries to the left of
that one were written by the client and prove nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from twisted.web import server

__all__ = ["TrustedProxies"]

_Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(addr, "ipv4_mapped", None)
    return mapped or addr


class TrustedProxies:
    """The networks whose forwarding headers are believed (empty: none)."""

    def __init__(self, networks: Iterable[str] = ()) -> None:
        self.networks: tuple[_Net, ...] = tuple(ipaddress.ip_network(n, strict=False)
                                                for n in networks)

    def trusts(self, host: str) -> bool:
        addr = _address(host)
        return addr is not None and any(addr in n for n in self.networks)

    @staticmethod
    def _peer(request: server.Request) -> str:
        return getattr(request.getClientAddress(), "host", None) or "?"

    def client(self, request: server.Request) -> str:
        """The client's address as a string (the TCP peer unless a trusted proxy forwarded)."""
        peer = self._peer(request)
        if not self.trusts(peer):
            return peer
        hops = [h for line in request.requestHeaders.getRawHeaders(b"x-forwarded-for", [])
                for h in line.decode("latin-1").split(",")]
        for hop in reversed(hops):
            addr = _address(hop)
            if addr is None:
                return peer  # a garbled chain: trust only what we saw ourselves
            if not any(addr in n for n in self.networks):
                return str(addr)
        return peer

    def is_tls(self, request: server.Request) -> bool:
        """True when this hop is TLS, or a trusted proxy says the client's was."""
        if request.isSecure():
            return True
        if not self.trusts(self._peer(request)):
            return False
        # The last value is the one our trusted peer wrote (an appending proxy
        # keeps whatever the client sent to its left).
        proto = request.getHeader("x-forwarded-proto") or ""
        return proto.split(",")[-1].strip().lower() == "https"
