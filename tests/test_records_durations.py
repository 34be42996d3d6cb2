"""Durations from hand-computed timelines, built through the CallRecorder."""

from __future__ import annotations

import pytest

from server.records.durations import Durations, compute_durations
from server.records.model import OUTCOMES, CallRecorder


def _recorder(t: float = 0.0) -> CallRecorder:
    return CallRecorder("1700000000.1", t, caller="13800000000", dialled="95598")


def test_answered_call_with_two_holds():
    r = _recorder(0)
    r.ivr_end(12)
    r.enqueued(12, "fault")
    r.offer(34, agent="1001", ring_start=30, outcome="answered")
    r.answered(34, agent="1001", tier="senior")
    r.hold_start(50)
    r.hold_end(60)
    r.hold_start(100)
    r.hold_end(125)
    r.bridge_end(200, hung_up_by="caller")
    r.survey(215, answer="satisfied")
    r.wrap_up_end(230, disposition="fault.reported")
    r.finish(230, "answered")
    assert compute_durations(r.snapshot().timeline) == Durations(
        ivr_s=12, queue_wait_s=22, ring_s=4, talk_s=131, hold_s=35, acw_s=30,
        handling_s=196, offers=1, missed_offers=0, holds=2)


def test_no_answer_then_answered_by_a_second_agent():
    r = _recorder(0)
    r.ivr_end(5)
    r.enqueued(5, "bill")
    r.offer(25, agent="1001", ring_start=10, outcome="no_answer")
    r.offer(31, agent="1002", ring_start=27, outcome="answered")
    r.answered(31, agent="1002")
    r.bridge_end(91, hung_up_by="agent")
    r.wrap_up_end(101, disposition="bill.explained")
    d = compute_durations(r.snapshot().timeline)
    # The wait runs from the first enqueue: the caller waited through the miss.
    assert d == Durations(ivr_s=5, queue_wait_s=26, ring_s=19, talk_s=60, hold_s=0,
                          acw_s=10, handling_s=70, offers=2, missed_offers=1)


def test_abandon_in_queue():
    r = _recorder(100)
    r.ivr_end(108)
    r.enqueued(108, "fault")
    r.abandoned(145, position=3)
    r.finish(145, "abandoned")
    assert compute_durations(r.snapshot().timeline) == Durations(ivr_s=8, queue_wait_s=37)


def test_abandon_while_ringing_counts_the_ring():
    r = _recorder(0)
    r.ivr_end(4)
    r.enqueued(4, "fault")
    r.offer(45, agent="1001", ring_start=40, outcome="no_answer")
    r.abandoned(45)
    d = compute_durations(r.snapshot().timeline)
    assert (d.queue_wait_s, d.ring_s, d.missed_offers, d.handling_s) == (41, 5, 1, 0)


def test_hold_open_at_hangup_is_closed_at_bridge_end():
    r = _recorder(0)
    r.ivr_end(2)
    r.enqueued(2, "q")
    r.offer(10, agent="1001", ring_start=8, outcome="answered")
    r.answered(10, agent="1001")
    r.hold_start(40)
    r.bridge_end(70, hung_up_by="agent")
    d = compute_durations(r.snapshot().timeline)
    assert (d.talk_s, d.hold_s, d.acw_s, d.handling_s, d.holds) == (30, 30, 0, 60, 1)


def test_duplicate_softphone_hold_events_are_not_double_counted():
    r = _recorder(0)
    r.enqueued(0, "q")
    r.answered(10, agent="1001")
    r.hold_end(12)  # stray unhold
    r.hold_start(20)
    r.hold_start(22)  # repeated Hold
    r.hold_end(30)
    r.bridge_end(50, hung_up_by="caller")
    d = compute_durations(r.snapshot().timeline)
    assert (d.hold_s, d.talk_s, d.holds) == (10, 30, 1)


def test_callback_request_ends_the_wait():
    r = _recorder(0)
    r.ivr_end(3)
    r.enqueued(3, "fault")
    r.callback_requested(63, number="13800000000")
    r.finish(64, "callback")
    assert compute_durations(r.snapshot().timeline).queue_wait_s == 60


def test_ivr_only_call_has_only_ivr_time():
    r = _recorder(0)
    r.ivr_key("main", "1")
    r.ivr_end(17.5)
    r.finish(17.5, "self_service")
    assert compute_durations(r.snapshot().timeline) == Durations(ivr_s=17.5)


def test_values_are_rounded_to_the_millisecond():
    r = _recorder(0)
    r.enqueued(0.1, "q")
    r.answered(1.1, agent="1001")
    r.bridge_end(3.3, hung_up_by="caller")
    r.wrap_up_end(3.4, disposition="x")
    d = compute_durations(r.snapshot().timeline)
    assert (d.talk_s, d.acw_s, d.handling_s) == (2.2, 0.1, 2.3)
    assert d.queue_wait_s == pytest.approx(1.0)


def test_a_call_answered_in_the_fallback_queue_has_its_wait_and_talk():
    r = CallRecorder("f1", 0.0, caller="1", dialled="95598")
    r.ivr_end(10.0)  # straight from the menu: never in a queue of ours
    r.fallback(40.0, "watchdog", "hotline-fallback")
    r.answered(47.5, agent="1002")
    r.bridge_end(55.5, hung_up_by="agent")
    r.finish(55.5, "fallback_answered")
    d = compute_durations(r.snapshot().timeline)
    assert (d.queue_wait_s, d.talk_s, d.hold_s, d.acw_s) == (7.5, 8.0, 0.0, 0.0)
    rec = r.snapshot()
    assert rec.queues == ("hotline-fallback",) and rec.outcome in OUTCOMES
