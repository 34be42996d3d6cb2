"""The adapter's recovery half: after a link loss, a restart, or Asterisk's restart.

A mixin of ``CallCenter`` (server/calls.py), split out to keep that file about
the normal course of a call.  Here the server learns the present from Asterisk
instead of from events, which were lost:

* ``restore`` rebuilds calls and the router from Redis after a restart;
* ``reconcile`` brings them in line with the channel list (``CoreShowChannels``)
  after every login;
* a caller Asterisk is already connecting to an agent, which this process did
  not order (a snapshot forgets offers in flight), is *claimed*: the router is
  told who is ringing, so it neither offers the call again (a Redirect would
  tear the caller out of the Dial) nor hands that agent somebody else;
* a caller back in AsyncAGI from a Dial whose end went unseen is asked how it
  ended (``DIALSTATUS``): a conversation that happened meanwhile goes on to the
  survey instead of back into the queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet import defer

from ivr.commands import AgiResult
from ivr.engine import CallInfo, IvrSession, State
from queues.agents import AgentState
from queues.items import Outcome
from server.agi import AgiSession
from server.ami.codec import Message
from server.endfacts import EndFacts, record_fallback
from server.records.model import CallRecorder

if TYPE_CHECKING:
    from server.calls import Call

CONNECT_CONTEXT = ("acd-connect", "s", "1")
#: what app_dial leaves on the caller's channel (Asterisk 22 app_dial docs)
DIAL_VARIABLES = ("DIALSTATUS", "DIALEDPEERNAME", "ANSWEREDTIME")


def in_fallback(info: Message) -> bool:
    """A ``CoreShowChannel`` in the dialplan's fallback (extensions.conf, [hotline])."""
    return info.get("Context") == "hotline" and (
        info.get("Exten") == "T" or info.get("Application") in ("UserEvent", "Playback", "Queue"))


def bridge_of(info: Message) -> str:
    """The bridge a ``CoreShowChannel`` is in, or "" (``BridgeId``; the ``Status``
    event spells it ``BridgeID``, trace 05a: header lookups ignore case)."""
    return info.get("BridgeId") or ""


def interface_of(channel: str) -> str:
    """The device a channel was dialled on: ``PJSIP/1001-0000002a`` -> ``PJSIP/1001``,
    ``Local/1001@agents-0000000b;1`` -> ``Local/1001@agents``."""
    return channel.rsplit(";", 1)[0].rpartition("-")[0]


