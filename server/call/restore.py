"""After our own restart: rebuild the calls and the router from the live state in Redis.

Channels are not trusted yet: the first resync (server/call/reconcile.py) resumes
the callers still there at a safe point, claims those being connected, and closes
the records of those gone.
"""

from __future__ import annotations

from typing import Any

from ivr.engine import IvrSession
from queues.agents import AgentState
from queues.items import Outcome
from queues.snapshot import restore as restore_router
from server.call.connect import Connector
from server.call.deps import CallDeps, Part
from server.call.lifecycle import Lifecycle
from server.call.phase import CallPhase, PhaseInput, next_phase
from server.call.phase import CallPhase as P
from server.call.table import Call
from server.records.model import CallRecord, CallRecorder


class Restorer(Part):
    """Rebuilds calls and the router's places from Redis (server/call/livestate.py)."""

    def __init__(self, deps: CallDeps, lifecycle: Lifecycle, connector: Connector) -> None:
        super().__init__(deps)
        self.lifecycle = lifecycle
        self.connector = connector

    def phase_known(self, call: Call, phase: CallPhase) -> CallPhase:
        """The call's live state, or its record where that went further.

        Both are written at each step, but a Redis outage can refuse the one
        and let the other through on a retry (the record has its own spool):
        a restart then trusts what happened, not what was last saved."""
        rec = call.record.snapshot()
        kinds = {e.kind for e in rec.timeline}
        call.intent = call.intent or rec.intent
        call.priority = rec.priority if call.priority is None else call.priority
        if phase in (P.IVR, P.QUEUED, P.CONNECTING) and "answered" in kinds and \
                "bridge_end" not in kinds and rec.agent_id in self.cfg.acd.agents:
            call.agent_id, call.talked, call.wrap_done = rec.agent_id, True, False
            call.queue = call.queue or (rec.queues[-1] if rec.queues else None)
            return P.TALKING
        if phase == P.IVR and "enqueued" in kinds and rec.queues:
            call.queue = rec.queues[-1]
            return P.QUEUED
        return phase

    def restore(self, live: dict[str, dict[str, Any]], records: dict[str, dict[str, Any]]
                ) -> int:
        """Rebuild calls and the router from Redis after a restart; returns calls restored.

        Channels are not trusted yet: the first resync (``reconcile``) resumes the
        callers still there at a safe point, claims those being connected, and
        closes the records of those gone.
        """

        self.sync.syncing = True  # no call is connected before the channels are seen
        restored = 0
        for call_id, state in list(live.get("call", {}).items()):
            raw = records.get(call_id)
            if raw is None:
                # Its record is final (or gone): a delete lost with the old process or
                # in a Redis outage.  Drop the entry, or every restart would skip it again.
                self.livestate.write(call_id, None)
                continue
            try:
                ivr = IvrSession.restore(self.cfg.ivr, state["ivr"], is_open=self.is_open,
                                         closed_queue=self.closed_queue)
                call = Call(call_id, state["channel"], state["caller"], state["dialled"], ivr,
                            CallRecorder.resume(CallRecord.from_dict(raw)))
            except (KeyError, ValueError, TypeError) as exc:
                self.log.error("Live state of {call} unusable: {e}", call=call_id, e=exc)
                continue
            for key in ("queue", "intent", "priority", "account", "agent_id", "agent_channel",
                        "talked", "wrap_done", "outcome"):
                setattr(call, key, state.get(key, getattr(call, key)))
            phase = self.phase_known(call, CallPhase(state.get("phase", "ivr")))
            if phase is P.CONNECTING:
                # The router forgets offers in flight; so do we.  If Asterisk is
                # connecting the caller, the reconcile finds whom and claims it.
                phase = next_phase(call_id, phase, PhaseInput.OFFER_LOST)
                call.agent_id, call.agent_channel = None, None
            call.phase = phase
            call.needs_resume = True
            call.dial_unseen = phase == P.QUEUED
            self.table.add(call, on_channel=phase is not P.ENDED)
            if call.agent_channel:
                self.table.bind_agent_channel(call, call.agent_channel)
            if call.agent_id and not call.wrap_done:
                self.table.last_of_agent[call.agent_id] = call
            restored += 1
        # The router last, and nothing offered before it agrees with the calls: the
        # snapshot is debounced, so it can be older than a call's own state.
        snap = live.get("router", {}).get("snapshot")
        now = self.clock.seconds()
        with self.acd.batch():
            if snap:
                try:  # into the router we have: others (metrics, web) hold it already
                    restore_router(self.acd, snap)
                except (ValueError, KeyError) as exc:
                    self.log.error("Router snapshot unusable, starting empty: {e}", e=exc)
            for call in list(self.table.calls.values()):
                self.align_router(call, now)
        self.log.info("Restored {n} live calls from Redis", n=restored)
        return restored

    def align_router(self, call: Call, now: float) -> None:
        """Make the restored router agree with a restored call."""
        if call.phase == P.QUEUED:
            self.connector.ensure_routed(call, now)
            return
        if call.phase == P.TALKING and call.agent_id:
            view = self.acd.agent(call.agent_id)
            if view.item_id == call.id and view.state is AgentState.ON_CALL:
                return
            # Answered after the snapshot: the router must hold the agent on it
            # (and not offer the caller to somebody else).
            self.connector.ensure_routed(call, now)
            if view.state is AgentState.LOGGED_OUT:
                self.acd.login(call.agent_id)  # on a call: logged in, whatever it says
            if self.acd.adopt_offer(call.id, call.agent_id):
                self.acd.offer_result(call.id, Outcome.ANSWERED)
            else:
                self.acd.forget(call.id)
                call.wrap_done = True  # the router has no part in this one
            return
        item = self.acd.item(call.id) if self.acd.is_waiting(call.id) else None
        if call.phase == P.IVR and item is not None and item.queue in self.cfg.acd.queues:
            # Both the call's state and its record were refused (Redis was down)
            # after the caller entered the queue; the router saw it.
            call.phase = next_phase(call.id, call.phase, PhaseInput.FOUND_WAITING)
            call.queue = item.queue
            call.dial_unseen = True
            return
        if self.acd.forget(call.id):
            self.log.info("{call}: past the queue ({phase}) but waiting in the router's "
                          "snapshot; dropped there", call=call.id, phase=call.phase)
        if call.agent_id and not call.wrap_done and call.phase in (P.SURVEY, P.ENDED):
            # A wrap-up the router no longer holds ended while we were away.
            view = self.acd.agent(call.agent_id)
            if view.item_id == call.id and view.state is AgentState.ON_CALL:
                # The snapshot predates the end of the conversation (it is
                # debounced; the call's own state is not): end it now, or the
                # agent would stay on a call that is over.
                self.acd.call_ended(call.id)
            elif view.item_id != call.id or view.state is not AgentState.WRAP_UP:
                self.lifecycle.wrap_ended(call)
