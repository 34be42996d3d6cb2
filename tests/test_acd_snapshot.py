"""Snapshot to plain dicts and restore after a restart."""

from __future__ import annotations

import json

from twisted.internet.task import Clock

from queues.agents import AgentState
from queues.items import Outcome
from queues.router import Router
from server.bench.acd_sample import make_agent, make_queue
from tests.acd_support import RecordingOutput
from tests.test_acd_routing import build, offers


def test_snapshot_round_trip_keeps_places_and_agents():
    qs = [make_queue("q", {"s": 1}), make_queue("hi", {"s": 1}, priority=9)]
    agents = [make_agent(f"a{i}", {"s": 1}) for i in range(1, 5)]
    r, clock, out = build(qs, agents, wrapup_s=30)
    r.login("a1")
    r.login("a2")
    r.enqueue("talk", "q")  # -> a1
    r.enqueue("ring", "q")  # -> a2
    r.offer_result("talk", Outcome.ANSWERED)
    r.login("a4")
    r.pause("a4", "meal")
    clock.advance(5)
    r.enqueue("w1", "q")
    clock.advance(5)
    r.enqueue("w2", "hi")
    r.enqueue("w3", "q")
    r.request_callback("w3", "555")
    r.call_ended("talk")  # a1 in wrap-up until t0+40
    r.login("a3")  # takes w2 (priority 9)
    r.offer_result("w2", Outcome.ANSWERED)
    clock.advance(10)
    before = [(w.id, w.enqueued_at) for w in r.waiting()]
    assert [b[0] for b in before] == ["ring", "w1", "w3:cb"]

    data = json.loads(json.dumps(r.snapshot()))  # plain JSON types only
    clock2 = Clock()
    clock2.advance(clock.seconds() + 20)  # restarted 20 s later
    out2 = RecordingOutput()
    r2 = Router.restore(r.config, clock2, out2, data)

    assert [(w.id, w.enqueued_at) for w in r2.waiting()] == before
    # the forgotten ring: a2 is ready again and "ring" goes straight back to it
    assert offers(out2) == [("ring", "a2")]
    assert r2.agent("a3").state is AgentState.ON_CALL
    assert r2.agent("a4").pause_reason == "meal"
    assert r2.agent("a1").state is AgentState.WRAP_UP
    clock2.advance(0)  # wrap-up was due at restart - 10 s: ends at once
    assert r2.agent("a1").state is AgentState.RESERVED  # and takes w1
    assert r2.agent("a1").item_id == "w1"
    # a duplicate callback for the same number is still refused after restore
    r2.enqueue("w9", "q")
    assert r2.request_callback("w9", "555").id == "w3:cb"


def _restored_with_ring_forgotten(n_agents: int = 3):
    """a1 rings for c1 at the snapshot; a restored router has forgotten it."""
    agents = [make_agent(f"a{i}", {"s": 1}) for i in range(1, n_agents + 1)]
    r, clock, out = build([make_queue("q", {"s": 1})], agents)
    r.login("a1")
    r.enqueue("c1", "q")
    assert offers(out) == [("c1", "a1")]
    data = json.loads(json.dumps(r.snapshot()))
    out2 = RecordingOutput()
    return Router.restore(r.config, clock, out2, data), clock, out2


def test_adopt_offer_makes_the_router_agree_with_a_ring_asterisk_has():
    r, clock, out = _restored_with_ring_forgotten()
    # The restored router re-offered c1 to a1 itself: adopting is a no-op.
    assert offers(out) == [("c1", "a1")]
    assert r.adopt_offer("c1", "a1") is True
    assert r.agent("a1").state is AgentState.RESERVED and r.agent("a1").item_id == "c1"
    r.offer_result("c1", Outcome.ANSWERED)
    assert r.agent("a1").state is AgentState.ON_CALL


