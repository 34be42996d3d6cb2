"""This server's own AMI sessions on a real Asterisk 22.10.1, replayed (issue 12, point 9).

``13b``: 30 callers at 1/s (plus a warm-up and the start of another run) with
three agents on real SIP softphones.  The recorded daemon skipped the survey
where the caller came back from ``Dial(...,g)`` before the agent's ``Hangup``.
Replayed through our client and adapter (tests/session_replay.py), every
expectation below is computed from the recorded events themselves.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from twisted.logger import LogLevel, capturedLogs

from server.bills import FixtureBills
from server.config import load_config
from server.records.durations import compute_durations
from server.records.model import CallRecord
from server.wiring import build_call_side
from tests.e2e_support import ROOT, RestartRig, safety_net
from tests.session_replay import SessionReplay
from tests.test_e2e_calls import caller
from tests.trace_util import trace

AGENTS = ("1001", "1002", "1003")  # logged in over the HTTP API before the run


class Replayed:
    def __init__(self, name: str) -> None:
        self.cfg = load_config(ROOT / "config", environ={})
        self.replay = SessionReplay(trace(name))
        self.saved: list[dict] = []
        side = build_call_side(self.replay.clock, self.cfg, self.replay.ami,
                               save=self.saved.append, outbound=False, features=False,
                               bills=FixtureBills(self.cfg.ivr.bill_lookup.fixture_path or ""))
        self.cc, self.resync = side.calls, side.resync
        self.safety = safety_net(self.replay.clock, self.replay.ami, self.cc, self.cfg)

    def finals(self) -> dict[str, CallRecord]:
        return {r["call_id"]: CallRecord.from_dict(r) for r in self.saved if r.get("final")}

    def newest(self) -> dict[str, CallRecord]:
        """Each call's newest record version (a wrap-up may outlast the recording)."""
        return {r["call_id"]: CallRecord.from_dict(r) for r in self.saved}


@pytest.fixture(scope="module")
def thirty_calls():
    r = Replayed("13b")
    for agent in AGENTS:
        r.cc.acd.login(agent)
    with capturedLogs() as logs:
        r.replay.connect()
        r.replay.run()
        r.safety.stop()
    r.logs = [e for e in logs if e["log_level"] >= LogLevel.error]
    return r


def conversations(stream) -> dict[str, dict]:
    """Per call (Linkedid) what Asterisk says of its conversation: answered at, the
    first BridgeLeave (time, channel), hold seconds, and whether the caller was
    back in AsyncAGI before the agent leg's Hangup."""
    out: dict[str, dict] = {}
    agent_leg: dict[str, str] = {}
    hold_from: dict[str, float] = {}
    for m in stream:
        event, chan, link = m.get("Event"), m.get("Channel") or "", m.get("Linkedid") or ""
        if event == "DialEnd" and m.get("DialStatus") == "ANSWER" and "caller" in chan:
            out[link] = {"answered": m.t, "end": None, "by": None, "hold": 0.0,
                         "agi_first": None, "caller": chan}
            agent_leg[link] = m.get("DestChannel") or ""
        c = out.get(link)
        if c is None:
            continue
        if event == "BridgeLeave" and c["end"] is None:
            c["end"], c["by"] = m.t, "agent" if chan == agent_leg[link] else "caller"
        elif event == "Hold" and c["end"] is None:
            hold_from[link] = m.t
        elif event == "Unhold" and link in hold_from:
            c["hold"] += m.t - hold_from.pop(link)
        elif event == "AsyncAGIStart" and chan == c["caller"] and c["end"] is not None:
            c["agi_first"] = c["agi_first"] if c["agi_first"] is not None else True
        elif event == "Hangup" and chan == agent_leg[link] and c["end"] is not None:
            c["agi_first"] = c["agi_first"] if c["agi_first"] is not None else False
    return out


def test_the_replay_runs_clean_and_records_every_call_once(thirty_calls):
    r = thirty_calls
    assert r.logs == []
    finals = [x["call_id"] for x in r.saved if x.get("final")]
    assert len(finals) == len(set(finals))
    gone = {m.get("Linkedid") for m in r.replay.stream
            if m.get("Event") == "Hangup" and "caller" in (m.get("Channel") or "")
            and (m.get("Channel") or "").endswith(";1")}
    assert set(finals) == gone  # everyone who hung up has a record, nobody else


