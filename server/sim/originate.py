"""``Action: Originate`` (traces 02, 05b, 10) and the ChanSpy application.

Originate targets: ``Local/<n>@sim-callers`` (a registered caller script, or
missing -> queued then failed like trace 05b), ``Local/<n>@sim-supervisor``,
``Local/<n>@sim-customers`` and ``Local/<n>@sim-agents`` (they answer at once
and stay until hung up), ``PJSIP/<endpoint>`` (a simulated phone, which answers
per its behaviour, rejects it (486), or lets it ring out after ``Timeout`` ms).
Then the answered ``;1`` (or PJSIP channel) gets the ``Variable`` headers and
runs the dialplan at Context/Exten/Priority or the Application (only ChanSpy).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from server.ami.codec import Message
from server.ami.privileges import originate_permitted
from server.sim.actors import CallerActor
from server.sim.channel import RINGING, UP, Channel
from server.sim.events import dial_event, event
from server.sim.scripts import CallerScript

if TYPE_CHECKING:
    from server.sim.ami_server import AmiSession
    from server.sim.simulator import Simulator

log = logging.getLogger(__name__)

STAYING_CONTEXTS = ("sim-supervisor", "sim-customers", "sim-agents")
SPY_DELAY = 0.1  # ChanSpyStart came ~100 ms after OriginateResponse (trace 10)


def parse_callerid(text: str) -> tuple[str, str] | None:
    m = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', text)
    if m:
        return m.group(2), m.group(1)
    return (text, "") if text else None


class Originator:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.core = sim.core
        #: Local/<exten>@sim-callers -> script, for client Originates like the lab's
        self.callers: dict[str, CallerScript] = {}

    def originate(self, s: AmiSession, m: Message) -> None:
        channel = (m.get("Channel") or "").strip()
        if not channel:
            s.error(m, "Channel not specified")
            return
        app, data = m.get("Application"), m.get("Data") or ""
        if app and not originate_permitted(app, data, s.user.write if s.user else frozenset()):
            s.error(m, "Originate Access Forbidden: app or data blacklisted")  # manager.c
            return
        context, exten = m.get("Context") or "", m.get("Exten") or ""
        priority = int(m.get("Priority") or "1")
        if not app and not self.core.dialplan.has_exten(context, exten):
            s.error(m, "Extension does not exist.")
            return
        is_async = (m.get("Async") or "").lower() in ("true", "yes", "1", "on")
        caller = parse_callerid(m.get("CallerID") or "")
        variables = [v.partition("=") for v in m.getall("Variable")]
        target = Target(app, data, context, exten, priority, [(k, v) for k, _, v in variables])
        tech, _, rest = channel.partition("/")
        if is_async:
            s.respond(m, "Success", ("Message", "Originate successfully queued"))
        ok = False
        exten, _, context = rest.partition("@")
        if (tech == "Local" and context not in STAYING_CONTEXTS and context != "sim-callers"
                and self.core.dialplan.has_exten(context, exten)):
            self._dialplan_local(s, m, channel, exten, context, caller, target, is_async)
            return
        if tech == "Local":
            ok = self._local(s, m, channel, rest, caller, target)
        elif tech == "PJSIP":
            ok = self._pjsip(s, m, rest, caller, target, is_async)
            if ok and not is_async:
                return  # answered later
        else:
            self._response(m, s, False, channel, target, None, caller)
        if not is_async:
            if ok:
                s.respond(m, "Success", ("Message", "Originate successfully queued"))
            else:
                s.error(m, "Originate failed")

    def _response(self, m: Message, s: AmiSession, ok: bool, channel: str, target: Target,
                  chan: Channel | None, caller: tuple[str, str] | None,
                  reason: str | None = None) -> None:
        if (m.get("Async") or "").lower() not in ("true", "yes", "1", "on"):
            return  # only an async Originate reports through OriginateResponse (05b)
        pairs: list[tuple[str, str]] = []
        if m.action_id:
            pairs.append(("ActionID", m.action_id))
        pairs += [("Response", "Success" if ok else "Failure"), ("Channel", channel)]
        if target.app:
            pairs += [("Application", target.app), ("Data", target.data)]
        else:
            pairs += [("Context", target.context), ("Exten", target.exten)]
        num, name = caller or ("<unknown>", "<unknown>")
        pairs += [("Reason", reason or ("4" if ok else "0")),
                  ("Uniqueid", chan.uniqueid if chan else "<unknown>"),
                  ("CallerIDNum", num or "<unknown>"), ("CallerIDName", name or "<unknown>")]
        self.core.publish(event("OriginateResponse", "call", pairs))

    def _local(self, s: AmiSession, m: Message, channel: str, rest: str,
               caller: tuple[str, str] | None, target: Target) -> bool:
        exten, _, context = rest.partition("@")
        script = self.callers.get(exten) if context == "sim-callers" else None
        if script is None and context not in STAYING_CONTEXTS:
            self._fail_local(m, s, channel, exten, context, target, caller)
            return False
        if script is not None:
            if caller is not None:
                script = CallerScript(caller[0], caller[1], 0.0, exten, script.presses,
                                      script.patience, exten)
            actor = CallerActor(self.core, script)
            one, two = actor.enter()
        else:
            cid = caller or ("<unknown>", "<unknown>")
            one, two = self.core.local_pair(exten, context, cid)
            self.core.publish(dial_event("DialBegin", None, one, ("DialString", rest)))
            self.core.set_state(two, UP)
            self.core.set_state(one, UP)
            self.core.publish(dial_event("DialEnd", None, one, ("DialStatus", "ANSWER")))
        self._response(m, s, True, one.name, target, one, (one.caller_num, one.caller_name))
        self._run(one, target)
        return True

    def _dialplan_local(self, s: AmiSession, m: Message, channel: str, exten: str,
                        context: str, caller: tuple[str, str] | None, target: Target,
                        is_async: bool) -> None:
        """``Local/<exten>@<context>`` of the dialplan itself (hotline-forget): the ``;2``
        half runs that extension, and the Originate succeeds when it answers.

        Not traced; as Asterisk 22 documents Local channels and Originate: the ``;1``
        is answered when the ``;2`` answers, then runs the Originate's target; if the
        ``;2`` hangs up unanswered the Originate fails (OriginateResponse Failure, or
        ``Originate failed`` for a synchronous one).
        """
        one, two = self.core.local_pair(exten, context, caller or ("<unknown>", "<unknown>"))
        self.core.publish(dial_event("DialBegin", None, one,
                                     ("DialString", f"{exten}@{context}")))
        done: list[bool] = []  # once answered (True) or gone (False)

        def answered() -> None:
            if done:
                return
            done.append(True)
            self.core.set_state(one, UP)
            self.core.publish(dial_event("DialEnd", None, one, ("DialStatus", "ANSWER")))
            self._response(m, s, True, one.name, target, one, (one.caller_num, one.caller_name))
            if not is_async:
                s.respond(m, "Success", ("Message", "Originate successfully queued"))
            # The ;1's own pbx thread; not a caller of ours (calls_started stays).
            if target.app:
                self.core.clock.callLater(0, self._run, one, target)
            else:
                self.core.clock.callLater(0, self.core.start_pbx, one, target.context,
                                          target.exten, target.priority)

        def gone() -> None:
            if done:
                return
            done.append(False)
            self._response(m, s, False, channel, target, None, caller)
            if not is_async:
                s.error(m, "Originate failed")

        self.core.on_answer[two.name] = answered
        self.core.on_gone[one.name] = gone
        self.core.start_pbx(two, context, exten)

    def _fail_local(self, m: Message, s: AmiSession, channel: str, exten: str, context: str,
                    target: Target, caller: tuple[str, str] | None) -> None:
        seq = self.core.next_seq("Local")
        one = self.core.new_channel(f"Local/{exten}@{context}", context, exten,
                                    suffix=";1", seq=seq)
        two = self.core.new_channel(f"Local/{exten}@{context}", context, exten, state=0,
                                    linkedid=one.linkedid, suffix=";2", seq=seq)
        two.hangup_cause = one.hangup_cause = 0
        self.core.hangup_now(two)
        self.core.hangup_now(one)
        self.core.device_state(f"Local/{exten}@{context}", "INVALID")
        self._response(m, s, False, channel, target, None, caller)
        self.core.device_state(f"Local/{exten}@{context}", "INVALID")

    def _pjsip(self, s: AmiSession, m: Message, endpoint: str, caller: tuple[str, str] | None,
               target: Target, is_async: bool) -> bool:
        phone = self.sim.phones.phones.get(endpoint)
        if phone is None or phone.state != "reachable" or phone.call_state:
            self._response(m, s, False, f"PJSIP/{endpoint}", target, None, caller)
            return False
        name = phone.script.caller_name or f"Agent {endpoint}"
        chan = self.core.new_channel(f"PJSIP/{endpoint}", "agent-phones", "s",
                                     caller=(endpoint, name))
        chan.device = phone.device
        self.core.set_state(chan, RINGING)
        phone.call_state = "RINGING"
        self.sim.phones.publish_device(phone)
        behaviour = phone.next_behaviour()
        # Originate's Timeout is in ms, 30 s by default (Asterisk 22 manager docs).
        timeout = int(m.get("Timeout") or "30000") / 1000.0
        timers: list[Any] = []

        def stop_timers() -> None:
            for t in timers:
                if t.active():
                    t.cancel()

        def answered() -> None:
            stop_timers()
            if chan.hungup:
                return
            self.core.set_state(chan, UP)
            phone.call_state = "INUSE"
            self.sim.phones.publish_device(phone)
            self._response(m, s, True, chan.name, target, chan, caller)
            if not is_async:
                s.respond(m, "Success", ("Message", "Originate successfully queued"))
            self._run(chan, target)

        def failed(reason: str, cause: int, tech_cause: str | None) -> None:
            # Not traced.  Asterisk 22 (main/channel.c, __ast_request_and_dial)
            # hangs the unanswered channel up and reports the last control frame
            # it saw as the Reason: 3 (ringing: timed out) or 5 (busy, a 486).
            stop_timers()
            if chan.hungup:
                return
            chan.hangup_cause = cause
            self.core.hangup_now(chan, tech_cause=tech_cause)
            self._response(m, s, False, f"PJSIP/{endpoint}", target, None, caller, reason)
            if not is_async:
                s.error(m, "Originate failed")

        def gone() -> None:
            stop_timers()
            phone.call_state = ""
            self.sim.phones.publish_device(phone)

        self.core.on_gone[chan.name] = gone
        clock = self.core.clock
        if behaviour.reject:
            timers.append(clock.callLater(behaviour.answer_after or 0.0, failed, "5", 17, "486"))
        elif behaviour.answer_after is not None:
            timers.append(clock.callLater(behaviour.answer_after, answered))
        timers.append(clock.callLater(timeout, failed, "3", 0, None))
        return True

    def _run(self, chan: Channel, target: Target) -> None:
        for k, v in target.variables:
            self.core.set_var(chan, k, v)
        if target.app:
            chan.app_only = True
            if target.app.lower() == "chanspy":
                ChanSpy(self.core, chan, target.data).start()
            else:
                log.error("Originate application %s is not simulated", target.app)
                self.core.start_pbx(chan, "sim-nowhere", "s")
            return
        self.core.calls_started += 1
        self.core.start_pbx(chan, target.context, target.exten, target.priority)


class Target:
    def __init__(self, app: str | None, data: str, context: str, exten: str, priority: int,
                 variables: list[tuple[str, str]]) -> None:
        self.app, self.data = app, data
        self.context, self.exten, self.priority = context, exten, priority
        self.variables = variables


class ChanSpy:
    """``ChanSpy(PJSIP/1001,qE)`` on the spyer channel (trace 10).

    States: scanning, spying, done.
    """

    def __init__(self, core: Any, spyer: Channel, data: str) -> None:
        self.core = core
        self.spyer = spyer
        self.prefix = data.split(",")[0].strip()
        self.spyee: Channel | None = None
        self.state = "scanning"
        self.timer: Any = None

    def start(self) -> None:
        self.spyer.application, self.spyer.app_data = "ChanSpy", self.prefix
        self.core.park(self.spyer, self.interrupt)
        self.timer = self.core.clock.callLater(SPY_DELAY, self._scan)

    def _scan(self) -> None:
        self.timer = None
        for chan in self.core.channels.values():
            if chan.name.startswith(self.prefix + "-") and not chan.hungup:
                self.spyee = chan
                break
        if self.spyee is None:
            self.timer = self.core.clock.callLater(1.0, self._scan)
            return
        self.state = "spying"
        self._spy_event("ChanSpyStart")
        self.core.spies[self.spyee.name] = self._spyee_gone

    def _spy_event(self, name: str) -> None:
        assert self.spyee is not None
        self.core.publish(event(name, "call", self.spyer.block("Spyer"),
                                self.spyee.block("Spyee")))
        if self.spyee.bridge is not None:  # the agent's bridge is re-evaluated (trace 10)
            self.core.reevaluate_bridge(self.spyee.bridge)

    def _spyee_gone(self) -> None:
        # Option E: leave when the spied-on channel hangs up; the spyer's
        # Hangup then shows Cause 0, after the spyee's Hangup (trace 10).
        self._stop()
        self.spyer.hangup_cause = 0
        self.core.clock.callLater(0, self._end_spyer)

    def _end_spyer(self) -> None:
        if self.spyer.pending == self.interrupt:
            self.spyer.interrupt = "hangup"
            self.core.resume(self.spyer)

    def _stop(self) -> None:
        if self.state == "spying":
            self._spy_event("ChanSpyStop")
            if self.spyee is not None:
                self.core.spies.pop(self.spyee.name, None)
        self.state = "done"
        if self.timer is not None and self.timer.active():
            self.timer.cancel()

    def interrupt(self, reason: str) -> None:
        self._stop()
        self.core.resume(self.spyer)
