"""Snapshot to plain dicts and restore after a restart."""

from __future__ import annotations

import json

from twisted.internet.task import Clock

from queues.agents import AgentState
from queues.items import Outcome
from queues.router import Router
from queues.sample import RecordingOutput, make_agent, make_queue
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
