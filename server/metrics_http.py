"""Serving /metrics with twisted.web, on its own listener.

Not ``prometheus_client.twisted.MetricsResource``: that runs the WSGI app in the
reactor's thread pool, so a scrape would read the router's live dicts from another
thread while the reactor changes them, and importing it installs the global
reactor.  A scrape here is a synchronous render in the reactor thread; collecting
is a walk over a few dicts, well under a millisecond per queue.
"""

from __future__ import annotations

from typing import cast

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from twisted.application.internet import StreamServerEndpointService
from twisted.internet.endpoints import serverFromString
from twisted.web.pages import notFound
from twisted.web.resource import IResource, Resource
from twisted.web.server import Site

__all__ = ["MetricsPage", "metrics_service", "metrics_site"]


class MetricsPage(Resource):
    """GET renders ``registry`` in the format the scraper's Accept header asks for."""

    isLeaf = True

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self.registry = registry

    def render_GET(self, request) -> bytes:
        accept = request.getHeader("accept")
        encoder, content_type = choose_encoder(accept)
        body = encoder(self.registry)
        request.setHeader(b"content-type", content_type.encode("ascii"))
        return body


class _QuietSite(Site):
    """No access-log line per scrape (one every 15 s would drown the call logs)."""

    noisy = False

    def log(self, request) -> None:
        pass


class _Root(Resource):
    def getChild(self, path: bytes, request) -> IResource:
        return notFound()


def metrics_site(registry: CollectorRegistry) -> Site:
    """A Site with the registry at ``/metrics``; every other path is a 404."""
    root = _Root()
    # Resource implements IResource through zope's @implementer, which mypy sees only
    # with the mypy-zope plugin
    root.putChild(b"metrics", cast(IResource, MetricsPage(registry)))
    return _QuietSite(root)


def metrics_service(reactor, listen: str, registry: CollectorRegistry
                    ) -> StreamServerEndpointService:
    """A service listening on ``listen`` (a Twisted server endpoint string)."""
    return StreamServerEndpointService(serverFromString(reactor, listen), metrics_site(registry))
