"""Routing order, eligibility, strategies, escalation and overflow, on task.Clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from twisted.internet.task import Clock

from queues.items import Outcome
from queues.model import EscalationStep, Strategy
from queues.router import Router
from server.bench.acd_sample import make_agent, make_config, make_queue
from tests.acd_support import RecordingOutput

# 10:00 on a weekday in Shanghai: outside quiet hours.
T0 = dt.datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def build(queues, agents, **policy_kw):
    from server.bench.acd_sample import make_policy

    clock = Clock()
    clock.advance(T0)
    out = RecordingOutput()
    r = Router(make_config(queues, agents, make_policy(**policy_kw)), clock, out)
    return r, clock, out


def offers(out):
    return [(e[1], e[2]) for e in out.take("offer", "place_callback")]


def test_priority_first_then_fifo_across_queues():
    qs = [make_queue("billing", {"gen": 1}, priority=1),
          make_queue("outage", {"gen": 1}, priority=5)]  # fmt: skip
    r, clock, out = build(qs, [make_agent("a1", {"gen": 1})])
    r.enqueue("b1", "billing")
    clock.advance(1)
    r.enqueue("b2", "billing")
    clock.advance(1)
    r.enqueue("o1", "outage")
    clock.advance(1)
    r.enqueue("o2", "outage")
    assert [w.id for w in r.waiting()] == ["o1", "o2", "b1", "b2"]
    r.login("a1")
    served = []
    for _ in range(4):
        (cid, aid), = offers(out)
        served.append(cid)
        r.offer_result(cid, Outcome.ANSWERED)
        r.call_ended(cid)
        r.end_wrap_up("a1")
    assert served == ["o1", "o2", "b1", "b2"]
    assert r.waiting() == []
    assert clock.getDelayedCalls() == []


def test_skill_level_and_tier_eligibility():
    qs = [make_queue("billing", {"billing": 3}),
          make_queue("complaint", {"complaint": 1}, min_tier="senior")]  # fmt: skip
    agents = [make_agent("low", {"billing": 2, "complaint": 5}, "agent"),
              make_agent("sen", {"complaint": 1}, "senior")]  # fmt: skip
    r, clock, out = build(qs, agents)
    r.login("low")
    r.enqueue("c1", "complaint")
    r.enqueue("b1", "billing")
    assert offers(out) == []  # low: billing 2 < 3, and tier agent < senior
    expl = r.explain_wait("b1")
    assert expl.with_skill == 0 and "billing >= 3" in expl.text
    r.login("sen")
    assert offers(out) == [("c1", "sen")]
    d = r.decision("c1")
    assert d.eligible == 1 and d.step == "base" and d.reason == "only eligible agent"


def test_wait_explanation_counts_busy_agents():
    r, clock, out = build([make_queue("billing", {"billing": 3})],
                          [make_agent(f"a{i}", {"billing": 3}) for i in range(4)])  # fmt: skip
    for i in range(4):
        r.login(f"a{i}")
    for i in range(5):
        r.enqueue(f"c{i}", "billing")
    for cid, _ in offers(out):
        r.offer_result(cid, Outcome.ANSWERED)
    e = r.explain_wait("c4")
    assert (e.with_skill, e.ready, e.busy, e.position) == (4, 0, 4, 1)
    assert e.text.startswith("no ready agent with billing >= 3; 4 agents have the skill: 4 busy")


def _strategy_router(strategy):
    agents = [make_agent("a1", {"s": 2}), make_agent("a2", {"s": 5}), make_agent("a3", {"s": 3})]
    r, clock, out = build([make_queue("q", {"s": 1}, strategy=strategy)], agents, wrapup_s=0)
    return r, clock, out


def test_longest_idle():
    r, clock, out = _strategy_router(Strategy.LONGEST_IDLE)
    r.login("a3")
    clock.advance(5)
    r.login("a1")
    clock.advance(5)
    r.login("a2")
    r.enqueue("c1", "q")
    assert offers(out) == [("c1", "a3")]
    assert "longest idle of 3 (ready 10s)" in r.decision("c1").reason


def test_skill_level_first():
    r, clock, out = _strategy_router(Strategy.SKILL_LEVEL_FIRST)
    for a in ("a1", "a2", "a3"):
        r.login(a)
    r.enqueue("c1", "q")
    assert offers(out) == [("c1", "a2")]
    assert "highest skill level" in r.decision("c1").reason


def test_round_robin_cycles_by_id():
    r, clock, out = _strategy_router(Strategy.ROUND_ROBIN)
    for a in ("a3", "a2", "a1"):
        r.login(a)
    got = []
    for i in range(4):
        r.enqueue(f"c{i}", "q")
        (cid, aid), = offers(out)
        got.append(aid)
        r.offer_result(cid, Outcome.ANSWERED)
        r.call_ended(cid)  # wrap-up 0: straight back to ready
    assert got == ["a1", "a2", "a3", "a1"]


def test_least_occupied_over_last_hour():
    r, clock, out = _strategy_router(Strategy.LEAST_OCCUPIED)
    for a in ("a1", "a2"):
        r.login(a)
    # a1 talks 600 s while a2 idles; then a long-idle check decides for a2 despite a1
    # having been ready longer before the call.
    r.enqueue("x", "q")
    (cid, aid), = offers(out)
    assert aid == "a1"  # tie at 0% occupancy: longest idle, then id
    r.offer_result("x", Outcome.ANSWERED)
    clock.advance(600)
    r.call_ended("x")
    clock.advance(10)
    r.enqueue("y", "q")
    assert offers(out) == [("y", "a2")]
    assert "least occupied of 2 (0% over the last hour)" in r.decision("y").reason


def test_intent_skill_fit_beats_strategy():
    agents = [make_agent("a1", {"billing": 3}), make_agent("a2", {"billing": 3, "arrears": 1})]
    r, clock, out = build([make_queue("billing", {"billing": 1})], agents)
    r.login("a1")
    clock.advance(50)
    r.login("a2")
    r.enqueue("c1", "billing", intent="arrears")
    assert offers(out) == [("c1", "a2")]
    assert "has intent skill arrears" in r.decision("c1").reason


def test_escalation_steps_fire_at_configured_times_then_overflow():
    esc = (EscalationStep(30, min_level=2), EscalationStep(60, any_level=True),
           EscalationStep(120, overflow_to="general"))  # fmt: skip
    qs = [make_queue("billing", {"billing": 4}, escalation=esc),
          make_queue("general", {"gen": 1})]  # fmt: skip
    agents = [make_agent("lvl2", {"billing": 2}), make_agent("lvl1", {"billing": 1}),
              make_agent("gen", {"gen": 1})]  # fmt: skip
    r, clock, out = build(qs, agents)
    r.enqueue("c1", "billing")
    r.login("lvl2")
    clock.advance(29.9)
    assert offers(out) == []
    clock.advance(0.1)
    assert offers(out) == [("c1", "lvl2")]
    assert r.decision("c1").step == "after 30s: level>=2"
    r.offer_result("c1", Outcome.NO_ANSWER)  # lvl2 misses: back at the head
    # lvl2 is the only one qualifying, so it rings again; a second miss pauses lvl2.
    assert offers(out) == [("c1", "lvl2")]
    assert "already missed this call" in r.decision("c1").reason
    r.offer_result("c1", Outcome.NO_ANSWER)
    assert r.agent("lvl2").pause_reason == "missed_call"
    r.login("lvl1")
    assert offers(out) == []
    clock.advance(30)
    assert offers(out) == [("c1", "lvl1")]
    assert r.decision("c1").step == "after 60s: any level"
    r.offer_result("c1", Outcome.NO_ANSWER)
    r.logout("lvl1")
    out.take()
    clock.advance(60)
    assert out.take("overflowed") == [("overflowed", "c1", "billing", "general")]
    r.login("gen")
    assert offers(out) == [("c1", "gen")]
    k = r.queue_kpis("billing")
    assert (k.offered, k.overflowed) == (1, 1)
    assert r.queue_kpis("general").offered == 1


def test_overflow_waits_while_ringing_then_happens_on_no_answer():
    esc = (EscalationStep(10, overflow_to="other"),)
    qs = [make_queue("q", {"s": 1}, escalation=esc), make_queue("other", {"o": 1})]
    r, clock, out = build(qs, [make_agent("a", {"s": 1})])
    r.login("a")
    r.enqueue("c", "q")
    out.take()
    clock.advance(15)  # ringing through the boundary: no overflow mid-ring
    assert out.take("overflowed") == []
    r.offer_result("c", Outcome.NO_ANSWER)
    assert out.take("overflowed") == [("overflowed", "c", "q", "other")]


def test_max_wait_without_overflow_ends_call():
    r, clock, out = build([make_queue("q", {"s": 1}, max_wait_s=300)], [])
    r.enqueue("c", "q")
    clock.advance(299)
    assert out.take() == []
    clock.advance(1)
    assert out.take() == [("overflowed", "c", "q", None)]
    assert r.waiting() == [] and clock.getDelayedCalls() == []


def test_one_call_per_agent_and_one_agent_per_call():
    r, clock, out = build([make_queue("q", {"s": 1})], [make_agent("a", {"s": 1})])
    r.login("a")
    r.enqueue("c1", "q")
    r.enqueue("c2", "q")
    assert offers(out) == [("c1", "a")]
    assert r.agent("a").item_id == "c1"
    with pytest.raises(ValueError):
        r.enqueue("c1", "q")
    r.abandon("c1")
    assert out.take("cancel_offer", "offer")[0][0] == "cancel_offer"
    assert r.agent("a").item_id == "c2"


def test_leaf_priority_overrides_the_queue_priority():
    clock = Clock()
    out = RecordingOutput()
    cfg = make_config(queues=[make_queue("general", skills={"general": 1}, priority=10)],
                      agents=[make_agent("a1", skills={"general": 1})])
    router = Router(cfg, clock, out)
    router.enqueue("low", "general", priority=5)
    clock.advance(1)
    router.enqueue("high", "general", priority=90)
    router.enqueue("plain", "general")
    assert [w.id for w in router.waiting()] == ["high", "plain", "low"]
