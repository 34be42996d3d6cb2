"""A call's phase changes, its ends, and its record: what every other part calls.

``set_phase`` moves a call through the table in server/call/phase.py and tells the
notifier; ``agent_left`` and ``caller_left`` are the two ends of a conversation;
``fell_back`` hands a caller to the dialplan's fallback queue; ``maybe_finish``
writes the final record once the caller is gone and any wrap-up has ended.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from twisted.internet import defer
from twisted.python.failure import Failure

from server.ami.protocol import AmiActionError
from server.call.deps import CallDeps, CallOps, Part
from server.call.phase import CallPhase as P
from server.call.phase import PhaseInput, next_phase
from server.call.table import Call
from server.endfacts import FALLBACK_QUEUE, EndFacts, record_fallback
from server.records.model import CallRecorder


class Lifecycle(Part):
    """Phase changes, ends and records.  ``ops``: the goodbye and the IVR outputs
    (``Inbound``, built after this part)."""

    def __init__(self, deps: CallDeps, ops: CallOps) -> None:
        super().__init__(deps)
        self.ops = ops

    def set_phase(self, call: Call, event: PhaseInput) -> None:
        """Move the call on through the phase table (server/call/phase.py) and tell."""
        call.phase = phase = next_phase(call.id, call.phase, event)
        self.notifier.publish("call", {
            "call_id": call.id, "phase": phase, "queue": call.queue, "agent_id": call.agent_id,
            "caller": call.caller, "at": self.clock.seconds()})

    def screen(self, call_id: str) -> dict[str, Any] | None:
        """What the agent's desk shows when this call is offered (the screen-pop)."""
        call = self.table.calls.get(call_id)
        if call is None:
            return None
        rec = call.record.snapshot()
        enqueued = next((e.t for e in rec.timeline if e.kind == "enqueued"), None)
        return {"call_id": call.id, "caller": call.caller, "account": call.account,
                "ivr_path": [list(p) for p in call.ivr.path], "intent": call.intent,
                "queue": call.queue, "language": call.ivr.language,
                "waited_s": None if enqueued is None else self.clock.seconds() - enqueued}

    def persist(self, call: Call, final: bool = False) -> None:
        self.livestate.save(call, final)
        self.write_record(call.record, final)

    def write_record(self, rec: CallRecorder, final: bool) -> None:
        d = defer.maybeDeferred(self.deps.save, rec.to_dict())
        if final:
            self.notifier.publish("record", rec.to_dict())  # its own copy

            def written(_: object) -> None:
                self.counters["records_written"] += 1
            d.addCallback(written)
        d.addErrback(lambda f: self.log.failure("Record for {call} not saved", f,
                                                call=rec.call_id))

    def maybe_finish(self, call: Call) -> None:
        """A record is final once the caller is gone and any wrap-up has ended."""
        if not call.caller_gone or not call.wrap_done or call.id not in self.table.calls:
            return
        self.router_lets_go(call)
        outcome = call.outcome or ("answered" if call.talked else "ivr_hangup")
        if call.talked:
            outcome = "answered"
        if call.system_failure:
            outcome = "system_failure"
        ended = self.clock.seconds() if call.ended_at is None else call.ended_at
        call.record.finish(ended, outcome)
        self.table.remove(call)
        self.counters["calls_ended"] += 1
        self.persist(call, final=True)

    def router_lets_go(self, call: Call) -> None:
        """A finished call leaves nothing in the router.  In the normal course it
        holds nothing by now; after a restart whose live state of the call was
        older than the router's snapshot (both written while Redis was failing),
        it may still hold the agent on the call, who would never be free again."""
        if self.acd.item(call.id) is None:
            return
        self.log.warn("{call}: finished while the router still held it; releasing",
                      call=call.id)
        if not self.acd.abandon(call.id):
            self.acd.call_ended(call.id)  # the agent goes on to after-call work

    def wrap_ended(self, call: Call) -> None:
        call.wrap_done = True
        # Keep a disposition the agent set on the desk during the call.
        disposition = call.record.snapshot().disposition or "none"
        ended = self.clock.seconds() if call.wrap_end_at is None else call.wrap_end_at
        call.record.wrap_up_end(ended, disposition)
        if call.caller_gone:
            self.maybe_finish(call)
        else:
            self.persist(call)  # a restart must know the wrap-up is over

    def agent_left(self, call: Call, now: float) -> None:
        """The agent's leg left: the bridge is over; the caller goes on to the survey.

        If the caller's leg left the bridge first, the caller ended the talk, at that
        time, even when the agent's leg is the first to report a Hangup."""
        self.table.forget_agent_channel(call)
        if call.phase != P.TALKING:
            return
        if call.caller_left_bridge_at is not None:
            call.record.bridge_end(call.caller_left_bridge_at, "caller")
        else:
            call.record.bridge_end(now, "agent")
        self.set_phase(call, PhaseInput.TALK_ENDED if self.cfg.ivr.survey.enabled
                        else PhaseInput.TALK_ENDED_NO_SURVEY)
        self.acd.call_ended(call.id)
        self.persist(call)
        if call.in_phase(P.ENDED):  # the table decided: no survey
            self.ops.farewell(call)

    def caller_left(self, call: Call, now: float) -> None:
        call.caller_gone = True
        self.table.drop_channel(call)
        phase = call.phase
        if phase == P.TALKING:
            call.record.bridge_end(call.caller_left_bridge_at or now, "caller")
            self.table.forget_agent_channel(call)
            self.acd.call_ended(call.id)
        elif phase in (P.QUEUED, P.CONNECTING):
            if call.hold is not None:
                call.hold.on_hangup(now)
            self.acd.abandon(call.id)
        elif phase in (P.IVR, P.SURVEY):
            self.ops.run(call, call.ivr.on_hangup(now))
            if phase == P.IVR and call.outcome is None:
                self.counters["ivr_hangup"] += 1
                call.outcome = "ivr_hangup"
        elif phase == P.FALLBACK and call.outcome is None:
            # Gone from the fallback queue without the hangup handler's facts (a
            # dialplan without it): how it ended there is not known.
            call.outcome, call.system_failure = "system_failure", True
        self.set_phase(call, PhaseInput.HUNG_UP)
        self.maybe_finish(call)

    def record_unseen(self, call_id: str, caller: str, dialled: str, entered: float,
                      note: str, facts: EndFacts | None = None) -> None:
        """A caller who came while no AMI session of ours existed and whom we never
        saw (the dialplan's AstDB note, server/resync.py): a final record, so the
        call is counted.  With the hangup handler's ``facts`` of a caller who went
        to the fallback queue, how it ended there; otherwise nothing is known of it
        past its arrival."""
        if call_id in self.table.calls:
            return
        fell_back = note.startswith("fallback") or bool(facts and facts.fallback)
        self.counters["safety_fallbacks" if fell_back else "unseen_calls"] += 1
        rec = CallRecorder(call_id, entered, caller, dialled)
        outcome, ended = "system_failure", entered
        if facts is not None and facts.fallback:
            note = f"fallback: {facts.fallback}"
            agent_id = self.agent_by_iface.get(facts.member)
            agent = self.cfg.acd.agents.get(agent_id or "")
            outcome = record_fallback(rec, facts, agent_id, agent.tier if agent else None,
                                      f"{facts.uniqueid}.wav" if facts.uniqueid else None)
        if facts is not None and facts.end is not None:
            ended = facts.end
        rec.update(notes=note)
        rec.finish(ended, outcome)
        self.counters["calls_ended"] += 1
        self.write_record(rec, final=True)

    def record_path(self, call: Call) -> None:
        """The IVR keys the record does not have yet (the menu path so far)."""
        known = len(call.record.snapshot().ivr_path)
        for menu, key in call.ivr.path[known:]:
            call.record.ivr_key(menu, key)

    def fell_back(self, call: Call, reason: str, at: float | None = None,
                   clear_deadline: bool = False) -> None:
        """The dialplan's safety net took the caller to the plain Asterisk queue.

        From here app_queue serves them, not us: the router lets go of the call
        (neither served nor abandoned here), and the record waits in phase
        ``fallback`` for how it ends there, which the dialplan's hangup handler
        tells (``UserEvent HotlineCallEnd``, or AstDB if we are away by then;
        server/endfacts.py).  ``clear_deadline``: cancel a ``TIMEOUT(absolute)``
        that may still be pending on the channel.
        """
        if clear_deadline:
            self.clear_deadline(call.channel)
        self.log.warn("{call}: the dialplan fell back to the Asterisk queue ({reason}) "
                      "in phase {phase}", call=call.id, reason=reason, phase=call.phase)
        self.counters["safety_fallbacks"] += 1
        now = self.clock.seconds() if at is None else at
        if not call.record.snapshot().notes:
            call.record.update(notes=f"fallback: {reason}")
        if call.phase == P.IVR:
            self.record_path(call)  # the keys pressed before, as for a hang-up there
        call.record.fallback(now, reason, FALLBACK_QUEUE)
        if call.hold is not None:
            call.hold.stop()
        self.table.forget_agent_channel(call)
        call.in_farewell = call.offer_pending = False
        call.agent_id = None if not call.talked else call.agent_id
        if self.acd.item(call.id) is not None and not self.acd.forget(call.id):
            self.acd.call_ended(call.id)
        self.set_phase(call, PhaseInput.FELL_BACK)
        self.persist(call)

    def clear_deadline(self, channel: str) -> None:
        """Cancel a pending ``TIMEOUT(absolute)``: when it fired, app_queue would end and
        the dialplan's ``T`` extension would apologise again, or hang up a caller
        talking to an agent.  AMI's ``AbsoluteTimeout`` refuses 0 (manager.c
        action_timeout); ``TIMEOUT(absolute)=0`` cancels (func_timeout.c)."""
        d = self.ami.sendAction("Setvar", [("Channel", channel),
                                           ("Variable", "TIMEOUT(absolute)"), ("Value", "0")])

        def failed(failure: Failure) -> None:
            if (isinstance(failure.value, AmiActionError)
                    and failure.value.response.get("Message") == "No such channel"):
                return  # gone meanwhile: nothing left to cancel
            self.log.warn("Could not cancel the deadline of {channel} in the fallback: {e}",
                          channel=channel, e=failure.getErrorMessage())

        d.addErrback(failed)

    def driven_channels(self) -> Iterator[str]:
        """Callers this server is driving in AsyncAGI now: the safety net keeps their
        deadlines fresh (server/safety.py).  Not while an agent's phone rings or
        during the conversation: the dialplan has no deadline there.

        None at all between a restore (or a link loss) and the reconcile: a restored
        caller may have left AsyncAGI for the fallback queue meanwhile, and a deadline
        pushed there takes them out of it again, for a second apology and a new place
        at the back, or cuts off their conversation with an agent (trace 15)."""
        if self.sync.syncing:
            return
        for call in self.table.calls.values():
            if call.caller_gone or not self.table.owns_channel(call):
                continue
            if call.phase in (P.IVR, P.QUEUED, P.SURVEY) or call.in_farewell:
                yield call.channel
