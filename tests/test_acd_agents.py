"""Agent states: RONA, abandons, device state, wrap-up timing, feature codes."""

from __future__ import annotations

import pytest

from queues.agents import TRANSITIONS, AgentEvent, AgentState, InvalidTransition
from queues.items import Outcome
from server.bench.acd_sample import make_agent, make_queue
from tests.test_acd_routing import build, offers


def one_queue(n_agents=1, **kw):
    agents = [make_agent(f"a{i}", {"s": 1}) for i in range(1, n_agents + 1)]
    return build([make_queue("q", {"s": 1})], agents, **kw)


def test_rona_requeues_at_head_and_pauses_after_n_misses():
    r, clock, out = one_queue(2, misses=2)
    r.login("a1")
    r.enqueue("c1", "q")
    clock.advance(5)
    r.enqueue("c2", "q")
    assert offers(out) == [("c1", "a1")]
    clock.advance(20)
    r.offer_result("c1", Outcome.NO_ANSWER)
    # c1 keeps its original place ahead of c2 and, a1 being the only one, rings again
    assert [w.id for w in r.waiting()] == ["c1", "c2"]
    assert r.waiting()[0].enqueued_at == r.waiting()[1].enqueued_at - 5
    assert offers(out) == [("c1", "a1")]
    out.take()
    r.offer_result("c1", Outcome.NO_ANSWER)
    assert out.take() == [("agent", "a1", "reserved", "paused", "missed_call")]
    assert r.agent("a1").pause_reason == "missed_call"
    r.login("a2")
    assert offers(out) == [("c1", "a2")]  # still the head, before c2
    r.offer_result("c1", Outcome.ANSWERED)
    assert r.decision("c1").waited_s == 25  # from the original enqueue time
    r.unpause("a1")
    assert offers(out) == [("c2", "a1")]
    assert r.agent("a1").misses == 2  # reset only when the agent answers
    r.offer_result("c2", Outcome.ANSWERED)
    assert r.agent("a1").misses == 0


def test_missed_agent_goes_last_when_another_qualifies():
    r, clock, out = one_queue(2, misses=3)
    r.login("a1")
    clock.advance(1)
    r.login("a2")
    r.enqueue("c1", "q")
    assert offers(out) == [("c1", "a1")]
    r.offer_result("c1", Outcome.BUSY)
    assert offers(out) == [("c1", "a2")]


def test_abandon_and_short_abandon():
    r, clock, out = one_queue(0, short_abandon_s=5)
    r.enqueue("quick", "q")
    r.enqueue("slow", "q")
    clock.advance(4.9)
    assert r.abandon("quick") is True
    clock.advance(30)
    assert r.abandon("slow") is True
    assert r.abandon("slow") is False
    assert out.take() == [("abandoned", "quick", True), ("abandoned", "slow", False)]
    k = r.queue_kpis("q")
    assert (k.offered, k.abandoned, k.short_abandoned, k.waiting) == (2, 2, 1, 0)
    assert clock.getDelayedCalls() == []


def test_abandon_while_ringing_cancels_offer_and_frees_agent():
    r, clock, out = one_queue(1)
    r.login("a1")
    r.enqueue("c1", "q")
    out.take()
    r.abandon("c1")
    assert out.take() == [
        ("cancel_offer", "c1", "a1", "caller hung up"),
        ("agent", "a1", "reserved", "ready", "caller hung up"),
        ("abandoned", "c1", True),
    ]


def test_device_offline_pauses_and_returns_to_ready():
    r, clock, out = one_queue(1)
    r.login("a1")
    out.take()
    r.device_state("PJSIP/a1", "UNAVAILABLE")
    assert out.take() == [("agent", "a1", "ready", "paused", "device_offline")]
    assert r.agent("a1").state is AgentState.PAUSED
    assert r.agent("a1").pause_reason == "device_offline"
    r.enqueue("c1", "q")
    assert offers(out) == []
    r.unpause("a1")  # the agent cannot unpause a dead phone
    assert r.agent("a1").pause_reason == "device_offline"
    r.device_state("PJSIP/a1", "NOT_INUSE")
    assert out.take() == [
        ("agent", "a1", "paused", "ready", "device NOT_INUSE"),
        ("agent", "a1", "ready", "reserved", "offered c1"),
        ("offer", "c1", "a1", r.decision("c1")),
    ]


def test_device_offline_keeps_an_earlier_pause_reason():
    r, clock, out = one_queue(1)
    r.login("a1")
    r.pause("a1", "meal")
    r.device_state("PJSIP/a1", "UNAVAILABLE")
    r.device_state("PJSIP/a1", "NOT_INUSE")
    assert r.agent("a1").pause_reason == "meal"


