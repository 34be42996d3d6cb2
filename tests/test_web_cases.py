"""The case (工单) API over real sockets, on a real CaseService and redis-server:
roles, idempotent create, the transition table's 409, and every bad input's code."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import defer

from tests.test_web_support import WebRig

ACCOUNT = "1234567890"  # ivr.yaml: 10 digits, no check digit


@pytest.fixture
def rig(redis_server, tmp_path):
    url = redis_server.url.rsplit("/", 1)[0] + "/6"
    r = WebRig(url, tmp_path)
    yield r
    pytest_twisted.blockon(defer.ensureDeferred(r.close()))


async def _open(rig: WebRig, token: str, **body):
    body = {"type": "complaint", "account": ACCOUNT, "phone": "13900000001", **body}
    return await rig.request("POST", "/api/cases", body, token=token)


def _took(rig: WebRig, call_id: str, agent_id: str | None) -> None:
    """A call that ``agent_id`` answered has ended (its final record is published)."""
    from server.records.model import CallRecorder

    rec = CallRecorder(call_id, rig.clock.seconds() - 60, "13900000001", "95598")
    rec.update(agent_id=agent_id, intent="complaint")
    rec.finish(rig.clock.seconds(), "answered")
    rig.notifier.publish("record", rec.to_dict())


async def _move(rig: WebRig, token: str, case_id: str, input: str, **extra):
    return await rig.request("POST", f"/api/cases/{case_id}/transition",
                             {"input": input, **extra}, token=token)


@pytest_twisted.ensureDeferred
async def test_agent_opens_a_case_from_a_call_once_per_client_key(rig):
    t = await rig.login("1001", phone="PJSIP/1001")
    _took(rig, "1700000000.7", "1001")
    code, first, _ = await _open(rig, t, call_id="1700000000.7", intent="complaint",
                                 summary="停电两次", client_key="desk:1700000000.7")
    assert code == 201 and first["created"] is True
    assert first["owner"] == "1001" and first["state"] == "new"
    assert first["grade"] == "general" and first["call_ids"] == ["1700000000.7"]
    assert first["due_at"] == pytest.approx(rig.clock.seconds() + 2 * 3600)
    code, again, _ = await _open(rig, t, summary="a double click", client_key="desk:1700000000.7")
    assert code == 200 and again["created"] is False
    assert again["id"] == first["id"] and again["summary"] == "停电两次"
    code, listed, _ = await rig.request("GET", "/api/cases", token=t)
    assert [c["id"] for c in listed["cases"]] == [first["id"]]


@pytest_twisted.ensureDeferred
async def test_bad_input_gets_a_clear_code_and_changes_nothing(rig):
    t = await rig.login("1001", phone="PJSIP/1001")
    s = await rig.login("supervisor1")
    expected = [
        (await _open(rig, t, account="12345"), 400, "bad_account"),
        (await _open(rig, t, account="12345678x0"), 400, "bad_account"),
        (await _open(rig, t, phone="call me"), 400, "bad_phone"),
        (await _open(rig, t, account="", phone=""), 400, "case_invalid"),
        (await _open(rig, t, type="enquiry", grade="major"), 400, "case_invalid"),
        (await _open(rig, s, owner="9999"), 400, "unknown_owner"),
        (await _open(rig, s, owner="1001", responsible="nobody"), 400, "unknown_responsible"),
        (await _open(rig, t, owner="1002"), 403, "not_your_case"),
    ]
    for (code, body, _), want_code, want in expected:
        assert (code, body["code"]) == (want_code, want), body
    code, listed, _ = await rig.request("GET", "/api/cases", token=s)
    assert listed["cases"] == []

    code, case, _ = await _open(rig, t)
    assert code == 201
    code, body, _ = await _move(rig, t, case["id"], "resolve")  # new -> resolve: not in the table
    assert (code, body["code"]) == (409, "transition_not_allowed")
    code, body, _ = await rig.request("GET", "/api/cases?status=nope", token=s)
    assert (code, body["code"]) == (400, "bad_filter")
    code, body, _ = await rig.request("GET", "/api/cases?overdue=yes", token=s)
    assert (code, body["code"]) == (400, "bad_filter")
    code, body, _ = await rig.request("GET", "/api/cases/GD20990101-000001", token=s)
    assert (code, body["code"]) == (404, "case_not_found")
    code, body, _ = await _move(rig, s, case["id"], "reassign", owner="9999")
    assert (code, body["code"]) == (400, "unknown_owner")
    code, after, _ = await rig.request("GET", f"/api/cases/{case['id']}", token=s)
    assert after["state"] == "new" and after["owner"] == "1001"
    assert after["version"] == case["version"]


@pytest_twisted.ensureDeferred
async def test_a_case_from_the_call_to_its_return_visit(rig):
    t = await rig.login("1001", phone="PJSIP/1001")
    _, case, _ = await _open(rig, t, type="fault_repair", account=ACCOUNT, phone="")
    cid = case["id"]
    for inp, state in (("accept", "accepted"), ("start", "in_progress"), ("note", "in_progress"),
                       ("resolve", "resolved")):
        code, case, _ = await _move(rig, t, cid, inp, note=f"{inp} done")
        assert (code, case["state"]) == (200, state), case
    now = rig.clock.seconds()
    code, body, _ = await _move(rig, t, cid, "schedule_visit", visit_at=now - 60)
    assert (code, body["code"]) == (400, "deadline_past")
    code, body, _ = await _move(rig, t, cid, "schedule_visit", visit_at=now + 3600)
    assert (code, body["state"]) == (200, "return_visit")
    assert "return visit booked for" in body["audit"][-1]["note"]
    code, body, _ = await rig.request("POST", f"/api/cases/{cid}/visit",
                                      {"reached": True, "resolved": True, "satisfaction": 4},
                                      token=t)
    assert (code, body["code"]) == (400, "case_invalid")
    code, body, _ = await rig.request("POST", f"/api/cases/{cid}/visit",
                                      {"reached": True, "resolved": True, "satisfaction": 3,
                                       "reason": ""}, token=t)
    assert (code, body["state"]) == (200, "closed")
    assert body["visits"][-1]["satisfaction"] == 3 and body["due_at"] is None
    _, open_now, _ = await rig.request("GET", "/api/cases", token=t)
    assert open_now["cases"] == []  # no status: the open cases only
    _, closed, _ = await rig.request("GET", "/api/cases?status=closed", token=t)
    assert [c["id"] for c in closed["cases"]] == [cid]
    code, body, _ = await _move(rig, t, cid, "reopen")
    assert (code, body["code"]) == (403, "supervisor_only")
    s = await rig.login("supervisor1")
    code, body, _ = await _move(rig, s, cid, "reopen", note="customer called again")
    assert (code, body["state"]) == (200, "reopened")


@pytest_twisted.ensureDeferred
async def test_roles_agents_own_supervisors_all_reviewers_read(rig):
    a1 = await rig.login("1001", phone="PJSIP/1001")
    a2 = await rig.login("1002", phone="PJSIP/1002")
    s = await rig.login("supervisor1")
    r = await rig.login("reviewer1")
    _, mine, _ = await _open(rig, a1)
    _, theirs, _ = await _open(rig, a2, type="enquiry", phone="13900000002", account="")
    cid = mine["id"]
    assert (await rig.request("GET", f"/api/cases/{cid}", token=a2))[1]["code"] == "not_your_case"
    code, body, _ = await _move(rig, a2, cid, "accept")
    assert (code, body["code"]) == (403, "not_your_case")
    code, body, _ = await rig.request("GET", "/api/cases?owner=1001", token=a2)
    assert (code, body["code"]) == (403, "not_your_case")
    _, listed, _ = await rig.request("GET", "/api/cases", token=a2)
    assert [c["id"] for c in listed["cases"]] == [theirs["id"]]
    code, body, _ = await _move(rig, a1, cid, "escalate")
    assert (code, body["code"]) == (403, "supervisor_only")

    _, everything, _ = await rig.request("GET", "/api/cases", token=s)
    assert {c["id"] for c in everything["cases"]} == {cid, theirs["id"]}
    _, complaints, _ = await rig.request("GET", "/api/cases?type=complaint&grade=general",
                                         token=s)
    assert [c["id"] for c in complaints["cases"]] == [cid]
    code, moved, _ = await _move(rig, s, cid, "reassign", owner="1002",
                                 responsible="supervisor1", note="billing question")
    assert code == 200 and moved["owner"] == "1002" and moved["responsible"] == "supervisor1"
    code, up, _ = await _move(rig, s, cid, "escalate", note="customer angry")
    assert code == 200 and up["audit"][-1]["input"] == "escalate"
    assert (await rig.request("GET", f"/api/cases/{cid}", token=a2))[0] == 200
    assert (await rig.request("GET", f"/api/cases/{cid}", token=a1))[0] == 403

    assert (await rig.request("GET", f"/api/cases/{cid}", token=r))[0] == 200
    assert len((await rig.request("GET", "/api/cases", token=r))[1]["cases"]) == 2
    assert (await _open(rig, r))[0] == 403
    assert (await _move(rig, r, cid, "note"))[0] == 403
    assert (await rig.request("POST", f"/api/cases/{cid}/visit", {"reached": False},
                              token=r))[0] == 403


@pytest_twisted.ensureDeferred
async def test_overdue_filter_follows_the_clock(rig):
    s = await rig.login("supervisor1")
    _, late, _ = await _open(rig, s, owner="1001", grade="major")  # accept within 30 min
    _, calm, _ = await _open(rig, s, owner="1001", phone="13900000003")  # within 2 h
    _, none, _ = await rig.request("GET", "/api/cases?overdue=true", token=s)
    assert none["cases"] == []
    rig.clock.advance(31 * 60)
    _, due, _ = await rig.request("GET", "/api/cases?overdue=true", token=s)
    assert [c["id"] for c in due["cases"]] == [late["id"]] and due["cases"][0]["overdue"]
    _, both, _ = await rig.request("GET", "/api/cases?overdue=false", token=s)
    assert {c["id"] for c in both["cases"]} == {late["id"], calm["id"]}


@pytest_twisted.ensureDeferred
async def test_without_a_case_service_the_routes_answer_503(redis_server, tmp_path):
    rig = WebRig(redis_server.url.rsplit("/", 1)[0] + "/6", tmp_path, with_cases=False)
    try:
        s = await rig.login("supervisor1")
        for method, path, body in (("GET", "/api/cases", None), ("GET", "/api/cases/x", None),
                                   ("POST", "/api/cases", {"type": "enquiry", "phone": "139"}),
                                   ("POST", "/api/cases/x/transition", {"input": "note"}),
                                   ("POST", "/api/cases/x/visit", {"reached": False})):
            code, out, _ = await rig.request(method, path, body, token=s)
            assert (code, out["code"]) == (503, "cases_disabled"), (method, path)
    finally:
        await rig.close()


@pytest_twisted.ensureDeferred
async def test_cases_redis_down_is_a_clear_503_and_nothing_is_lost(redis_server, tmp_path):
    """The case store's Redis never answered since start: reads are 503
    cases_unavailable, and a create is 503 case_ids_unavailable (the day's case
    numbers are unknown), never a 500 and never a case with a made-up number."""
    from server.redisproc import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    rig = WebRig(redis_server.url.rsplit("/", 1)[0] + "/6", tmp_path, cases_url=dead)
    try:
        s = await rig.login("supervisor1")
        code, body, _ = await rig.request("GET", "/api/cases", token=s)
        assert (code, body["code"]) == (503, "cases_unavailable")
        code, body, _ = await rig.request("GET", "/api/cases/GD20261206-000001", token=s)
        assert (code, body["code"]) == (503, "cases_unavailable")
        code, body, _ = await _open(rig, s, owner="1001")
        assert (code, body["code"]) == (503, "case_ids_unavailable")
        assert rig.case_writer.backlog == 0  # nothing half-written to replay later
    finally:
        await rig.close()


@pytest_twisted.ensureDeferred
async def test_the_screen_pop_history_shows_earlier_calls_open_cases_and_the_repeat(rig):
    from cases.history import CallSummary

    t = await rig.login("1001", phone="PJSIP/1001")
    code, body, _ = await rig.request("GET", "/api/customers/history", token=t)
    assert (code, body["code"]) == (400, "bad_filter")
    code, body, _ = await rig.request("GET", "/api/customers/history?account=12345", token=t)
    assert (code, body["code"]) == (400, "bad_account")
    code, clean, _ = await rig.request(
        "GET", f"/api/customers/history?account={ACCOUNT}&intent=fault", token=t)
    assert code == 200 and (clean["calls"], clean["cases"], clean["repeat"]) == ([], [], False)

    earlier = rig.clock.seconds() - 3600
    await rig.cases.record_call(CallSummary("1700000000.1", earlier, ACCOUNT, "13900000001",
                                            "fault", "answered", 2))
    code, again, _ = await rig.request(
        "GET", "/api/customers/history?phone=13900000001&intent=fault"
               "&exclude_call=1700000000.9", token=t)
    assert code == 200 and [c["call_id"] for c in again["calls"]] == ["1700000000.1"]
    assert again["repeat"] is True and again["same_intent_calls"] == ["1700000000.1"]
    _took(rig, "1700000000.1", "1001")
    _, case, _ = await _open(rig, t, call_id="1700000000.1", intent="fault", type="fault_repair")
    code, with_case, _ = await rig.request(
        "GET", f"/api/customers/history?account={ACCOUNT}&intent=billing", token=t)
    assert [c["id"] for c in with_case["cases"]] == [case["id"]]
    assert with_case["open_cases"] == [case["id"]] and with_case["repeat"] is True


@pytest_twisted.ensureDeferred
async def test_an_agent_opens_or_links_a_case_only_with_their_own_call(rig):
    """POST /api/cases (and link_call) by an agent with a call_id: another agent's
    call is 403 not_your_call, a call unknown here 409 unknown_call; nothing opens."""
    a1 = await rig.login("1001", phone="PJSIP/1001")
    s = await rig.login("supervisor1")
    _took(rig, "1700000000.21", "1002")
    _took(rig, "1700000000.22", "1001")
    code, body, _ = await _open(rig, a1, call_id="1700000000.21")
    assert (code, body["code"]) == (403, "not_your_call")
    code, body, _ = await _open(rig, a1, call_id="1700000000.99")
    assert (code, body["code"]) == (409, "unknown_call")
    _, listed, _ = await rig.request("GET", "/api/cases", token=s)
    assert listed["cases"] == []
    code, case, _ = await _open(rig, a1, call_id="1700000000.22")
    assert code == 201 and case["call_ids"] == ["1700000000.22"]
    code, body, _ = await _move(rig, a1, case["id"], "link_call", call_id="1700000000.21")
    assert (code, body["code"]) == (403, "not_your_call")
    _took(rig, "1700000000.23", "1001")
    code, linked, _ = await _move(rig, a1, case["id"], "link_call", call_id="1700000000.23")
    assert code == 200 and linked["call_ids"] == ["1700000000.22", "1700000000.23"]
    # A supervisor opens a case for any agent's call: no call check.
    code, other, _ = await _open(rig, s, owner="1002", call_id="1700000000.99",
                                 phone="13900000004")
    assert code == 201 and other["call_ids"] == ["1700000000.99"]


def test_case_events_reach_the_owner_and_supervisors_on_the_live_feed():
    """The SSE feed's filter: a ``case`` event goes to its owner (and to the agent a
    reassignment took it from) and to supervisors; other agents and reviewers never."""
    from server.web.auth import Session
    from server.web.feed import visible

    def who(role: str, subject: str) -> Session:
        return Session("t", role, subject, subject, 0.0, 0.0)

    changed = {"kind": "changed", "case_id": "GD1", "owner": "1002",
               "previous_owner": "1001", "state": "new"}
    reminder = {"kind": "reminder", "case_id": "GD2", "owner": "1003", "phase": "accept"}
    assert visible(who("agent", "1002"), "case", changed)
    assert visible(who("agent", "1001"), "case", changed)
    assert not visible(who("agent", "1003"), "case", changed)
    assert visible(who("agent", "1003"), "case", reminder)
    assert not visible(who("agent", "1002"), "case", reminder)
    assert visible(who("supervisor", "supervisor1"), "case", reminder)
    assert not visible(who("reviewer", "reviewer1"), "case", changed)


@pytest_twisted.ensureDeferred
async def test_every_case_change_is_published_as_a_case_event(rig):
    seen: list[dict] = []
    rig.notifier.subscribe(lambda topic, p: seen.append(p) if topic == "case" else None)
    t = await rig.login("1001", phone="PJSIP/1001")
    s = await rig.login("supervisor1")
    _, case, _ = await _open(rig, t)
    await _move(rig, t, case["id"], "accept")
    await _move(rig, t, case["id"], "resolve")  # refused: nothing published
    await _move(rig, s, case["id"], "reassign", owner="1002")
    assert [(p["kind"], p["case_id"], p["input"], p["state"], p["owner"], p["previous_owner"])
            for p in seen] == [
        ("changed", case["id"], "open", "new", "1001", None),
        ("changed", case["id"], "accept", "accepted", "1001", "1001"),
        ("changed", case["id"], "reassign", "accepted", "1002", "1001")]
