"""After a link loss or Asterisk's restart: learn the present from Asterisk.

Events lost with the link are inferred from the channel list (``CoreShowChannels``)
after every login: a caller whose channel is gone hung up; a talking call whose
agent leg is gone has ended; a caller sitting in ``AGI(agi:async)`` with nothing of
ours in flight resumes at a safe point; a caller Asterisk is already connecting is
claimed (server/call/connect.py).  Nothing sent before the loss is sent again.
"""

from __future__ import annotations

from ivr.commands import AgiResult
from ivr.engine import CallInfo, IvrSession, State
from queues.agents import AgentState
from queues.items import Outcome
from server.agi import AgiSession
from server.ami.codec import Message
from server.call.connect import Connector
from server.call.deps import CallDeps, Part
from server.call.dialplan import CONNECT_CONTEXT, bridge_of, from_dial, in_fallback
from server.call.inbound import Inbound
from server.call.lifecycle import Lifecycle
from server.call.phase import CallPhase as P
from server.call.phase import PhaseInput
from server.call.table import Call
from server.endfacts import EndFacts, record_fallback
from server.records.model import CallRecorder


class Reconciler(Part):
    """Brings the calls in line with Asterisk after a (re)connect or a restart of it."""

    def __init__(self, deps: CallDeps, lifecycle: Lifecycle, inbound: Inbound,
                 connector: Connector) -> None:
        super().__init__(deps)
        self.lifecycle = lifecycle
        self.inbound = inbound
        self.connector = connector

    def asterisk_restarted(self) -> None:
        """Asterisk came back empty: every call we knew died with it."""
        now = self.clock.seconds()
        for call in list(self.table.calls.values()):
            call.outcome = "system_failure"
            call.system_failure = True
            agent_id = call.agent_id if call.phase == P.TALKING else None
            if not call.caller_gone:
                self.lifecycle.caller_left(call, now)
            else:
                self.lifecycle.maybe_finish(call)
            if agent_id is not None and agent_id in self.cfg.acd.agents:
                try:  # no after-call work for a call the system dropped
                    self.acd.end_wrap_up(agent_id)
                except Exception:
                    self.log.failure("Ending wrap-up of {agent} after the restart", agent=agent_id)

    def link_lost(self) -> None:
        """The AMI link dropped: results of commands in flight will never arrive."""
        self.sync.syncing = True
        for call in self.table.calls.values():
            if call.session is not None and call.session.pending:
                call.needs_resume = True
            if call.phase == P.CONNECTING:
                call.dial_unseen = True
        self.agi.link_lost()

    def reconcile(self, channels: list[Message],
                  facts: dict[str, EndFacts] | None = None) -> None:
        """Bring the calls in line with Asterisk's channel list after a (re)connect.

        ``channels`` are the ``CoreShowChannel`` events.  Events missed while the
        link was down are inferred: a caller whose channel is gone hung up; a
        talking call whose agent leg is gone has ended; a caller sitting in
        ``AGI(agi:async)`` with nothing of ours in flight resumes at a safe point
        (the current menu replays, the waiting loop restarts).  Nothing we sent
        before the loss is sent again.  ``facts`` (by call id) are what the dialplan
        kept of calls that ended, or whose conversation ended, meanwhile
        (server/endfacts.py): their real end times, not the time we learnt of them.
        """
        now = self.clock.seconds()
        facts = facts or {}
        live = {m.get("Channel", ""): m for m in channels}
        # First whom Asterisk is connecting already: nothing may be offered or
        # connected before the router agrees on who is ringing whom.
        for call in list(self.table.calls.values()):
            info = live.get(call.channel)
            if not call.caller_gone and info is not None:
                self.claim_found(call, info, live, now)
        # Offers made from here on are connected at once, with what we know now:
        # the channel list, older, must not undo them.
        self.sync.syncing = False
        self.sync.offered_now = offered_now = set[str]()
        try:
            for call in list(self.table.calls.values()):
                if not call.caller_gone and call.id not in offered_now:
                    self.reconcile_call(call, live.get(call.channel), live, now,
                                         facts.get(call.id))
        finally:
            self.sync.offered_now = None
        for channel, info in live.items():
            if (channel not in self.table.by_channel and info.get("Application") == "AGI"
                    and info.get("Context") in self.deps.entry_contexts):
                self.adopt(info, now)

    def fallback_peer(self, call: Call, info: Message, live: dict[str, Message]) -> None:
        """A caller talking to a phone of the fallback queue when we come back: holds
        on that phone's leg from now on go into the record (connect.py, ``hold``)."""
        peer = self.connector.dialled(call, info, live)[0] if bridge_of(info) else None
        if peer and call.agent_channel != peer:
            self.table.bind_agent_channel(call, peer)

    def reconcile_call(self, call: Call, info: Message | None, live: dict[str, Message], now: float,
                        facts: EndFacts | None = None) -> None:
        if info is None:
            self.log.info("{call}: hung up while the AMI link was down", call=call.id)
            if facts is not None:
                self.ended_away(call, facts, now)
            else:
                self.lifecycle.caller_left(call, now)
            return
        if call.phase == P.FALLBACK:
            self.fallback_peer(call, info, live)
            return  # app_queue has the caller; the hangup handler will tell us the rest
        if call.phase == P.TALKING and call.agent_channel is None:
            bridge = bridge_of(info)
            peer, _ = self.connector.dialled(call, info, live) if bridge else (None, None)
            if peer:  # restored from a record: the agent's leg was never saved
                self.table.bind_agent_channel(call, peer)
        if call.phase == P.TALKING and call.agent_channel not in live:
            # The conversation ended while we were away; acd-connect kept when.
            ended = facts.talk_end("") if facts is not None else None
            agent_id = call.agent_id
            self.lifecycle.agent_left(call, ended[0] if ended is not None else now)
            if ended is not None and agent_id is not None:
                self.wrap_up_over(call, agent_id, ended[0], now)
        if call.phase in (P.IVR, P.QUEUED, P.CONNECTING) and in_fallback(info):
            # Talking to an agent from the fallback queue: a deadline still pending
            # there would cut the conversation off (trace 15); one waiting is left alone.
            self.lifecycle.fell_back(call, "seen in the channel list after the link came back",
                                     clear_deadline=bool(bridge_of(info)))
            self.fallback_peer(call, info, live)
            return
        in_agi = info.get("Application") == "AGI"
        if (in_agi and call.dial_unseen and call.phase in (P.QUEUED, P.CONNECTING)
                and info.get("Context") == CONNECT_CONTEXT[0]):
            self.resume(call, info, now)  # back from a Dial: ask how it went first
            return
        if call.phase == P.CONNECTING and call.offer_pending and in_agi:
            # Offered without a link, or the link failed mid-connect before the
            # Redirect ran: connect now.
            call.offer_pending = False
            if call.session is None or not call.session.pending:
                self.connector.connect(call, call.id)
            return
        if call.phase == P.CONNECTING:
            call.offer_pending = False
            if not in_agi:
                bridge = bridge_of(info)
                if bridge:
                    self.connector.answered_while_away(call, bridge, live, now)
                return  # still ringing: DialEnd will follow
            # The Redirect never ran (lost with the link): the offer failed.
            self.lifecycle.set_phase(call, PhaseInput.OFFER_LOST)
            call.agent_id = None
            self.acd.offer_result(call.id, Outcome.FAILED)
            if not call.in_phase(P.QUEUED):
                return  # offered again at once
        if in_agi:
            self.resume(call, info, now)

    def ended_away(self, call: Call, facts: EndFacts, now: float) -> None:
        """The caller's channel is gone, and the dialplan kept how the call ended
        (server/endfacts.py): the record gets the real end times and who ended the
        conversation, not the moment we learnt of it."""
        end = facts.end if facts.end is not None else now
        call.ended_at = end
        talk_ended = None
        if (call.phase in (P.QUEUED, P.CONNECTING) and not facts.fallback
                and facts.dialstatus == "ANSWER" and facts.peer):
            self.answered_away(call, facts, now)  # then it ends like any conversation
        if call.phase == P.TALKING:
            agent = self.cfg.acd.agents.get(call.agent_id or "")
            talk = facts.talk_end(agent.interface if agent is not None else "")
            talk_ended = talk[0] if talk is not None else end
            if talk is not None and talk[1] == "agent":
                self.lifecycle.agent_left(call, talk[0])  # on to the survey, which the caller left
        if call.phase in (P.IVR, P.QUEUED, P.CONNECTING) and facts.fallback:
            self.lifecycle.fell_back(call, facts.fallback,
                            at=facts.queue_join if facts.queue_join is not None else end)
        if call.phase == P.FALLBACK:
            self.fallback_ended(call, facts)
            return
        agent_id = call.agent_id
        self.lifecycle.caller_left(call, end)
        if talk_ended is not None and agent_id is not None:
            self.wrap_up_over(call, agent_id, talk_ended, now)

    def answered_away(self, call: Call, facts: EndFacts, now: float) -> None:
        """Offered before we went away, then answered and over while we were away
        (a kill -9 while the agent's phone rang; lab run lab2-b): the dialplan kept
        whom (``DIALEDPEERNAME``), for how long (``ANSWEREDTIME``) and when it ended,
        so the record says answered by that agent, not abandoned."""
        agent_id = self.connector.agent_of_channel(facts.peer)
        agent = self.cfg.acd.agents.get(agent_id or "")
        talk = facts.talk_end(agent.interface) if agent is not None else None
        if agent is None or talk is None:
            self.log.warn("{call}: answered by {peer} while we were away, an unknown phone",
                          call=call.id, peer=facts.peer)
            return
        answered_at = talk[0] - (facts.answered_s or 0.0)
        self.connector.claim(call, agent.id, None, now, force=True)
        if facts.dialed_s is not None and facts.answered_s is not None:
            call.ring_start = answered_at - max(0.0, facts.dialed_s - facts.answered_s)
        self.connector.connected(call, now, at=answered_at)

    def wrap_up_over(self, call: Call, agent_id: str, talk_ended: float, now: float) -> None:
        """A conversation that ended while we were away: its after-call work began
        then, not now, so it ends when it would have (the outage is not after-call
        work).  If that is past, the agent is free at once and the record's wrap-up
        ends at that time; otherwise it ends then, unless the agent ends it first."""
        over_at = talk_ended + self.cfg.acd.policy.wrapup_default_s
        if call.wrap_done:
            return
        if over_at <= now:
            call.wrap_end_at = over_at

        def end_if_still_this_call() -> None:
            view = self.acd.agent(agent_id)
            if view.state is AgentState.WRAP_UP and view.item_id == call.id:
                self.acd.end_wrap_up(agent_id)  # -> the lifecycle's wrap_ended

        # At the earliest after the reconcile: a freed agent is offered the next
        # caller at once, which must not happen before every call is up to date.
        self.clock.callLater(max(0.0, over_at - now), end_if_still_this_call)

    def fallback_ended(self, call: Call, facts: EndFacts) -> None:
        """How a call ended in the dialplan's fallback queue: its final record."""
        if not call.talked:  # a conversation of ours before keeps its outcome
            agent_id = self.agent_by_iface.get(facts.member)
            agent = self.cfg.acd.agents.get(agent_id or "")
            call.outcome = record_fallback(call.record, facts, agent_id,
                                           agent.tier if agent else None,
                                           f"{facts.uniqueid}.wav" if facts.uniqueid else None)
        call.ended_at = facts.end if facts.end is not None else call.ended_at
        call.caller_gone = True
        self.table.drop_channel(call)
        self.lifecycle.set_phase(call, PhaseInput.FALLBACK_ENDED)
        self.lifecycle.maybe_finish(call)

    def fallback_call_ended(self, event: Message) -> None:
        """``UserEvent HotlineCallEnd``: a caller on the fallback path hung up while
        we were logged in (the hangup handler runs before the channel's Hangup)."""
        facts = EndFacts.parse(event.get("Uniqueid") or "", event.get("Facts") or "")
        call = (self.table.by_channel.get(event.get("Channel", ""))
                or self.table.calls.get(facts.call_id))
        if call is None or call.caller_gone:
            # Never ours: it came while our session was up but the heartbeat stale.
            self.lifecycle.record_unseen(facts.call_id, event.get("CallerIDNum") or "",
                               event.get("Exten") or "",
                               facts.queue_join if facts.queue_join is not None
                               else facts.end or self.clock.seconds(),
                               f"fallback: {facts.fallback or 'unknown'}", facts)
            return
        if call.phase in (P.IVR, P.QUEUED, P.CONNECTING, P.SURVEY):
            self.lifecycle.fell_back(call, facts.fallback or "unknown", at=facts.queue_join)
        if call.phase == P.FALLBACK:
            self.fallback_ended(call, facts)

    def adopt_fallback(self, call_id: str, channel: str, caller: str, dialled: str,
                       entered: float, note: str) -> None:
        """A caller we never saw (an AstDB note), now in the fallback queue: its
        record stays open until the hangup handler tells how it ended there."""
        if call_id in self.table.calls:
            return
        call = Call(call_id, channel, caller, dialled,
                    IvrSession(self.cfg.ivr, is_open=self.is_open,
                               closed_queue=self.closed_queue),
                    CallRecorder(call_id, entered, caller, dialled), phase=P.FALLBACK)
        call.record.update(notes=note)
        self.counters["safety_fallbacks"] += 1
        self.table.add(call)
        self.lifecycle.persist(call)

    def claim_found(self, call: Call, info: Message, live: dict[str, Message], now: float) -> None:
        """A caller the channel list shows in the connect context, out of AsyncAGI."""
        if (call.phase not in (P.QUEUED, P.CONNECTING) or info.get("Application") == "AGI"
                or info.get("Context") != CONNECT_CONTEXT[0]):
            return
        peer, agent_id = self.connector.dialled(call, info, live)
        if agent_id is None:
            return  # not dialling yet: DialBegin will tell whom
        bridged = bool(bridge_of(info))
        self.connector.claim(call, agent_id, peer, now, force=bridged)

    def session_for(self, info: Message) -> AgiSession:
        channel = info.get("Channel", "")
        return self.agi.sessions.get(channel) or self.agi.adopt(
            channel, info.get("Uniqueid", ""), info.get("Linkedid", ""),
            {"agi_callerid": info.get("CallerIDNum", ""), "agi_extension": info.get("Exten", ""),
             "agi_context": info.get("Context", "")})

    def resume(self, call: Call, info: Message, now: float) -> None:
        session = self.session_for(info)
        if call.session is session and (session.pending or call.ivr.state is State.LOOKUP):
            return  # something of ours is under way: nothing was lost
        call.session, call.needs_resume = session, False
        self.log.info("{call}: resuming in phase {phase} after reconnect", call=call.id,
                      phase=call.phase)
        # A command the lost link or the killed process left running or queued on
        # the channel runs before anything sent now, and a queued one outlives a
        # Redirect into the next AsyncAGI (trace 08): after the conversation the
        # caller would hear it instead of the survey.  So probe with a NOOP first;
        # it is all that can be left behind.
        d = self.agi.run(session, "NOOP")
        d.addCallbacks(self.resume_now, self.inbound.agi_failed, callbackArgs=(call, session),
                       errbackArgs=(call,))
        d.addErrback(self.inbound.crashed, call)

    def orphan_result(self, channel: str, tag: str, result: AgiResult) -> None:
        """The result of an IVR command nothing waits for: sent by the process that
        died, or before the link dropped.  Kept for the resume that follows (FIFO:
        it arrives before the result of our probe), which uses its keys if they
        answer the step the caller is at (ivr/engine.py ``resume``)."""
        call = self.table.by_channel.get(channel)
        if call is None or call.caller_gone or call.phase not in (P.IVR, P.SURVEY):
            return
        self.log.info("{call}: result of a command sent before the restart or link loss "
                      "({tag}): kept for the resume", call=call.id, tag=tag)
        call.resume_answer = (tag, result)

    def resume_now(self, _result: object, call: Call, session: AgiSession) -> None:
        """The channel's AGI queue is ours alone again: carry on at the safe point."""
        if call.caller_gone or call.session is not session:
            return
        now = self.clock.seconds()
        answer, call.resume_answer = call.resume_answer, None
        if call.in_farewell:
            call.in_farewell = False
            self.inbound.farewell(call)
        elif call.phase == P.IVR:
            if call.ivr.state is State.IDLE:  # restored before its first prompt
                self.inbound.run(call, call.ivr.start(
                    CallInfo(call.channel, call.caller, call.dialled, session.uniqueid), now))
            else:
                outage = self.outages.covering(call.caller, now, self.cfg.ivr.outage.max_age_s)
                self.inbound.run(call, call.ivr.resume(now, answer, outage))
        elif call.phase == P.SURVEY and call.ivr.state in (State.SURVEY, State.SURVEY_REASON):
            self.inbound.run(call, call.ivr.resume(now, answer))  # the question, or its answer
        elif (call.phase in (P.QUEUED, P.CONNECTING) and call.dial_unseen
              and from_dial(session)):
            self.connector.ask_dial(call, session)  # back from a Dial: did anybody answer?
        elif call.phase == P.QUEUED:
            self.inbound.start_hold(call, now)
        elif call.phase == P.SURVEY:
            self.inbound.run(call, call.ivr.start_survey(now, call.intent or ""))
        elif call.phase == P.ENDED:
            self.inbound.farewell(call)

    def adopt(self, info: Message, now: float) -> None:
        """A caller in AsyncAGI we never saw start (its AsyncAGIStart was lost)."""
        session = self.session_for(info)
        call = self.inbound.new_call(session, info, now)
        if call is not None:
            self.log.info("{call}: adopted from the channel list", call=call.id)
            self.inbound.run(call, call.ivr.start(
                CallInfo(call.channel, call.caller, call.dialled, session.uniqueid), now,
                self.outages.covering(call.caller, now, self.cfg.ivr.outage.max_age_s)))