def test_login_with_phone_offline_starts_paused():
    r, clock, out = one_queue(1)
    r.device_state("PJSIP/a1", "UNAVAILABLE")
    r.login("a1")
    assert r.agent("a1").pause_reason == "device_offline"


def test_device_in_use_is_never_offered():
    r, clock, out = one_queue(1)
    r.login("a1")
    r.device_state("PJSIP/a1", "INUSE")  # a personal call, agent still "ready"
    r.enqueue("c1", "q")
    assert offers(out) == []
    assert r.explain_wait("c1").busy == 1
    r.device_state("PJSIP/a1", "NOT_INUSE")
    assert offers(out) == [("c1", "a1")]


def test_wrap_up_default_timing():
    r, clock, out = one_queue(1, wrapup_s=30)
    r.login("a1")
    r.enqueue("c1", "q")
    r.offer_result("c1", Outcome.ANSWERED)
    clock.advance(100)
    r.call_ended("c1")
    assert r.agent("a1").state is AgentState.WRAP_UP
    assert r.agent("a1").wrap_up_ends_at == clock.seconds() + 30
    clock.advance(29)
    assert r.agent("a1").state is AgentState.WRAP_UP
    clock.advance(1)
    assert r.agent("a1").state is AgentState.READY
    assert r.queue_kpis("q").aht_s == 130
    assert clock.getDelayedCalls() == []


def test_wrap_up_end_early_and_extend():
    r, clock, out = one_queue(1, wrapup_s=30)
    r.login("a1")
    for cid in ("c1", "c2"):
        r.enqueue(cid, "q")
    r.offer_result("c1", Outcome.ANSWERED)
    r.call_ended("c1")
    clock.advance(10)
    r.end_wrap_up("a1")  # early: c2 is offered at once
    assert r.agent("a1").item_id == "c2"
    # the wrap-up timer is gone; only c2's max-wait timer (3600 s) is left
    assert [d.getTime() for d in clock.getDelayedCalls()] == [clock.seconds() - 10 + 3600]
    r.offer_result("c2", Outcome.ANSWERED)
    r.call_ended("c2")
    clock.advance(20)
    r.extend_wrap_up("a1", 60)
    clock.advance(69)
    assert r.agent("a1").state is AgentState.WRAP_UP
    clock.advance(1)
    assert r.agent("a1").state is AgentState.READY
    assert r.queue_kpis("q").aht_s == (10 + 90) / 2


def test_feature_codes_login_logout_pause_toggle():
    r, clock, out = one_queue(1)
    assert r.login("a1").state is AgentState.READY  # *11 (PIN checked by the adapter)
    assert r.toggle_pause("a1", "break").pause_reason == "break"  # *13
    assert r.toggle_pause("a1").state is AgentState.READY  # *13 again
    assert r.logout("a1").state is AgentState.LOGGED_OUT  # *12
    assert [e[2:4] for e in out.take()] == [
        ("logged_out", "ready"), ("ready", "paused"), ("paused", "ready"), ("ready", "logged_out"),
    ]  # fmt: skip


def test_pause_during_call_applies_after_wrap_up_and_logout_refused_on_call():
    r, clock, out = one_queue(1, wrapup_s=5)
    r.login("a1")
    r.enqueue("c1", "q")
    r.offer_result("c1", Outcome.ANSWERED)
    r.toggle_pause("a1", "meeting")
    assert r.agent("a1").state is AgentState.ON_CALL
    with pytest.raises(InvalidTransition):
        r.logout("a1")
    r.call_ended("c1")
    clock.advance(5)
    assert r.agent("a1").pause_reason == "meeting"


def test_logout_while_ringing_puts_call_back():
    r, clock, out = one_queue(2)
    r.login("a1")
    r.enqueue("c1", "q")
    r.login("a2")
    out.take()
    r.logout("a1")
    log = out.take()
    assert log[0] == ("cancel_offer", "c1", "a1", "agent logged out")
    assert ("offer", "c1", "a2", r.decision("c1")) in log


def test_transition_table_rejects_unknown_moves():
    assert TRANSITIONS[(AgentState.READY, AgentEvent.OFFER)] is AgentState.RESERVED
    assert (AgentState.ON_CALL, AgentEvent.OFFER) not in TRANSITIONS
    r, clock, out = one_queue(1)
    with pytest.raises(InvalidTransition):
        r.pause("a1", "break")  # logged out
