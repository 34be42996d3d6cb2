"""/metrics over twisted.web: a real socket on 127.0.0.1, and the Hotline's listener."""

from __future__ import annotations

import dataclasses

import pytest_twisted
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.testing import MemoryReactorClock
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.test.requesthelper import DummyRequest

from server.ami.service import AmiOptions
from server.app import Hotline
from server.config import load_config
from server.metrics_http import MetricsPage, metrics_site
from tests.e2e_support import ROOT


@pytest_twisted.inlineCallbacks
def test_get_metrics_over_a_real_socket():
    from twisted.internet import reactor

    registry = CollectorRegistry()
    Counter("hotline_test_things", "Things", registry=registry).inc(7)
    port = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
        metrics_site(registry))
    agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
    try:
        url = f"http://127.0.0.1:{port.getHost().port}/metrics".encode()
        response = yield agent.request(b"GET", url)
        body = (yield readBody(response)).decode()
        assert response.code == 200
        assert response.headers.getRawHeaders(b"content-type")[0].startswith(b"text/plain")
        samples = {s.name: s.value for f in text_string_to_metric_families(body)
                   for s in f.samples}
        assert samples["hotline_test_things_total"] == 7

        missing = yield agent.request(b"GET", url.replace(b"/metrics", b"/other"))
        yield readBody(missing)
        assert missing.code == 404
    finally:
        yield port.stopListening()


def test_openmetrics_when_the_scraper_asks_for_it():
    registry = CollectorRegistry()
    Counter("hotline_test_things", "Things", registry=registry).inc()
    request = DummyRequest([b""])
    request.requestHeaders.setRawHeaders(b"accept", [b"application/openmetrics-text"])
    body = MetricsPage(registry).render_GET(request)
    assert body.endswith(b"# EOF\n")
    assert request.responseHeaders.getRawHeaders(b"content-type")[0].startswith(
        b"application/openmetrics-text")


def test_hotline_serves_its_metrics_on_the_configured_listener(tmp_path):
    cfg = load_config(ROOT / "config", environ={})
    listen = "tcp:port=19598:interface=127.0.0.1"
    server = dataclasses.replace(cfg.server, metrics=dataclasses.replace(
        cfg.server.metrics, listen=listen))
    cfg = dataclasses.replace(cfg, server=server)
    reactor = MemoryReactorClock()
    hotline = Hotline(reactor, cfg, object(), AmiOptions("hotline", "pw"),
                      redis_url="redis://127.0.0.1:1/0", spool_dir=str(tmp_path))
    metrics = hotline.start_metrics()
    listener = list(hotline.services)[-1]
    listener.startService()  # alone: the AMI link and the records stay down
    try:
        (port, site, _, interface) = reactor.tcpServers[0]
        assert (port, interface) == (19598, "127.0.0.1")
        page = site.resource.getChildWithDefault(b"metrics", DummyRequest([b"metrics"]))
        body = page.render_GET(DummyRequest([b"metrics"])).decode()
        names = {f.name for f in text_string_to_metric_families(body)}
        assert {"hotline_queue_calls_offered", "hotline_ami_connected",
                "hotline_records_spool_backlog", "hotline_call_talk_seconds"} <= names
    finally:
        listener.stopService()
        metrics.close()
