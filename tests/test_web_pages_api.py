"""The API the pages need (issue 17): stable error codes, the agent's current call for a
reloaded desk, a pending pause that shows and can be cancelled, idempotent wrap-up
end, disposition and QA submits, and the supervisor's audited force actions."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import defer

from queues.items import Outcome
from tests.test_web_review import record
from tests.test_web_support import RecordingAudit, WebRig


@pytest.fixture
def rig(redis_server, tmp_path):
    url = redis_server.url.rsplit("/", 1)[0] + "/10"
    r = WebRig(url, tmp_path, audit=RecordingAudit())
    yield r
    pytest_twisted.blockon(defer.ensureDeferred(r.close()))


def _on_call(rig: WebRig, agent: str = "1001", call: str = "c9") -> None:
    acd = rig.calls.acd
    acd.login(agent)
    acd.enqueue(call, "general", number="13900000009")  # offered to the agent (no live call)
    acd.offer_result(call, Outcome.ANSWERED)
    assert acd.agent(agent).state == "on_call"


@pytest_twisted.ensureDeferred
async def test_error_bodies_carry_a_stable_code(rig):
    code, body, _ = await rig.request("POST", "/api/login", {"username": "1001", "password": "x"})
    assert (code, body["code"]) == (401, "bad_credentials")
    code, body, _ = await rig.request("GET", "/api/me")
    assert (code, body["code"]) == (401, "not_signed_in")
    r = await rig.login("reviewer1")
    code, body, _ = await rig.request("GET", "/api/snapshot", token=r)
    assert (code, body["code"]) == (403, "forbidden")
    a = await rig.login("1001")
    code, body, _ = await rig.request("POST", "/api/agents/1001/state",
                                      {"state": "paused", "reason": "nap"}, token=a)
    assert (code, body["code"]) == (400, "bad_pause_reason")
    code, body, _ = await rig.request("POST", "/api/agents/1001/wrapup",
                                      {"action": "extend", "seconds": 60}, token=a)
    assert (code, body["code"]) == (409, "not_in_wrap_up")


@pytest_twisted.ensureDeferred
async def test_pending_pause_is_shown_cancelled_and_wrap_up_end_is_idempotent(rig):
    _on_call(rig)
    a = await rig.login("1001")
    path = "/api/agents/1001"
    code, body, _ = await rig.request("POST", path + "/state",
                                      {"state": "paused", "reason": "meal"}, token=a)
    assert code == 200 and body["state"] == "on_call" and body["pending_pause"] == "meal"
    code, body, _ = await rig.request("DELETE", path + "/pending-pause", token=a)
    assert code == 200 and body["pending_pause"] is None and body["state"] == "on_call"
    code, body, _ = await rig.request("DELETE", path + "/pending-pause", token=a)
    assert code == 200  # nothing pending: no error
    await rig.request("POST", path + "/state", {"state": "paused", "reason": "meal"}, token=a)
    rig.calls.acd.call_ended("c9")
    code, body, _ = await rig.request("GET", path, token=a)
    assert body["state"] == "wrap_up" and body["pending_pause"] == "meal"
    assert body["call_id"] == "c9" and body["wrap_up_ends_at"] is not None
    # a double click: both requests succeed; the pending pause applies once
    first, second = await defer.gatherResults([
        defer.ensureDeferred(rig.request("POST", path + "/wrapup",
                                         {"action": "end", "call_id": "c9"}, token=a))
        for _ in range(2)])
    assert (first[0], second[0]) == (200, 200), (first[1], second[1])
    assert second[1]["state"] == "paused" and second[1]["pause_reason"] == "meal"
    # "ready" in wrap-up means ready: it drops a pending pause and ends the wrap-up
    await rig.request("POST", path + "/state", {"state": "ready"}, token=a)
    rig.calls.acd.enqueue("c10", "general", number="13900000010")
    rig.calls.acd.offer_result("c10", Outcome.ANSWERED)
    await rig.request("POST", path + "/state", {"state": "paused", "reason": "break"}, token=a)
    rig.calls.acd.call_ended("c10")
    code, body, _ = await rig.request("POST", path + "/wrapup",
                                      {"action": "end", "call_id": "c9"}, token=a)
    assert code == 200 and body["state"] == "wrap_up"  # an old call's end: not this one
    code, body, _ = await rig.request("POST", path + "/state", {"state": "ready"}, token=a)
    assert code == 200 and body["state"] == "ready" and body["pending_pause"] is None


@pytest_twisted.ensureDeferred
async def test_current_call_for_a_reloaded_desk(rig):
    _on_call(rig)
    raw = record("c9", agent="1001", queue="billing", intent="billing", disposition="none",
                 caller="13900000009", t0=rig.web.live.day_start() + 1)
    raw["ivr_path"] = [["main", "2"], ["billing", "1"], ["billing", "0"]]
    rig.calls.acd.call_ended("c9")
    rig.notifier.publish("record", raw)  # the call ended while the agent wraps up
    a = await rig.login("1001")
    code, body, _ = await rig.request("POST", "/api/agents/1001/disposition",
                                      {"call_id": "c9", "code": "resolved", "notes": "ok"},
                                      token=a)
    assert code == 200
    code, body, _ = await rig.request("GET", "/api/agents/1001", token=a)
    assert code == 200 and body["state"] == "wrap_up"
    call = body["call"]
    assert call["call_id"] == "c9" and call["caller"] == "13900000009" and call["ended"]
    assert call["queue"] == "billing" and (call["disposition"], call["notes"]) == ("resolved",
                                                                                  "ok")
    assert [(s["to"], s["name"]) for s in call["ivr_steps"]] == [
        ("menu", "billing"), ("self_service", "billing"), ("agent", "billing")]
    other = await rig.login("1002")
    code, _, _ = await rig.request("GET", "/api/agents/1001", token=other)
    assert code == 403
    code, body, _ = await rig.request("GET", "/api/agents/1002", token=other)
    assert code == 200 and body["call"] is None


@pytest_twisted.ensureDeferred
async def test_a_repeated_disposition_writes_no_new_version(rig):
    raw = record("d1", agent="1005", disposition="none", t0=rig.web.live.day_start() + 1)
    await rig.store.put(raw)
    rig.notifier.publish("record", raw)
    a = await rig.login("1005")
    for _ in range(3):
        code, body, _ = await rig.request("POST", "/api/agents/1005/disposition",
                                          {"call_id": "d1", "code": "work_order",
                                           "notes": "W-1"}, token=a)
        assert code == 200
    assert rig.web.live.record("d1").version == raw["version"] + 1


@pytest_twisted.ensureDeferred
async def test_a_double_qa_submit_saves_one_revision(rig):
    await rig.store.put(record("q1"))
    r = await rig.login("reviewer1")
    scores = {"greeting": 5, "identity_check": 4, "correct_answer": 5, "courtesy": 5,
              "closing": 5}
    results = await defer.gatherResults([
        defer.ensureDeferred(rig.request("POST", "/api/records/q1/qa",
                                         {"scores": scores, "comments": "好"}, token=r))
        for _ in range(2)])
    assert sorted(c for c, _, _ in results) == [200, 201]
    code, body, _ = await rig.request("GET", "/api/records/q1/qa", token=r)
    assert len(body["history"]) == 1
    code, body, _ = await rig.request("GET", "/api/records", token=r)
    assert [row["qa_revisions"] for row in body["records"]] == [1]
    s = await rig.login("supervisor1")  # another reviewer's same scores are a new revision
    code, _, _ = await rig.request("POST", "/api/records/q1/qa",
                                   {"scores": scores, "comments": "好"}, token=s)
    assert code == 201


@pytest_twisted.ensureDeferred
async def test_force_actions_are_checked_and_recorded(rig):
    _on_call(rig)
    s = await rig.login("supervisor1")
    force = "/api/agents/1001/force"
    code, body, _ = await rig.request("POST", force, {"action": "logout"}, token=s)
    assert (code, body["code"]) == (409, "on_call")
    code, body, _ = await rig.request("POST", force, {"action": "pause"}, token=s)
    assert (code, body["code"]) == (400, "bad_pause_reason")
    code, _, _ = await rig.request("POST", force, {"action": "ready", "reason": "meal"}, token=s)
    assert code == 400
    assert rig.web.desk.audit.entries == []  # refused actions are not recorded
    code, body, _ = await rig.request("POST", force, {"action": "pause", "reason": "meeting"},
                                      token=s)
    assert code == 200 and body["state"] == "on_call" and body["pending_pause"] == "meeting"
    rig.calls.acd.call_ended("c9")
    code, body, _ = await rig.request("POST", force, {"action": "logout"}, token=s)
    assert code == 200 and body["state"] == "logged_out"
    assert [(w, a, t, d["from"], d["to"]) for w, a, t, d in rig.web.desk.audit.entries] == [
        ("supervisor1", "force_pause", "1001", "on_call", "on_call"),
        ("supervisor1", "force_logout", "1001", "wrap_up", "logged_out")]
    code, _, _ = await rig.request("POST", "/api/agents/9999/force", {"action": "ready"},
                                   token=s)
    assert code == 404
