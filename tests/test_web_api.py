"""The HTTP API over real sockets: every role against every route, bad input, limits."""

from __future__ import annotations

import pytest
import pytest_twisted
import treq
from twisted.internet import defer, protocol

from queues.items import Outcome
from tests.test_web_support import WebRig

ME = "1001"  # the agent the agent-scoped paths name
# (method, path, body, roles allowed); "agent" means agent 1001 on its own paths
MATRIX = [
    ("POST", "/api/logout", None, {"agent", "supervisor", "reviewer"}),
    ("GET", "/api/me", None, {"agent", "supervisor", "reviewer"}),
    ("GET", "/api/feed", None, {"agent", "supervisor", "reviewer"}),
    ("POST", f"/api/agents/{ME}/state", {"state": "ready"}, {"agent", "supervisor"}),
    ("GET", f"/api/agents/{ME}", None, {"agent", "supervisor"}),
    ("DELETE", f"/api/agents/{ME}/pending-pause", None, {"agent", "supervisor"}),
    ("POST", f"/api/agents/{ME}/force", {"action": "ready"}, {"supervisor"}),
    ("POST", f"/api/agents/{ME}/wrapup", {"action": "end"}, {"agent", "supervisor"}),
    ("POST", f"/api/agents/{ME}/disposition", {"call_id": "x", "code": "resolved"},
     {"agent", "supervisor"}),
    ("GET", f"/api/agents/{ME}/stats", None, {"agent", "supervisor"}),
    ("POST", "/api/followups", {"queue": "general", "number": "13900000000"},
     {"agent", "supervisor", "other_agent"}),
    ("DELETE", "/api/followups/nope", None, {"supervisor"}),
    ("GET", "/api/snapshot", None, {"supervisor"}),
    ("POST", "/api/supervise", {"agent_id": ME, "mode": "listen"}, {"supervisor"}),
    ("GET", "/api/audit", None, {"supervisor"}),
    ("GET", "/api/outages", None, {"supervisor"}),
    ("POST", "/api/outages", {"id": "o1", "start": 0, "restore": 4e9, "area_codes": ["0531"]},
     {"supervisor"}),
    ("DELETE", "/api/outages/o1", None, {"supervisor"}),
    ("PATCH", "/api/queues/general", {"announce_interval_s": 30}, {"supervisor"}),
    ("GET", "/api/records", None, {"reviewer", "supervisor"}),
    ("GET", "/api/records/c1", None, {"reviewer", "supervisor"}),
    ("GET", "/api/records/c1/qa", None, {"reviewer", "supervisor"}),
    ("POST", "/api/records/c1/qa", {"scores": {}}, {"reviewer", "supervisor"}),
    ("GET", "/api/recordings/c1.wav", None, {"reviewer", "supervisor"}),
    ("GET", "/api/scorecards", None, {"reviewer", "supervisor"}),
    ("GET", "/api/reports", None, {"supervisor"}),
    ("GET", "/api/customers/history", None, {"agent", "supervisor", "reviewer"}),
    ("GET", "/api/cases", None, {"agent", "supervisor", "reviewer"}),
    ("GET", "/api/cases/GD19990101-000001", None, {"agent", "supervisor", "reviewer"}),
    ("POST", "/api/cases", {"type": "enquiry", "phone": "13900000000"},
     {"agent", "supervisor", "other_agent"}),
    ("POST", "/api/cases/GD19990101-000001/transition", {"input": "note"},
     {"agent", "supervisor", "other_agent"}),
    ("POST", "/api/cases/GD19990101-000001/visit", {"reached": False},
     {"agent", "supervisor", "other_agent"}),
]
PRINCIPALS = {"none": None, "agent": ("1001",), "other_agent": ("1002",),
              "supervisor": ("supervisor1",), "reviewer": ("reviewer1",)}


@pytest.fixture
def rig(redis_server, tmp_path):
    url = redis_server.url.rsplit("/", 1)[0] + "/5"
    r = WebRig(url, tmp_path)
    yield r
    pytest_twisted.blockon(defer.ensureDeferred(r.close()))


class _Abort(protocol.Protocol):
    def connectionMade(self) -> None:
        self.transport.stopProducing()


