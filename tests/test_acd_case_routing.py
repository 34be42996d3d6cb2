"""Routing that follows the case and the tiers (issue 14, point 6), on task.Clock.

1. the tier floor of the queue a caller first entered travels through overflow;
2. a caller with an open case is offered to its owner first, for a short time;
3. a caller who reaches ``max_wait_s`` may take a callback that keeps their place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

from twisted.internet.task import Clock

from queues.dispatch import OWNER_STEP
from queues.items import Kind, Outcome
from queues.model import EscalationStep
from queues.router import Router
from server.bench.acd_sample import make_agent, make_config, make_policy, make_queue
from tests.acd_support import RecordingOutput

T0 = dt.datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
NIGHT = dt.datetime(2026, 11, 27, 22, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
OVERFLOW = (EscalationStep(180, overflow_to="general"),)


def build(queues, agents, *, start=T0, **policy):
    clock = Clock()
    clock.advance(start)
    out = RecordingOutput()
    pol = replace(make_policy(), **policy)
    return Router(make_config(queues, agents, pol), clock, out), clock, out


def offers(out):
    return [(e[1], e[2]) for e in out.take("offer", "place_callback")]


def complaints_and_general(**kw):
    return [make_queue("complaints", {"complaint": 3}, min_tier="senior", escalation=OVERFLOW,
                       **kw),
            make_queue("general", {"general": 1})]


# ------------------------------------------------------------------ 1. tiers


def test_an_overflowed_complaint_never_rings_a_trainee():
    agents = [make_agent("1001", {"general": 2}, "trainee"),
              make_agent("1014", {"general": 4, "complaint": 4}, "senior")]
    r, clock, out = build(complaints_and_general(), agents)
    r.login("1001")
    r.enqueue("c", "complaints")
    clock.advance(180)
    assert out.take("overflowed") == [("overflowed", "c", "complaints", "general")]
    assert offers(out) == []  # trainee 1001 is ready in general, but below the floor
    assert "tier senior+" in r.explain_wait("c").text
    assert r.explain_wait("c").with_skill == 0
    r.login("1014")
    assert offers(out) == [("c", "1014")]


def test_the_stricter_floor_wins_both_ways():
    def to(q):
        return (EscalationStep(10, overflow_to=q),)

    qs = [make_queue("a", {"s": 1}, min_tier="agent", escalation=to("b")),
          make_queue("b", {"s": 1}, min_tier="senior"),
          make_queue("c", {"s": 1}, min_tier="senior", escalation=to("d")),
          make_queue("d", {"s": 1}, min_tier="agent")]  # fmt: skip
    r, clock, out = build(qs, [make_agent("ag", {"s": 1}, "agent"),
                               make_agent("lead", {"s": 1}, "lead")])
    r.enqueue("x", "a")
    r.enqueue("y", "c")
    clock.advance(10)  # x to b (senior), y to d (agent, but it came from c: senior)
    assert len(out.take("overflowed")) == 2
    r.login("ag")
    assert offers(out) == []
    r.login("lead")
    assert offers(out) == [("x", "lead")]  # first in line; y still waits for a senior+
    assert [w.id for w in r.waiting()] == ["x", "y"]


def test_a_floor_above_the_queue_does_not_hold_up_the_queue_own_callers():
    agents = [make_agent("1001", {"general": 2}, "trainee")]
    r, clock, out = build(complaints_and_general(), agents)
    r.enqueue("complaint", "complaints")
    clock.advance(180)  # overflows into general, first in line there
    r.enqueue("plain", "general")
    r.login("1001")
    assert offers(out) == [("plain", "1001")]


def test_the_floor_survives_a_restart_and_goes_with_a_callback():
    agents = [make_agent("1001", {"general": 2}, "trainee"),
              make_agent("1014", {"general": 4}, "senior")]
    r, clock, out = build(complaints_and_general(), agents)
    r.enqueue("c", "complaints")
    clock.advance(180)
    r2 = Router.restore(r.config, clock, out, r.snapshot())
    r2.request_callback("c", "13912345678")
    r2.login("1001")
    assert offers(out) == []
    r2.login("1014")
    assert offers(out) == [("c:cb", "1014")]


# ---------------------------------------------------------- 2. the case owner


def owner_setup(case_owner_first_s=30):
    qs = [make_queue("billing", {"billing": 3}, min_tier="agent")]
    agents = [make_agent("idle", {"billing": 3}), make_agent("owner", {"billing": 3}),
              make_agent("trainee", {"billing": 5}, "trainee")]
    return build(qs, agents, case_owner_first_s=case_owner_first_s)


def test_a_ready_owner_gets_the_call_before_a_longer_idle_agent():
    r, clock, out = owner_setup()
    r.login("idle")
    clock.advance(100)
    r.login("owner")
    r.enqueue("c", "billing", preferred="owner", case_id="GD20261127-000001")
    assert offers(out) == [("c", "owner")]
    d = r.decision("c")
    assert d.step == OWNER_STEP and "GD20261127-000001" in d.reason


def test_a_busy_owner_is_waited_for_then_the_queue_rule_applies():
    r, clock, out = owner_setup()
    r.login("owner")
    r.enqueue("first", "billing")
    r.offer_result("first", Outcome.ANSWERED)  # the owner is on a call
    r.login("idle")
    out.take()
    r.enqueue("c", "billing", preferred="owner")
    clock.advance(29.9)
    assert offers(out) == []  # idle is ready, but the owner's turn runs
    assert "case owner owner" in r.explain_wait("c").text
    clock.advance(0.1)
    assert offers(out) == [("c", "idle")]
    assert r.decision("c").step != OWNER_STEP


def test_an_owner_back_from_wrap_up_within_the_time_takes_their_caller_first():
    r, clock, out = owner_setup()
    r.login("owner")
    r.enqueue("first", "billing")
    r.offer_result("first", Outcome.ANSWERED)
    r.call_ended("first")  # wrap-up
    out.take()
    r.enqueue("earlier", "billing")  # ahead in line, no case
    clock.advance(5)
    r.enqueue("c", "billing", preferred="owner")
    clock.advance(10)
    r.end_wrap_up("owner")
    assert offers(out) == [("c", "owner")]


def test_an_owner_logged_out_or_paused_does_not_hold_the_caller():
    r, clock, out = owner_setup()
    r.login("idle")
    r.enqueue("c", "billing", preferred="owner")  # owner logged out
    assert offers(out) == [("c", "idle")]
    r.login("owner")
    r.enqueue("first", "billing")
    r.offer_result("first", Outcome.ANSWERED)
    r.enqueue("d", "billing", preferred="owner")
    out.take()
    r.pause("owner", "break")  # pending after the call: not around for d
    assert r.waiting()[-1].id == "d" and offers(out) == []  # idle is busy with c
    r.offer_result("c", Outcome.ANSWERED)
    r.call_ended("c")
    r.end_wrap_up("idle")
    assert offers(out) == [("d", "idle")]


def test_the_owner_needs_the_tier_floor_not_the_skill():
    qs = [make_queue("complaints", {"complaint": 3}, min_tier="senior")]
    agents = [make_agent("sen", {"complaint": 3}, "senior"),
              make_agent("owner_no_skill", {"billing": 1}, "lead"),
              make_agent("owner_trainee", {"complaint": 5}, "trainee")]
    r, clock, out = build(qs, agents, case_owner_first_s=30)
    for a in ("sen", "owner_no_skill", "owner_trainee"):
        r.login(a)
    r.enqueue("c1", "complaints", preferred="owner_trainee")
    assert offers(out) == [("c1", "sen")]  # below the floor: no preference at all
    r.enqueue("c2", "complaints", preferred="owner_no_skill")
    assert offers(out) == [("c2", "owner_no_skill")]


def test_an_owner_who_lets_it_ring_out_ends_the_preference():
    r, clock, out = owner_setup()
    r.login("owner")
    r.enqueue("c", "billing", preferred="owner")
    assert offers(out) == [("c", "owner")]
    r.login("idle")
    r.offer_result("c", Outcome.NO_ANSWER)
    assert offers(out) == [("c", "idle")]


def test_an_owner_learnt_after_the_enqueue_counts_from_the_enqueue():
    r, clock, out = owner_setup()
    r.login("owner")
    r.enqueue("first", "billing")
    r.offer_result("first", Outcome.ANSWERED)
    out.take()
    r.enqueue("c", "billing")
    clock.advance(10)
    assert r.prefer("c", "owner", "GD1")
    r.login("idle")
    clock.advance(19.9)
    assert offers(out) == []
    clock.advance(0.1)
    assert offers(out) == [("c", "idle")]
    r.enqueue("late", "billing")
    clock.advance(30)
    assert not r.prefer("late", "owner")  # its time is over: nothing changes
    assert not r.prefer("nobody", "owner")
    assert not r.prefer("late", "ghost")


def test_no_preference_when_the_policy_is_off():
    r, clock, out = owner_setup(case_owner_first_s=0)
    r.login("idle")
    clock.advance(10)
    r.login("owner")
    r.enqueue("c", "billing", preferred="owner")
    assert offers(out) == [("c", "idle")]


def test_the_preference_survives_a_restart():
    r, clock, out = owner_setup()
    r.login("owner")
    r.enqueue("first", "billing")
    r.offer_result("first", Outcome.ANSWERED)
    r.enqueue("c", "billing", preferred="owner", case_id="GD1")
    out.take()
    r2 = Router.restore(r.config, clock, out, r.snapshot())
    r2.login("idle")
    clock.advance(29)
    assert offers(out) == []
    clock.advance(1)
    assert offers(out) == [("c", "idle")]


# ---------------------------------------------------- 3. callback at max wait


def test_max_wait_offers_a_callback_that_keeps_the_place():
    qs = [make_queue("q", {"s": 1}, max_wait_s=300)]
    r, clock, out = build(qs, [make_agent("a", {"s": 1})], max_wait_grace_s=120)
    r.enqueue("first", "q")
    clock.advance(5)
    r.enqueue("second", "q")
    clock.advance(294.9)
    assert not r.max_wait_callback("first")
    clock.advance(0.1)
    assert out.take("overflowed") == []  # not thanked and hung up
    assert r.max_wait_callback("first") and not r.max_wait_callback("second")
    cb = r.request_callback("first", "13912345678")
    assert cb is not None and cb.kind is Kind.CALLBACK
    assert cb.enqueued_at == T0  # the caller's own place
    assert [w.id for w in r.waiting()] == ["first:cb", "second"]
    r.login("a")
    assert offers(out) == [("first:cb", "a")]


def test_a_caller_who_declines_keeps_waiting_until_the_grace_ends():
    qs = [make_queue("q", {"s": 1}, max_wait_s=300)]
    r, clock, out = build(qs, [make_agent("a", {"s": 1})], max_wait_grace_s=120)
    r.enqueue("c", "q")
    clock.advance(300)
    assert r.max_wait_callback("c")
    clock.advance(119.9)
    assert out.take("overflowed") == []
    clock.advance(0.1)
    assert out.take("overflowed") == [("overflowed", "c", "q", None)]
    assert r.waiting() == [] and clock.getDelayedCalls() == []
    assert r.queue_kpis("q").overflowed == 1


def test_a_waiting_caller_past_max_wait_is_still_answered():
    qs = [make_queue("q", {"s": 1}, max_wait_s=300)]
    r, clock, out = build(qs, [make_agent("a", {"s": 1})], max_wait_grace_s=120)
    r.enqueue("c", "q")
    clock.advance(310)
    r.login("a")
    assert offers(out) == [("c", "a")]
    assert not r.max_wait_callback("c")  # ringing: nothing to offer


def test_no_callback_offer_at_max_wait_in_quiet_hours():
    qs = [make_queue("q", {"s": 1}, max_wait_s=300)]
    r, clock, out = build(qs, [], start=NIGHT, max_wait_grace_s=120)
    r.enqueue("c", "q")
    clock.advance(300)
    assert r.waiting() and not r.max_wait_callback("c")
    clock.advance(120)
    assert out.take("overflowed") == [("overflowed", "c", "q", None)]


def test_a_caller_restored_past_max_wait_is_still_offered_the_callback():
    qs = [make_queue("q", {"s": 1}, max_wait_s=300)]
    r, clock, out = build(qs, [], max_wait_grace_s=120)
    r.enqueue("c", "q")
    data = r.snapshot()  # taken before the maximum wait
    later = Clock()  # the restarted process's
    later.advance(clock.seconds() + 310)
    r2 = Router.restore(r.config, later, out, data)
    later.advance(0)
    assert r2.max_wait_callback("c")
    later.advance(109)
    assert out.take("overflowed") == []
    later.advance(1)
    assert out.take("overflowed") == [("overflowed", "c", "q", None)]


def test_a_keep_place_callback_of_a_case_owners_caller_is_not_a_return_visit():
    """The caller's case travels as the owner to try first; it does not make the
    callback one attempt of that case's return visit (no retries, a visit attempt
    recorded on the case when the customer misses it)."""
    qs = [make_queue("billing", {"billing": 3}, max_wait_s=300)]
    r, clock, out = build(qs, [make_agent("owner", {"billing": 3})], case_owner_first_s=30,
                          max_wait_grace_s=120)
    r.enqueue("c", "billing", preferred="owner", case_id="GD20261127-000009")
    clock.advance(300)
    cb = r.request_callback("c", "13912345678")
    assert cb is not None and cb.case_id is None
    r.login("owner")
    assert offers(out) == [("c:cb", "owner")]
    r.offer_result("c:cb", Outcome.CUSTOMER_NO_ANSWER)
    assert out.take("failed") == []  # retried, like any callback
    assert r.item("c:cb") is not None