def test_adopt_offer_withdraws_what_either_side_was_offered_meanwhile():
    agents = [make_agent(f"a{i}", {"s": 1}) for i in range(1, 3)]
    r, clock, out = build([make_queue("q", {"s": 1})], agents)
    r.enqueue("c1", "q")
    clock.advance(1)
    r.enqueue("c2", "q")
    r.login("a2")  # the restarted router's guess: c1 -> a2
    assert offers(out) == [("c1", "a2")]
    r.login("a1")
    assert offers(out) == [("c2", "a1")]
    out.take()
    # Asterisk says: a2 rings for c2, not c1.
    assert r.adopt_offer("c2", "a2") is True
    events = out.take()
    cancelled = [e[1:3] for e in events if e[0] == "cancel_offer"]
    assert ("c1", "a2") in cancelled and ("c2", "a1") in cancelled
    assert r.agent("a2").state is AgentState.RESERVED and r.agent("a2").item_id == "c2"
    # c1 went back to the head without a miss on anyone, and a1 (let go) takes it.
    assert r.agent("a1").item_id == "c1" and r.agent("a1").misses == 0
    assert r.agent("a2").misses == 0


def test_adopt_offer_keeps_a_pause_the_agent_asked_for_while_ringing():
    agents = [make_agent("a1", {"s": 1})]
    r, clock, out = build([make_queue("q", {"s": 1})], agents)
    r.login("a1")
    r.enqueue("c1", "q")
    r.pause("a1", "meal")  # while ringing: pending
    data = json.loads(json.dumps(r.snapshot()))
    r2 = Router.restore(r.config, clock, RecordingOutput(), data)
    assert r2.agent("a1").state is AgentState.PAUSED  # restored into the pause
    assert r2.adopt_offer("c1", "a1") is True
    assert r2.agent("a1").state is AgentState.RESERVED
    r2.offer_result("c1", Outcome.NO_ANSWER)
    assert r2.agent("a1").state is AgentState.PAUSED
    assert r2.agent("a1").pause_reason == "meal"


def test_adopt_offer_refused_when_the_agent_cannot_hold_the_call():
    r, clock, out = _restored_with_ring_forgotten()
    r.offer_result("c1", Outcome.ANSWERED)  # a1 took c1 after the restore
    r.enqueue("c2", "q")  # a2 and a3 are logged out: c2 waits
    assert r.adopt_offer("c2", "a1") is False  # on another answered call
    assert r.adopt_offer("c2", "a3") is False  # logged out
    assert r.adopt_offer("nobody", "a2") is False
    assert r.agent("a3").state is AgentState.LOGGED_OUT
    assert [w.id for w in r.waiting()] == ["c2"] and r.agent("a1").item_id == "c1"


def test_enqueue_since_keeps_the_original_place():
    agents = [make_agent("a1", {"s": 1})]
    r, clock, out = build([make_queue("q", {"s": 1})], agents)
    t0 = clock.seconds()
    clock.advance(10)
    r.enqueue("later", "q")
    with r.batch():
        r.enqueue("earlier", "q", since=t0)
        assert [(w.id, w.enqueued_at) for w in r.waiting()] == [("earlier", t0),
                                                                ("later", t0 + 10)]
        r.login("a1")
        assert offers(out) == []  # nothing offered inside the batch
    assert offers(out) == [("earlier", "a1")]  # at the end, to the one placed first


def test_forget_drops_a_waiting_call_without_stats_or_outputs():
    r, clock, out = build([make_queue("q", {"s": 1})], [make_agent("a1", {"s": 1})])
    r.enqueue("served-meanwhile", "q")
    out.take()
    assert r.forget("served-meanwhile") is True
    assert r.waiting() == [] and out.take() == []
    assert r.queue_kpis("q").abandoned == 0
    assert r.forget("served-meanwhile") is False


def test_a_return_visit_keeps_its_case_over_a_restart():
    r, clock, out = build([make_queue("q", {"s": 1})], [make_agent("a1", {"s": 1})])
    r.add_follow_up("rv-GD1-2", "q", "13900000001", clock.seconds() + 7200, "回访 GD1",
                    case_id="GD1")
    r.add_follow_up("fu-1", "q", "13900000002", clock.seconds() + 60)
    data = json.loads(json.dumps(r.snapshot()))
    r2 = Router.restore(r.config, clock, RecordingOutput(), data)
    assert [(w.id, w.case_id, w.due_at) for w in r2.waiting()] == [
        ("fu-1", None, clock.seconds() + 60), ("rv-GD1-2", "GD1", clock.seconds() + 7200)]
    # a snapshot written before items had a case restores as before
    for item in data["waiting"]:
        item.pop("case_id", None)
    r3 = Router.restore(r.config, clock, RecordingOutput(), data)
    assert [w.case_id for w in r3.waiting()] == [None, None]