async def _status(rig: WebRig, method: str, path: str, body, token: str | None) -> int:
    if path == "/api/feed":  # a stream: read the status, then hang up
        h = {"Authorization": [f"Bearer {token}"]} if token else {}
        resp = await treq.get(rig.base + path, headers=h, unbuffered=True, persistent=False)
        if resp.code == 200:
            resp.original.deliverBody(_Abort())
        else:
            await resp.content()
        return resp.code
    code, _, _ = await rig.request(method, path, body, token=token)
    return code


@pytest_twisted.ensureDeferred
async def test_every_role_against_every_route(rig):
    covered = [next(r for r in rig.web.routes if r.method == m and r.pattern.match(p))
               for m, p, _, _ in MATRIX]
    assert sorted(f"{r.method} {r.template}" for r in covered) == sorted(
        f"{r.method} {r.template}" for r in rig.web.routes if r.template != "/api/login")
    results = {}
    for method, path, body, allowed in MATRIX:
        for who, cred in PRINCIPALS.items():
            token = await rig.login(*cred) if cred else None
            code = await _status(rig, method, path, body, token)
            results[(method, path, who)] = code
            if cred is None:
                assert code == 401, (method, path, who, code)
            elif who in allowed or (who == "other_agent" and "agent" in allowed
                                    and ME not in path):
                assert code not in (401, 403), (method, path, who, code)
            else:
                assert code == 403, (method, path, who, code)
    assert results[("GET", "/api/me", "agent")] == 200
    assert results[("GET", "/api/snapshot", "supervisor")] == 200


@pytest_twisted.ensureDeferred
async def test_agent_state_and_own_only(rig):
    t = await rig.login("1001", phone="PJSIP/1001")
    code, body, _ = await rig.request("POST", "/api/agents/1001/state", {"state": "ready"},
                                      token=t)
    assert code == 200 and body["state"] == "ready"
    assert rig.calls.acd.agent("1001").state == "ready"
    code, body, _ = await rig.request("POST", "/api/agents/1001/state",
                                      {"state": "paused", "reason": "meal"}, token=t)
    assert code == 200 and body["state"] == "paused" and body["pause_reason"] == "meal"
    code, body, _ = await rig.request("POST", "/api/agents/1002/state", {"state": "ready"},
                                      token=t)
    assert code == 403
    s = await rig.login("supervisor1")
    code, body, _ = await rig.request("POST", "/api/agents/1002/state", {"state": "ready"},
                                      token=s)
    assert code == 200 and rig.calls.acd.agent("1002").state == "ready"
    code, body, _ = await rig.request("GET", "/api/snapshot", token=s)
    assert code == 200
    assert body["agents_by_state"]["ready"] == 1 and body["agents_by_state"]["paused"] == 1
    q = {q["name"]: q for q in body["queues"]}
    assert "general" in q and q["general"]["waiting"] == 0 and q["general"]["agents_needed"] == 0


@pytest_twisted.ensureDeferred
async def test_bad_input_is_400_naming_the_field(rig):
    t = await rig.login("1001")
    path = "/api/agents/1001/state"
    cases = [
        (b"{not json", "not valid JSON"),
        (b"[1]", "JSON object"),
        (b'{"state": 5}', "'state' must be a string"),
        (b'{"state": "dancing"}', "'state' must be one of"),
        (b'{"state": "ready", "colour": "red"}', "unknown field 'colour'"),
        (b"{}", "'state' is required"),
        (b'{"state": "paused", "reason": "nap"}', "'reason' must be one of"),
    ]
    for raw, message in cases:
        code, body, _ = await rig.request("POST", path, raw=raw, token=t)
        assert code == 400 and message in body["error"], (raw, body)
    code, body, _ = await rig.request("POST", "/api/agents/1001/wrapup",
                                      raw=b'{"action": "extend", "seconds": true}', token=t)
    assert code == 400 and "'seconds' must be a number" in body["error"]
    code, _, _ = await rig.request("POST", path, raw=b'{"state": "ready"}', token=t,
                                   headers={"Content-Type": "text/plain"})
    assert code == 415
    code, body, _ = await rig.request("POST", "/api/login", {"username": "1001"})
    assert code == 400 and "'password' is required" in body["error"]
    code, body, _ = await rig.request("POST", "/api/login", {"username": "1001", "password": "x",
                                                             "phone": "PJSIP/1009"})
    assert code == 401  # a wrong PIN says nothing about the phone
    code, body, _ = await rig.request("POST", "/api/login", {"username": "1001",
                                                             "password": "1001",
                                                             "phone": "PJSIP/1009"})
    assert code == 400 and "'phone'" in body["error"]
    code, _, _ = await rig.request("GET", "/api/nothing", token=t)
    assert code == 404
    code, _, resp = await rig.request("PUT", "/api/me", token=t)
    assert code == 405 and resp.headers.getRawHeaders("allow") == ["GET"]