class Recovery:
    """Mixed into ``CallCenter``; uses its calls, router (``acd``) and AMI link."""

    # ---------------------------------------------------------------- Asterisk restarted

    def asterisk_restarted(self) -> None:
        """Asterisk came back empty: every call we knew died with it."""
        now = self.clock.seconds()
        for call in list(self.calls.values()):
            call.outcome = "system_failure"
            call.system_failure = True
            agent_id = call.agent_id if call.phase == "talking" else None
            if not call.caller_gone:
                self._caller_left(call, now)
            else:
                self._maybe_finish(call)
            if agent_id is not None and agent_id in self.cfg.acd.agents:
                try:  # no after-call work for a call the system dropped
                    self.acd.end_wrap_up(agent_id)
                except Exception:
                    self.log.failure("Ending wrap-up of {agent} after the restart", agent=agent_id)

    # ---------------------------------------------------------------- link loss

    def link_lost(self) -> None:
        """The AMI link dropped: results of commands in flight will never arrive."""
        self.syncing = True
        for call in self.calls.values():
            if call.session is not None and call.session.pending:
                call.needs_resume = True
            if call.phase == "connecting":
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
        for call in list(self.calls.values()):
            info = live.get(call.channel)
            if not call.caller_gone and info is not None:
                self._claim_found(call, info, live, now)
        # Offers made from here on are connected at once, with what we know now:
        # the channel list, older, must not undo them.
        self.syncing = False
        self._offered_now = offered_now = set()
        try:
            for call in list(self.calls.values()):
                if not call.caller_gone and call.id not in offered_now:
                    self._reconcile_call(call, live.get(call.channel), live, now,
                                         facts.get(call.id))
        finally:
            self._offered_now = None
        for channel, info in live.items():
            if (channel not in self._by_channel and info.get("Application") == "AGI"
                    and info.get("Context") in self.entry_contexts):
                self._adopt(info, now)

    def _reconcile_call(self, call: Call, info: Message | None, live: dict, now: float,
                        facts: EndFacts | None = None) -> None:
        if info is None:
            self.log.info("{call}: hung up while the AMI link was down", call=call.id)
            if facts is not None:
                self._ended_away(call, facts, now)
            else:
                self._caller_left(call, now)
            return
        if call.phase == "fallback":
            self._fallback_peer(call, info, live)
            return  # app_queue has the caller; the hangup handler will tell us the rest
        if call.phase == "talking" and call.agent_channel is None:
            bridge = bridge_of(info)
            peer, _ = self._dialled(call, info, live) if bridge else (None, None)
            if peer:  # restored from a record: the agent's leg was never saved
                call.agent_channel = peer
                self._by_agent_channel[peer] = call
        if call.phase == "talking" and call.agent_channel not in live:
            # The conversation ended while we were away; acd-connect kept when.
            ended = facts.talk_end("") if facts is not None else None
            agent_id = call.agent_id
            self._agent_left(call, ended[0] if ended is not None else now)
            if ended is not None and agent_id is not None:
                self._wrap_up_over(call, agent_id, ended[0], now)
        if call.phase in ("ivr", "queued", "connecting") and in_fallback(info):
            # Talking to an agent from the fallback queue: a deadline still pending
            # there would cut the conversation off (trace 15); one waiting is left alone.
            self._fell_back(call, "seen in the channel list after the link came back",
                            clear_deadline=bool(bridge_of(info)))
            self._fallback_peer(call, info, live)
            return
        in_agi = info.get("Application") == "AGI"
        if (in_agi and call.dial_unseen and call.phase in ("queued", "connecting")
                and info.get("Context") == CONNECT_CONTEXT[0]):
            self._resume(call, info, now)  # back from a Dial: ask how it went first
            return
        if call.phase == "connecting" and call.offer_pending and in_agi:
            # Offered without a link, or the link failed mid-connect before the
            # Redirect ran: connect now.
            call.offer_pending = False
            if call.session is None or not call.session.pending:
                self._connect(call, call.id)
            return
        if call.phase == "connecting":
            call.offer_pending = False
            if not in_agi:
                bridge = bridge_of(info)
                if bridge:
                    self._answered_while_away(call, bridge, live, now)
                return  # still ringing: DialEnd will follow
            # The Redirect never ran (lost with the link): the offer failed.
            self._set_phase(call, "queued")
            call.agent_id = None
            self.acd.offer_result(call.id, Outcome.FAILED)
            if call.phase != "queued":
                return  # offered again at once
        if in_agi:
            self._resume(call, info, now)

    def _fallback_peer(self, call: Call, info: Message, live: dict) -> None:
        """A caller talking to a phone of the fallback queue when we come back: holds
        on that phone's leg from now on go into the record (calls.py, _hold)."""
        peer = self._dialled(call, info, live)[0] if bridge_of(info) else None
        if peer and call.agent_channel != peer:
            self._forget_agent_channel(call)
            call.agent_channel = peer
            self._by_agent_channel[peer] = call

    # ---------------------------------------------------------------- ended while away

    def _ended_away(self, call: Call, facts: EndFacts, now: float) -> None:
        """The caller's channel is gone, and the dialplan kept how the call ended
        (server/endfacts.py): the record gets the real end times and who ended the
        conversation, not the moment we learnt of it."""
        end = facts.end if facts.end is not None else now
        call.ended_at = end
        talk_ended = None
        if call.phase == "talking":
            agent = self.cfg.acd.agents.get(call.agent_id or "")
            talk = facts.talk_end(agent.interface if agent is not None else "")
            talk_ended = talk[0] if talk is not None else end
            if talk is not None and talk[1] == "agent":
                self._agent_left(call, talk[0])  # on to the survey, which the caller left
        if call.phase in ("ivr", "queued", "connecting") and facts.fallback:
            self._fell_back(call, facts.fallback,
                            at=facts.queue_join if facts.queue_join is not None else end)
        if call.phase == "fallback":
            self._fallback_ended(call, facts)
            return
        agent_id = call.agent_id
        self._caller_left(call, end)
        if talk_ended is not None and agent_id is not None:
            self._wrap_up_over(call, agent_id, talk_ended, now)

    def _wrap_up_over(self, call: Call, agent_id: str, talk_ended: float, now: float) -> None:
        """A conversation that ended while we were away: its after-call work began
        then, not now.  If it is over by now, the agent is free at once and the
        record's wrap-up ends when it would have (the outage is not after-call work)."""
        over_at = talk_ended + self.cfg.acd.policy.wrapup_default_s
        if over_at > now or call.wrap_done:
            return
        call.wrap_end_at = over_at
        # After the reconcile: a freed agent is offered the next caller at once,
        # which must not happen before every call has been brought up to date.
        self.clock.callLater(0, self.acd.end_wrap_up, agent_id)  # -> _wrap_ended

    def _fallback_ended(self, call: Call, facts: EndFacts) -> None:
        """How a call ended in the dialplan's fallback queue: its final record."""
        if not call.talked:  # a conversation of ours before keeps its outcome
            agent_id = self._agent_by_iface.get(facts.member)
            agent = self.cfg.acd.agents.get(agent_id or "")
            call.outcome = record_fallback(call.record, facts, agent_id,
                                           agent.tier if agent else None,
                                           f"{facts.uniqueid}.wav" if facts.uniqueid else None)
        call.ended_at = facts.end if facts.end is not None else call.ended_at
        call.caller_gone = True
        if self._by_channel.get(call.channel) is call:
            del self._by_channel[call.channel]
        self._set_phase(call, "ended")
        self._maybe_finish(call)

    def fallback_call_ended(self, event: Message) -> None:
        """``UserEvent HotlineCallEnd``: a caller on the fallback path hung up while
        we were logged in (the hangup handler runs before the channel's Hangup)."""
        facts = EndFacts.parse(event.get("Uniqueid") or "", event.get("Facts") or "")
        call = self._by_channel.get(event.get("Channel", "")) or self.calls.get(facts.call_id)
        if call is None or call.caller_gone:
            # Never ours: it came while our session was up but the heartbeat stale.
            self.record_unseen(facts.call_id, event.get("CallerIDNum") or "",
                               event.get("Exten") or "",
                               facts.queue_join if facts.queue_join is not None
                               else facts.end or self.clock.seconds(),
                               f"fallback: {facts.fallback or 'unknown'}", facts)
            return
        if call.phase in ("ivr", "queued", "connecting", "survey"):
            self._fell_back(call, facts.fallback or "unknown", at=facts.queue_join)
        if call.phase == "fallback":
            self._fallback_ended(call, facts)

    def adopt_fallback(self, call_id: str, channel: str, caller: str, dialled: str,
                       entered: float, note: str) -> None:
        """A caller we never saw (an AstDB note), now in the fallback queue: its
        record stays open until the hangup handler tells how it ended there."""
        from server.calls import Call

        if call_id in self.calls:
            return
        call = Call(call_id, channel, caller, dialled,
                    IvrSession(self.cfg.ivr, is_open=self._is_open,
                               closed_queue=self._closed_queue),
                    CallRecorder(call_id, entered, caller, dialled), phase="fallback")
        call.record.update(notes=note)
        self.counters["safety_fallbacks"] += 1
        self.calls[call_id] = call
        self._by_channel[channel] = call
        self._persist(call)

    # ---------------------------------------------------------------- claims

    def _agent_of_channel(self, channel: str) -> str | None:
        return self._agent_by_iface.get(interface_of(channel))

    def _dialled(self, call: Call, info: Message, live: dict) -> tuple[str | None, str | None]:
        """(agent channel, agent id) of the Dial the caller's channel is in, if any.

        The agent's leg shares the caller's Linkedid; before it exists, the
        Dial's own argument names the interface."""
        linkedid = info.get("Linkedid") or call.id
        for channel, m in live.items():
            if channel != call.channel and m.get("Linkedid") == linkedid:
                agent = self._agent_of_channel(channel)
                if agent is not None:
                    return channel, agent
        if info.get("Application") == "Dial":
            iface = (info.get("ApplicationData") or "").split(",", 1)[0]
            return None, self._agent_by_iface.get(iface)
        return None, None

    def _claim_found(self, call: Call, info: Message, live: dict, now: float) -> None:
        """A caller the channel list shows in the connect context, out of AsyncAGI."""
        if (call.phase not in ("queued", "connecting") or info.get("Application") == "AGI"
                or info.get("Context") != CONNECT_CONTEXT[0]):
            return
        peer, agent_id = self._dialled(call, info, live)
        if agent_id is None:
            return  # not dialling yet: DialBegin will tell whom
        bridged = bool(bridge_of(info))
        self._claim(call, agent_id, peer, now, force=bridged)

    def _claim(self, call: Call, agent_id: str, agent_channel: str | None, now: float,
               force: bool = False) -> bool:
        """Asterisk rings (or has connected) this agent for this caller: make the
        router and the call agree.  True if they do.

        If the router cannot give the call to that agent (it holds them on other
        work, or they logged out), a ringing leg is hung up (the caller comes back
        to the queue), unless ``force``: the conversation is under way, and the
        record follows what happened even though the router has no part in it.
        """
        if call.phase == "connecting" and call.agent_id == agent_id and not call.offer_pending:
            ok = True  # ours, as we left it
        else:
            self._forget_agent_channel(call)  # a leg a previous process knew, now stale
            with self.acd.batch():  # nothing offered before the adoption
                self._ensure_routed(call, now)
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
            self._forget_agent_channel(call)
            call.agent_channel = agent_channel
            self._by_agent_channel[agent_channel] = call
        if call.phase != "connecting":
            self._set_phase(call, "connecting")
        return ok

    def _ensure_routed(self, call: Call, now: float) -> None:
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

    def _dial_call(self, event: Message) -> Call | None:
        """The call a DialBegin or DialEnd is about.  One being connected that we did
        not offer (restored after a restart, the Redirect already run) is claimed
        for the agent the Dial rings."""
        call = self._by_channel.get(event.get("Channel", ""))
        if (call is None or call.caller_gone or call.phase not in ("queued", "connecting")
                or event.get("Context") != CONNECT_CONTEXT[0]):
            return call
        dest = event.get("DestChannel") or ""
        agent_id = self._agent_of_channel(dest)
        if agent_id is not None and (call.phase != "connecting" or call.agent_id != agent_id):
            answered = event.name == "DialEnd" and event.get("DialStatus") == "ANSWER"
            self._claim(call, agent_id, dest, self.clock.seconds(), force=answered)
        return call

    # ---------------------------------------------------------------- outcomes found

    def _offer_lost(self, call: Call) -> None:
        """The offer ended without our seeing how: back to the queue, the hold loop resumes."""
        call.offer_pending = False
        self._forget_agent_channel(call)
        call.agent_id = None
        self._set_phase(call, "queued")
        item = self.acd.item(call.id)
        if item is not None:
            try:
                self.acd.offer_result(call.id, Outcome.NO_ANSWER)
            except ValueError:
                pass  # the router had already released it
        if call.phase == "queued" and call.session is not None:
            self._start_hold(call, self.clock.seconds())

    def _answered_while_away(self, call: Call, bridge: str, live: dict, now: float) -> None:
        """The DialEnd ANSWER was lost with the link: the channel list shows the bridge."""
        peer = next((ch for ch, m in live.items()
                     if ch != call.channel and bridge_of(m) == bridge),
                    None)
        if call.agent_id not in self.cfg.acd.agents:
            return
        if peer and call.agent_channel != peer:
            self._forget_agent_channel(call)
            call.agent_channel = peer
            self._by_agent_channel[peer] = call
        self._connected(call, now)

    @staticmethod
    def _from_dial(session: AgiSession) -> bool:
        return session.env.get("agi_context") == CONNECT_CONTEXT[0]

    def _ask_dial(self, call: Call, session: AgiSession) -> None:
        """Back in AsyncAGI from a Dial whose end we never saw: ask the channel."""
        asks = [self.ami.sendAction("Getvar", [("Channel", call.channel), ("Variable", name)])
                for name in DIAL_VARIABLES]
        d = defer.gatherResults(asks, consumeErrors=True)
        d.addCallbacks(self._dial_learned, self._dial_unknown, callbackArgs=(call, session),
                       errbackArgs=(call, session))
        d.addErrback(self._crashed, call)

    def _dial_unknown(self, failure, call: Call, session: AgiSession) -> None:
        self.log.warn("{call}: could not read how the Dial ended: {e}", call=call.id,
                      e=failure.getErrorMessage())
        self._dial_learned([{}, {}, {}], call, session)

    def _dial_learned(self, replies: list, call: Call, session: AgiSession) -> None:
        if call.caller_gone or call.session is not session:
            return
        call.dial_unseen = False
        status, peer, answered = ((r.get("Value") or "") for r in replies)
        now = self.clock.seconds()
        agent_id = self._agent_of_channel(peer)
        if status != "ANSWER" or agent_id is None:
            self.log.info("{call}: the Dial we did not see ended {status!r}", call=call.id,
                          status=status)
            if call.phase == "connecting" and call.offer_pending:
                call.offer_pending = False  # offered meanwhile, not yet tried: try it
                self._connect(call, call.id)
            elif call.phase == "connecting":
                self._offer_lost(call)
            else:
                self._start_hold(call, now)
            return
        try:
            talked = max(0.0, float(answered))
        except ValueError:
            talked = 0.0
        self.log.info("{call}: talked to {agent} ({s:.0f} s) while we were away", call=call.id,
                      agent=agent_id, s=talked)
        if call.phase != "connecting" or call.agent_id != agent_id:
            self._claim(call, agent_id, None, now, force=True)
        self._connected(call, now, at=now - talked)
        self._agent_left(call, now)
        if call.phase == "survey":
            self._run(call, call.ivr.start_survey(now, call.intent or ""))

    # ---------------------------------------------------------------- resuming AsyncAGI

    def _session_for(self, info: Message) -> AgiSession:
        channel = info.get("Channel", "")
        return self.agi.sessions.get(channel) or self.agi.adopt(
            channel, info.get("Uniqueid", ""), info.get("Linkedid", ""),
            {"agi_callerid": info.get("CallerIDNum", ""), "agi_extension": info.get("Exten", ""),
             "agi_context": info.get("Context", "")})

    def _resume(self, call: Call, info: Message, now: float) -> None:
        session = self._session_for(info)
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
        d.addCallbacks(self._resume_now, self._agi_failed, callbackArgs=(call, session),
                       errbackArgs=(call,))
        d.addErrback(self._crashed, call)

    def _orphan_result(self, channel: str, tag: str, result: AgiResult) -> None:
        """The result of an IVR command nothing waits for: sent by the process that
        died, or before the link dropped.  Kept for the resume that follows (FIFO:
        it arrives before the result of our probe), which uses its keys if they
        answer the step the caller is at (ivr/engine.py ``resume``)."""
        call = self._by_channel.get(channel)
        if call is None or call.caller_gone or call.phase not in ("ivr", "survey"):
            return
        self.log.info("{call}: result of a command sent before the restart or link loss "
                      "({tag}): kept for the resume", call=call.id, tag=tag)
        call.resume_answer = (tag, result)

    def _resume_now(self, _result, call: Call, session: AgiSession) -> None:
        """The channel's AGI queue is ours alone again: carry on at the safe point."""
        if call.caller_gone or call.session is not session:
            return
        now = self.clock.seconds()
        answer, call.resume_answer = call.resume_answer, None
        if call.in_farewell:
            call.in_farewell = False
            self._farewell(call)
        elif call.phase == "ivr":
            if call.ivr.state is State.IDLE:  # restored before its first prompt
                self._run(call, call.ivr.start(
                    CallInfo(call.channel, call.caller, call.dialled, session.uniqueid), now))
            else:
                outage = self.outages.covering(call.caller, now, self.cfg.ivr.outage.max_age_s)
                self._run(call, call.ivr.resume(now, answer, outage))
        elif call.phase == "survey" and call.ivr.state in (State.SURVEY, State.SURVEY_REASON):
            self._run(call, call.ivr.resume(now, answer))  # the question, or its answer
        elif (call.phase in ("queued", "connecting") and call.dial_unseen
              and self._from_dial(session)):
            self._ask_dial(call, session)  # back from a Dial: did anybody answer?
        elif call.phase == "queued":
            self._start_hold(call, now)
        elif call.phase == "survey":
            self._run(call, call.ivr.start_survey(now, call.intent or ""))
        elif call.phase == "ended":
            self._farewell(call)

    def _adopt(self, info: Message, now: float) -> None:
        """A caller in AsyncAGI we never saw start (its AsyncAGIStart was lost)."""
        session = self._session_for(info)
        call = self._new_call(session, info, now)
        if call is not None:
            self.log.info("{call}: adopted from the channel list", call=call.id)
            self._run(call, call.ivr.start(
                CallInfo(call.channel, call.caller, call.dialled, session.uniqueid), now,
                self.outages.covering(call.caller, now, self.cfg.ivr.outage.max_age_s)))

    # ---------------------------------------------------------------- restart

    def _phase_known(self, call: Call, phase: str) -> str:
        """The call's live state, or its record where that went further.

        Both are written at each step, but a Redis outage can refuse the one
        and let the other through on a retry (the record has its own spool):
        a restart then trusts what happened, not what was last saved."""
        rec = call.record.snapshot()
        kinds = {e.kind for e in rec.timeline}
        call.intent = call.intent or rec.intent
        call.priority = rec.priority if call.priority is None else call.priority
        if phase in ("ivr", "queued", "connecting") and "answered" in kinds and \
                "bridge_end" not in kinds and rec.agent_id in self.cfg.acd.agents:
            call.agent_id, call.talked, call.wrap_done = rec.agent_id, True, False
            call.queue = call.queue or (rec.queues[-1] if rec.queues else None)
            return "talking"
        if phase == "ivr" and "enqueued" in kinds and rec.queues:
            call.queue = rec.queues[-1]
            return "queued"
        return phase

    def restore(self, live: dict[str, dict], records: dict[str, dict]) -> int:
        """Rebuild calls and the router from Redis after a restart; returns calls restored.

        Channels are not trusted yet: the first resync (``reconcile``) resumes the
        callers still there at a safe point, claims those being connected, and
        closes the records of those gone.
        """
        from queues.snapshot import restore as restore_router
        from server.calls import Call
        from server.records.model import CallRecord

        self.syncing = True  # no call is connected before the channels are seen
        restored = 0
        for call_id, state in list(live.get("call", {}).items()):
            raw = records.get(call_id)
            if raw is None:
                # Its record is final (or gone): a delete lost with the old process or
                # in a Redis outage.  Drop the entry, or every restart would skip it again.
                if self.live is not None:
                    self._write_live(call_id, None)
                continue
            try:
                ivr = IvrSession.restore(self.cfg.ivr, state["ivr"], is_open=self._is_open,
                                         closed_queue=self._closed_queue)
                call = Call(call_id, state["channel"], state["caller"], state["dialled"], ivr,
                            CallRecorder.resume(CallRecord.from_dict(raw)))
            except (KeyError, ValueError, TypeError) as exc:
                self.log.error("Live state of {call} unusable: {e}", call=call_id, e=exc)
                continue
            for key in ("queue", "intent", "priority", "account", "agent_id", "agent_channel",
                        "talked", "wrap_done", "outcome"):
                setattr(call, key, state.get(key, getattr(call, key)))
            phase = self._phase_known(call, state.get("phase", "ivr"))
            if phase == "connecting":
                # The router forgets offers in flight; so do we.  If Asterisk is
                # connecting the caller, the reconcile finds whom and claims it.
                phase, call.agent_id, call.agent_channel = "queued", None, None
            call.phase = phase
            call.needs_resume = True
            call.dial_unseen = phase == "queued"
            self.calls[call_id] = call
            if phase != "ended":
                self._by_channel[call.channel] = call
            if call.agent_channel:
                self._by_agent_channel[call.agent_channel] = call
            if call.agent_id and not call.wrap_done:
                self._last_call_of_agent[call.agent_id] = call
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
            for call in list(self.calls.values()):
                self._align_router(call, now)
        self.log.info("Restored {n} live calls from Redis", n=restored)
        return restored

    def _align_router(self, call: Call, now: float) -> None:
        """Make the restored router agree with a restored call."""
        if call.phase == "queued":
            self._ensure_routed(call, now)
            return
        if call.phase == "talking" and call.agent_id:
            view = self.acd.agent(call.agent_id)
            if view.item_id == call.id and view.state is AgentState.ON_CALL:
                return
            # Answered after the snapshot: the router must hold the agent on it
            # (and not offer the caller to somebody else).
            self._ensure_routed(call, now)
            if view.state is AgentState.LOGGED_OUT:
                self.acd.login(call.agent_id)  # on a call: logged in, whatever it says
            if self.acd.adopt_offer(call.id, call.agent_id):
                self.acd.offer_result(call.id, Outcome.ANSWERED)
            else:
                self.acd.forget(call.id)
                call.wrap_done = True  # the router has no part in this one
            return
        item = self.acd.item(call.id) if self.acd.is_waiting(call.id) else None
        if call.phase == "ivr" and item is not None and item.queue in self.cfg.acd.queues:
            # Both the call's state and its record were refused (Redis was down)
            # after the caller entered the queue; the router saw it.
            call.phase, call.queue = "queued", item.queue
            call.dial_unseen = True
            return
        if self.acd.forget(call.id):
            self.log.info("{call}: past the queue ({phase}) but waiting in the router's "
                          "snapshot; dropped there", call=call.id, phase=call.phase)
        if call.agent_id and not call.wrap_done and call.phase in ("survey", "ended"):
            # A wrap-up the router no longer holds ended while we were away.
            view = self.acd.agent(call.agent_id)
            if view.item_id == call.id and view.state is AgentState.ON_CALL:
                # The snapshot predates the end of the conversation (it is
                # debounced; the call's own state is not): end it now, or the
                # agent would stay on a call that is over.
                self.acd.call_ended(call.id)
            elif view.item_id != call.id or view.state is not AgentState.WRAP_UP:
                self._wrap_ended(call)
