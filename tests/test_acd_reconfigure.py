"""Queue parameters changed at run time (PATCH /api/queues) reach every part of the router."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from queues.model import EscalationStep
from server.bench.acd_sample import make_agent, make_queue
from tests.test_acd_routing import build


def _with_queue(r, name, **changes):
    cfg = r.config
    q = replace(cfg.queues[name], **changes)
    return replace(cfg, queues=MappingProxyType({**cfg.queues, name: q}))


def test_new_max_wait_and_escalation_apply_to_later_calls():
    r, clock, out = build([make_queue("q", {"s": 3}, max_wait_s=3600)],
                          [make_agent("a1", {"s": 1})])  # fmt: skip
    r.login("a1")  # level 1: does not qualify for the base level 3
    r.enqueue("c1", "q")  # its timer was armed under the old parameters
    r.reconfigure(_with_queue(r, "q", max_wait_s=60,
                              escalation=(EscalationStep(20, any_level=True),)))  # fmt: skip
    r.enqueue("c2", "q")
    out.take()
    clock.advance(20)  # c2's escalation step: any level, and the next pass offers c1 first
    assert out.take("offer") and r.explain_wait("c2").step.startswith("after 20s")
    clock.advance(40)  # c2 reaches the new maximum wait; c1 still waits under the old one
    assert ("overflowed", "c2", "q", None) in out.take("overflowed")
    assert r.is_waiting("c1") and not r.is_waiting("c2")


def test_reconfigure_replaces_the_config_the_router_reads():
    r, _, _ = build([make_queue("q")], [make_agent("a1", {"q": 1})])
    new = _with_queue(r, "q", callback_offer_after_s=5)
    r.reconfigure(new)
    assert r.config is new
