"""``Dial(iface,timeout,options)`` to simulated agents, with the traced events.

Targets: ``Local/<exten>@<context>`` (a Local pair whose ``;2`` half follows
the :class:`AgentBehaviour` registered for that exten and context, e.g. the
lab's ``sim-agents``, traces 02, 03, 08, or ``sim-customers`` for callbacks) and
``PJSIP/<endpoint>`` (a simulated softphone, trace 09).  A behaviour with
``reject`` answers busy (a 486 for a phone, ``Busy()`` for a Local callee).  One :class:`DialCall`
per Dial; its states: ``ringing`` -> ``bridged`` -> ``done``, or ``ringing`` ->
``done`` (NOANSWER, BUSY, CANCEL).
"""

from __future__ import annotations

import logging
from typing import Any

from server.sim.channel import RINGING, UP, Channel
from server.sim.core import Core
from server.sim.dialplan import split_args
from server.sim.events import chan_event, dial_event
from server.sim.phones import Phone, PhoneRegistry
from server.sim.scripts import AgentBehaviour

log = logging.getLogger(__name__)

_RTP_QOS = (
    ("RTPAUDIOQOS", "ssrc=0;themssrc=0;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;"
                    "txcount=0;rlp=0;rtt=0.000000;rxmes=0.000000;txmes=0.000000"),
    ("RTPAUDIOQOSJITTER", "minrxjitter=000.000000;maxrxjitter=000.000000;"
                          "avgrxjitter=000.000000;stdevrxjitter=000.000000;"),
    ("RTPAUDIOQOSLOSS", "minrxlost=000.000000;maxrxlost=000.000000;avgrxlost=000.000000;"
                        "stdevrxlost=000.000000;"),
    ("RTPAUDIOQOSRTT", "minrtt=000.000000;maxrtt=000.000000;avgrtt=000.000000;"
                       "stdevrtt=000.000000;"),
    ("RTPAUDIOQOSMES", "minrxmes=000.000000;maxrxmes=000.000000;avgrxmes=000.000000;"
                       "stdevrxmes=000.000000;"),
)

_EMPTY_DIAL_VARS = (
    "DIALSTATUS", "DIALEDPEERNUMBER", "DIALEDPEERNAME", "ANSWEREDTIME", "ANSWEREDTIME_MS",
    "DIALEDTIME", "DIALEDTIME_MS", "RINGTIME", "RINGTIME_MS", "PROGRESSTIME", "PROGRESSTIME_MS",
)


class Dialer:
    def __init__(self, core: Core, phones: PhoneRegistry) -> None:
        self.core = core
        self.phones = phones
        #: (context, exten) -> behaviour of the ;2 half of Local/<exten>@<context>
        self.local_agents: dict[tuple[str, str], AgentBehaviour] = {}
        #: queues.conf queues (server.sim.queue.load_queues); rrmemory's last answerer
        self.queues: dict[str, Any] = {}
        self.queue_last: dict[str, int] = {}
        core.dial = self

    def queue(self, caller: Channel, data: str) -> bool:
        """``Queue(name)`` with members (server/sim/queue.py); False if not configured."""
        from server.sim.queue import QueueCall  # builds on this module

        config = self.queues.get(split_args(data)[0].strip())
        if config is None or not config.members:
            return False
        QueueCall(self, caller, config).start()
        return True

    def dial(self, caller: Channel, data: str) -> None:
        args = split_args(data)
        iface = args[0].strip()
        timeout = float(args[1]) if len(args) > 1 and args[1].strip() else None
        options = args[2] if len(args) > 2 else ""
        for name in _EMPTY_DIAL_VARS:
            self.core.set_var(caller, name, "")
        call = DialCall(self, caller, iface, timeout, options)
        call.start()


