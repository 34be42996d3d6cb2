"""Connecting a caller to an agent: offers, Setvar/Redirect, dial and bridge events.

An offer sets ``AGENT_IFACE`` and ``DIAL_TIMEOUT`` on the caller's channel and
redirects it to ``acd-connect``, whose Dial rings the agent.  ``DialBegin`` names
the agent's leg, ``DialEnd`` says how the ringing ended, and the first
``BridgeLeave`` of the conversation tells who ended it.  A Dial this process did
not order (after a restart) is *claimed*: the router is told who is ringing, so
it neither offers the caller again nor hands that agent somebody else.  A caller
back in AsyncAGI from a Dial whose end went unseen is asked how it ended
(``DIALSTATUS``).
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.internet.error import ConnectionLost
from twisted.python.failure import Failure

from queues.dispatch import OWNER_STEP
from queues.items import Decision, Outcome, WorkItem
from server.agi import AgiSession
from server.ami.codec import Message
from server.ami.protocol import AmiNotConnected, AmiTimeout
from server.call.deps import CallDeps, Part
from server.call.dialplan import CONNECT_CONTEXT, bridge_of, interface_of
from server.call.inbound import Inbound
from server.call.lifecycle import Lifecycle
from server.call.phase import CallPhase as P
from server.call.phase import PhaseInput
from server.call.table import Call

DIAL_VARIABLES = ("DIALSTATUS", "DIALEDPEERNAME", "ANSWEREDTIME")
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


class Connector(Part):
    """Offers and the Dial: the router's ``offer``/``cancel_offer`` and the dial and
    bridge events."""

    def __init__(self, deps: CallDeps, inbound: Inbound, lifecycle: Lifecycle) -> None:
        super().__init__(deps)
        self.inbound = inbound
        self.lifecycle = lifecycle

    def offer(self, item: WorkItem, agent_id: str, decision: Decision) -> None:
        call = self.table.calls.get(item.id)
        if call is None:
            # A stale router snapshot after a restart knows a call we do not: drop it
            # (later, not inside the router's decision) so the agent is not held.
            self.log.error("Offer for unknown call {id}: dropping it", id=item.id)
            self.clock.callLater(0, self.acd.abandon, item.id)
            return
        self.log.info("Route {text}", text=decision.text())
        call.agent_id = agent_id
        self.lifecycle.set_phase(call, PhaseInput.OFFERED)
        if self.sync.offered_now is not None:
            self.sync.offered_now.add(call.id)
        self.notifier.publish("offer", {"call_id": call.id, "agent_id": agent_id,
                                        "decision": decision.text(),
                                        "screen": self.lifecycle.screen(call.id)})
        call.ring_start = None
        if call.hold is not None:
            call.hold.stop()
        if self.sync.syncing or not getattr(self.ami, "connected", True):
            # No link, or the resync has not seen the channels yet (a restart or a
            # reconnect in progress): connect once it has, instead of failing the
            # agent for it or redirecting a caller Asterisk is connecting already.
            call.offer_pending = True
            return
        self.connect(call, item.id)

    def connect(self, call: Call, item_id: str) -> None:
        """Setvar AGENT_IFACE and DIAL_TIMEOUT, then Redirect to the connect context."""
        agent = self.cfg.acd.agents[call.agent_id or ""]
        channel = call.channel
        d = self.ami.sendAction("Setvar", [("Channel", channel), ("Variable", "AGENT_IFACE"),
                                           ("Value", agent.interface)])
        d.addCallback(lambda _: self.ami.sendAction(
            "Setvar", [("Channel", channel), ("Variable", "DIAL_TIMEOUT"),
                       ("Value", str(self.deps.ring_timeout_s))]))
        context, exten, priority = CONNECT_CONTEXT
        d.addCallback(lambda _: self.ami.sendAction(
            "Redirect", [("Channel", channel), ("Context", context), ("Exten", exten),
                         ("Priority", priority)]))
        d.addErrback(self.connect_failed, call, item_id)

    def connect_failed(self, failure: Failure, call: Call, item_id: str) -> None:
        self.log.warn("{call}: connecting to {agent} failed: {err}", call=call.id,
                      agent=call.agent_id, err=failure.getErrorMessage())
        if call.phase != P.CONNECTING or call.caller_gone:
            return
        if isinstance(failure.value, (AmiNotConnected, ConnectionLost, AmiTimeout)):
            # The link failed, not the agent: whether the Redirect ran is unknown, so
            # the resync after the reconnect decides (never a miss on the agent).
            call.offer_pending = True
            return
        self.lifecycle.set_phase(call, PhaseInput.CONNECT_FAILED)
        self.acd.offer_result(item_id, Outcome.FAILED)

    def cancel_offer(self, item: WorkItem, agent_id: str, reason: str) -> None:
        """The router withdrew an offer (the agent logged out, or a claim after a
        restart): end the agent's ringing leg; the caller waits again."""
        call = self.table.calls.get(item.id)
        if call is None or call.caller_gone or call.agent_id != agent_id:
            return
        if call.agent_channel:
            self.ami.sendAction("Hangup", [("Channel", call.agent_channel)]).addErrback(
                lambda f: None)
        if call.phase == P.CONNECTING:
            # Its DialEnd, if a Dial began, is no news now; back in AsyncAGI the
            # waiting loop resumes (AsyncAGIStart), or the reconcile resumes it.
            self.table.forget_agent_channel(call)
            call.agent_id, call.offer_pending = None, False
            self.lifecycle.set_phase(call, PhaseInput.OFFER_WITHDRAWN)

    def dial_begin(self, event: Message) -> None:
        call = self.dial_call(event)
        if call is None or call.phase != P.CONNECTING:
            return
        call.ring_start = self.clock.seconds()
        dest = event.get("DestChannel")
        if dest:
            self.table.bind_agent_channel(call, dest)
        else:
            call.agent_channel = dest

    def dial_end(self, event: Message) -> None:
        call = self.dial_call(event)
        if call is not None and call.phase == P.FALLBACK:
            self.fallback_dial_end(call, event)
            return
        if call is None or call.phase != P.CONNECTING or call.agent_id is None:
            return
        status = event.get("DialStatus", "")
        call.dial_unseen = False
        now = self.clock.seconds()
        ring_start = call.ring_start if call.ring_start is not None else now
        if status == "ANSWER":
            self.connected(call, now)
            return
        if status == "CANCEL":
            return  # the caller hung up while it rang: the Hangup handler abandons
        outcome = DIAL_OUTCOMES.get(status, Outcome.FAILED)
        call.record.offer(now, call.agent_id, ring_start, OFFER_LABELS[outcome],
                          self.to_case_owner(call))
        self.table.forget_agent_channel(call)
        # back to AsyncAGI: the hold loop resumes there
        self.lifecycle.set_phase(call, PhaseInput.DIAL_FAILED)
        call.agent_id = None
        self.acd.offer_result(call.id, outcome)
        self.lifecycle.persist(call)

    def to_case_owner(self, call: Call) -> bool:
        """Whether the offer now ringing went to the caller's case owner, first."""
        decision = self.acd.decision(call.id)
        return decision is not None and decision.step == OWNER_STEP

    def connected(self, call: Call, now: float, at: float | None = None) -> None:
        """The agent answered (``at``, if known to be earlier than now)."""
        agent = self.cfg.acd.agents[call.agent_id or ""]
        at = now if at is None else at
        ring_start = min(call.ring_start if call.ring_start is not None else at, at)
        call.talked, call.wrap_done = True, False
        self.lifecycle.set_phase(call, PhaseInput.ANSWERED)
        call.record.offer(at, agent.id, ring_start, "answered", self.to_case_owner(call))
        call.record.answered(at, agent.id, agent.tier)
        call.record.update(recording=f"{call.id}.wav")  # MixMonitor in acd-connect
        self.table.last_of_agent[agent.id] = call
        try:
            self.acd.offer_result(call.id, Outcome.ANSWERED)
        except (KeyError, ValueError):
            # The router had no part in it (a claim it refused): no wrap-up to wait for.
            self.log.warn("{call}: answered by {agent} without the router", call=call.id,
                          agent=agent.id)
            call.wrap_done = True
        self.lifecycle.persist(call)

    def fallback_dial_end(self, call: Call, event: Message) -> None:
        """A phone of the dialplan's fallback queue answered: app_queue connects it,
        not us, but the holds on its leg belong in the record (the hangup handler's
        facts give the answer and the end; durations count the holds between)."""
        dest = event.get("DestChannel") or ""
        if event.get("DialStatus") == "ANSWER" and dest:
            self.table.bind_agent_channel(call, dest)

    def hold(self, event: Message) -> None:
        call = self.table.by_agent_channel.get(event.get("Channel", ""))
        if call is not None and call.phase in (P.TALKING, P.FALLBACK):
            call.record.hold_start(self.clock.seconds())
            if call.phase == P.TALKING:  # the fallback queue's phone is not the router's
                self.acd.hold(call.id, True)

    def unhold(self, event: Message) -> None:
        call = self.table.by_agent_channel.get(event.get("Channel", ""))
        if call is not None and call.phase in (P.TALKING, P.FALLBACK):
            call.record.hold_end(self.clock.seconds())
            if call.phase == P.TALKING:
                self.acd.hold(call.id, False)

    def bridge_leave(self, event: Message) -> None:
        """The first BridgeLeave of a conversation is the first sign that it ended, and
        its channel is the side that ended it (traces 02, 08, 13): the agent's Hangup
        and the caller's next AsyncAGIStart arrive in either order after it."""
        channel = event.get("Channel", "")
        now = self.clock.seconds()
        call = self.table.by_agent_channel.get(channel)
        if call is not None:
            if call.phase == P.TALKING and call.caller_left_bridge_at is None:
                self.lifecycle.agent_left(call, now)
            return
        call = self.table.by_channel.get(channel)
        if call is not None and call.phase == P.TALKING and call.caller_left_bridge_at is None:
            call.caller_left_bridge_at = now

    def hangup(self, event: Message) -> None:
        channel = event.get("Channel", "")
        call = self.table.by_agent_channel.get(channel)
        if call is not None:
            self.lifecycle.agent_left(call, self.clock.seconds())
            return
        call = self.table.by_channel.get(channel)
        if call is not None:
            self.lifecycle.caller_left(call, self.clock.seconds())

    def device_state(self, event: Message) -> None:
        self.acd.device_state(event.get("Device", ""), event.get("State", ""))

    def agent_of_channel(self, channel: str) -> str | None:
        return self.agent_by_iface.get(interface_of(channel))

    def dialled(self, call: Call, info: Message, live: dict[str, Message]
                ) -> tuple[str | None, str | None]:
        """(agent channel, agent id) of the Dial the caller's channel is in, if any.

        The agent's leg shares the caller's Linkedid; before it exists, the
        Dial's own argument names the interface."""
        linkedid = info.get("Linkedid") or call.id
        for channel, m in live.items():
            if channel != call.channel and m.get("Linkedid") == linkedid:
                agent = self.agent_of_channel(channel)
                if agent is not None:
                    return channel, agent
        if info.get("Application") == "Dial":
            iface = (info.get("ApplicationData") or "").split(",", 1)[0]
            return None, self.agent_by_iface.get(iface)
        return None, None

    def claim(self, call: Call, agent_id: str, agent_channel: str | None, now: float,
               force: bool = False) -> bool:
        """Asterisk rings (or has connected) this agent for this caller: make the
        router and the call agree.  True if they do.

        If the router cannot give the call to that agent (it holds them on other
        work, or they logged out), a ringing leg is hung up (the caller comes back
        to the queue), unless ``force``: the conversation is under way, and the
        record follows what happened even though the router has no part in it.
        """
        if call.phase == P.CONNECTING and call.agent_id == agent_id and not call.offer_pending:
            ok = True  # ours, as we left it
        else:
            self.table.forget_agent_channel(call)  # a leg a previous process knew, now stale
            with self.acd.batch():  # nothing offered before the adoption
                self.ensure_routed(call, now)
                ok = self.acd.adopt_offer(call.id, agent_id)
            if ok:
                self.log.info("{call}: found connecting to {agent}; adopted that offer",
                              call=call.id, agent=agent_id)
            else:
                self.log.warn("{call}: found connecting to {agent}, whom the router cannot "
                              "give it to", call=call.id, agent=agent_id)
        if not ok and not force:
            if agent_channel:
                self.ami.sendAction("Hangup", [("Channel", agent_channel)]).addErrback(
                    lambda f: None)
            return False
        if call.hold is not None:
            call.hold.stop()
        call.offer_pending = False
        call.agent_id = agent_id
        if call.ring_start is None:
            call.ring_start = now
        if agent_channel and call.agent_channel != agent_channel:
            self.table.bind_agent_channel(call, agent_channel)
        if call.phase != P.CONNECTING:
            self.lifecycle.set_phase(call, PhaseInput.CLAIMED)
        return ok

    def ensure_routed(self, call: Call, now: float) -> None:
        """A waiting caller the router's snapshot (older than the call's state) does
        not know: back in, at the original enqueue time, so at the same place."""
        if self.acd.item(call.id) is not None or call.queue not in self.cfg.acd.queues:
            return
        since = next((e.t for e in call.record.snapshot().timeline if e.kind == "enqueued"),
                     now)
        self.log.info("{call}: not in the router's snapshot; queued again as of {since}",
                      call=call.id, since=since)
        self.acd.enqueue(call.id, call.queue or "", intent=call.intent,
                         number=call.caller or None, priority=call.priority, since=since)

    def dial_call(self, event: Message) -> Call | None:
        """The call a DialBegin or DialEnd is about.  One being connected that we did
        not offer (restored after a restart, the Redirect already run) is claimed
        for the agent the Dial rings."""
        call = self.table.by_channel.get(event.get("Channel", ""))
        if (call is None or call.caller_gone or call.phase not in (P.QUEUED, P.CONNECTING)
                or event.get("Context") != CONNECT_CONTEXT[0]):
            return call
        dest = event.get("DestChannel") or ""
        agent_id = self.agent_of_channel(dest)
        if agent_id is not None and (call.phase != P.CONNECTING or call.agent_id != agent_id):
            answered = event.name == "DialEnd" and event.get("DialStatus") == "ANSWER"
            self.claim(call, agent_id, dest, self.clock.seconds(), force=answered)
        return call

    def offer_lost(self, call: Call) -> None:
        """The offer ended without our seeing how: back to the queue, the hold loop resumes."""
        call.offer_pending = False
        self.table.forget_agent_channel(call)
        call.agent_id = None
        self.lifecycle.set_phase(call, PhaseInput.OFFER_LOST)
        item = self.acd.item(call.id)
        if item is not None:
            try:
                self.acd.offer_result(call.id, Outcome.NO_ANSWER)
            except ValueError:
                pass  # the router had already released it
        if call.phase == P.QUEUED and call.session is not None:
            self.inbound.start_hold(call, self.clock.seconds())

    def answered_while_away(self, call: Call, bridge: str, live: dict[str, Message],
                            now: float) -> None:
        """The DialEnd ANSWER was lost with the link: the channel list shows the bridge."""
        peer = next((ch for ch, m in live.items()
                     if ch != call.channel and bridge_of(m) == bridge),
                    None)
        if call.agent_id not in self.cfg.acd.agents:
            return
        if peer and call.agent_channel != peer:
            self.table.bind_agent_channel(call, peer)
        self.connected(call, now)

    def ask_dial(self, call: Call, session: AgiSession) -> None:
        """Back in AsyncAGI from a Dial whose end we never saw: ask the channel."""
        asks = [self.ami.sendAction("Getvar", [("Channel", call.channel), ("Variable", name)])
                for name in DIAL_VARIABLES]
        d = defer.gatherResults(asks, consumeErrors=True)
        d.addCallbacks(self.dial_learned, self.dial_unknown, callbackArgs=(call, session),
                       errbackArgs=(call, session))
        d.addErrback(self.inbound.crashed, call)

    def dial_unknown(self, failure: Failure, call: Call, session: AgiSession) -> None:
        self.log.warn("{call}: could not read how the Dial ended: {e}", call=call.id,
                      e=failure.getErrorMessage())
        self.dial_learned([{}, {}, {}], call, session)

    def dial_learned(self, replies: list[Any], call: Call, session: AgiSession) -> None:
        if call.caller_gone or call.session is not session:
            return
        call.dial_unseen = False
        status, peer, answered = ((r.get("Value") or "") for r in replies)
        now = self.clock.seconds()
        agent_id = self.agent_of_channel(peer)
        if status != "ANSWER" or agent_id is None:
            self.log.info("{call}: the Dial we did not see ended {status!r}", call=call.id,
                          status=status)
            if call.phase == P.CONNECTING and call.offer_pending:
                call.offer_pending = False  # offered meanwhile, not yet tried: try it
                self.connect(call, call.id)
            elif call.phase == P.CONNECTING:
                self.offer_lost(call)
            else:
                self.inbound.start_hold(call, now)
            return
        try:
            talked = max(0.0, float(answered))
        except ValueError:
            talked = 0.0
        self.log.info("{call}: talked to {agent} ({s:.0f} s) while we were away", call=call.id,
                      agent=agent_id, s=talked)
        if call.phase != P.CONNECTING or call.agent_id != agent_id:
            self.claim(call, agent_id, None, now, force=True)
        self.connected(call, now, at=now - talked)
        self.lifecycle.agent_left(call, now)
        if call.phase == P.SURVEY:
            self.inbound.run(call, call.ivr.start_survey(now, call.intent or ""))