@pytest_twisted.ensureDeferred
async def test_login_limit_per_account_with_a_growing_delay(rig):
    for _ in range(3):
        code, _, _ = await rig.request("POST", "/api/login",
                                       {"username": "supervisor1", "password": "wrong"})
        assert code == 401
    code, body, resp = await rig.request("POST", "/api/login",
                                         {"username": "supervisor1",
                                          "password": "change-me-supervisor1"})
    assert code == 429 and "try again in 1 s" in body["error"]
    assert resp.headers.getRawHeaders("retry-after") == ["1"]
    # the address is not locked: another account from 127.0.0.1 signs in
    assert await rig.login("1001")
    rig.clock.advance(1)
    assert await rig.login("supervisor1")


@pytest_twisted.ensureDeferred
async def test_session_expiry_cookie_and_logout(rig):
    code, body, resp = await rig.request("POST", "/api/login",
                                         {"username": "reviewer1",
                                          "password": "change-me-reviewer1"})
    assert code == 200 and "token" not in body  # the browser gets the cookie only
    cookie = resp.headers.getRawHeaders("set-cookie")[0]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Path=/" in cookie
    value = cookie.split(";")[0]
    code, me, _ = await rig.request("GET", "/api/me", headers={"Cookie": value})
    assert code == 200 and me["role"] == "reviewer" and "token" not in me
    rig.clock.advance(8 * 3600 - 1)
    code, _, _ = await rig.request("GET", "/api/me", headers={"Cookie": value})
    assert code == 200  # used: the idle timer restarts
    rig.clock.advance(8 * 3600 + 1)
    code, _, _ = await rig.request("GET", "/api/me", headers={"Cookie": value})
    assert code == 401
    t = await rig.login("reviewer1")
    code, _, _ = await rig.request("POST", "/api/logout", token=t)
    assert code == 200
    code, _, _ = await rig.request("GET", "/api/me", token=t)
    assert code == 401


@pytest_twisted.ensureDeferred
async def test_supervise_rings_only_the_supervisors_own_device_and_is_audited(rig):
    s = await rig.login("supervisor2")  # device PJSIP/2002 in agents.yaml
    code, body, _ = await rig.request("POST", "/api/supervise",
                                      {"agent_id": "1001", "mode": "whisper"}, token=s)
    assert code == 409  # not on a call
    acd = rig.calls.acd
    acd.login("1001")
    acd.enqueue("c9", "general", number="13900000009")  # offered to 1001 (no live call)
    acd.offer_result("c9", Outcome.ANSWERED)
    sent = len(rig.ami.actions)
    for phone in ("Local/008613800000000@outbound", "PJSIP/1002", "PJSIP/2002"):
        code, body, _ = await rig.request("POST", "/api/supervise",
                                          {"agent_id": "1001", "mode": "listen",
                                           "phone": phone}, token=s)
        assert code == 400 and "'phone' is refused" in body["error"], body
    assert len(rig.ami.actions) == sent  # nothing was dialled
    for mode, data in (("listen", "PJSIP/1001,qE"), ("whisper", "PJSIP/1001,qEw"),
                       ("barge", "PJSIP/1001,qEB")):
        code, body, _ = await rig.request("POST", "/api/supervise",
                                          {"agent_id": "1001", "mode": mode}, token=s)
        assert code == 200 and body["phone"] == "PJSIP/2002", body
        action, fields = rig.ami.actions[-1]
        assert action == "Originate"
        assert fields["Channel"] == "PJSIP/2002" and fields["Application"] == "ChanSpy"
        assert fields["Data"] == data and fields["Async"] == "true"
        await rig.web.audit.pending
    code, body, _ = await rig.request("GET", "/api/audit?limit=2", token=s)
    assert code == 200
    assert [(e["who"], e["action"], e["target"], e["detail"]) for e in body["entries"]] == [
        ("supervisor2", "barge", "1001", {"device": "PJSIP/2002", "result": "originated"}),
        ("supervisor2", "whisper", "1001", {"device": "PJSIP/2002", "result": "originated"})]
    for bad in ("0", "1001", "x", "-1", "%EF%BC%91"):  # the last: a full-width 1
        code, body, _ = await rig.request("GET", f"/api/audit?limit={bad}", token=s)
        assert code == 400 and "limit" in body["error"]