def test_every_answered_call_ends_when_and_as_asterisk_says(thirty_calls):
    r = thirty_calls
    real = conversations(r.replay.stream)
    finals = r.newest()
    ended = {link: c for link, c in real.items() if c["end"] is not None}
    assert len(ended) >= 27
    base = r.replay.base
    for link, c in ended.items():
        rec = finals[link]
        assert rec.outcome == "answered" or not rec.final  # set once the record is final
        assert rec.agent_id is not None
        (end,) = [e for e in rec.timeline if e.kind == "bridge_end"]
        assert end.details["hung_up_by"] == c["by"], link
        assert end.t == pytest.approx(base + c["end"], abs=1e-6)
        d = compute_durations(rec.timeline)
        assert d.talk_s == pytest.approx(c["end"] - c["answered"] - c["hold"], abs=0.002)
        assert d.hold_s == pytest.approx(c["hold"], abs=0.002)


def test_the_survey_is_asked_in_either_order_where_the_recorded_daemon_said_goodbye(thirty_calls):
    r = thirty_calls
    real = conversations(r.replay.stream)
    back_first = {c["caller"] for c in real.values() if c["agi_first"]}
    hangup_first = {c["caller"] for c in real.values() if c["agi_first"] is False}
    assert len(back_first) >= 6 and len(hangup_first) >= 15  # both orders are in the trace
    asked = defaultdict(int)
    for action, fields in r.replay.ami.actions:
        if action == "AGI" and fields["Command"].startswith("GET DATA hotline/survey "):
            asked[fields["Channel"]] += 1
    assert {ch for ch in back_first | hangup_first if asked[ch] != 1} == set()
    # Ours differs from the recorded daemon exactly there: it said goodbye instead.
    assert set(r.replay.divergences) == back_first
    assert set(r.replay.divergences.values()) == {
        ('STREAM FILE hotline/goodbye ""', "GET DATA hotline/survey 5000 1")}


def restored_waiting_callers(channels: dict[str, str], at: float) -> tuple[dict, dict]:
    """Live state and records of callers waiting in the queue, as a daemon killed at
    ``at`` left them in Redis, one per ``channel -> call id`` (templated from a call
    the simulator queued, so every field is one the adapter really writes)."""
    rig = RestartRig(start=at - 60)
    try:
        caller(rig, "1", "5")  # suggestions; nobody logged in: it waits
        rig.run(15)
        ((template_id, state),) = rig.live.data["call"].items()
        record = next(r for r in reversed(rig.saved) if r["call_id"] == template_id)
        template_channel = state["channel"]
    finally:
        rig.stop()
    live, records = {}, {}
    for channel, call_id in channels.items():
        text = json.dumps([state, record]).replace(template_channel, channel)
        one_state, one_record = json.loads(text.replace(template_id, call_id))
        live[call_id], records[call_id] = one_state, one_record
    return {"call": live}, records


@pytest.fixture(scope="module")
def restart_into_the_fallback():
    """Trace 15b: the daemon restarted while its callers waited in the fallback queue."""
    r = Replayed("15b")
    pushed = [m for m in r.replay.sent() if m.get("Action") == "AbsoluteTimeout"
              and m.t < 1.0]  # what the recorded daemon sent its restored callers at login
    listed = {m.get("Channel"): m for m in r.replay.answers_of("CoreShowChannels")}
    channels = {m.get("Channel") or "": (listed[m.get("Channel")].get("Linkedid")
                                         if m.get("Channel") in listed else f"gone-{i}")
                for i, m in enumerate(pushed)}
    live, records = restored_waiting_callers(channels, r.replay.base)
    assert r.cc.restore(live, records) == len(channels) == 9
    with capturedLogs() as logs:
        r.replay.connect()
        r.replay.run()
        r.safety.stop()
    r.logs = [e for e in logs if e["log_level"] >= LogLevel.error]
    r.channels = channels
    r.listed = listed
    return r


def test_a_restart_sends_nothing_to_restored_callers_on_the_fallback_path(
        restart_into_the_fallback):
    r = restart_into_the_fallback
    assert r.logs == []
    touched = [(a, f) for a, f in r.replay.ami.actions if f.get("Channel") in r.channels]
    talking = {ch for ch in r.channels if ch in r.listed and r.listed[ch].get("BridgeId")}
    assert len(talking) == 2  # answered by agents from Queue(hotline-fallback) meanwhile
    # Waiting in the fallback queue or hearing its apology: left alone (the recorded
    # daemon pushed a deadline to each before its first resync, trace 15).  Talking
    # to an agent there: a deadline still pending is cancelled, nothing else.
    assert sorted(f["Channel"] for a, f in touched) == sorted(talking)
    assert {(a, f["Variable"], f["Value"]) for a, f in touched} == {
        ("Setvar", "TIMEOUT(absolute)", "0")}
    for call_id in r.channels.values():
        assert r.cc.calls.get(call_id) is None  # no longer driven by us
    finals = r.finals()
    assert set(finals) == set(r.channels.values())  # each closed once
    on_fallback = {r.channels[ch] for ch in r.channels if ch in r.listed}
    assert {finals[c].notes for c in on_fallback} == {
        "fallback: seen in the channel list after the link came back"}