class DialCall:
    #: Dial sets DIALSTATUS, DIALEDPEERNAME and DIALEDPEERNUMBER on the caller
    sets_dial_vars = True

    def __init__(self, dialer: Dialer, caller: Channel, iface: str, timeout: float | None,
                 options: str) -> None:
        self.dialer = dialer
        self.core = dialer.core
        self.caller = caller
        self.iface = iface
        self.timeout = timeout
        self.options = options
        self.state = "ringing"
        self.dest: Channel | None = None
        self.two: Channel | None = None  # the agent's ;2 half for Local targets
        self.phone: Phone | None = None
        self.behaviour = AgentBehaviour()
        self.bridge: Any = None
        self.timers: list[Any] = []
        self.started = self.core.clock.seconds()
        self.answered_at: float | None = None

    # -- setup -------------------------------------------------------------
    def start(self) -> None:
        self.core.park(self.caller, self.interrupt)
        tech, _, rest = self.iface.partition("/")
        if tech == "Local":
            exten, _, context = rest.partition("@")
            behaviour = self.dialer.local_agents.get((context, exten))
            if behaviour is None:
                self._finish_unavailable()  # Local/ to a missing extension
                return
            self.behaviour = behaviour
            caller_id = (self.caller.exten, self.caller.caller_name)
            one, two = self.core.local_pair(exten, context, caller_id,
                                            linkedid=self.caller.linkedid, dialed_peer=rest)
            one.connected_num, one.connected_name = self.caller.caller_num, self.caller.caller_name
            self.dest, self.two = one, two
            self.core.legs[one.name] = self._dest_gone
            self.core.on_gone[two.name] = self._cancel_timers
            self._announce()
            self.core.publish(dial_event("DialBegin", self.caller, one, ("DialString", rest)))
        elif tech == "PJSIP":
            phone = self.dialer.phones.phones.get(rest)
            if phone is None or phone.state not in ("reachable", "dead"):
                # No reachable contact: chan_pjsip cannot create the channel.
                self._finish_unavailable()
                return
            if phone.call_state:
                # Documented choice: the simulated softphone has no call waiting (486).
                self._finish_unavailable("BUSY", 17)
                return
            self.phone = phone
            self.behaviour = phone.next_behaviour()
            name = phone.script.caller_name or f"Agent {phone.endpoint}"
            dest = self.core.new_channel(f"PJSIP/{phone.endpoint}", "agent-phones", "s",
                                         caller=(phone.endpoint, name),
                                         linkedid=self.caller.linkedid)
            self.core.set_var(dest, "DIALEDPEERNUMBER", rest)
            dest.connected_num = self.caller.caller_num
            dest.connected_name = self.caller.caller_name
            dest.exten = self.caller.exten
            self.core.publish(chan_event("NewConnectedLine", "call", dest))
            dest.device = phone.device
            self.dest = dest
            self.core.legs[dest.name] = self._dest_gone
            self.core.on_gone[dest.name] = self._cancel_timers
            if phone.state == "reachable":
                self.core.set_state(dest, RINGING)
            self._announce()
            self.core.publish(dial_event("DialBegin", self.caller, dest, ("DialString", rest)))
            # chan_pjsip sends the callee's identity back: connected line on the
            # caller, and caller id on the other half of a Local caller (trace 09).
        else:
            self._finish_unavailable()
            return
        self._ring()

    def _ring(self) -> None:
        assert self.dest is not None
        b = self.behaviour
        dead = self.phone is not None and self.phone.state == "dead"
        if self.phone is None and b.answer_after == 0 and not b.reject:
            self._answer()  # the lab's agents answered at once: no Ringing state (trace 02)
            return
        if not dead and (b.ring or self.phone is not None):
            if self.phone is None:
                self.core.set_state(self.dest, RINGING)
            if self.phone is not None:
                self.caller.connected_num = self.dest.caller_num
                self.caller.connected_name = self.dest.caller_name
                self.core.publish(chan_event("NewConnectedLine", "call", self.caller))
            ring = self.core.clock.seconds() - self.started
            self.core.set_var(self.caller, "RINGTIME", str(int(ring)))
            self.core.set_var(self.caller, "RINGTIME_MS", str(int(ring * 1000)))
            self.core.publish(dial_event("DialState", self.caller, self.dest,
                                         ("DialStatus", "RINGING")))
            two = self.caller.peer
            if self.phone is not None and two is not None and not two.hungup:
                two.caller_num, two.caller_name = self.dest.caller_num, self.dest.caller_name
                self.core.publish(chan_event("NewCallerid", "call", two, (
                    "CID-CallingPres", "0 (Presentation Allowed, Not Screened)")))
            if self.phone is not None:
                self.phone.call_state = "RINGING"
                self.dialer.phones.extension_status(self.phone)
                self.core.device_state(self.phone.device, "RINGING")
        if dead:
            pass  # the INVITE goes unanswered: Dial times out (NOANSWER)
        elif b.reject:
            self._later(b.answer_after or 0.0, self._busy if self.phone else self._local_busy)
        elif b.answer_after is not None:
            self._later(b.answer_after, self._answer)
        if self.timeout is not None:
            self._later(self.timeout, self._no_answer)

    def _later(self, delay: float, fn: Any) -> None:
        self.timers.append(self.core.clock.callLater(delay, fn))

    def _cancel_timers(self) -> None:
        for t in self.timers:
            if t.active():
                t.cancel()
        self.timers = []

    # -- outcomes ----------------------------------------------------------
    def _answer(self) -> None:
        if self.state != "ringing":
            return
        self._cancel_timers()
        dest, caller = self.dest, self.caller
        assert dest is not None
        if self.two is not None:
            self.core.set_state(self.two, UP)
        self.core.set_state(dest, UP)
        self.state = "bridged"
        self.answered_at = self.core.clock.seconds()
        if self.sets_dial_vars:
            self.core.set_var(caller, "DIALSTATUS", "ANSWER")
            self.core.set_var(caller, "DIALEDPEERNAME", dest.name)
            self.core.set_var(caller, "DIALEDPEERNUMBER", self.iface.partition("/")[2])
        self.core.publish(dial_event("DialEnd", caller, dest, ("DialStatus", "ANSWER")))
        self._before_bridge()
        caller.connected_num, caller.connected_name = dest.caller_num, dest.caller_name
        if self.phone is not None:
            dest.exten = ""
        self.bridge = self.core.new_bridge()
        self.core.bridge_enter(self.bridge, dest)
        self.core.bridge_enter(self.bridge, caller)
        if self.phone is not None:
            self.phone.call_state = "INUSE"
            self.core.device_state(self.phone.device, "INUSE")
            self.dialer.phones.extension_status(self.phone)
        self.core.reevaluate_bridge(self.bridge)
        b = self.behaviour
        if b.hold_at is not None and self.phone is not None:
            self._later(b.hold_at, self._hold)
        self._later(b.talk, self._agent_hangs_up)

    def _announce(self) -> None:
        """The callee's channel exists, just before DialBegin (app_queue's AgentCalled)."""

    def _before_bridge(self) -> None:
        """Between DialEnd ANSWER and the bridge (app_queue's events go here)."""

    def _bridge_ending(self) -> None:
        """The callee hung up a bridged call, before the BridgeLeaves (app_queue's
        AgentComplete goes here, trace 14)."""

    def _hold(self) -> None:
        dest, caller = self.dest, self.caller
        assert dest is not None
        self.core.publish(chan_event("Hold", "call", dest, ("MusicClass", "default")))
        self.core.moh_start(caller, "default")
        self._reevaluate_bridge()
        self._later(self.behaviour.hold_for, self._unhold)

    def _unhold(self) -> None:
        assert self.dest is not None
        self.core.publish(chan_event("Unhold", "call", self.dest))
        self.core.moh_stop(self.caller)
        self._reevaluate_bridge()

    def _reevaluate_bridge(self) -> None:
        # Hold/Unhold re-emit BRIDGEPEER x2 and BRIDGEPVTCALLID (trace 09).
        self.core.reevaluate_bridge(self.bridge)

    def _agent_hangs_up(self) -> None:
        if self.state != "bridged":
            return
        if self.two is not None:
            self.core.hangup_by_actor(self.two, 16)  # -> _dest_gone via the Local ;1
            return
        dest = self.dest
        assert dest is not None
        self._rtp_qos()
        self.core.publish(chan_event("HangupRequest", "call", dest, ("Cause", "16")))
        dest.hangup_cause = 16
        # chan_pjsip on the BYE: the phone's channel is the hangup source, of
        # itself and of its bridge peer, the caller (not traced; AMI never shows it).
        self.core.set_hangupsource(dest, dest.name)
        self._dest_gone()

    def _rtp_qos(self) -> None:
        """chan_pjsip's RTP statistics, set as the media ends (trace 09)."""
        dest = self.dest
        assert dest is not None
        for name, value in _RTP_QOS:
            self.core.set_var(dest, name, value)
            self.core.set_var(self.caller, name + "BRIDGED", value)

    def _dest_gone(self) -> None:
        """The agent leg hung up while ringing or bridged (traces 02, 09, 10)."""
        if self.state == "done":
            return
        dest, caller = self.dest, self.caller
        assert dest is not None
        self.core.legs.pop(dest.name, None)
        self._cancel_timers()
        bridged = self.state == "bridged"
        self.state = "done"
        # A spied-on agent leg lingers until ChanSpy lets go: the caller is
        # back in AsyncAGI before its Hangup (trace 10).
        spied = dest.name in self.core.spies

        def hang_up_dest() -> None:
            if not dest.hungup:
                self.core.hangup_now(dest)
                self._phone_idle()

        if bridged:
            self._bridge_ending()
        if not bridged:
            hang_up_dest()
            # The callee hung up while ringing (Normal Clearing): app_dial's
            # handle_cause counts nothing for cause 16, so the status is NOANSWER.
            # Not traced.
            self.core.publish(dial_event("DialEnd", caller, dest, ("DialStatus", "NOANSWER")))
            self._done("NOANSWER", dest.hangup_cause)
            return
        self.core.set_var(dest, "BRIDGEPEER", "")
        self.core.set_var(caller, "BRIDGEPEER", "")
        if self.phone is not None:
            self.core.set_var(caller, "BRIDGEPVTCALLID", "")
        self.core.bridge_leave(self.bridge, dest)
        # Where a PJSIP agent leg's Hangup lands varies on a real Asterisk (trace 13, 27
        # calls): between the two BridgeLeaves (as in 09), after both, or only after the
        # caller is back in AsyncAGI from Dial(...,g).  The seed picks one per call.  A
        # spied-on leg lingers until ChanSpy lets go (trace 10): always the last.
        when = "agi" if spied else "between"
        if self.phone is not None and not spied:
            when = self.core.order_rng.choice(("between", "after_leave", "agi"))
        if self.phone is not None and when == "between":
            hang_up_dest()
        self.core.bridge_leave(self.bridge, caller)
        if self.phone is None or when == "after_leave":
            hang_up_dest()  # Local ;1: after both BridgeLeaves (02)
        self._answered_vars()
        if self.sets_dial_vars:
            self.core.set_var(caller, "DIALSTATUS", "ANSWER")
        self.core.bridge_destroy(self.bridge)
        if "g" not in self.options:
            caller.interrupt = "hangup"  # without g the caller hangs up with the agent
        self._done(None, 16)
        hang_up_dest()

    def _answered_vars(self) -> None:
        now = self.core.clock.seconds()
        answered = now - (self.answered_at or now)
        dialed = now - self.started
        for name, secs in (("ANSWEREDTIME", answered), ("DIALEDTIME", dialed)):
            self.core.set_var(self.caller, name, str(int(secs)))
            self.core.set_var(self.caller, name + "_MS", str(int(secs * 1000)))

    def _stop_ringing(self) -> Channel | None:
        """End the ringing phase once; the ringing leg, or None if it already ended."""
        if self.state != "ringing":
            return None
        assert self.dest is not None
        self.state = "done"
        self._cancel_timers()
        return self.dest

    def _no_answer(self) -> None:
        dest = self._stop_ringing()
        if dest is None:
            return
        self.core.publish(dial_event("DialEnd", self.caller, dest, ("DialStatus", "NOANSWER")))
        dest.hangup_cause = 0
        self._kill_dest(0)
        self._done("NOANSWER", 0)

    def _busy(self) -> None:
        dest = self._stop_ringing()
        if dest is None:
            return
        self.core.publish(chan_event("HangupRequest", "call", dest, ("Cause", "17"),
                                     ("TechCause", "486")))
        self.core.publish(dial_event("DialEnd", self.caller, dest, ("DialStatus", "BUSY")))
        dest.hangup_cause = 17
        self.core.legs.pop(dest.name, None)
        self._done("BUSY", 17)  # the caller goes on before the PJSIP Hangup (trace 09)
        self.core.hangup_now(dest, tech_cause="486")
        self._phone_idle()

    def _local_busy(self) -> None:
        """A Local callee whose ``;2`` answers ``Busy()`` (a busy callback customer).

        Not traced: app_dial turns the BUSY control frame into DIALSTATUS=BUSY
        and hangs the ``;1`` up (cause 17, User busy), as for the PJSIP 486 above.
        """
        dest = self._stop_ringing()
        if dest is None:
            return
        self.core.publish(dial_event("DialEnd", self.caller, dest, ("DialStatus", "BUSY")))
        self._kill_dest(17)
        self._done("BUSY", 17)

    def _kill_dest(self, cause: int) -> None:
        """Asterisk hangs up the agent leg (timeout, caller gone)."""
        dest, two = self.dest, self.two
        assert dest is not None
        self.core.legs.pop(dest.name, None)
        if two is not None and not two.hungup:
            self.core.on_gone.pop(two.name, None)
            self.core.publish(chan_event("HangupRequest", "call", two, ("Cause", str(cause))))
            dest.hangup_cause = two.hangup_cause = cause
            self.core.hangup_now(dest)
            self.core.publish(chan_event("SoftHangupRequest", "call", two, ("Cause", "16")))
            self.core.hangup_now(two)
        elif not dest.hungup:
            # Not traced for PJSIP: Asterisk hangs up the outbound leg (CANCEL/BYE).
            dest.hangup_cause = cause
            self.core.hangup_now(dest)
        self._phone_idle()

    def _phone_idle(self) -> None:
        if self.phone is not None and self.phone.call_state:
            self.phone.call_state = ""
            self.dialer.phones.publish_device(self.phone)

    def _finish_unavailable(self, status: str = "CHANUNAVAIL", cause: int = 0) -> None:
        self.state = "done"
        self._done(status, cause)

    def _done(self, status: str | None, cause: int) -> None:
        if status is not None:
            self.core.set_var(self.caller, "DIALSTATUS", status)
        self.caller.hangup_cause = cause
        if self.caller.pending == self.interrupt:
            self.core.resume(self.caller)

    def interrupt(self, reason: str) -> None:
        """The caller hung up or was redirected while dialling or bridged."""
        if self.state == "done":
            return
        dest, caller = self.dest, self.caller
        bridged = self.state == "bridged"
        self.state = "done"
        self._cancel_timers()
        if dest is not None:
            if bridged:
                self.core.bridge_leave(self.bridge, caller)
                self.core.bridge_leave(self.bridge, dest)
            else:
                self.core.publish(dial_event("DialEnd", caller, dest, ("DialStatus", "CANCEL")))
            self._kill_dest(16)
            if bridged:
                self.core.bridge_destroy(self.bridge)
                # Not traced: app_dial's (and app_queue's) end-of-bridge callback
                # sets ANSWEREDTIME whichever side ended the bridge.
                self._answered_vars()
        self._release_caller()

    def _release_caller(self) -> None:
        self.core.resume(self.caller)