@pytest_twisted.ensureDeferred
async def test_outages_queues_and_followups(rig):
    s = await rig.login("supervisor1")
    notice = {"id": "storm-1", "start": 0, "restore": 4e9, "area_codes": ["0531"],
              "text": "历城区停电"}
    code, body, _ = await rig.request("POST", "/api/outages", notice, token=s)
    assert code == 201
    assert rig.calls.outages.covering("053188880000", 100.0).id == "storm-1"
    code, body, _ = await rig.request("POST", "/api/outages", dict(notice, restore=-1), token=s)
    assert code == 400 and "restore" in body["error"]
    code, body, _ = await rig.request("GET", "/api/outages", token=s)
    assert [n["id"] for n in body["outages"]] == ["storm-1"]
    code, _, _ = await rig.request("DELETE", "/api/outages/storm-1", token=s)
    assert code == 200 and rig.calls.outages.notices() == ()

    code, body, _ = await rig.request("PATCH", "/api/queues/general",
                                      {"priority": 9, "announce_interval_s": 15}, token=s)
    assert code == 200 and body["priority"] == 9
    assert rig.calls.acd.config.queues["general"].priority == 9
    assert rig.calls.cfg.acd.queues["general"].announce_interval_s == 15
    code, body, _ = await rig.request("PATCH", "/api/queues/general", {"strategy": "x"}, token=s)
    assert code == 400 and "unknown field 'strategy'" in body["error"]

    t = await rig.login("1001")
    code, body, _ = await rig.request("POST", "/api/followups",
                                      {"queue": "complaints", "number": "13900000001",
                                       "due_at": rig.clock.seconds() + 3600,
                                       "note": "回访 投诉"}, token=t)
    assert code == 201 and body["id"].startswith("fu-")
    assert rig.calls.acd.item(body["id"]).number == "13900000001"
    code, _, _ = await rig.request("DELETE", f"/api/followups/{body['id']}", token=s)
    assert code == 200 and rig.calls.acd.item(body["id"]) is None


@pytest_twisted.ensureDeferred
async def test_feed_is_filtered_by_role(rig):
    agent, other, sup = await rig.login("1001"), await rig.login("1002"), await rig.login(
        "supervisor1")
    seen: dict[str, list[bytes]] = {}

    class Collect(protocol.Protocol):
        def __init__(self, name):
            self.name = name
            seen[name] = []

        def dataReceived(self, data):
            seen[self.name].append(data)

    conns = []
    for name, token in (("agent", agent), ("other", other), ("sup", sup)):
        resp = await treq.get(rig.base + "/api/feed", headers={
            "Authorization": [f"Bearer {token}"]}, unbuffered=True, persistent=False)
        assert resp.code == 200
        assert resp.headers.getRawHeaders("content-type")[0].startswith("text/event-stream")
        p = Collect(name)
        resp.original.deliverBody(p)
        conns.append(p)
    rig.calls.acd.login("1001")
    rig.clock.advance(15)
    await deferLater(0.2)
    joined = {k: b"".join(v).decode() for k, v in seen.items()}
    assert 'event: agent\ndata: {"agent_id":"1001"' in joined["agent"]
    assert "event: agent" in joined["sup"]
    assert "event: agent" not in joined["other"]
    assert all(": heartbeat" in v for v in joined.values())
    for p in conns:
        p.transport.stopProducing()
    await deferLater(0.1)
    assert rig.web.feed.open == 0


def deferLater(seconds: float):
    from twisted.internet import reactor, task

    return task.deferLater(reactor, seconds, lambda: None)


