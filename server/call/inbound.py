"""AsyncAGI in, the IVR engine and the waiting loop, AGI commands out.

Per call it feeds the IVR engine (``ivr.engine``) and the waiting loop
(``ivr.hold``) with what the caller's channel reports, handles their outcomes
(into the queue, deflected, self-served, a callback, the survey), and sends the
one AGI command they decide.  The caller's channel keeps its identity across the
whole call: after the Dial the dialplan (deploy/asterisk/extensions.conf,
``acd-connect``) sends it back into ``AGI(agi:async)``, where a new
``AsyncAGIStart`` continues the same call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.python.failure import Failure

from ivr import outcomes as out
from ivr.commands import AgiResult, Hangup, Play, to_agi
from ivr.engine import CallInfo, IvrSession
from ivr.hold import HoldLoop, HoldState, QueueStatus
from server.agi import AgiLinkLost, AgiSession, AgiSessionEnded
from server.ami.codec import Message
from server.call.deps import CallDeps, CallOps, Part
from server.call.dialplan import from_dial
from server.call.lifecycle import Lifecycle
from server.call.phase import CallPhase as P
from server.call.phase import PhaseInput
from server.call.table import Call
from server.records.model import CallRecorder

SOUND_DIR = "hotline"


class Inbound(Part):
    """The AsyncAGI side of the calls.  ``ops.ask_dial``: the connector's question how a
    Dial we did not see ended (the connector is built after this part)."""

    def __init__(self, deps: CallDeps, lifecycle: Lifecycle, ops: CallOps) -> None:
        super().__init__(deps)
        self.lifecycle = lifecycle
        self.ops = ops
        self.context_handlers: dict[str, Callable[[AgiSession, Message], object]] = {}

    def route_context(self, context: str, handler: Callable[[AgiSession, Message], object]
                      ) -> None:
        """Send AsyncAGI sessions started in dialplan ``context`` to ``handler``.

        Inbound hotline calls are this class's own; callback legs and the agents'
        feature codes run in their own contexts and have their own handlers.
        """
        self.context_handlers[context] = handler

    def agi_started(self, session: AgiSession, event: Message) -> None:
        handler = self.context_handlers.get(session.env.get("agi_context", ""))
        if handler is not None and session.channel not in self.table.by_channel:
            handler(session, event)
            return
        call = self.table.by_channel.get(session.channel)
        now = self.clock.seconds()
        if call is None:
            call = self.new_call(session, event, now)
            if call is None:
                return
            self.run(call, call.ivr.start(
                CallInfo(call.channel, call.caller, call.dialled, session.uniqueid), now,
                self.outages.covering(call.caller, now, self.cfg.ivr.outage.max_age_s)))
            return
        call.session = session
        if call.phase == P.TALKING:
            # Back from Dial(...,g) before the agent's BridgeLeave or Hangup reached us
            # (trace 13: 6 of 27 calls).  Only the agent's hangup continues the caller's
            # dialplan, so the agent ended the talk; the survey follows as usual.
            self.lifecycle.agent_left(call, now)
            if call.in_phase(P.ENDED):
                return  # no survey: agent_left said goodbye
        if call.phase == P.CONNECTING:
            if call.ring_start is None and not call.offer_pending:
                return  # a Redirect to the agent is on its way: send nothing
            # Back in AsyncAGI after a Dial whose DialEnd we never saw (sent while the
            # link was down): ask the channel how it ended.
            self.ops.ask_dial(call, session)
            return
        if call.phase == P.SURVEY:
            self.run(call, call.ivr.start_survey(now, call.intent or ""))
        elif call.phase == P.QUEUED and call.dial_unseen and from_dial(session):
            self.ops.ask_dial(call, session)  # restored: did anybody answer that Dial?
        elif call.phase == P.QUEUED:
            self.start_hold(call, now)  # back from a Dial nobody answered
        else:
            self.log.warn("{call}: AsyncAGIStart in phase {phase}; ending politely",
                          call=call.id, phase=call.phase)
            self.farewell(call)

    def new_call(self, session: AgiSession, event: Message, now: float) -> Call | None:
        env = session.env
        call_id = session.linkedid or session.uniqueid
        caller = env.get("agi_callerid", "unknown")
        if caller in ("", "unknown"):
            caller = ""
        call = Call(call_id, session.channel, caller, env.get("agi_extension", ""),
                    IvrSession(self.cfg.ivr, is_open=self.is_open,
                               closed_queue=self.closed_queue),
                    CallRecorder(call_id, now, caller, env.get("agi_extension", "")),
                    session=session)
        self.table.add(call)
        self.counters["ivr_entered"] += 1
        self.lifecycle.persist(call)
        # Asked now, while the caller is in the menus, so the answer is usually in by
        # the time they are queued; the queue never waits for it.
        self.look_up_owner(call, phone=caller)
        return call

    def agi_ended(self, session: AgiSession, event: Message) -> None:
        call = self.table.by_channel.get(session.channel)
        if call is not None and call.session is session:
            call.session = None

    def run(self, call: Call, outputs: list[Any]) -> None:
        """Handle outcomes, then send the one AGI command (always last), if any."""
        command = None
        for item in outputs:
            if isinstance(item, (out.Enqueue, out.Deflected, out.SelfServed,
                                 out.CallbackRequested, out.SurveyAnswered,
                                 out.BillLookupRequest, out.Goodbye, out.IvrAbandoned)):
                self.outcome(call, item)
            else:
                command = item
        if call.phase in (P.IVR, P.SURVEY) and call.ivr_step() != call.saved_step:
            self.livestate.save(call)  # a restarted server asks this step, or takes its answer
        if command is None or call.session is None or call.phase == P.CONNECTING:
            return
        self.send(call, command)

    def result(self, result: AgiResult, call: Call) -> None:
        now = self.clock.seconds()
        if call.in_farewell and call.farewell_due is not None:
            first, call.farewell_due = call.farewell_due, None
            self.send(call, first)
            return
        if call.in_farewell:
            following, _ = call.farewell.advance(result)
            if following is not None:
                self.send(call, following)
            return
        if result.code != 200:
            # 510/520: Asterisk refused the command; a bug on our side, not the
            # caller's doing.  Never leave them in silence.
            self.log.error("{call}: Asterisk refused an AGI command: {code} {data}",
                           call=call.id, code=result.code, data=result.data)
            call.outcome = call.outcome or "system_failure"
            self.farewell(call)
            return
        call.resume_answer = None  # ours again: an older result is no news
        if call.phase in (P.IVR, P.SURVEY):
            self.run(call, call.ivr.on_result(result, now))
        elif call.hold is not None and call.hold.state is not HoldState.DONE:
            # Also after a callback was booked: the loop says goodbye and hangs up.
            self.run(call, call.hold.on_result(result, now))

    def agi_failed(self, failure: Failure, call: Call) -> None:
        if isinstance(failure.value, AgiSessionEnded):
            return  # redirected to an agent or hung up: the events tell the rest
        if isinstance(failure.value, AgiLinkLost):
            call.needs_resume = True  # the resync after the reconnect picks it up
            return
        self.log.warn("{call}: AGI command failed: {err}", call=call.id,
                      err=failure.getErrorMessage())

    def send(self, call: Call, command: Any) -> None:
        if call.session is None:
            return
        d = self.agi.run(call.session, to_agi(command, SOUND_DIR), call.ivr.command_tag(command))
        d.addCallbacks(self.result, self.agi_failed, callbackArgs=(call,),
                       errbackArgs=(call,))
        d.addErrback(self.crashed, call)

    def crashed(self, failure: Failure, call: Call) -> None:
        """A bug in our handling of this call: log it, and never leave the caller in silence."""
        self.log.failure("{call}: call handling failed in phase {phase}", failure,
                         call=call.id, phase=call.phase)
        if not call.caller_gone and not call.in_farewell:
            self.farewell(call)

    def farewell(self, call: Call) -> None:
        """Say goodbye and hang up: for calls the ACD gave up on."""
        call.in_farewell = True
        first = call.farewell.start([Play(call.ivr.prompts.goodbye), Hangup()])
        if call.session is not None and call.session.pending:
            # A command runs (a music chunk, say) and a second one would be refused:
            # the goodbye starts when it ends, instead of its result being taken for
            # the goodbye's and the caller hung up on without a word.
            call.farewell_due = first
            return
        call.farewell_due = None
        self.send(call, first)

    def outcome(self, call: Call, item: Any) -> None:
        now = self.clock.seconds()
        rec = call.record
        if isinstance(item, out.Enqueue):
            self.counters["ivr_finished"] += 1
            if item.fell_back:
                self.counters["ivr_fell_back"] += 1
            self.lifecycle.record_path(call)
            rec.update(language=item.language, account=item.account, intent=item.intent)
            rec.ivr_end(now)
            call.queue, call.intent, call.account = item.queue, item.intent, item.account
            call.priority = item.priority
            self.enqueue(call, now)
            if item.account and call.case_owner is None:
                self.look_up_owner(call, account=item.account, phone=call.caller)
        elif isinstance(item, out.Deflected):
            self.counters["ivr_deflected"] += 1
            rec.update(outage_notice=item.notice_id)
            call.outcome = "deflected"
        elif isinstance(item, out.SelfServed):
            self.counters["ivr_self_service"] += 1
            rec.update(account=item.account)
            call.outcome = "self_service"
        elif isinstance(item, out.CallbackRequested):
            self.callback_from_ivr(call, item, now)
        elif isinstance(item, out.SurveyAnswered):
            rec.survey(now, item.score, item.reason)
        elif isinstance(item, out.BillLookupRequest):
            self.deps.bills.lookup(item.account).addBoth(self.bill_arrived, call)
        elif isinstance(item, out.Goodbye):
            call.outcome = call.outcome or "ivr_goodbye"
        elif isinstance(item, out.IvrAbandoned):
            self.lifecycle.record_path(call)  # the Hangup handler counts and closes the call
        self.lifecycle.persist(call)

    def bill_arrived(self, info: object, call: Call) -> None:
        if not isinstance(info, out.BillInfo):
            info = None
        if call.caller_gone:
            return
        self.run(call, call.ivr.on_lookup(info, self.clock.seconds()))

    def enqueue(self, call: Call, now: float) -> None:
        self.lifecycle.set_phase(call, PhaseInput.ENQUEUED)
        call.record.enqueued(now, call.queue or "", call.priority)
        with self.acd.batch():  # the owner first, before anyone else is offered
            self.acd.enqueue(call.id, call.queue or "", intent=call.intent,
                             number=call.caller, priority=call.priority)
            self.prefer_owner(call)
        if call.phase == P.QUEUED:  # not offered at once
            self.start_hold(call, now)

    # -- the caller's open case (issue 14): its owner is tried first -------------------

    def look_up_owner(self, call: Call, *, account: str = "", phone: str = "") -> None:
        """Ask the case store, without waiting, whose open case this caller has."""
        lookup = self.deps.case_owner
        if lookup is None or not (account or phone):
            return
        d = defer.maybeDeferred(lookup, account=account, phone=phone)
        d.addCallbacks(self.owner_found, self.owner_unknown, callbackArgs=(call,),
                       errbackArgs=(call,))

    def owner_found(self, found: tuple[str, str] | None, call: Call) -> None:
        if found is None or call.case_owner is not None or call.caller_gone:
            return
        call.case_owner = (str(found[0]), str(found[1]))
        if call.phase == P.QUEUED:
            self.prefer_owner(call)  # queued before the answer came

    def owner_unknown(self, failure: Failure, call: Call) -> None:
        # Redis down or slow: the caller is routed by the queue's rule, nothing lost.
        self.log.warn("{call}: open case not looked up ({err}); routing as usual",
                      call=call.id, err=failure.getErrorMessage())

    def prefer_owner(self, call: Call) -> None:
        if call.case_owner is None:
            return
        case_id, owner = call.case_owner
        if self.acd.prefer(call.id, owner, case_id):
            item = self.acd.item(call.id)
            until = (item.enqueued_at if item else self.clock.seconds()) + (
                self.cfg.acd.policy.case_owner_first_s)
            call.record.case_owner(self.clock.seconds(), case_id, owner, until)
            self.lifecycle.persist(call)
            self.livestate.schedule_router_save()  # a restart keeps the owner's turn

    def start_hold(self, call: Call, now: float) -> None:
        queue = self.cfg.acd.queues.get(call.queue or "")
        call.hold = HoldLoop(
            call.queue or "", call.caller or None, lambda t: self.status(call),
            chunk_s=int(queue.announce_interval_s) if queue else self.deps.hold_chunk_s,
            callback_above_ewt_s=queue.callback_offer_after_s if queue else None,
            intent=call.intent, account=call.account,
        )
        self.run(call, call.hold.start(now))

    def status(self, call: Call) -> QueueStatus | None:
        item = self.acd.item(call.id)
        if item is None or call.phase != P.QUEUED:
            return None
        return QueueStatus(self.acd.position(call.id), self.acd.estimated_wait(call.id),
                           self.acd.max_wait_callback(call.id))

    def callback_from_ivr(self, call: Call, item: out.CallbackRequested, now: float) -> None:
        call.record.callback_requested(now, item.number)
        if call.phase == P.QUEUED:
            self.acd.request_callback(call.id, item.number)
        else:
            # Closed hours: the caller was never queued.  Queue, then convert at
            # once, so the callback takes its place like any waiting call.
            call.queue = call.queue or item.queue
            call.record.enqueued(now, item.queue)
            self.acd.enqueue(call.id, item.queue, intent=item.intent, number=item.number)
            self.acd.request_callback(call.id, item.number)
        call.outcome = "callback"
