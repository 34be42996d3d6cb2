"""Callbacks and follow-ups: place kept, quiet hours, no duplicates, retries, due times."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from twisted.internet.task import Clock

from queues.items import Kind, Outcome
from queues.router import Router
from server.bench.acd_sample import make_agent, make_config, make_policy, make_queue
from tests.acd_support import RecordingOutput
from tests.test_acd_routing import build, offers

SH = ZoneInfo("Asia/Shanghai")


def at(h, m=0, day=27):
    return dt.datetime(2026, 11, day, h, m, tzinfo=SH).timestamp()


def test_callback_keeps_place_and_is_placed_agent_first():
    r, clock, out = build([make_queue("q", {"s": 1})], [make_agent("a1", {"s": 1})])
    r.enqueue("c1", "q")
    clock.advance(10)
    r.enqueue("c2", "q")
    clock.advance(10)
    cb = r.request_callback("c1", "13800000001")
    assert cb.kind is Kind.CALLBACK and cb.enqueued_at == clock.seconds() - 20
    assert out.take() == [("callback_requested", "c1", "c1:cb")]
    assert [w.id for w in r.waiting()] == ["c1:cb", "c2"]
    r.login("a1")
    assert out.take("place_callback", "offer")[0][:3] == ("place_callback", "c1:cb", "a1")
    r.offer_result("c1:cb", Outcome.ANSWERED)
    assert r.queue_kpis("q").callbacks == 1


def test_duplicate_number_gets_one_callback():
    r, clock, out = build([make_queue("q", {"s": 1})], [])
    r.enqueue("c1", "q")
    r.enqueue("c2", "q")
    first = r.request_callback("c1", "13800000001")
    again = r.request_callback("c2", "13800000001")
    assert again == first
    assert out.take() == [("callback_requested", "c1", "c1:cb"), ("callback_requested", "c2", None)]
    assert [w.id for w in r.waiting()] == ["c1:cb"]


def test_callback_retry_and_failure():
    r, clock, out = build([make_queue("q", {"s": 1})], [make_agent("a1", {"s": 1})])
    r.enqueue("c1", "q")
    r.request_callback("c1", "555")
    r.login("a1")
    attempts = []
    for _ in range(3):
        (cid, aid), = offers(out)
        attempts.append(clock.seconds())
        r.offer_result(cid, Outcome.CUSTOMER_NO_ANSWER)
        assert r.agent("a1").state.value == "ready"  # the agent did nothing wrong
        clock.advance(300)
    assert attempts[1] - attempts[0] == 300 and attempts[2] - attempts[1] == 300
    assert out.take("failed") == [("failed", "c1:cb", "no answer after 3 attempts")]
    assert r.waiting() == []
    # the number is free again for a new request
    r.logout("a1")
    r.enqueue("c9", "q")
    assert r.request_callback("c9", "555").id == "c9:cb"


def _night_router(start):
    clock = Clock()
    clock.advance(start)
    out = RecordingOutput()
    cfg = make_config([make_queue("q", {"s": 1})], [make_agent("a1", {"s": 1})], make_policy())
    return Router(cfg, clock, out), clock, out


def test_callback_waits_out_quiet_hours():
    r, clock, out = _night_router(at(20, 59))
    r.enqueue("c1", "q")
    clock.advance(60)  # 21:00: quiet hours begin
    r.request_callback("c1", "555")
    r.login("a1")
    assert offers(out) == []
    assert "quiet hours" in r.explain_wait("c1:cb").text
    clock.advance(at(7, 59, day=28) - clock.seconds())
    assert offers(out) == []
    clock.advance(60)  # 08:00 local
    assert offers(out) == [("c1:cb", "a1")]


def test_inbound_calls_are_not_held_by_quiet_hours():
    r, clock, out = _night_router(at(23, 0))
    r.login("a1")
    r.enqueue("c1", "q")
    assert offers(out) == [("c1", "a1")]


def test_follow_up_waits_for_due_time_and_daytime():
    r, clock, out = _night_router(at(15, 0))
    r.login("a1")
    fu = r.add_follow_up("fu1", "q", "555", due_at=at(16, 0), note="complaint 42")
    assert fu.kind is Kind.FOLLOW_UP
    assert offers(out) == []
    clock.advance(3599)
    assert offers(out) == []
    clock.advance(1)
    assert offers(out) == [("fu1", "a1")]
    # one due at night waits for the morning
    r.offer_result("fu1", Outcome.ANSWERED)
    r.call_ended("fu1")
    r.end_wrap_up("a1")
    r.add_follow_up("fu2", "q", "556", due_at=at(22, 0))
    clock.advance(at(22, 0) - clock.seconds())
    assert offers(out) == []
    clock.advance(at(8, 0, day=28) - clock.seconds())
    assert offers(out) == [("fu2", "a1")]


def test_follow_up_order_by_due_time():
    r, clock, out = _night_router(at(15, 0))
    r.add_follow_up("late", "q", "13900000001", due_at=at(15, 0) - 10)
    r.add_follow_up("early", "q", "13900000002", due_at=at(15, 0) - 60)
    r.login("a1")
    assert offers(out) == [("early", "a1")]


def test_cancel_follow_up():
    r, clock, out = _night_router(at(15, 0))
    r.add_follow_up("fu", "q", "13900000001", due_at=at(17, 0))
    assert r.cancel_item("fu")
    assert out.take() == [("failed", "fu", "cancelled")]
    assert clock.getDelayedCalls() == []


def test_estimated_wait_is_position_times_aht_over_staffed_agents():
    q = make_queue("q", {"s": 1}, callback_offer_after_s=300)
    r, clock, out = build([q], [make_agent("a1", {"s": 1})])
    r.login("a1")
    r.enqueue("c0", "q")  # a1 busy with c0
    r.offer_result("c0", Outcome.ANSWERED)
    r.enqueue("c1", "q")
    r.enqueue("c2", "q")
    # no handled calls yet: AHT defaults to 180 s; one staffed agent
    assert r.estimated_wait("c1") == 180 and r.estimated_wait("c2") == 360
    # (whether that wait is long enough to offer a callback is the waiting loop's
    # rule, ivr/hold.py's callback_above_ewt_s: tests/test_ivr_hold.py)


def test_a_case_follow_up_is_one_attempt_and_carries_its_case():
    """A return visit of a service case: the customer not answering ends the item (the
    case books the next attempt), where a plain follow-up would be retried."""
    r, clock, out = _night_router(at(15, 0))
    r.login("a1")
    fu = r.add_follow_up("rv-GD1-1", "q", "555", due_at=at(15, 0), case_id="GD1")
    assert fu.case_id == "GD1"
    (placed,) = out.take("place_callback")
    assert (placed[1], placed[2]) == ("rv-GD1-1", "a1")
    r.offer_result("rv-GD1-1", Outcome.CUSTOMER_NO_ANSWER)
    assert out.take("failed") == [("failed", "rv-GD1-1", "no answer after 1 attempts")]
    assert r.waiting() == [] and r.item("rv-GD1-1") is None
    assert r.agent("a1").state.value == "ready"
    # a plain follow-up stays for its retry
    r.add_follow_up("fu", "q", "556", due_at=clock.seconds())
    r.offer_result("fu", Outcome.CUSTOMER_NO_ANSWER)
    assert out.take("failed") == [] and [w.id for w in r.waiting()] == ["fu"]


def test_a_follow_up_id_already_waiting_is_refused():
    r, clock, out = _night_router(at(15, 0))
    r.add_follow_up("rv-GD1-1", "q", "555", due_at=at(17, 0), case_id="GD1")
    with pytest.raises(ValueError, match="already waiting"):
        r.add_follow_up("rv-GD1-1", "q", "556", due_at=at(18, 0), case_id="GD1")
    (item,) = r.waiting()
    assert (item.number, item.due_at) == ("555", at(17, 0))


def test_a_case_return_visit_due_at_night_waits_for_the_morning():
    """An unreached return visit's retry (cases.yaml retry_after) that falls in quiet
    hours is not placed before they end."""
    r, clock, out = _night_router(at(20, 30))
    r.login("a1")
    r.add_follow_up("rv-GD1-2", "q", "555", due_at=at(20, 30) + 2 * 3600, case_id="GD1")
    clock.advance(at(8, 0, day=28) - clock.seconds() - 1)
    assert offers(out) == []
    clock.advance(1)
    assert offers(out) == [("rv-GD1-2", "a1")]
