"""Reading the dialplan's facts of how a call ended (server/endfacts.py)."""

from __future__ import annotations

import pytest

from server.endfacts import EndFacts, ended_by, record_fallback
from server.records.durations import compute_durations
from server.records.model import CallRecorder

# What extensions.conf's hotline-facts writes for a caller answered by 1002 in the
# fallback queue, 1002 hanging up (values as trace 14's call 0x31 had them).
ANSWERED = ("end=1796588630.361&linkedid=1796588578.142&dialstatus=&answered_ms=8001"
            "&source=PJSIP/1002-0000002e&fallback=watchdog&member=PJSIP/1002"
            "&queue_join=1796588618.692&bridge_end=")


def test_the_hangup_handlers_text_reads_back():
    f = EndFacts.parse("1796588578.142", ANSWERED)
    assert (f.call_id, f.end, f.answered_s, f.member, f.fallback) == (
        "1796588578.142", 1796588630.361, 8.001, "PJSIP/1002", "watchdog")
    assert f.fallback_answered and f.bridge_end is None and not f.live


def test_unreadable_values_are_unknown_never_an_error():
    f = EndFacts.parse("9.9", "end=soon&answered_ms=x&queue_join=&bogus&=1&member=%ZZ")
    assert (f.end, f.answered_s, f.queue_join, f.call_id) == (None, None, None, "9.9")
    assert not f.fallback_answered
    assert EndFacts.parse("9.9", "").talk_end("PJSIP/1001") is None


@pytest.mark.parametrize(("source", "who"), [
    ("PJSIP/1001-0000002b", "agent"), ("PJSIP/10010-00000001", "caller"),
    ("dialplan/builtin", "system"), ("dialplan/agi", "system"), ("", "caller"),
    ("PJSIP/trunk-00000007", "caller")])
def test_who_hung_up_first(source, who):
    assert ended_by(source, "PJSIP/1001") == who


def test_a_talk_the_agent_ended_is_the_bridge_end_else_the_hangup():
    back = EndFacts.parse("1.1", "end=130.5&bridge_end=120.25&dialstatus=ANSWER&live=1")
    assert back.talk_end("PJSIP/1001") == (120.25, "agent") and back.live
    gone = EndFacts.parse("1.1", "end=130.5&dialstatus=ANSWER&answered_ms=20000")
    assert gone.talk_end("PJSIP/1001") == (130.5, "caller")


def test_a_fallback_answer_becomes_the_records_answer_talk_and_recording():
    rec = CallRecorder("1796588578.142", 1796588578.0, caller="13900000003", dialled="95598")
    outcome = record_fallback(rec, EndFacts.parse("1796588578.142", ANSWERED), "1002",
                              "trainee", "1796588578.142.wav")
    snap = rec.snapshot()
    assert (outcome, snap.agent_id, snap.agent_tier, snap.recording) == (
        "fallback_answered", "1002", "trainee", "1796588578.142.wav")
    d = compute_durations(snap.timeline)
    assert d.talk_s == pytest.approx(8.001) and d.queue_wait_s == pytest.approx(3.668, abs=1e-3)
    assert [e.details for e in snap.timeline if e.kind == "bridge_end"] == [
        {"hung_up_by": "agent"}]
