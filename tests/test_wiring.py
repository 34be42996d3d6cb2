"""The call side's wiring (server/wiring.py): one subscription table, nothing subscribed
by a constructor, nothing assigned after construction."""

from __future__ import annotations

from server.ami.router import EventRouter
from server.call.center import CallCenter
from server.features import FEATURE_CONTEXTS
from server.outbound import CALLBACK_CONTEXT
from server.wiring import agi_contexts, build_call_side, subscriptions
from tests.e2e_support import Rig


class _Ami:
    def __init__(self) -> None:
        self.router = EventRouter()
        self.hooks: list[str] = []

    def on_connect(self, hook) -> None:
        self.hooks.append("connect")

    def on_state(self, listener) -> None:
        self.hooks.append("state")


def test_no_constructor_subscribes_itself():
    rig = Rig()
    ami = _Ami()
    CallCenter(rig.clock, rig.cfg, ami, save=lambda r: None, bills=None)
    side = build_call_side(rig.clock, rig.cfg, _Ami(), save=lambda r: None, bills=None,
                           wired=False)
    assert side.outbound is not None and side.features is not None and side.resync is not None
    assert not any(ami.router._handlers.values())


def test_the_table_is_what_the_router_runs_in_its_order():
    rig = Rig()
    ami = _Ami()
    side = build_call_side(rig.clock, rig.cfg, ami, save=lambda r: None, bills=None)
    table = subscriptions(side)
    for name in {n for n, _ in table}:
        assert list(ami.router._handlers[name]) == [h for n, h in table if n == name]
    # A Hangup closes the AGI session first, then the calls see it, then the placer.
    hangup = [h for n, h in table if n == "Hangup"]
    assert hangup == [side.calls.agi.hangup, side.calls.hangup, side.outbound.hangup]
    assert ami.hooks == ["state", "connect"]  # the resync follows the link


def test_the_router_places_callbacks_through_the_placer_the_root_built():
    rig = Rig()
    side = build_call_side(rig.clock, rig.cfg, _Ami(), save=lambda r: None, bills=None)
    assert side.calls.outbound is side.outbound
    assert side.outbound.acd is side.calls.acd and side.outbound.agi is side.calls.agi
    contexts = dict(agi_contexts(side))
    assert contexts[CALLBACK_CONTEXT] == side.outbound.agi_started
    assert all(contexts[c] == side.features.started for c in FEATURE_CONTEXTS)
