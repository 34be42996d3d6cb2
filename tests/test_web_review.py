"""Review API: records from Redis with filters, recordings with Range, QA with history."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import defer

from server.records.model import CallRecorder
from tests.test_web_support import WebRig

T0 = 1_764_000_000.0


def record(call_id: str, *, agent="1005", queue="fault", intent="fault", hold=0.0,
           talk=60.0, acw=10.0, satisfaction=None, disposition="resolved", caller="13900000001",
           t0=T0):
    T0 = t0  # noqa: N806 (the timeline below reads as offsets from the arrival)
    r = CallRecorder(call_id, T0, caller, "95598")
    r.update(intent=intent)
    r.ivr_end(T0 + 10)
    r.enqueued(T0 + 10, queue)
    r.offer(T0 + 20, agent, T0 + 15, "answered")
    r.answered(T0 + 20, agent, "agent")
    if hold:
        r.hold_start(T0 + 25)
        r.hold_end(T0 + 25 + hold)
    r.bridge_end(T0 + 20 + talk + hold, "caller")
    r.wrap_up_end(T0 + 20 + talk + hold + acw, disposition)
    if satisfaction:
        r.survey(T0 + 21 + talk + hold, satisfaction)
    r.update(recording=f"{call_id}.wav")
    r.finish(T0 + 20 + talk + hold + acw, "answered")
    return r.to_dict()


@pytest.fixture
def rig(redis_server, tmp_path):
    url = redis_server.url.rsplit("/", 1)[0] + "/6"
    (tmp_path / "rec").mkdir()
    r = WebRig(url, tmp_path / "rec")
    yield r
    pytest_twisted.blockon(defer.ensureDeferred(r.close()))


async def _seed(rig: WebRig) -> None:
    for rec in (record("a1"), record("a2", agent="1007", queue="complaints",
                                     intent="complaint", satisfaction="dissatisfied"),
                record("a3", hold=120.0, talk=300.0, disposition="work_order")):
        await rig.store.put(rec)


@pytest_twisted.ensureDeferred
async def test_list_and_filter_records(rig):
    await _seed(rig)
    r = await rig.login("reviewer1")

    async def ids(query: str) -> list[str]:
        code, body, _ = await rig.request("GET", "/api/records" + query, token=r)
        assert code == 200, body
        return sorted(x["call_id"] for x in body["records"])

    assert await ids("") == ["a1", "a2", "a3"]
    assert await ids("?agent=1007") == ["a2"]
    assert await ids("?queue=fault") == ["a1", "a3"]
    assert await ids("?disposition=work_order") == ["a3"]
    assert await ids("?min_handling_s=400") == ["a3"]
    assert await ids("?dissatisfied=true") == ["a2"]
    assert await ids("?complaints=true") == ["a2"]
    assert await ids("?long_holds=60") == ["a3"]
    assert await ids(f"?from={T0 + 1}") == []
    assert await ids(f"?from={T0}&to={T0 + 1}") == ["a1", "a2", "a3"]
    code, body, _ = await rig.request("GET", "/api/records?colour=red", token=r)
    assert code == 400 and "unknown query 'colour'" in body["error"]
    code, body, _ = await rig.request("GET", "/api/records?min_handling_s=lots", token=r)
    assert code == 400 and "'min_handling_s'" in body["error"]


@pytest_twisted.ensureDeferred
async def test_record_detail_and_recording_with_range(rig):
    await _seed(rig)
    audio = bytes(range(256)) * 40
    recordings = Path(rig.cfg.server.recordings.directory)
    (recordings / "a3.wav").write_bytes(audio)
    (recordings.parent / "secret.txt").write_text("top secret")
    r = await rig.login("supervisor1")
    code, body, _ = await rig.request("GET", "/api/records/a3", token=r)
    assert code == 200
    assert body["durations"]["hold_s"] == 120.0 and body["durations"]["talk_s"] == 300.0
    assert body["durations"]["acw_s"] == 10.0 and body["durations"]["queue_wait_s"] == 10.0
    assert body["recording_url"] == "/api/recordings/a3.wav"
    assert [e[1] for e in body["timeline"]][:3] == ["arrived", "ivr_end", "enqueued"]
    code, _, _ = await rig.request("GET", "/api/records/nope", token=r)
    assert code == 404

    code, data, resp = await rig.request("GET", "/api/recordings/a3.wav", token=r)
    assert code == 200 and data == audio
    code, data, resp = await rig.request("GET", "/api/recordings/a3.wav", token=r,
                                         headers={"Range": "bytes=100-299"})
    assert code == 206 and data == audio[100:300]
    assert resp.headers.getRawHeaders("content-range") == [f"bytes 100-299/{len(audio)}"]
    code, _, _ = await rig.request("GET", "/api/recordings/a3.wav", token=r,
                                   headers={"Range": f"bytes={len(audio) + 10}-"})
    assert code == 416
    for bad in ("..%2Fsecret.txt", "%2E%2E%2Fsecret.txt", ".hidden", "a%2F..%2F..%2Fsecret.txt"):
        code, body, _ = await rig.request("GET", f"/api/recordings/{bad}", token=r)
        assert code == 400, bad
    code, _, _ = await rig.request("GET", "/api/recordings/missing.wav", token=r)
    assert code == 404
    agent = await rig.login("1005")
    code, _, _ = await rig.request("GET", "/api/recordings/a3.wav", token=agent)
    assert code == 403


@pytest_twisted.ensureDeferred
async def test_qa_scores_with_revisions(rig):
    await _seed(rig)
    r = await rig.login("reviewer1")
    code, body, _ = await rig.request("GET", "/api/records/a1/qa", token=r)
    assert code == 200 and body["current"] is None
    assert [c["id"] for c in body["form"]] == ["greeting", "identity_check", "correct_answer",
                                              "courtesy", "closing"]
    full = {"greeting": 5, "identity_check": 5, "correct_answer": 5, "courtesy": 5,
            "closing": 5}
    code, body, _ = await rig.request("POST", "/api/records/a1/qa",
                                      {"scores": full, "comments": "好"}, token=r)
    assert code == 201 and body["total"] == 100.0 and body["revision"] == 1
    # greeting 0/5 (weight 10) and correct_answer 3/5 (weight 35): 100 - 10 - 14 = 76
    revised = dict(full, greeting=0, correct_answer=3)
    code, body, _ = await rig.request("POST", "/api/records/a1/qa", {"scores": revised}, token=r)
    assert code == 201 and body["total"] == 76.0 and body["revision"] == 2
    code, body, _ = await rig.request("GET", "/api/records/a1/qa", token=r)
    assert body["current"]["total"] == 76.0 and body["current"]["reviewer"] == "reviewer1"
    assert [h["total"] for h in body["history"]] == [100.0, 76.0]
    for scores, message in ((dict(full, greeting=6), "'scores.greeting' must be an integer"),
                            ({"greeting": 5}, "'scores.identity_check' is required"),
                            (dict(full, smile=1), "'scores.smile': no such criterion")):
        code, body, _ = await rig.request("POST", "/api/records/a1/qa", {"scores": scores},
                                          token=r)
        assert code == 400 and message in body["error"]
    code, _, _ = await rig.request("POST", "/api/records/zz/qa", {"scores": full}, token=r)
    assert code == 404


@pytest_twisted.ensureDeferred
async def test_disposition_after_the_call_writes_a_new_version(rig):
    raw = record("d1", agent="1005", disposition="none", t0=rig.web.live.day_start() + 1)
    await rig.store.put(raw)
    rig.notifier.publish("record", raw)  # what the adapter does when the record is final
    revised = []
    rig.notifier.subscribe(lambda t, p: revised.append(p) if t == "record_revised" else None)
    a = await rig.login("1005")
    code, body, _ = await rig.request("POST", "/api/agents/1005/disposition",
                                      {"call_id": "d1", "code": "work_order",
                                       "notes": "派工单 W-1"}, token=a)
    assert code == 200 and body["live"] is False
    # published for server/case_flow.py (a work_order opens its case), not as "record"
    assert [(p["call_id"], p["disposition"], p["version"]) for p in revised] == [
        ("d1", "work_order", raw["version"] + 1)]
    other = await rig.login("1006")
    code, _, _ = await rig.request("POST", "/api/agents/1006/disposition",
                                   {"call_id": "d1", "code": "resolved"}, token=other)
    assert code == 403
    r = await rig.login("reviewer1")
    code, body, _ = await rig.request("GET", "/api/records/d1", token=r)
    assert body["disposition"] == "work_order" and body["notes"] == "派工单 W-1"
    assert body["version"] == raw["version"] + 1
    code, body, _ = await rig.request("GET", "/api/agents/1005/stats", token=a)
    assert code == 200 and body["handled"] == 1 and body["aht_s"] == 70.0


@pytest_twisted.ensureDeferred
async def test_scorecards_per_agent_over_a_period(rig):
    await _seed(rig)
    await rig.store.put(record("old", agent="1007", t0=T0 - 86400, talk=30.0, acw=5.0))
    r = await rig.login("reviewer1")
    code, body, _ = await rig.request("GET", f"/api/scorecards?from={T0}", token=r)
    assert code == 200, body
    assert body["records"] == 3
    cards = {c["agent_id"]: c for c in body["agents"]}
    assert sorted(cards) == ["1005", "1007"]
    a1005 = cards["1005"]  # a1 (60 s talk, 10 s ACW) and a3 (300 + 120 s hold, 10 s ACW)
    assert a1005["handled"] == 2
    assert a1005["aht_s"] == pytest.approx((60 + 10 + 300 + 120 + 10) / 2)
    assert a1005["hold_ratio"] == pytest.approx(120 / 480)
    a1007 = cards["1007"]  # a2 only: the "old" call is before the period
    assert (a1007["handled"], a1007["complaint_calls_handled"],
            a1007["satisfaction_rate"]) == (1, 1, 0.0)
    code, body, _ = await rig.request("GET", "/api/scorecards?agent=1007", token=r)
    assert code == 200 and [c["handled"] for c in body["agents"]] == [2]
    code, body, _ = await rig.request("GET", "/api/scorecards?team=x", token=r)
    assert code == 400 and "unknown query 'team'" in body["error"]
    agent = await rig.login("1005")
    code, _, _ = await rig.request("GET", "/api/scorecards", token=agent)
    assert code == 403


FULL = {"greeting": 5, "identity_check": 5, "correct_answer": 5, "courtesy": 5, "closing": 5}
FOURS = dict.fromkeys(FULL, 4)


@pytest_twisted.ensureDeferred
async def test_scorecards_fold_in_qa_and_appraise_by_tier_and_team(redis_server, tmp_path):
    from dataclasses import replace

    from queues.appraisal import AppraisalConfig
    from tests.test_web_support import cheap_config

    (tmp_path / "rec").mkdir()
    cfg = replace(cheap_config(tmp_path / "rec"), appraisal=AppraisalConfig(min_handled=1))
    rig = WebRig(redis_server.url.rsplit("/", 1)[0] + "/6", tmp_path / "rec", cfg=cfg)
    try:
        await _seed(rig)  # a1, a3: 1005 (agent, team-1); a2: 1007 (agent, team-1)
        await rig.store.put(record("b1", agent="1010", satisfaction="satisfied"))  # team-2
        await rig.store.put(record("t1", agent="1001", talk=600.0))  # trainee, team-1
        r = await rig.login("reviewer1")
        for cid, scores in (("a1", FULL), ("a3", FOURS), ("a2", FOURS), ("a2", FULL)):
            code, _, _ = await rig.request("POST", f"/api/records/{cid}/qa",
                                           {"scores": scores}, token=r)
            assert code == 201
        code, body, _ = await rig.request("GET", f"/api/scorecards?from={T0}", token=r)
        assert code == 200, body
        cards = {c["agent_id"]: c for c in body["agents"]}
        # 1005: a1 100, a3 80; 1007: a2's latest revision, 100; 1010 never reviewed
        assert (cards["1005"]["qa_reviewed"], cards["1005"]["qa_score"]) == (2, 90.0)
        assert (cards["1007"]["qa_reviewed"], cards["1007"]["qa_score"]) == (1, 100.0)
        assert (cards["1010"]["qa_reviewed"], cards["1010"]["qa_score"]) == (0, None)
        assert (cards["1005"]["tier"], cards["1005"]["team"]) == ("agent", "team-1")
        # 1005: qa 90, no survey, AHT 245 s <= 300 -> 100, offers all answered -> 100:
        # (40 x 90 + 15 x 100 + 15 x 100) / 70 = 94.29
        a = cards["1005"]["appraisal"]
        assert a["components"] == {"qa": 90.0, "satisfaction": None, "aht": 100.0,
                                   "missed_offers": 100.0}
        assert a["score"] == 94.29
        # 1007: (40 x 100 + 30 x 0 + 1500 + 1500) / 100 = 70; 1010: (3000+1500+1500)/60 = 100
        ranking = {t["tier"]: t["ranking"] for t in body["tiers"]}
        assert [(x["agent_id"], x["score"], x["rank"]) for x in ranking["agent"]] == [
            ("1010", 100.0, 1), ("1005", 94.29, 2), ("1007", 70.0, 3)]
        # the trainee: AHT 610 s, past twice the target: 0; ranked among trainees only
        assert [(x["agent_id"], x["rank"]) for x in ranking["trainee"]] == [("1001", 1)]

        code, body, _ = await rig.request(
            "GET", f"/api/scorecards?from={T0}&by=team&tier=agent", token=r)
        assert code == 200, body
        teams = {t["team"]: t for t in body["teams"]}
        assert (teams["team-1"]["lead"], teams["team-1"]["name"]) == ("1019", "一班")
        # tier=agent: team-1 counts 1005 and 1007 (3 calls), not the trainee 1001
        assert (teams["team-1"]["handled"], teams["team-1"]["qa_reviewed"]) == (3, 3)
        assert teams["team-1"]["qa_score"] == pytest.approx((100 + 80 + 100) / 3, abs=0.01)
        assert teams["team-2"]["handled"] == 1
        assert sorted(c["agent_id"] for c in body["agents"]) == ["1005", "1007", "1010"]
        for bad in ("by=queue", "tier=expert"):
            code, body, _ = await rig.request("GET", f"/api/scorecards?{bad}", token=r)
            assert code == 400, body
    finally:
        await rig.close()
