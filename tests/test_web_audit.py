"""The audit trail (issue 16 point 4): bounded Redis stream, a log line, and a Redis
outage never fails the supervisor's request."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
import pytest_twisted
from twisted.internet import defer, task
from twisted.logger import globalLogPublisher

from queues.items import Outcome
from server.records.store import make_client
from server.redisproc import free_port
from server.web.audit import AUDIT_STREAM, AuditLog
from tests.test_web_support import WebRig, cheap_config


def _close(client) -> defer.Deferred:
    return defer.Deferred.fromFuture(asyncio.ensure_future(client.aclose()))


@pytest.fixture
def url(redis_server):
    return redis_server.url.rsplit("/", 1)[0] + "/7"


@pytest_twisted.ensureDeferred
async def test_entries_are_bounded_and_newest_first(url):
    client = make_client(url)
    try:
        await defer.Deferred.fromFuture(asyncio.ensure_future(client.delete(AUDIT_STREAM)))
        clock = task.Clock()
        audit = AuditLog(client, clock, maxlen=5)
        for i in range(12):
            clock.advance(1)
            audit.record("supervisor1", "force_pause", f"10{i:02d}", {"reason": "meal", "n": i})
            await audit.pending
        n = await defer.Deferred.fromFuture(asyncio.ensure_future(client.xlen(AUDIT_STREAM)))
        assert n == 5
        rows = await audit.recent(3)
        assert [(r["target"], r["at"], r["detail"]["n"]) for r in rows] == [
            ("1011", 12.0, 11), ("1010", 11.0, 10), ("1009", 10.0, 9)]
    finally:
        await _close(client)


@pytest_twisted.ensureDeferred
async def test_a_redis_outage_is_logged_and_the_request_still_succeeds(tmp_path, url):
    dead = make_client(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    events = []
    globalLogPublisher.addObserver(events.append)
    rig = WebRig(url, tmp_path)
    audit = AuditLog(dead, rig.clock)
    try:
        audit.record("supervisor1", "listen", "1001", {"device": "PJSIP/2001"})
        await audit.pending  # handled: fires with None, never fails
        logged = [e for e in events if e.get("audit_action") == "listen"]
        assert logged and logged[0]["audit_who"] == "supervisor1"
        assert logged[0]["audit_detail"] == '{"device":"PJSIP/2001"}'
        warned = [e for e in events if "not stored in Redis" in e.get("log_format", "")]
        assert warned and warned[0]["action"] == "listen"
        with pytest.raises(Exception):  # noqa: B017 - the GET side reports, see below
            await audit.recent(5)
    finally:
        globalLogPublisher.removeObserver(events.append)
        await _close(dead)
        await rig.close()


@pytest_twisted.ensureDeferred
async def test_supervise_with_redis_down_still_rings_and_get_audit_is_503(tmp_path, url):
    from server.call.center import CallCenter
    from server.notify import Notifier
    from server.web import build_web
    from tests.test_web_support import StubAmi

    dead = make_client(f"redis://127.0.0.1:{free_port()}/0")
    rig = WebRig(url, tmp_path)
    try:
        # the same graph, with every Redis read/write of the web side on the dead client
        cfg, ami, notifier = rig.cfg, StubAmi(), Notifier()
        from twisted.internet import reactor

        calls = CallCenter(reactor, cfg, ami, save=lambda r: None, bills=None,
                           notifier=notifier)
        web = build_web(cfg, calls, notifier, rig.clock, redis_client=dead,
                        put_record=lambda r: None)
        port = reactor.listenTCP(0, web.site, interface="127.0.0.1")
        rig.base = f"http://127.0.0.1:{port.getHost().port}"
        try:
            s = await rig.login("supervisor1")
            calls.acd.login("1001")
            calls.acd.enqueue("c1", "general", number="13900000001")
            calls.acd.offer_result("c1", Outcome.ANSWERED)
            code, body, _ = await rig.request("POST", "/api/supervise",
                                              {"agent_id": "1001", "mode": "listen"}, token=s)
            assert code == 200 and ami.actions[-1][1]["Channel"] == "PJSIP/2001"
            await web.audit.pending
            code, body, _ = await rig.request("GET", "/api/audit", token=s)
            assert code == 503 and "cannot be read now" in body["error"]
        finally:
            web.unsubscribe()
            await port.stopListening()
    finally:
        await _close(dead)
        await rig.close()


@pytest_twisted.ensureDeferred
async def test_a_supervisor_without_a_device_cannot_supervise(tmp_path, url):
    cfg = cheap_config(tmp_path)
    cfg = replace(cfg, users=tuple(replace(u, device=None) for u in cfg.users))
    rig = WebRig(url, tmp_path, cfg=cfg)
    try:
        s = await rig.login("supervisor1")
        rig.calls.acd.login("1001")
        rig.calls.acd.enqueue("c1", "general", number="13900000001")
        rig.calls.acd.offer_result("c1", Outcome.ANSWERED)
        code, body, _ = await rig.request("POST", "/api/supervise",
                                          {"agent_id": "1001", "mode": "listen"}, token=s)
        assert code == 409 and "no device" in body["error"]
        assert not [a for a in rig.ami.actions if a[0] == "Originate"]
    finally:
        await rig.close()