def test_live_figures_memory_is_bounded():
    from twisted.internet.task import Clock

    from server.config import load_config
    from server.records.model import CallRecorder
    from server.web import live

    clock = Clock()
    clock.advance(1_795_800_000)
    figures = live.LiveFigures(clock, load_config(live.__file__.rsplit("/server/", 1)[0]
                                                  + "/config", environ={}))
    for i in range(live.MAX_RECORDS + 500):
        rec = CallRecorder(f"c{i}", clock.seconds(), "13800000000", "95598")
        rec.finish(clock.seconds(), "answered")
        figures.add_record(rec.to_dict())
    assert len(figures._records) <= live.MAX_RECORDS
    assert figures.record(f"c{live.MAX_RECORDS + 499}") is not None  # the newest kept
    assert figures.record("c0") is None  # the oldest went first
    # The figures still see every call: summaries outlive the whole records.
    assert len(figures._done) == live.MAX_RECORDS + 500
    assert "c0" in {c["call_id"] for c in figures.previous_calls("13800000000")}


def test_live_figures_keep_a_small_summary_per_call_and_the_same_figures():
    import tracemalloc

    from twisted.internet.task import Clock

    from server.config import load_config
    from server.records.model import CallRecorder
    from server.web import live

    clock = Clock()
    clock.advance(1_795_800_000)
    cfg = load_config(live.__file__.rsplit("/server/", 1)[0] + "/config", environ={})

    def call(i: int, t: float) -> dict:
        rec = CallRecorder(f"c{i}", t, "13800000001", "95598")
        rec.enqueued(t + 5, "fault", 60)
        rec.offer(t + 9, "1002", t + 6, "no_answer")
        rec.offer(t + 14, "1001", t + 10, "answered")
        rec.answered(t + 14, "1001", "agent")
        rec.hold_start(t + 20)
        rec.hold_end(t + 30)
        rec.bridge_end(t + 74, "agent")
        rec.wrap_up_end(t + 104, "resolved")
        rec.finish(t + 80, "answered")
        return rec.to_dict()

    figures = live.LiveFigures(clock, cfg)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    n = 3 * live.MAX_RECORDS
    for i in range(n):
        figures.add_record(call(i, clock.seconds() - 600))
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    # Whole records for the newest MAX_RECORDS only; well under 1 KB for each other call.
    per_call = (grown - live.MAX_RECORDS * 5000) / n
    assert per_call < 1000, per_call
    assert len(figures.previous_calls("13800000001")) == n
    within = 9 <= cfg.acd.queues["fault"].service_level.threshold_s  # answered after 9 s
    assert figures.recent_service_level("fault") == (1.0 if within else 0.0)


def test_recent_service_level_is_the_reports_definition():
    """within T / (answered + abandons after the short threshold), in the queue the
    call ended in: a short abandon and a call overflowed on to general leave fault's
    denominator (issue 15's definition, the same as the period reports')."""
    from twisted.internet.task import Clock

    from server.config import load_config
    from server.records.model import CallRecorder
    from server.web import live

    clock = Clock()
    clock.advance(1_795_800_000)
    cfg = load_config(live.__file__.rsplit("/server/", 1)[0] + "/config", environ={})
    figures = live.LiveFigures(clock, cfg)
    t = clock.seconds() - 300
    short = cfg.acd.policy.short_abandon_s
    threshold = cfg.acd.queues["fault"].service_level.threshold_s

    def ended(call_id: str, *steps) -> None:
        rec = CallRecorder(call_id, t, "13800000002", "95598")
        rec.enqueued(t + 1, "fault", 60)
        for step in steps:
            step(rec)
        rec.finish(t + 200, "x")
        figures.add_record(rec.to_dict())

    ended("quick", lambda r: r.answered(t + 1 + threshold - 1, "1001", "agent"))
    ended("short", lambda r: r.abandoned(t + 1 + short / 2))
    ended("long", lambda r: r.abandoned(t + 1 + short + 30))
    ended("moved", lambda r: r.overflow(t + 121, "fault", "general"),
          lambda r: r.answered(t + 125, "1019", "team_lead"))
    # fault: quick (within T) over quick + long; general: "moved", 4 s after it came in
    assert figures.recent_service_level("fault") == 1 / 2
    assert figures.recent_service_level("general") == 1.0
