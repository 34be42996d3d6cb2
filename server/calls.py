"""The adapter: AMI events in, core decisions out, AMI actions and records written.

This is the one module that knows both sides.  Per call it feeds the IVR
engine (``ivr.engine``), the waiting loop (``ivr.hold``) and the ACD router
(``queues.router``) with what Asterisk reports, and turns what they decide into
AsyncAGI commands, ``Setvar``/``Redirect`` for a connect, and record facts.

A call's phases, as the server sees them::

    ivr ──Enqueue──▶ queued ──offer──▶ connecting ──DialEnd ANSWER──▶ talking
     │                 ▲                  │                              │
     │                 └──DialEnd other───┘           agent hangs up ──▶ survey ──▶ ended
     └── goodbye / deflected / self-service / hangup ───────────────────────────────▶ ended

The caller's channel keeps its identity across all of it: after the Dial the
dialplan (deploy/asterisk/extensions.conf, ``acd-connect``) sends it back into
``AGI(agi:async)``, where a new ``AsyncAGIStart`` continues the same call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from twisted.internet import defer
from twisted.internet.error import ConnectionLost
from twisted.logger import Logger

from ivr import outcomes as out
from ivr.commands import AgiResult, Hangup, Play, to_agi
from ivr.engine import CallInfo, IvrSession
from ivr.hold import HoldLoop, HoldState, QueueStatus
from ivr.hours import closed_redirect, opener
from ivr.outage import OutageBoard
from ivr.sequence import Sequence
from queues.agents import AgentState
from queues.items import Decision, Outcome, WorkItem
from queues.router import Router
from server.agi import AgiDriver, AgiLinkLost, AgiSession, AgiSessionEnded
from server.ami.codec import Message
from server.ami.protocol import AmiActionError, AmiNotConnected, AmiTimeout
from server.config import Config
from server.endfacts import FALLBACK_QUEUE, EndFacts, record_fallback
from server.notify import Notifier
from server.records.model import CallRecorder
from server.recovery import CONNECT_CONTEXT, Recovery, in_fallback

__all__ = ["CONNECT_CONTEXT", "Call", "CallCenter", "in_fallback"]

SOUND_DIR = "hotline"
DIAL_OUTCOMES = {
    "NOANSWER": Outcome.NO_ANSWER,
    "BUSY": Outcome.BUSY,
    "CHANUNAVAIL": Outcome.FAILED,
    "CONGESTION": Outcome.FAILED,
    "DONTCALL": Outcome.FAILED,
    "TORTURE": Outcome.FAILED,
    "INVALIDARGS": Outcome.FAILED,
}
OFFER_LABELS = {Outcome.ANSWERED: "answered", Outcome.NO_ANSWER: "no_answer",
                Outcome.BUSY: "rejected", Outcome.FAILED: "rejected"}


class LiveState(Protocol):
    """Where the adapter keeps what a restart needs (``RecordStore``'s live state)."""

    def put(self, kind: str, id: str, state: dict) -> defer.Deferred: ...
    def delete(self, kind: str, id: str) -> defer.Deferred: ...


@dataclass
class Call:
    id: str  # Asterisk Linkedid: the call's id everywhere (records, ACD)
    channel: str
    caller: str
    dialled: str
    ivr: IvrSession
    record: CallRecorder
    session: AgiSession | None = None
    phase: str = "ivr"
    hold: HoldLoop | None = None
    queue: str | None = None
    intent: str | None = None
    priority: int | None = None
    account: str | None = None
    agent_id: str | None = None
    agent_channel: str | None = None
    ring_start: float | None = None
    talked: bool = False
    #: when the caller's channel left the bridge first (the caller ended the talk); its
    #: Hangup, which may come a little later, closes the talk at this time
    caller_left_bridge_at: float | None = None
    caller_gone: bool = False
    wrap_done: bool = True  # no agent, nothing to wait for
    outcome: str | None = None
    farewell: Sequence = field(default_factory=Sequence)
    in_farewell: bool = False
    needs_resume: bool = False  # a command was in flight when the AMI link dropped
    offer_pending: bool = False  # offered while the link was down: connect after resync
    dial_unseen: bool = False  # a Dial may have ended while we were not listening
    system_failure: bool = False  # Asterisk restarted under the call
    #: (tag, result) of an IVR command a dead process (or a lost link) left running:
    #: the resume uses its keys if they answer the step the caller is at
    resume_answer: tuple[str, AgiResult] | None = None
    saved_step: tuple[str, str] | None = None  # the IVR step the live state holds
    ended_at: float | None = None  # when it ended, if earlier than we learnt (server/endfacts.py)
    wrap_end_at: float | None = None  # likewise its after-call work (server/recovery.py)


class CallCenter(Recovery):
    """Owns the live calls.  Built by the composition root; see server/app.py.

    :param clock: ``seconds()`` and ``callLater`` (the reactor, or ``task.Clock``).
    :param ami: the ``AmiService`` (``sendAction`` and ``router``).
    :param save: ``save(record_dict)`` persists a record (``DurableRecords.put``).
    :param bills: ``lookup(account) -> Deferred[BillInfo | None]``.
    :param router_factory: builds the ACD ``Router`` with this object as its output.
    """

    log = Logger()

    def __init__(self, clock, cfg: Config, ami, *, save: Callable[[dict], object],
                 bills, outages: OutageBoard | None = None, ring_timeout_s: int = 20,
                 hold_chunk_s: int = 20, notifier: Notifier | None = None,
                 live: LiveState | None = None) -> None:
        self.clock = clock
        self.live = live
        self._router_save = None  # a pending debounced save of the router snapshot
        self._live_dirty: set[str] = set()  # calls whose live state Redis refused
        self._live_retry = None
        # One live-state write per call in flight: pooled Redis connections could
        # otherwise run a put after the delete that followed it (a stale entry).
        self._live_busy: set[str] = set()
        self._live_next: dict[str, dict | None] = {}  # the newest state waiting its turn
        self.notifier = notifier if notifier is not None else Notifier()
        self.cfg = cfg
        self.ami = ami
        self._save = save
        self.bills = bills
        self.outages = outages if outages is not None else OutageBoard()
        self.ring_timeout_s = ring_timeout_s
        self.hold_chunk_s = hold_chunk_s
        self.acd = Router(cfg.acd, clock, self)
        self.agi = AgiDriver(ami, on_start=self._agi_started, on_end=self._agi_ended,
                             on_orphan=self._orphan_result)
        self.calls: dict[str, Call] = {}  # by call id
        self._by_channel: dict[str, Call] = {}
        self._by_agent_channel: dict[str, Call] = {}
        self._last_call_of_agent: dict[str, Call] = {}
        self._agent_by_iface = {a.interface: a.id for a in cfg.acd.agents.values()}
        self._offered_now: set[str] | None = None  # offers made during a reconcile
        #: between a link loss (or a restore) and the reconcile: offers wait for it
        self.syncing = False
        self._context_handlers: dict[str, Callable[[AgiSession, Message], object]] = {}
        #: dialplan contexts whose AsyncAGI callers are hotline calls (for adoption)
        self.entry_contexts = frozenset({"hotline", "acd-connect"})
        #: places callbacks and follow-ups (server/outbound.py); None: not wired
        self.outbound = None
        self._is_open = opener(cfg.acd.queues)
        self._closed_queue = closed_redirect(cfg.acd.queues)
        self.counters: dict[str, int] = {
            "ivr_entered": 0, "ivr_finished": 0, "ivr_deflected": 0, "ivr_self_service": 0,
            "ivr_fell_back": 0, "ivr_hangup": 0, "records_written": 0, "calls_ended": 0,
            "safety_fallbacks": 0, "unseen_calls": 0,
        }
        router = ami.router
        for name, handler in (("DialBegin", self._dial_begin), ("DialEnd", self._dial_end),
                              ("Hangup", self._hangup), ("Hold", self._hold),
                              ("Unhold", self._unhold),
                              ("BridgeLeave", self._bridge_leave),
                              ("DeviceStateChange", self._device_state),
                              ("UserEvent", self._user_event)):
            router.subscribe(name, handler)

    # ---------------------------------------------------------------- AsyncAGI

    def route_context(self, context: str, handler: Callable[[AgiSession, Message], object]
                      ) -> None:
        """Send AsyncAGI sessions started in dialplan ``context`` to ``handler``.

        Inbound hotline calls are this class's own; callback legs and the agents'
        feature codes run in their own contexts and have their own handlers.
        """
        self._context_handlers[context] = handler

    def _agi_started(self, session: AgiSession, event: Message) -> None:
        handler = self._context_handlers.get(session.env.get("agi_context", ""))
        if handler is not None and session.channel not in self._by_channel:
            handler(session, event)
            return
        call = self._by_channel.get(session.channel)
        now = self.clock.seconds()
        if call is None:
            call = self._new_call(session, event, now)
            if call is None:
                return
            self._run(call, call.ivr.start(
                CallInfo(call.channel, call.caller, call.dialled, session.uniqueid), now,
                self.outages.covering(call.caller, now, self.cfg.ivr.outage.max_age_s)))
            return
        call.session = session
        if call.phase == "talking":
            # Back from Dial(...,g) before the agent's BridgeLeave or Hangup reached us
            # (trace 13: 6 of 27 calls).  Only the agent's hangup continues the caller's
            # dialplan, so the agent ended the talk; the survey follows as usual.
            self._agent_left(call, now)
            if call.phase == "ended":
                return  # no survey: _agent_left said goodbye
        if call.phase == "connecting":
            if call.ring_start is None and not call.offer_pending:
                return  # a Redirect to the agent is on its way: send nothing
            # Back in AsyncAGI after a Dial whose DialEnd we never saw (sent while the
            # link was down): ask the channel how it ended.
            self._ask_dial(call, session)
            return
        if call.phase == "survey":
            self._run(call, call.ivr.start_survey(now, call.intent or ""))
        elif call.phase == "queued" and call.dial_unseen and self._from_dial(session):
            self._ask_dial(call, session)  # restored: did anybody answer that Dial?
        elif call.phase == "queued":
            self._start_hold(call, now)  # back from a Dial nobody answered
        else:
            self.log.warn("{call}: AsyncAGIStart in phase {phase}; ending politely",
                          call=call.id, phase=call.phase)
            self._farewell(call)

    def _new_call(self, session: AgiSession, event: Message, now: float) -> Call | None:
        env = session.env
        call_id = session.linkedid or session.uniqueid
        caller = env.get("agi_callerid", "unknown")
        if caller in ("", "unknown"):
            caller = ""
        call = Call(call_id, session.channel, caller, env.get("agi_extension", ""),
                    IvrSession(self.cfg.ivr, is_open=self._is_open,
                               closed_queue=self._closed_queue),
                    CallRecorder(call_id, now, caller, env.get("agi_extension", "")),
                    session=session)
        self.calls[call_id] = call
        self._by_channel[session.channel] = call
        self.counters["ivr_entered"] += 1
        self._persist(call)
        return call

    def _agi_ended(self, session: AgiSession, event: Message) -> None:
        call = self._by_channel.get(session.channel)
        if call is not None and call.session is session:
            call.session = None

    def _run(self, call: Call, outputs: list) -> None:
        """Handle outcomes, then send the one AGI command (always last), if any."""
        command = None
        for item in outputs:
            if isinstance(item, (out.Enqueue, out.Deflected, out.SelfServed,
                                 out.CallbackRequested, out.SurveyAnswered,
                                 out.BillLookupRequest, out.Goodbye, out.IvrAbandoned)):
                self._outcome(call, item)
            else:
                command = item
        if call.phase in ("ivr", "survey") and self._ivr_step(call) != call.saved_step:
            self._save_live(call)  # a restarted server asks this step, or takes its answer
        if command is None or call.session is None or call.phase == "connecting":
            return
        self._send(call, command)

    @staticmethod
    def _ivr_step(call: Call) -> tuple[str, str]:
        return call.ivr.step(), call.ivr.language

    def _result(self, result: AgiResult, call: Call) -> None:
        now = self.clock.seconds()
        if call.in_farewell:
            following, _ = call.farewell.advance(result)
            if following is not None:
                self._send(call, following)
            return
        if result.code != 200:
            # 510/520: Asterisk refused the command; a bug on our side, not the
            # caller's doing.  Never leave them in silence.
            self.log.error("{call}: Asterisk refused an AGI command: {code} {data}",
                           call=call.id, code=result.code, data=result.data)
            call.outcome = call.outcome or "system_failure"
            self._farewell(call)
            return
        call.resume_answer = None  # ours again: an older result is no news
        if call.phase in ("ivr", "survey"):
            self._run(call, call.ivr.on_result(result, now))
        elif call.hold is not None and call.hold.state is not HoldState.DONE:
            # Also after a callback was booked: the loop says goodbye and hangs up.
            self._run(call, call.hold.on_result(result, now))

    def _agi_failed(self, failure, call: Call) -> None:
        if failure.check(AgiSessionEnded):
            return  # redirected to an agent or hung up: the events tell the rest
        if failure.check(AgiLinkLost):
            call.needs_resume = True  # the resync after the reconnect picks it up
            return
        self.log.warn("{call}: AGI command failed: {err}", call=call.id,
                      err=failure.getErrorMessage())

    def _send(self, call: Call, command) -> None:
        if call.session is None:
            return
        d = self.agi.run(call.session, to_agi(command, SOUND_DIR), call.ivr.command_tag(command))
        d.addCallbacks(self._result, self._agi_failed, callbackArgs=(call,),
                       errbackArgs=(call,))
        d.addErrback(self._crashed, call)

    def _crashed(self, failure, call: Call) -> None:
        """A bug in our handling of this call: log it, and never leave the caller in silence."""
        self.log.failure("{call}: call handling failed in phase {phase}", failure,
                         call=call.id, phase=call.phase)
        if not call.caller_gone and not call.in_farewell:
            self._farewell(call)

    def _farewell(self, call: Call) -> None:
        """Say goodbye and hang up: for calls the ACD gave up on."""
        call.in_farewell = True
        self._send(call, call.farewell.start([Play(call.ivr.prompts.goodbye), Hangup()]))

    # ---------------------------------------------------------------- IVR outcomes

    def _outcome(self, call: Call, item) -> None:
        now = self.clock.seconds()
        rec = call.record
        if isinstance(item, out.Enqueue):
            self.counters["ivr_finished"] += 1
            if item.fell_back:
                self.counters["ivr_fell_back"] += 1
            self._record_path(call)
            rec.update(language=item.language, account=item.account, intent=item.intent)
            rec.ivr_end(now)
            call.queue, call.intent, call.account = item.queue, item.intent, item.account
            call.priority = item.priority
            self._enqueue(call, now)
        elif isinstance(item, out.Deflected):
            self.counters["ivr_deflected"] += 1
            rec.update(outage_notice=item.notice_id)
            call.outcome = "deflected"
        elif isinstance(item, out.SelfServed):
            self.counters["ivr_self_service"] += 1
            rec.update(account=item.account)
            call.outcome = "self_service"
        elif isinstance(item, out.CallbackRequested):
            self._callback_from_ivr(call, item, now)
        elif isinstance(item, out.SurveyAnswered):
            rec.survey(now, item.score, item.reason)
        elif isinstance(item, out.BillLookupRequest):
            self.bills.lookup(item.account).addBoth(self._bill_arrived, call)
        elif isinstance(item, out.Goodbye):
            call.outcome = call.outcome or "ivr_goodbye"
        elif isinstance(item, out.IvrAbandoned):
            self._record_path(call)  # the Hangup handler counts and closes the call
        self._persist(call)

    def _record_path(self, call: Call) -> None:
        known = len(call.record.snapshot().ivr_path)
        for menu, key in call.ivr.path[known:]:
            call.record.ivr_key(menu, key)

    def _bill_arrived(self, info, call: Call) -> None:
        if not isinstance(info, out.BillInfo):
            info = None
        if call.caller_gone:
            return
        self._run(call, call.ivr.on_lookup(info, self.clock.seconds()))

    # ---------------------------------------------------------------- queueing

    def _enqueue(self, call: Call, now: float) -> None:
        self._set_phase(call, "queued")
        call.record.enqueued(now, call.queue or "", call.priority)
        self.acd.enqueue(call.id, call.queue or "", intent=call.intent, number=call.caller,
                         priority=call.priority)
        if call.phase == "queued":  # not offered at once
            self._start_hold(call, now)

    def _start_hold(self, call: Call, now: float) -> None:
        queue = self.cfg.acd.queues.get(call.queue or "")
        call.hold = HoldLoop(
            call.queue or "", call.caller or None, lambda t: self._status(call),
            chunk_s=int(queue.announce_interval_s) if queue else self.hold_chunk_s,
            callback_above_ewt_s=queue.callback_offer_after_s if queue else None,
            intent=call.intent, account=call.account,
        )
        self._run(call, call.hold.start(now))

    def _status(self, call: Call) -> QueueStatus | None:
        item = self.acd.item(call.id)
        if item is None or call.phase != "queued":
            return None
        return QueueStatus(self.acd.position(call.id), self.acd.estimated_wait(call.id))

    def _callback_from_ivr(self, call: Call, item: out.CallbackRequested, now: float) -> None:
        call.record.callback_requested(now, item.number)
        if call.phase == "queued":
            self.acd.request_callback(call.id, item.number)
        else:
            # Closed hours: the caller was never queued.  Queue, then convert at
            # once, so the callback takes its place like any waiting call.
            call.queue = call.queue or item.queue
            call.record.enqueued(now, item.queue)
            self.acd.enqueue(call.id, item.queue, intent=item.intent, number=item.number)
            self.acd.request_callback(call.id, item.number)
        call.outcome = "callback"

    # ---------------------------------------------------------------- ACD outputs

    def offer(self, item: WorkItem, agent_id: str, decision: Decision) -> None:
        call = self.calls.get(item.id)
        if call is None:
            # A stale router snapshot after a restart knows a call we do not: drop it
            # (later, not inside the router's decision) so the agent is not held.
            self.log.error("Offer for unknown call {id}: dropping it", id=item.id)
            self.clock.callLater(0, self.acd.abandon, item.id)
            return
        self.log.info("Route {text}", text=decision.text())
        call.agent_id = agent_id
        self._set_phase(call, "connecting")
        if self._offered_now is not None:
            self._offered_now.add(call.id)
        self.notifier.publish("offer", {"call_id": call.id, "agent_id": agent_id,
                                        "decision": decision.text(),
                                        "screen": self.screen(call.id)})
        call.ring_start = None
        if call.hold is not None:
            call.hold.stop()
        if self.syncing or not getattr(self.ami, "connected", True):
            # No link, or the resync has not seen the channels yet (a restart or a
            # reconnect in progress): connect once it has, instead of failing the
            # agent for it or redirecting a caller Asterisk is connecting already.
            call.offer_pending = True
            return
        self._connect(call, item.id)

    def _connect(self, call: Call, item_id: str) -> None:
        """Setvar AGENT_IFACE and DIAL_TIMEOUT, then Redirect to the connect context."""
        agent = self.cfg.acd.agents[call.agent_id or ""]
        channel = call.channel
        d = self.ami.sendAction("Setvar", [("Channel", channel), ("Variable", "AGENT_IFACE"),
                                           ("Value", agent.interface)])
        d.addCallback(lambda _: self.ami.sendAction(
            "Setvar", [("Channel", channel), ("Variable", "DIAL_TIMEOUT"),
                       ("Value", str(self.ring_timeout_s))]))
        context, exten, priority = CONNECT_CONTEXT
        d.addCallback(lambda _: self.ami.sendAction(
            "Redirect", [("Channel", channel), ("Context", context), ("Exten", exten),
                         ("Priority", priority)]))
        d.addErrback(self._connect_failed, call, item_id)

    def _connect_failed(self, failure, call: Call, item_id: str) -> None:
        self.log.warn("{call}: connecting to {agent} failed: {err}", call=call.id,
                      agent=call.agent_id, err=failure.getErrorMessage())
        if call.phase != "connecting" or call.caller_gone:
            return
        if failure.check(AmiNotConnected, ConnectionLost, AmiTimeout):
            # The link failed, not the agent: whether the Redirect ran is unknown, so
            # the resync after the reconnect decides (never a miss on the agent).
            call.offer_pending = True
            return
        self._set_phase(call, "queued")
        self.acd.offer_result(item_id, Outcome.FAILED)

    def place_callback(self, item: WorkItem, agent_id: str, decision: Decision) -> None:
        if self.outbound is not None:
            self.outbound.place(item, agent_id, decision)
            return
        # Nothing can place it: give the item back to the router (a retry, not the
        # agent's miss) instead of holding the agent reserved.
        self.log.warn("Callback {id} for {agent}: no outbound placer", id=item.id,
                      agent=agent_id)
        self.clock.callLater(0, self.acd.offer_result, item.id, Outcome.CUSTOMER_NO_ANSWER)

    def cancel_offer(self, item: WorkItem, agent_id: str, reason: str) -> None:
        """The router withdrew an offer (the agent logged out, or a claim after a
        restart): end the agent's ringing leg; the caller waits again."""
        call = self.calls.get(item.id)
        if call is None or call.caller_gone or call.agent_id != agent_id:
            return
        if call.agent_channel:
            self.ami.sendAction("Hangup", [("Channel", call.agent_channel)]).addErrback(
                lambda f: None)
        if call.phase == "connecting":
            # Its DialEnd, if a Dial began, is no news now; back in AsyncAGI the
            # waiting loop resumes (AsyncAGIStart), or the reconcile resumes it.
            self._forget_agent_channel(call)
            call.agent_id, call.offer_pending = None, False
            self._set_phase(call, "queued")

    def agent_state_changed(self, agent_id: str, old: AgentState, new: AgentState,
                            reason: str) -> None:
        self.log.info("Agent {agent}: {old} -> {new} ({reason})", agent=agent_id, old=old,
                      new=new, reason=reason)
        self.notifier.publish("agent", {"agent_id": agent_id, "old": str(old), "new": str(new),
                                        "reason": reason, "at": self.clock.seconds()})
        self._schedule_router_save()
        if old is AgentState.WRAP_UP and new is not AgentState.WRAP_UP:
            call = self._last_call_of_agent.get(agent_id)
            if call is not None and not call.wrap_done:
                self._wrap_ended(call)

    def _wrap_ended(self, call: Call) -> None:
        call.wrap_done = True
        # Keep a disposition the agent set on the desk during the call.
        disposition = call.record.snapshot().disposition or "none"
        ended = self.clock.seconds() if call.wrap_end_at is None else call.wrap_end_at
        call.record.wrap_up_end(ended, disposition)
        if call.caller_gone:
            self._maybe_finish(call)
        else:
            self._persist(call)  # a restart must know the wrap-up is over

    def call_abandoned(self, item: WorkItem, short: bool) -> None:
        call = self.calls.get(item.id)
        if call is not None:
            # ended_at: the caller hung up while we were away (server/endfacts.py)
            call.record.abandoned(self.clock.seconds() if call.ended_at is None
                                  else call.ended_at)
            call.outcome = "abandoned"

    def call_overflowed(self, item: WorkItem, from_queue: str, to_queue: str | None) -> None:
        call = self.calls.get(item.id)
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
        self._set_phase(call, "ended")
        self._farewell(call)

    def callback_requested(self, call_item: WorkItem, callback: WorkItem | None) -> None:
        call = self.calls.get(call_item.id)
        if call is not None:
            call.outcome = "callback"  # the hold loop says goodbye and hangs up

    def work_item_failed(self, item: WorkItem, reason: str) -> None:
        self.log.warn("Work item {id} failed: {reason}", id=item.id, reason=reason)

    # ---------------------------------------------------------------- dial and bridge

    def _dial_begin(self, event: Message) -> None:
        call = self._dial_call(event)
        if call is None or call.phase != "connecting":
            return
        call.agent_channel = event.get("DestChannel")
        call.ring_start = self.clock.seconds()
        if call.agent_channel:
            self._by_agent_channel[call.agent_channel] = call

    def _dial_end(self, event: Message) -> None:
        call = self._dial_call(event)
        if call is not None and call.phase == "fallback":
            self._fallback_dial_end(call, event)
            return
        if call is None or call.phase != "connecting" or call.agent_id is None:
            return
        status = event.get("DialStatus", "")
        call.dial_unseen = False
        now = self.clock.seconds()
        ring_start = call.ring_start if call.ring_start is not None else now
        if status == "ANSWER":
            self._connected(call, now)
            return
        if status == "CANCEL":
            return  # the caller hung up while it rang: the Hangup handler abandons
        outcome = DIAL_OUTCOMES.get(status, Outcome.FAILED)
        call.record.offer(now, call.agent_id, ring_start, OFFER_LABELS[outcome])
        self._forget_agent_channel(call)
        self._set_phase(call, "queued")  # back to AsyncAGI: the hold loop resumes there
        call.agent_id = None
        self.acd.offer_result(call.id, outcome)
        self._persist(call)

    def _connected(self, call: Call, now: float, at: float | None = None) -> None:
        """The agent answered (``at``, if known to be earlier than now)."""
        agent = self.cfg.acd.agents[call.agent_id or ""]
        at = now if at is None else at
        ring_start = min(call.ring_start if call.ring_start is not None else at, at)
        call.talked, call.wrap_done = True, False
        self._set_phase(call, "talking")
        call.record.offer(at, agent.id, ring_start, "answered")
        call.record.answered(at, agent.id, agent.tier)
        call.record.update(recording=f"{call.id}.wav")  # MixMonitor in acd-connect
        self._last_call_of_agent[agent.id] = call
        try:
            self.acd.offer_result(call.id, Outcome.ANSWERED)
        except (KeyError, ValueError):
            # The router had no part in it (a claim it refused): no wrap-up to wait for.
            self.log.warn("{call}: answered by {agent} without the router", call=call.id,
                          agent=agent.id)
            call.wrap_done = True
        self._persist(call)

    def _fallback_dial_end(self, call: Call, event: Message) -> None:
        """A phone of the dialplan's fallback queue answered: app_queue connects it,
        not us, but the holds on its leg belong in the record (the hangup handler's
        facts give the answer and the end; durations count the holds between)."""
        dest = event.get("DestChannel") or ""
        if event.get("DialStatus") == "ANSWER" and dest:
            self._forget_agent_channel(call)
            call.agent_channel = dest
            self._by_agent_channel[dest] = call

    def _hold(self, event: Message) -> None:
        call = self._by_agent_channel.get(event.get("Channel", ""))
        if call is not None and call.phase in ("talking", "fallback"):
            call.record.hold_start(self.clock.seconds())
            if call.phase == "talking":  # the fallback queue's phone is not the router's
                self.acd.hold(call.id, True)

    def _unhold(self, event: Message) -> None:
        call = self._by_agent_channel.get(event.get("Channel", ""))
        if call is not None and call.phase in ("talking", "fallback"):
            call.record.hold_end(self.clock.seconds())
            if call.phase == "talking":
                self.acd.hold(call.id, False)

    def _bridge_leave(self, event: Message) -> None:
        """The first BridgeLeave of a conversation is the first sign that it ended, and
        its channel is the side that ended it (traces 02, 08, 13): the agent's Hangup
        and the caller's next AsyncAGIStart arrive in either order after it."""
        channel = event.get("Channel", "")
        now = self.clock.seconds()
        call = self._by_agent_channel.get(channel)
        if call is not None:
            if call.phase == "talking" and call.caller_left_bridge_at is None:
                self._agent_left(call, now)
            return
        call = self._by_channel.get(channel)
        if call is not None and call.phase == "talking" and call.caller_left_bridge_at is None:
            call.caller_left_bridge_at = now

    def _hangup(self, event: Message) -> None:
        channel = event.get("Channel", "")
        call = self._by_agent_channel.get(channel)
        if call is not None:
            self._agent_left(call, self.clock.seconds())
            return
        call = self._by_channel.get(channel)
        if call is not None:
            self._caller_left(call, self.clock.seconds())

    def _agent_left(self, call: Call, now: float) -> None:
        """The agent's leg left: the bridge is over; the caller goes on to the survey.

        If the caller's leg left the bridge first, the caller ended the talk, at that
        time, even when the agent's leg is the first to report a Hangup."""
        self._forget_agent_channel(call)
        if call.phase != "talking":
            return
        if call.caller_left_bridge_at is not None:
            call.record.bridge_end(call.caller_left_bridge_at, "caller")
        else:
            call.record.bridge_end(now, "agent")
        self._set_phase(call, "survey" if self.cfg.ivr.survey.enabled else "ended")
        self.acd.call_ended(call.id)
        self._persist(call)
        if call.phase == "ended":
            self._farewell(call)

    def _caller_left(self, call: Call, now: float) -> None:
        call.caller_gone = True
        self._by_channel.pop(call.channel, None)
        phase = call.phase
        if phase == "talking":
            call.record.bridge_end(call.caller_left_bridge_at or now, "caller")
            self._forget_agent_channel(call)
            self.acd.call_ended(call.id)
        elif phase in ("queued", "connecting"):
            if call.hold is not None:
                call.hold.on_hangup(now)
            self.acd.abandon(call.id)
        elif phase in ("ivr", "survey"):
            self._run(call, call.ivr.on_hangup(now))
            if phase == "ivr" and call.outcome is None:
                self.counters["ivr_hangup"] += 1
                call.outcome = "ivr_hangup"
        elif phase == "fallback" and call.outcome is None:
            # Gone from the fallback queue without the hangup handler's facts (a
            # dialplan without it): how it ended there is not known.
            call.outcome, call.system_failure = "system_failure", True
        self._set_phase(call, "ended")
        self._maybe_finish(call)

    # ---------------------------------------------------------------- the safety net

    def driven_channels(self):
        """Callers this server is driving in AsyncAGI now: the safety net keeps their
        deadlines fresh (server/safety.py).  Not while an agent's phone rings or
        during the conversation: the dialplan has no deadline there.

        None at all between a restore (or a link loss) and the reconcile: a restored
        caller may have left AsyncAGI for the fallback queue meanwhile, and a deadline
        pushed there takes them out of it again, for a second apology and a new place
        at the back, or cuts off their conversation with an agent (trace 15)."""
        if self.syncing:
            return
        for call in self.calls.values():
            if call.caller_gone or self._by_channel.get(call.channel) is not call:
                continue
            if call.phase in ("ivr", "queued", "survey") or call.in_farewell:
                yield call.channel

    def _user_event(self, event: Message) -> None:
        name = event.get("UserEvent")
        if name == "HotlineCallEnd":
            self.fallback_call_ended(event)  # server/recovery.py
            return
        if name != "HotlineFallback":
            return
        call = self._by_channel.get(event.get("Channel", ""))
        if call is not None and call.phase in ("ivr", "queued", "connecting", "survey"):
            # Our last deadline push may have crossed the fallback on the wire.
            self._fell_back(call, event.get("Reason") or "unknown", clear_deadline=True)

    def _fell_back(self, call: Call, reason: str, at: float | None = None,
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
            self._clear_deadline(call.channel)
        self.log.warn("{call}: the dialplan fell back to the Asterisk queue ({reason}) "
                      "in phase {phase}", call=call.id, reason=reason, phase=call.phase)
        self.counters["safety_fallbacks"] += 1
        now = self.clock.seconds() if at is None else at
        if not call.record.snapshot().notes:
            call.record.update(notes=f"fallback: {reason}")
        if call.phase == "ivr":
            self._record_path(call)  # the keys pressed before, as for a hang-up there
        call.record.fallback(now, reason, FALLBACK_QUEUE)
        if call.hold is not None:
            call.hold.stop()
        self._forget_agent_channel(call)
        call.in_farewell = call.offer_pending = False
        call.agent_id = None if not call.talked else call.agent_id
        if self.acd.item(call.id) is not None and not self.acd.forget(call.id):
            self.acd.call_ended(call.id)
        self._set_phase(call, "fallback")
        self._persist(call)

    def _clear_deadline(self, channel: str) -> None:
        """Cancel a pending ``TIMEOUT(absolute)``: when it fired, app_queue would end and
        the dialplan's ``T`` extension would apologise again, or hang up a caller
        talking to an agent.  AMI's ``AbsoluteTimeout`` refuses 0 (manager.c
        action_timeout); ``TIMEOUT(absolute)=0`` cancels (func_timeout.c)."""
        d = self.ami.sendAction("Setvar", [("Channel", channel),
                                           ("Variable", "TIMEOUT(absolute)"), ("Value", "0")])

        def failed(failure) -> None:
            if (failure.check(AmiActionError)
                    and failure.value.response.get("Message") == "No such channel"):
                return  # gone meanwhile: nothing left to cancel
            self.log.warn("Could not cancel the deadline of {channel} in the fallback: {e}",
                          channel=channel, e=failure.getErrorMessage())

        d.addErrback(failed)

    def record_unseen(self, call_id: str, caller: str, dialled: str, entered: float,
                      note: str, facts: EndFacts | None = None) -> None:
        """A caller who came while no AMI session of ours existed and whom we never
        saw (the dialplan's AstDB note, server/resync.py): a final record, so the
        call is counted.  With the hangup handler's ``facts`` of a caller who went
        to the fallback queue, how it ended there; otherwise nothing is known of it
        past its arrival."""
        if call_id in self.calls:
            return
        fell_back = note.startswith("fallback") or bool(facts and facts.fallback)
        self.counters["safety_fallbacks" if fell_back else "unseen_calls"] += 1
        rec = CallRecorder(call_id, entered, caller, dialled)
        outcome, ended = "system_failure", entered
        if facts is not None and facts.fallback:
            note = f"fallback: {facts.fallback}"
            agent_id = self._agent_by_iface.get(facts.member)
            agent = self.cfg.acd.agents.get(agent_id or "")
            outcome = record_fallback(rec, facts, agent_id, agent.tier if agent else None,
                                      f"{facts.uniqueid}.wav" if facts.uniqueid else None)
        if facts is not None and facts.end is not None:
            ended = facts.end
        rec.update(notes=note)
        rec.finish(ended, outcome)
        self.counters["calls_ended"] += 1
        self._write_record(rec, final=True)

    def _forget_agent_channel(self, call: Call) -> None:
        if call.agent_channel:
            self._by_agent_channel.pop(call.agent_channel, None)
        call.agent_channel = None

    def _device_state(self, event: Message) -> None:
        self.acd.device_state(event.get("Device", ""), event.get("State", ""))

    # ---------------------------------------------------------------- notifications

    def _set_phase(self, call: Call, phase: str) -> None:
        call.phase = phase
        self.notifier.publish("call", {
            "call_id": call.id, "phase": phase, "queue": call.queue, "agent_id": call.agent_id,
            "caller": call.caller, "at": self.clock.seconds()})

    def screen(self, call_id: str) -> dict | None:
        """What the agent's desk shows when this call is offered (the screen-pop)."""
        call = self.calls.get(call_id)
        if call is None:
            return None
        rec = call.record.snapshot()
        enqueued = next((e.t for e in rec.timeline if e.kind == "enqueued"), None)
        return {"call_id": call.id, "caller": call.caller, "account": call.account,
                "ivr_path": [list(p) for p in call.ivr.path], "intent": call.intent,
                "queue": call.queue, "language": call.ivr.language,
                "waited_s": None if enqueued is None else self.clock.seconds() - enqueued}

    # ---------------------------------------------------------------- live state (restart)

    def _save_live(self, call: Call, final: bool = False) -> None:
        """Keep what a restarted server needs to re-adopt this call, and the router's places."""
        if self.live is None:
            return
        call.saved_step = self._ivr_step(call)
        self._write_live(call.id, None if final else {
            "channel": call.channel, "caller": call.caller, "dialled": call.dialled,
            "phase": call.phase, "queue": call.queue, "intent": call.intent,
            "priority": call.priority, "account": call.account,
            "agent_id": call.agent_id, "agent_channel": call.agent_channel,
            "talked": call.talked, "wrap_done": call.wrap_done, "outcome": call.outcome,
            "ivr": call.ivr.snapshot(),
            "uniqueid": call.session.uniqueid if call.session else ""})
        self._schedule_router_save()

    def _write_live(self, call_id: str, state: dict | None) -> None:
        """Put ``state`` (None: delete) after any write of this call still in flight;
        writes queued meanwhile collapse into the newest."""
        if call_id in self._live_busy:
            self._live_next[call_id] = state
            return
        self._live_busy.add(call_id)
        d = (self.live.delete("call", call_id) if state is None
             else self.live.put("call", call_id, state))
        d.addErrback(self._live_failed, call_id)

        def next_one(_):
            self._live_busy.discard(call_id)
            if call_id in self._live_next:
                self._write_live(call_id, self._live_next.pop(call_id))
        d.addBoth(next_one)

    def _live_failed(self, failure, call_id: str) -> None:
        """Redis refused a live-state write: try again with the then-current state.

        A stale entry would make a restart restore the wrong phase, so the write
        is not dropped; retries are coalesced per call.
        """
        if not self._live_dirty:
            self.log.warn("Live state not saved ({e}); retrying", e=failure.getErrorMessage())
        self._live_dirty.add(call_id)
        if self._live_retry is None or not self._live_retry.active():
            self._live_retry = self.clock.callLater(2.0, self._retry_live)

    def _retry_live(self) -> None:
        self._live_retry = None
        dirty, self._live_dirty = self._live_dirty, set()
        for call_id in dirty:
            call = self.calls.get(call_id)
            if call is None:  # ended meanwhile: its entry must go
                self._write_live(call_id, None)
            else:
                self._save_live(call)

    def _schedule_router_save(self) -> None:
        # Coalesced: one snapshot per half second at most, however busy the floor.
        if self.live is None or (self._router_save is not None and self._router_save.active()):
            return
        self._router_save = self.clock.callLater(0.5, self._save_router)

    def _save_router(self) -> None:
        self._router_save = None
        def failed(f):
            self.log.warn("Router snapshot not saved: {e}", e=f.getErrorMessage())
            self._schedule_router_save()  # the next one carries the then-current state

        self.live.put("router", "snapshot", self.acd.snapshot()).addErrback(failed)

    def stop(self) -> None:
        """Cancel the pending snapshot timer (service shutdown)."""
        for timer in (self._router_save, self._live_retry):
            if timer is not None and timer.active():
                timer.cancel()
        self._router_save = self._live_retry = None

    # ---------------------------------------------------------------- records

    def _maybe_finish(self, call: Call) -> None:
        """A record is final once the caller is gone and any wrap-up has ended."""
        if not call.caller_gone or not call.wrap_done or call.id not in self.calls:
            return
        self._router_lets_go(call)
        outcome = call.outcome or ("answered" if call.talked else "ivr_hangup")
        if call.talked:
            outcome = "answered"
        if call.system_failure:
            outcome = "system_failure"
        ended = self.clock.seconds() if call.ended_at is None else call.ended_at
        call.record.finish(ended, outcome)
        del self.calls[call.id]
        self.counters["calls_ended"] += 1
        self._persist(call, final=True)

    def _router_lets_go(self, call: Call) -> None:
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

    def _persist(self, call: Call, final: bool = False) -> None:
        self._save_live(call, final)
        self._write_record(call.record, final)

    def _write_record(self, rec: CallRecorder, final: bool) -> None:
        d = defer.maybeDeferred(self._save, rec.to_dict())
        if final:
            self.notifier.publish("record", rec.to_dict())  # its own copy

            def written(_):
                self.counters["records_written"] += 1
            d.addCallback(written)
        d.addErrback(lambda f: self.log.failure("Record for {call} not saved", f,
                                                call=rec.call_id))
