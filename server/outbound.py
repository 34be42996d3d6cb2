"""Callbacks and follow-ups (回访): ring the agent first, then the customer.

The router (``queues.router``) decides *when*: a callback keeps its caller's
place, a follow-up waits for its due time, neither is placed in quiet hours,
and a number asked for twice is one callback.  This module *places* one
attempt when the router picks an agent (``CallCenter.place_callback`` ->
:meth:`OutboundPlacer.place`) and reports how it went (``Router.offer_result``).
One call record per attempt (kind ``callback`` or ``followup``).  A follow-up
that is a service case's return visit carries the case id: the screen-pop shows
it, and the end of each attempt is published as ``followup_ended`` for
server/return_visits.py.

One attempt, as Asterisk runs it (deploy/asterisk/extensions.conf,
``acd-callback-agent``; GUIDE §2.6)::

    ringing_agent ──agent answers: AsyncAGIStart──▶ whisper ──ASYNCAGI BREAK──▶ dialling
         │ OriginateResponse Failure                   │ agent hangs up           │
         ▼                                             ▼                          │
    done: NO_ANSWER / BUSY / FAILED (the agent's miss, RONA)   ◀──────────────────┤
                                                                                  │
    done: CUSTOMER_NO_ANSWER / CUSTOMER_BUSY (a retry) ◀──DialEnd not ANSWER──────┤
    talking ◀──DialEnd ANSWER─────────────────────────────────────────────────────┘
       └──either side hangs up (call_ended)──▶ wrap_up ──agent leaves wrap-up──▶ done

The agent's channel is found by asking it (``GET VARIABLE HOTLINE_ATTEMPT``)
when it enters AsyncAGI, because Asterisk may report ``AsyncAGIStart`` before
the ``OriginateResponse`` (the pbx thread races the originate thread).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from ivr.commands import AgiResult, Play, SayDigits, to_agi
from queues.agents import AgentState
from queues.items import Decision, Kind, Outcome, WorkItem
from queues.router import Router
from server.agi import AgiDriver, AgiSession, AgiSessionEnded
from server.ami.codec import Message
from server.notify import Notifier
from server.records.model import CallRecorder
from server.records.model import Kind as RecordKind

CALLBACK_CONTEXT = "acd-callback-agent"
SOUND_DIR = "hotline"
WHISPER = {Kind.CALLBACK: "callback-whisper", Kind.FOLLOW_UP: "followup-whisper"}
RECORD_KIND: dict[Kind, RecordKind] = {Kind.CALLBACK: "callback", Kind.FOLLOW_UP: "followup"}
LABEL = {Kind.CALLBACK: "95598 callback", Kind.FOLLOW_UP: "95598 follow-up"}
# OriginateResponse Reason: the last control frame Asterisk saw on the agent's
# channel (4 answered; 3 rang out; 5 busy; 8 congestion; 0 no channel).
AGENT_REASONS = {"5": Outcome.BUSY, "8": Outcome.FAILED, "0": Outcome.FAILED}
CUSTOMER_OUTCOMES = {"BUSY": Outcome.CUSTOMER_BUSY}  # anything else: no answer (a retry)
OFFER_LABELS = {Outcome.NO_ANSWER: "no_answer", Outcome.BUSY: "rejected",
                Outcome.FAILED: "rejected"}


class State(StrEnum):
    RINGING_AGENT = "ringing_agent"
    WHISPER = "whisper"
    DIALLING = "dialling"
    TALKING = "talking"
    WRAP_UP = "wrap_up"
    DONE = "done"


@dataclass(eq=False)
class Attempt:
    id: str  # the record's call_id: "<item id>#<n>"
    item: WorkItem
    agent_id: str
    record: CallRecorder
    placed_at: float
    state: State = State.RINGING_AGENT
    action_id: str | None = None
    agent_channel: str | None = None
    customer_channel: str | None = None
    reported: bool = False
    guard: Any = None  # DelayedCall: the Originate never reported


class OutboundPlacer:
    """Places callbacks and follow-ups: the router's ``place_callback`` (server/call/center.py).

    :param ami: the AMI link (``sendAction``); its events reach the public handlers
        below through the subscription table (server/wiring.py), as do the AsyncAGI
        sessions of ``CALLBACK_CONTEXT`` (``agi_started``) and the notifier's topics
        (``notified``).
    :param agi: the AGI driver the calls share; ``acd``: the router (its ``config``
        names the agents); ``notifier``: ``publish``; ``save``: persists a record.
    :param agent_ring_s: how long the agent's phone rings (Originate ``Timeout``).
    :param customer_ring_s: how long the customer's phone rings (Dial timeout).
    :param hotline_number: the caller ID the customer sees.
    """

    log = Logger()

    def __init__(self, clock, ami, agi: AgiDriver, acd: Router, notifier: Notifier,
                 save: Callable[[dict], object], *, agent_ring_s: int = 20,
                 customer_ring_s: int = 30, hotline_number: str = "95598") -> None:
        self.clock = clock
        self.ami = ami
        self.agi = agi
        self.acd = acd
        self.notifier = notifier
        self._save = save
        self.agent_ring_s = agent_ring_s
        self.customer_ring_s = customer_ring_s
        self.hotline_number = hotline_number
        self.attempts: dict[str, Attempt] = {}
        self._counts: dict[str, int] = {}  # item id -> attempts placed
        self._by_action: dict[str, Attempt] = {}
        self._by_channel: dict[str, Attempt] = {}
        self._wrapping: dict[str, Attempt] = {}  # agent id -> attempt in wrap-up

    # ---------------------------------------------------------------- placing

    def place(self, item: WorkItem, agent_id: str, decision: Decision) -> None:
        """Originate the agent's phone into ``acd-callback-agent``; never re-enters the router."""
        now = self.clock.seconds()
        n = self._counts[item.id] = self._counts.get(item.id, 0) + 1
        number = item.number or ""
        record = CallRecorder(f"{item.id}#{n}", now, number, number, kind=RECORD_KIND[item.kind])
        record.update(intent=item.intent, notes=item.note or None, agent_id=agent_id)
        attempt = Attempt(record.call_id, item, agent_id, record, now)
        self.attempts[attempt.id] = attempt
        self.log.info("Place {kind} {id} via {agent}: {why}", kind=item.kind, id=attempt.id,
                      agent=agent_id, why=decision.text())
        self.notifier.publish("offer", {
            "call_id": attempt.id, "agent_id": agent_id, "decision": decision.text(),
            "screen": {"call_id": attempt.id, "kind": str(item.kind), "caller": number,
                       "intent": item.intent, "queue": item.queue, "note": item.note,
                       "case_id": item.case_id}})
        self._persist(attempt)
        if not number:
            self.log.error("{id}: no number to call", id=attempt.id)
            self.clock.callLater(0, self._finish_later, attempt, Outcome.CUSTOMER_NO_ANSWER,
                                 "no_number")
            return
        agent = self.acd.config.agents[agent_id]
        fields = [("Channel", agent.interface), ("Context", CALLBACK_CONTEXT), ("Exten", "s"),
                  ("Priority", "1"), ("Timeout", str(self.agent_ring_s * 1000)),
                  ("CallerID", f'"{LABEL[item.kind]}" <{self.hotline_number}>'),
                  ("Variable", f"CALLBACK_NUMBER={number}"),
                  ("Variable", f"CALLBACK_TIMEOUT={self.customer_ring_s}"),
                  ("Variable", f"HOTLINE_ITEM={item.id}"),
                  ("Variable", f"HOTLINE_ATTEMPT={attempt.id}"), ("Async", "true")]
        attempt.guard = self.clock.callLater(self.agent_ring_s + 15, self._unreported, attempt)
        d = self.ami.sendAction("Originate", fields)
        d.addCallbacks(self._queued, self._refused, callbackArgs=(attempt,),
                       errbackArgs=(attempt,))
        d.addErrback(self._crashed, attempt)

    def _queued(self, response: Message, attempt: Attempt) -> None:
        if attempt.state is State.RINGING_AGENT and response.action_id:
            attempt.action_id = response.action_id
            self._by_action[response.action_id] = attempt

    def _refused(self, failure, attempt: Attempt) -> None:
        self.log.warn("{id}: Originate of {agent} refused: {err}", id=attempt.id,
                      agent=attempt.agent_id, err=failure.getErrorMessage())
        # May fire synchronously inside the router's dispatch (not connected): defer.
        self.clock.callLater(0, self._finish_later, attempt, Outcome.FAILED, "failed")

    def _finish_later(self, attempt: Attempt, outcome: Outcome, label: str) -> None:
        if attempt.state is State.RINGING_AGENT:
            if outcome in OFFER_LABELS:
                attempt.record.offer(self.clock.seconds(), attempt.agent_id, attempt.placed_at,
                                     OFFER_LABELS[outcome])
            self._report(attempt, outcome)
            self._finish(attempt, label)

    def _unreported(self, attempt: Attempt) -> None:
        attempt.guard = None
        if attempt.state is State.RINGING_AGENT:
            self.log.warn("{id}: no OriginateResponse for {agent}; counting a no-answer",
                          id=attempt.id, agent=attempt.agent_id)
            self._finish_later(attempt, Outcome.NO_ANSWER, "agent_no_answer")

    def _crashed(self, failure, attempt: Attempt) -> None:
        self.log.failure("{id}: placing the callback failed", failure, id=attempt.id)

    # ---------------------------------------------------------------- the agent's leg

    def originate_response(self, event: Message) -> None:
        attempt = self._by_action.pop(event.get("ActionID", ""), None)
        if attempt is None:
            return
        if event.get("Response") == "Success":
            self._track(attempt, event.get("Channel", ""), agent=True)
            return
        reason = event.get("Reason", "0")
        outcome = AGENT_REASONS.get(reason, Outcome.NO_ANSWER)
        self.log.info("{id}: agent {agent} did not answer (Reason {reason})", id=attempt.id,
                      agent=attempt.agent_id, reason=reason)
        self._finish_later(attempt, outcome, f"agent_{outcome}")

    def agi_started(self, session: AgiSession, event: Message) -> None:
        d = self.agi.run(session, "GET VARIABLE HOTLINE_ATTEMPT")
        d.addCallback(self._identified, session, self.clock.seconds())
        d.addErrback(self._agi_failed, session)

    def _identified(self, result: AgiResult, session: AgiSession, answered_at: float
                    ) -> defer.Deferred | None:
        """``answered_at``: the agent's AsyncAGIStart, when their phone stopped ringing."""
        attempt_id = result.data.strip("()") if result.result == "1" else ""
        attempt = self.attempts.get(attempt_id)
        now = answered_at
        if attempt is None or attempt.state is not State.RINGING_AGENT or not self._offered(
                attempt):
            # Withdrawn while it rang (agent logged out), or left over from a restart.
            self.log.warn("{chan}: answered callback {id} that is no longer wanted",
                          chan=session.channel, id=attempt_id or "?")
            if attempt is not None and attempt.state is State.RINGING_AGENT:
                attempt.record.offer(now, attempt.agent_id, attempt.placed_at, "answered")
                self._finish(attempt, "cancelled")
            return self.agi.run(session, "HANGUP")
        self._track(attempt, session.channel, agent=True)
        attempt.state = State.WHISPER
        if attempt.guard is not None and attempt.guard.active():
            attempt.guard.cancel()  # the Originate has reported, one way or the other
        attempt.guard = None
        attempt.record.offer(now, attempt.agent_id, attempt.placed_at, "answered")
        attempt.record.update(recording=f"{session.uniqueid}.wav")
        self._persist(attempt)
        item = attempt.item
        d = self.agi.run(session, to_agi(Play(WHISPER[item.kind]), SOUND_DIR))
        d.addCallback(lambda _: self.agi.run(session, to_agi(SayDigits(item.number or ""))))
        d.addCallback(lambda _: self.agi.run(session, "ASYNCAGI BREAK"))
        return d

    def _agi_failed(self, failure, session: AgiSession) -> None:
        if not failure.check(AgiSessionEnded):  # hung up: the Hangup handler decides
            self.log.warn("{chan}: callback whisper failed: {err}", chan=session.channel,
                          err=failure.getErrorMessage())

    # ---------------------------------------------------------------- the customer's leg

    def dial_begin(self, event: Message) -> None:
        attempt = self._by_channel.get(event.get("Channel", ""))
        if attempt is not None and attempt.state is State.WHISPER:
            attempt.state = State.DIALLING
            self._track(attempt, event.get("DestChannel", ""), agent=False)

    def dial_end(self, event: Message) -> None:
        attempt = self._by_channel.get(event.get("Channel", ""))
        if attempt is None or attempt.state is not State.DIALLING:
            return
        status = event.get("DialStatus", "")
        now = self.clock.seconds()
        if status == "ANSWER":
            attempt.state = State.TALKING
            tier = self.acd.config.agents[attempt.agent_id].tier
            attempt.record.answered(now, attempt.agent_id, tier)
            self._persist(attempt)
            self._report(attempt, Outcome.ANSWERED)
        elif status != "CANCEL":  # CANCEL: the agent hung up; the Hangup handler decides
            outcome = CUSTOMER_OUTCOMES.get(status, Outcome.CUSTOMER_NO_ANSWER)
            self.log.info("{id}: customer {number} did not answer ({status})", id=attempt.id,
                          number=attempt.item.number, status=status)
            self._report(attempt, outcome)
            self._finish(attempt, str(outcome))

    def hangup(self, event: Message) -> None:
        channel = event.get("Channel", "")
        attempt = self._by_channel.pop(channel, None)
        if attempt is None:
            return
        now = self.clock.seconds()
        by_agent = channel == attempt.agent_channel
        if attempt.state in (State.WHISPER, State.DIALLING) and by_agent:
            # The agent answered, then gave up before the customer did: their miss.
            self._report(attempt, Outcome.NO_ANSWER)
            self._finish(attempt, "agent_hung_up")
        elif attempt.state is State.TALKING:
            attempt.record.bridge_end(now, "agent" if by_agent else "caller")
            attempt.state = State.WRAP_UP
            self._wrapping[attempt.agent_id] = attempt
            self._persist(attempt)
            self.acd.call_ended(attempt.item.id)  # may end wrap-up at once (no ACW)

    def notified(self, topic: str, payload: dict[str, Any]) -> None:
        """Agent state changes: the end of wrap-up, or an offer the router withdrew."""
        if topic != "agent":
            return
        agent_id = payload.get("agent_id", "")
        if payload.get("old") == str(AgentState.WRAP_UP):
            attempt = self._wrapping.pop(agent_id, None)
            if attempt is not None and attempt.state is State.WRAP_UP:
                # No disposition from the desk yet; keep the follow-up's note.
                attempt.record.wrap_up_end(self.clock.seconds(), "none",
                                           attempt.item.note or None)
                self._finish(attempt, "answered")
        elif payload.get("old") == str(AgentState.RESERVED):
            self._withdrawn(agent_id)

    def _withdrawn(self, agent_id: str) -> None:
        """The router took the offer back (the agent logged out at the desk, say).

        ``CallCenter.cancel_offer`` knows only inbound calls, so this is how we
        learn it.  A phone still ringing is left to ring: its channel name is not
        known before it answers, and then it is hung up (``_identified``).
        """
        for attempt in [a for a in self.attempts.values() if a.agent_id == agent_id]:
            if attempt.reported or attempt.state not in (
                    State.RINGING_AGENT, State.WHISPER, State.DIALLING):
                continue  # our own report moved the agent on
            self.log.info("{id}: offer withdrawn from {agent}", id=attempt.id, agent=agent_id)
            attempt.reported = True
            if attempt.agent_channel:
                self.ami.sendAction("Hangup", [("Channel", attempt.agent_channel)]
                                          ).addErrback(self._hangup_failed, attempt)
            self._finish(attempt, "cancelled")

    def _hangup_failed(self, failure, attempt: Attempt) -> None:
        self.log.info("{id}: Hangup of {chan}: {err}", id=attempt.id,
                      chan=attempt.agent_channel, err=failure.getErrorMessage())

    # ---------------------------------------------------------------- bookkeeping

    def _track(self, attempt: Attempt, channel: str, agent: bool) -> None:
        if not channel:
            return
        if agent:
            attempt.agent_channel = channel
        else:
            attempt.customer_channel = channel
        self._by_channel[channel] = attempt

    def _offered(self, attempt: Attempt) -> bool:
        """The router still has this agent reserved for this item."""
        view = self.acd.agent(attempt.agent_id)
        return view.state is AgentState.RESERVED and view.item_id == attempt.item.id

    def _report(self, attempt: Attempt, outcome: Outcome) -> None:
        if attempt.reported:
            return
        attempt.reported = True
        if not self._offered(attempt):
            self.log.info("{id}: {outcome} after the router withdrew the offer", id=attempt.id,
                          outcome=outcome)
            return
        self.acd.offer_result(attempt.item.id, outcome)

    def _finish(self, attempt: Attempt, outcome: str) -> None:
        attempt.state = State.DONE
        if attempt.guard is not None and attempt.guard.active():
            attempt.guard.cancel()
        attempt.guard = None
        self.attempts.pop(attempt.id, None)
        if attempt.action_id:
            self._by_action.pop(attempt.action_id, None)
        for channel in (attempt.agent_channel, attempt.customer_channel):
            if channel and self._by_channel.get(channel) is attempt:
                del self._by_channel[channel]
        attempt.record.finish(self.clock.seconds(), outcome)
        self._persist(attempt, final=True)
        if attempt.item.case_id is not None:
            # A case's return-visit call ended: server/return_visits.py records it.
            self.notifier.publish("followup_ended", {
                "case_id": attempt.item.case_id, "item_id": attempt.item.id,
                "call_id": attempt.id, "agent_id": attempt.agent_id, "outcome": outcome})

    def _persist(self, attempt: Attempt, final: bool = False) -> None:
        raw = attempt.record.to_dict()
        d = defer.maybeDeferred(self._save, raw)
        if final:
            self.notifier.publish("record", raw)
        d.addErrback(lambda f: self.log.failure("Record {id} not saved", f, id=attempt.id))
