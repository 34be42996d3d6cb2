"""The router runs on the shipped default config (config/*.yaml via server.config)."""

from __future__ import annotations

import pathlib

import pytest
from twisted.internet.task import Clock

from queues.items import Outcome
from queues.router import Router
from tests.acd_support import RecordingOutput
from tests.test_acd_routing import T0

CONFIG = pathlib.Path(__file__).resolve().parent.parent / "config"


def test_every_queue_routes_on_the_default_config():
    config_mod = pytest.importorskip("server.config")
    acd = config_mod.load_config(CONFIG).acd
    clock = Clock()
    clock.advance(T0)
    out = RecordingOutput()
    r = Router(acd, clock, out)
    for aid in acd.agents:
        r.login(aid)
    for name in acd.queues:
        r.enqueue(f"call-{name}", name)
    offered = {e[1] for e in out.take("offer")}
    assert offered, "no queue found an agent"
    # whatever waits says why, in words
    for w in r.waiting():
        assert r.explain_wait(w.id).text
    for cid in offered:
        r.offer_result(cid, Outcome.ANSWERED)
        r.call_ended(cid)
    clock.advance(acd.policy.wrapup_default_s)
    for w in r.waiting():
        r.abandon(w.id)
    assert r.waiting() == [] and clock.getDelayedCalls() == []


def test_shipped_complaint_overflows_to_general_but_never_rings_trainee_1001():
    """Issue 14: after 180 s a complaint overflowed to general and rang trainee 1001."""
    from server.config import load_config

    acd = load_config(CONFIG).acd
    clock = Clock()
    clock.advance(T0)
    out = RecordingOutput()
    r = Router(acd, clock, out)
    r.enqueue("complaint", "complaints")
    clock.advance(180)
    assert out.take("overflowed") == [("overflowed", "complaint", "complaints", "general")]
    r.login("1001")  # trainee, general 2
    r.login("1005")  # agent, general 3
    assert out.take("offer") == []
    r.login("1014")  # senior, general 4 (and complaint 4)
    assert [(e[1], e[2]) for e in out.take("offer")] == [("complaint", "1014")]
