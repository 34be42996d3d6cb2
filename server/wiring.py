"""The call side's object graph and its one subscription table.

The composition root (server/app.py) and the test rigs (tests/e2e_support.py)
build the call side here, so both run the same graph: the ``CallCenter`` with
the ACD router, the AGI driver and the outbound placer, the feature codes, and
the resync.  ``subscriptions`` is the one place that says which handler gets
which AMI event, in which order (several handlers of one event run in the order
listed: the AGI driver closes a session before the calls see its Hangup, and the
calls before the outbound placer); ``agi_contexts`` says which AsyncAGI contexts
go to which handler.  No constructor subscribes itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ivr.outage import OutageBoard
from queues.router import Router
from server.agi import AgiDriver, AgiSession
from server.ami.codec import Message
from server.call.center import CallCenter
from server.call.livestate import LiveState
from server.config import Config
from server.features import FEATURE_CONTEXTS, FeatureCodes, Verify, verify_in_thread
from server.notify import Notifier
from server.outbound import CALLBACK_CONTEXT, OutboundPlacer
from server.resync import Resync

__all__ = ["CallSide", "agi_contexts", "build_call_side", "subscriptions", "wire"]

EventHandler = Callable[[Message], object]
SessionHandler = Callable[[AgiSession, Message], object]


@dataclass(frozen=True)
class CallSide:
    """What ``build_call_side`` built (each part built once, with what it needs)."""

    calls: CallCenter
    outbound: OutboundPlacer | None
    features: FeatureCodes | None
    resync: Resync | None


def subscriptions(side: CallSide) -> list[tuple[str, EventHandler]]:
    """Which handler gets which AMI event, in this order."""
    calls, agi = side.calls, side.calls.agi
    table: list[tuple[str, EventHandler]] = [
        ("AsyncAGIStart", agi.async_agi_start),
        ("AsyncAGIExec", agi.async_agi_exec),
        ("AsyncAGIEnd", agi.async_agi_end),
        ("Hangup", agi.hangup),  # first: the session is closed before anybody sees the Hangup
        ("DialBegin", calls.dial_begin),
        ("DialEnd", calls.dial_end),
        ("Hangup", calls.hangup),
        ("Hold", calls.hold),
        ("Unhold", calls.unhold),
        ("BridgeLeave", calls.bridge_leave),
        ("DeviceStateChange", calls.device_state),
        ("UserEvent", calls.user_event),
    ]
    if side.resync is not None:
        table.append(("FullyBooted", side.resync.booted))
    if side.outbound is not None:
        table += [
            ("OriginateResponse", side.outbound.originate_response),
            ("DialBegin", side.outbound.dial_begin),
            ("DialEnd", side.outbound.dial_end),
            ("Hangup", side.outbound.hangup),
        ]
    return table


def agi_contexts(side: CallSide) -> list[tuple[str, SessionHandler]]:
    """AsyncAGI sessions started in these dialplan contexts go to these handlers (the
    hotline's own callers, in any other context, to the calls)."""
    table: list[tuple[str, SessionHandler]] = []
    if side.outbound is not None:
        table.append((CALLBACK_CONTEXT, side.outbound.agi_started))
    if side.features is not None:
        table += [(context, side.features.started) for context in FEATURE_CONTEXTS]
    return table


def wire(ami: Any, side: CallSide) -> None:
    """Subscribe everything in the tables above, and the resync to the link's state."""
    for name, handler in subscriptions(side):
        ami.router.subscribe(name, handler)
    for context, session_handler in agi_contexts(side):
        side.calls.route_context(context, session_handler)
    if side.outbound is not None:
        side.calls.notifier.subscribe(side.outbound.notified)
    if side.resync is not None:
        ami.on_state(side.resync.link_state)
        ami.on_connect(side.resync.run)


def build_call_side(clock: Any, cfg: Config, ami: Any, *, save: Callable[[dict[str, Any]], object],
                    bills: Any, notifier: Notifier | None = None,
                    live: LiveState | None = None, outages: OutageBoard | None = None,
                    ring_timeout_s: int = 20, hold_chunk_s: int = 20,
                    verify: Verify = verify_in_thread, resync: bool = True,
                    outbound: bool = True, features: bool = True,
                    wired: bool = True, case_owner: Callable[..., Any] | None = None,
                    login_throttle: Any = None) -> CallSide:
    """Build (and, ``wired``, subscribe) the call side.  ``resync``, ``outbound``,
    ``features``: also the resync after each login, the callback placer, the agents'
    feature codes (the daemon has all three; a test rig may leave one out).
    ``case_owner``: the case store's question whose open case a caller has
    (``CaseService.open_case_owner``), for routing to the owner first.
    ``login_throttle``: the sign-in throttle the web uses too, for ``*11``."""
    notifier = notifier if notifier is not None else Notifier()

    def placer(acd: Router, agi: AgiDriver) -> OutboundPlacer:
        return OutboundPlacer(clock, ami, agi, acd, notifier, save, agent_ring_s=ring_timeout_s)

    calls = CallCenter(clock, cfg, ami, save=save, bills=bills, notifier=notifier, live=live,
                       outages=outages if outages is not None else OutageBoard(),
                       ring_timeout_s=ring_timeout_s, hold_chunk_s=hold_chunk_s,
                       router=lambda output: Router(cfg.acd, clock, output),
                       agi=lambda **handlers: AgiDriver(ami, **handlers),
                       placer=placer if outbound else None, case_owner=case_owner)
    placed = calls.outbound if isinstance(calls.outbound, OutboundPlacer) else None
    side = CallSide(calls, placed,
                    FeatureCodes(calls.agi, calls.acd, verify=verify,
                                 throttle=login_throttle) if features else None,
                    Resync(clock, calls, calls.acd, calls.agi) if resync else None)
    if wired:
        wire(ami, side)
    return side
