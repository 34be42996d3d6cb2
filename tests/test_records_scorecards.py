"""Scorecards against hand-computed figures.

Six calls (times in seconds; fault and billing queues, SL threshold 20 s, short
abandon < 5 s, 15-minute intervals):

R1 fault   enq 0,    1001 rings 5→8 answers, hold 20→30, bridge end 68, wrap 78, satisfied
R2 fault   enq 100,  1001 rings 101→116 no answer, 1002 rings 118→120 answers,
           bridge end 220, wrap 240, dissatisfied, complaint
R3 fault   enq 200,  abandons at 203 (short)
R4 fault   enq 300,  abandons at 340
R5 billing enq 400,  overflows to fault at 430, 1001 rings 440→442 answers,
           bridge end 502, wrap 507, fairly satisfied
R6 fault   enq 1000, 1002 rings 1000→1001 answers, bridge end 1031, wrap 1041
"""

from __future__ import annotations

import pytest

from server.records.model import CallRecord, CallRecorder
from server.records.scorecards import agent_scorecards, queue_intervals


def _call(n: int, enq: float, queue: str) -> CallRecorder:
    r = CallRecorder(f"c{n}", enq - 10, caller="13800000000", dialled="95598")
    r.ivr_end(enq)
    r.enqueued(enq, queue)
    return r


def _talk(r: CallRecorder, agent: str, ring: float, answer: float, end: float,
          wrap: float, survey: str | None = None) -> CallRecord:
    r.offer(answer, agent=agent, ring_start=ring, outcome="answered")
    r.answered(answer, agent=agent)
    r.bridge_end(end, hung_up_by="caller")
    if survey:
        r.survey(end + 5, answer=survey)
    r.wrap_up_end(wrap, disposition="done")
    r.finish(wrap, "answered")
    return r.snapshot()


def _records() -> list[CallRecord]:
    r1 = _call(1, 0, "fault")
    r1.offer(8, agent="1001", ring_start=5, outcome="answered")
    r1.answered(8, agent="1001")
    r1.hold_start(20)
    r1.hold_end(30)
    r1.bridge_end(68, hung_up_by="caller")
    r1.survey(70, answer="satisfied")
    r1.wrap_up_end(78, disposition="done")
    r1.finish(78, "answered")

    r2 = _call(2, 100, "fault")
    r2.update(intent="complaint")
    r2.offer(116, agent="1001", ring_start=101, outcome="no_answer")
    rec2 = _talk(r2, "1002", 118, 120, 220, 240, survey="dissatisfied")

    r3 = _call(3, 200, "fault")
    r3.abandoned(203)
    r3.finish(203, "abandoned")
    r4 = _call(4, 300, "fault")
    r4.abandoned(340)
    r4.finish(340, "abandoned")

    r5 = _call(5, 400, "billing")
    r5.overflow(430, from_queue="billing", to_queue="fault")
    rec5 = _talk(r5, "1001", 440, 442, 502, 507, survey="fairly_satisfied")
    rec6 = _talk(_call(6, 1000, "fault"), "1002", 1000, 1001, 1031, 1041)
    return [r1.snapshot(), rec2, r3.snapshot(), r4.snapshot(), rec5, rec6]


def test_agent_scorecards():
    cards = agent_scorecards(_records())
    a, b = cards["1001"], cards["1002"]
    assert (a.handled, a.talk_s, a.hold_s, a.acw_s, a.aht_s) == (2, 110, 10, 15, 67.5)
    assert a.hold_ratio == pytest.approx(10 / 120)
    assert (a.offers, a.missed_offers, a.surveyed, a.satisfaction_rate) == (3, 1, 2, 1.0)
    assert a.complaint_calls_handled == 0
    # Both answered only in fault: waits 8, 20, 42 (R5 after overflow), 1.
    assert a.asa_s == b.asa_s == pytest.approx(71 / 4)
    assert (b.handled, b.talk_s, b.acw_s, b.aht_s, b.hold_ratio) == (2, 130, 30, 80, 0)
    assert (b.offers, b.missed_offers, b.surveyed, b.satisfaction_rate) == (2, 0, 1, 0.0)
    assert b.complaint_calls_handled == 1


