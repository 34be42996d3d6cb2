"""The call adapter's front: what the composition root builds and the router talks to.

``CallCenter`` owns the live calls (server/call/table.py) and builds the parts that
handle them, each in its own module:

========================  ====================================================
``lifecycle.Lifecycle``   phase changes (server/call/phase.py), ends, records
``inbound.Inbound``       AsyncAGI -> IVR engine and waiting loop -> AGI commands
``connect.Connector``     offers, Setvar/Redirect, dial and bridge events
``reconcile.Reconciler``  after a link loss or Asterisk's restart
``restore.Restorer``      after our own restart (the live state in Redis)
``livestate``             serialised live-state writes, the router snapshot
========================  ====================================================

It is the ACD router's output (``offer``, ``cancel_offer``, ...), and the one
object the rest of the server (resync, safety net, web, metrics) holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from twisted.logger import Logger

from ivr.outage import OutageBoard
from queues.agents import AgentState
from queues.items import Decision, Outcome, WorkItem
from queues.model import AcdConfig
from queues.router import Router
from server.agi import AgiDriver, AgiSession
from server.ami.codec import Message
from server.call.connect import Connector
from server.call.deps import CallDeps, SyncState
from server.call.inbound import Inbound
from server.call.lifecycle import Lifecycle
from server.call.livestate import LiveState, LiveStateWriter
from server.call.phase import CallPhase as P
from server.call.phase import PhaseInput
from server.call.reconcile import Reconciler
from server.call.restore import Restorer
from server.call.table import Call, CallTable
from server.config import Config
from server.endfacts import EndFacts
from server.notify import Notifier

__all__ = ["CallCenter", "CallbackPlacer"]


class CallbackPlacer(Protocol):
    """Places a callback or follow-up the router picked an agent for (server/outbound.py)."""

    def place(self, item: WorkItem, agent_id: str, decision: Decision) -> None: ...


class CallCenter:
    """Owns the live calls.  Built by the composition root; see server/app.py.

    :param clock: ``seconds()`` and ``callLater`` (the reactor, or ``task.Clock``).
    :param ami: the ``AmiService`` (``sendAction``, ``router`` and ``connected``).
    :param save: ``save(record_dict)`` persists a record (``DurableRecords.put``).
    :param bills: ``lookup(account) -> Deferred[BillInfo | None]``.
    :param live: where the live state goes (None: nothing kept for a restart).
    """

    log = Logger()

    def __init__(self, clock: Any, cfg: Config, ami: Any, *,
                 save: Callable[[dict[str, Any]], object], bills: Any,
                 outages: OutageBoard | None = None, ring_timeout_s: int = 20,
                 hold_chunk_s: int = 20, notifier: Notifier | None = None,
                 live: LiveState | None = None,
                 router: Callable[[Any], Router] | None = None,
                 agi: Callable[..., AgiDriver] | None = None,
                 placer: Callable[[Router, AgiDriver], CallbackPlacer] | None = None,
                 case_owner: Callable[..., Any] | None = None) -> None:
        """``router``, ``agi`` and ``placer`` build the collaborators that talk back to this
        object (the root passes them; server/wiring.py): ``router(output)`` the ACD router
        with this object as its output, ``agi(on_start=, on_end=, on_orphan=)`` the AGI
        driver, ``placer(acd, agi)`` what places callbacks (None: none is placed; the
        router gets each back).  The defaults build a plain Router and AgiDriver.
        ``case_owner(account=, phone=)``: a Deferred firing with the caller's open case
        and its owner, tried first (``CaseService.open_case_owner``; None: no cases)."""
        self.clock = clock
        self.ami = ami
        self.acd = (router or (lambda out: Router(cfg.acd, clock, out)))(self)
        self.agi = (agi or (lambda **kw: AgiDriver(ami, **kw)))(
            on_start=self._agi_started, on_end=self._agi_ended, on_orphan=self._orphan_result)
        self.table = CallTable()
        self.livestate = LiveStateWriter(clock, live, self.table.calls, self.acd.snapshot)
        self.deps = CallDeps(
            clock=clock, cfg=cfg, ami=ami, agi=self.agi, acd=self.acd, table=self.table,
            livestate=self.livestate,
            notifier=notifier if notifier is not None else Notifier(),
            outages=outages if outages is not None else OutageBoard(), bills=bills,
            save=save, ring_timeout_s=ring_timeout_s, hold_chunk_s=hold_chunk_s,
            sync=SyncState(), case_owner=case_owner)
        self.lifecycle = Lifecycle(self.deps, self)
        self.inbound = Inbound(self.deps, self.lifecycle, self)
        self.connector = Connector(self.deps, self.inbound, self.lifecycle)
        self.reconciler = Reconciler(self.deps, self.lifecycle, self.inbound, self.connector)
        self.restorer = Restorer(self.deps, self.lifecycle, self.connector)
        #: places callbacks and follow-ups (server/outbound.py); None: not wired
        self.outbound = placer(self.acd, self.agi) if placer is not None else None

    # ---------------------------------------------------------------- what others read

    @property
    def calls(self) -> dict[str, Call]:
        """The live calls by id (read by the web API, metrics and tests)."""
        return self.table.calls

    @property
    def cfg(self) -> Config:
        return self.deps.cfg

    @cfg.setter
    def cfg(self, cfg: Config) -> None:
        """``PATCH /api/queues`` replaces the ACD configuration: every part sees it."""
        self.deps.cfg = cfg

    @property
    def live(self) -> LiveState | None:
        return self.livestate.live

    @property
    def notifier(self) -> Notifier:
        return self.deps.notifier

    @property
    def outages(self) -> OutageBoard:
        return self.deps.outages

    @property
    def counters(self) -> dict[str, int]:
        return self.deps.counters

    @property
    def ring_timeout_s(self) -> int:
        return self.deps.ring_timeout_s

    @property
    def syncing(self) -> bool:
        """Between a link loss (or a restore) and the reconcile."""
        return self.deps.sync.syncing

    @property
    def entry_contexts(self) -> frozenset[str]:
        return self.deps.entry_contexts

    def screen(self, call_id: str) -> dict[str, Any] | None:
        """What the agent's desk shows when this call is offered (the screen-pop)."""
        return self.lifecycle.screen(call_id)

    def driven_channels(self) -> Iterator[str]:
        """Callers this server drives in AsyncAGI now (server/safety.py)."""
        return self.lifecycle.driven_channels()

    def route_context(self, context: str, handler: Callable[[AgiSession, Message], object]
                      ) -> None:
        """Send AsyncAGI sessions started in dialplan ``context`` to ``handler``."""
        self.inbound.route_context(context, handler)

    # ---------------------------------------------------------------- follow-ups (回访)

    @property
    def acd_config(self) -> AcdConfig:
        return self.acd.config

    def item(self, item_id: str) -> WorkItem | None:
        return self.acd.item(item_id)

    def add_follow_up(self, item_id: str, queue: str, number: str, due_at: float,
                      note: str = "", case_id: str | None = None) -> WorkItem:
        """The router's ``add_follow_up`` (ValueError likewise), and the router's snapshot
        saved soon after: a follow-up waiting for its due time moves nothing else that
        would save it, and a restart must find it (server/return_visits.py, the desk)."""
        item = self.acd.add_follow_up(item_id, queue, number, due_at, note, case_id)
        self.livestate.schedule_router_save()
        return item

    def cancel_item(self, item_id: str, reason: str = "cancelled") -> bool:
        """The router's ``cancel_item``; the snapshot is saved soon after."""
        done = self.acd.cancel_item(item_id, reason)
        self.livestate.schedule_router_save()
        return done

    # ---------------------------------------------------------------- recovery (server/resync.py)

    def restore(self, live: dict[str, dict[str, Any]], records: dict[str, dict[str, Any]]
                ) -> int:
        """Rebuild calls and the router from Redis after a restart; returns calls restored."""
        return self.restorer.restore(live, records)

    def reconcile(self, channels: list[Message],
                  facts: dict[str, EndFacts] | None = None) -> None:
        """Bring the calls in line with Asterisk's channel list after a (re)connect."""
        self.reconciler.reconcile(channels, facts)

    def link_lost(self) -> None:
        self.reconciler.link_lost()

    def asterisk_restarted(self) -> None:
        self.reconciler.asterisk_restarted()

    def adopt_fallback(self, call_id: str, channel: str, caller: str, dialled: str,
                       entered: float, note: str) -> None:
        self.reconciler.adopt_fallback(call_id, channel, caller, dialled, entered, note)

    def record_unseen(self, call_id: str, caller: str, dialled: str, entered: float,
                      note: str, facts: EndFacts | None = None) -> None:
        self.lifecycle.record_unseen(call_id, caller, dialled, entered, note, facts)

    def stop(self) -> None:
        """Cancel the pending live-state timers (service shutdown)."""
        self.livestate.stop()

    # ---------------------------------------------------------------- CallOps (server/call/deps.py)

    def farewell(self, call: Call) -> None:
        self.inbound.farewell(call)

    def run(self, call: Call, outputs: list[Any]) -> None:
        self.inbound.run(call, outputs)

    def ask_dial(self, call: Call, session: AgiSession) -> None:
        self.connector.ask_dial(call, session)

    # ---------------------------------------------------------------- AGI driver and events

    def _agi_started(self, session: AgiSession, event: Message) -> None:
        self.inbound.agi_started(session, event)

    def _agi_ended(self, session: AgiSession, event: Message) -> None:
        self.inbound.agi_ended(session, event)

    def _orphan_result(self, channel: str, tag: str, result: Any) -> None:
        self.reconciler.orphan_result(channel, tag, result)

    def dial_begin(self, event: Message) -> None:
        self.connector.dial_begin(event)

    def dial_end(self, event: Message) -> None:
        self.connector.dial_end(event)

    def hangup(self, event: Message) -> None:
        self.connector.hangup(event)

    def hold(self, event: Message) -> None:
        self.connector.hold(event)

    def unhold(self, event: Message) -> None:
        self.connector.unhold(event)

    def bridge_leave(self, event: Message) -> None:
        """The first BridgeLeave of a conversation tells who ended it (server/call/connect.py)."""
        self.connector.bridge_leave(event)

    def device_state(self, event: Message) -> None:
        self.connector.device_state(event)

    def user_event(self, event: Message) -> None:
        """The dialplan's ``UserEvent``s: its safety net took a caller (``HotlineFallback``),
        or a caller on the fallback path hung up (``HotlineCallEnd``)."""
        name = event.get("UserEvent")
        if name == "HotlineCallEnd":
            self.reconciler.fallback_call_ended(event)
            return
        if name != "HotlineFallback":
            return
        call = self.table.by_channel.get(event.get("Channel", ""))
        if call is not None and call.phase in (P.IVR, P.QUEUED, P.CONNECTING, P.SURVEY):
            # Our last deadline push may have crossed the fallback on the wire.
            self.lifecycle.fell_back(call, event.get("Reason") or "unknown",
                                     clear_deadline=True)

    # ---------------------------------------------------------------- the router's output

    def offer(self, item: WorkItem, agent_id: str, decision: Decision) -> None:
        self.connector.offer(item, agent_id, decision)

    def cancel_offer(self, item: WorkItem, agent_id: str, reason: str) -> None:
        self.connector.cancel_offer(item, agent_id, reason)

    def place_callback(self, item: WorkItem, agent_id: str, decision: Decision) -> None:
        if self.outbound is not None:
            self.outbound.place(item, agent_id, decision)
            return
        # Nothing can place it: give the item back to the router (a retry, not the
        # agent's miss) instead of holding the agent reserved.
        self.log.warn("Callback {id} for {agent}: no outbound placer", id=item.id,
                      agent=agent_id)
        self.clock.callLater(0, self.acd.offer_result, item.id, Outcome.CUSTOMER_NO_ANSWER)

    def agent_state_changed(self, agent_id: str, old: AgentState, new: AgentState,
                            reason: str) -> None:
        self.log.info("Agent {agent}: {old} -> {new} ({reason})", agent=agent_id, old=old,
                      new=new, reason=reason)
        self.notifier.publish("agent", {"agent_id": agent_id, "old": str(old), "new": str(new),
                                        "reason": reason, "at": self.clock.seconds()})
        self.livestate.schedule_router_save()
        if old is AgentState.WRAP_UP and new is not AgentState.WRAP_UP:
            call = self.table.last_of_agent.get(agent_id)
            if call is not None and not call.wrap_done:
                self.lifecycle.wrap_ended(call)

    def call_abandoned(self, item: WorkItem, short: bool) -> None:
        call = self.table.calls.get(item.id)
        if call is not None:
            # ended_at: the caller hung up while we were away (server/endfacts.py)
            call.record.abandoned(self.clock.seconds() if call.ended_at is None
                                  else call.ended_at)
            call.outcome = "abandoned"

    def call_overflowed(self, item: WorkItem, from_queue: str, to_queue: str | None) -> None:
        call = self.table.calls.get(item.id)
        if call is None:
            return
        now = self.clock.seconds()
        if to_queue is not None:
            call.queue = to_queue
            call.record.overflow(now, from_queue, to_queue)
            if call.hold is not None:
                call.hold.queue = to_queue
            return
        call.outcome = "overflowed"
        if call.hold is not None:
            call.hold.stop()
        self.lifecycle.set_phase(call, PhaseInput.OVERFLOWED)
        self.inbound.farewell(call)

    def callback_requested(self, call_item: WorkItem, callback: WorkItem | None) -> None:
        call = self.table.calls.get(call_item.id)
        if call is not None:
            call.outcome = "callback"  # the hold loop says goodbye and hangs up

    def work_item_failed(self, item: WorkItem, reason: str) -> None:
        self.log.warn("Work item {id} failed: {reason}", id=item.id, reason=reason)