def test_team_scorecard_adds_its_agents():
    team = agent_scorecards(_records(), team_of={"1001": "east", "1002": "east"})["east"]
    assert (team.handled, team.aht_s, team.offers, team.missed_offers) == (4, 73.75, 5, 1)
    assert team.satisfaction_rate == pytest.approx(2 / 3)


def test_queue_intervals_use_the_acd_kpi_definitions():
    kpis = queue_intervals(_records(), {"fault": 20, "billing": 20}, short_abandon_s=5)
    # Every configured queue appears in every interval that had calls, zeros included.
    assert sorted(kpis) == [(0, "billing"), (0, "fault"), (900, "billing"), (900, "fault")]
    assert (kpis[(900, "billing")].offered, kpis[(900, "billing")].service_level) == (0, None)
    fault = kpis[(0, "fault")]
    assert (fault.offered, fault.answered, fault.abandoned, fault.short_abandoned) == (5, 3, 2, 1)
    # within 20 s: R1, R2 / (3 answered + 2 abandoned - 1 short)
    assert fault.service_level == 0.5
    assert fault.asa_s == pytest.approx(70 / 3)
    assert fault.aht_s == pytest.approx((70 + 120 + 65) / 3)
    assert fault.abandon_rate == pytest.approx(2 / 5)
    billing = kpis[(0, "billing")]
    assert (billing.offered, billing.overflowed, billing.answered) == (1, 1, 0)
    # R5 left billing by overflow: neither answered nor abandoned there, so billing
    # has no SL (it counts in fault, where it was answered)
    assert (billing.service_level, billing.asa_s, billing.aht_s) == (None, None, None)
    late = kpis[(900, "fault")]
    assert (late.offered, late.answered, late.service_level, late.asa_s, late.aht_s) == (
        1, 1, 1.0, 1.0, 40.0)


def _fallen_back() -> list[CallRecord]:
    """Two callers the safety net took from fault to Asterisk's fallback queue (the
    server away): 1001 answered one there (wait 30 s, talk 40 s); the other hung up
    there after 25 s.  And one straight from the menu, answered by 1002 there."""
    r1 = _call(11, 100, "fault")
    r1.fallback(120, "watchdog", "hotline-fallback")
    r1.answered(130, agent="1001")
    r1.bridge_end(170, hung_up_by="agent")
    r1.finish(170, "fallback_answered")
    r2 = _call(12, 110, "fault")
    r2.fallback(125, "watchdog", "hotline-fallback")
    r2.abandoned(135)
    r2.finish(135, "fallback_abandoned")
    r3 = CallRecorder("c13", 200, caller="13800000000", dialled="95598")
    r3.fallback(205, "server-down", "hotline-fallback")
    r3.answered(210, agent="1002")
    r3.bridge_end(220, hung_up_by="caller")
    r3.finish(220, "fallback_answered")
    return [r1.snapshot(), r2.snapshot(), r3.snapshot()]


def test_calls_answered_in_the_fallback_queue_count_for_their_agent_apart_from_aht():
    cards = agent_scorecards(_records() + _fallen_back())
    a, b = cards["1001"], cards["1002"]
    assert (a.fallback_answered, a.fallback_talk_s) == (1, 40.0)
    assert (b.fallback_answered, b.fallback_talk_s) == (1, 10.0)
    # What the server handled is unchanged: no after-call work is known for these.
    assert (a.handled, a.aht_s, b.handled, b.aht_s) == (2, 67.5, 2, 80)


def test_fallback_calls_move_to_the_fallback_queue_in_the_queue_figures():
    kpis = queue_intervals(_fallen_back(), {"fault": 20}, short_abandon_s=5)
    fault, fallback = kpis[(0, "fault")], kpis[(0, "hotline-fallback")]
    assert (fault.offered, fault.overflowed, fault.answered, fault.abandoned) == (2, 2, 0, 0)
    assert (fallback.offered, fallback.answered, fallback.abandoned) == (3, 2, 1)
    assert fallback.asa_s == pytest.approx((30 + 5) / 2)  # from the first queue entered
