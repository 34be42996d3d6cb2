"""The simulated Asterisk core: channels, the dialplan runner, hangups, events.

Everything runs on an injected clock (``IReactorTime``); randomness (Asterisk's
AGI CommandIds, bridge ids) comes from ``random.Random(seed)``, so a run under
``task.Clock`` is deterministic.

Dialplan runner states per channel: running a synchronous step, parked in an
asynchronous application (``chan.pending`` holds its interrupt function), or
ended.  Hangups follow the traced order (02, 03, 04): the side that hangs up
first gets ``SoftHangupRequest``/``Hangup``, its Local peer ``HangupRequest``;
the peer's application is then interrupted and its dialplan ends with
``SoftHangupRequest`` + ``Hangup``.
"""

from __future__ import annotations

import logging
import random
import re
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from server.sim.agi import QueuedCommand
from server.sim.apps import JUMPED, NEXT, PARKED, Applications
from server.sim.channel import CAUSE_TEXT, DOWN, RING, RINGING, STATE_DESC, UP, Channel
from server.sim.dialplan import Dialplan, substitute
from server.sim.events import Event, bridge_block, chan_event, event
from server.sim.prompts import PromptCatalog

if TYPE_CHECKING:
    from server.sim.dial import Dialer  # dial.py builds on this module

log = logging.getLogger(__name__)

#: applications that finish at once: all a hangup handler may run here
_HANDLER_APPS = frozenset({"set", "gotoif", "goto", "noop", "userevent"})


class Bridge:
    def __init__(self, bridge_id: str) -> None:
        self.id = bridge_id
        self.channels: list[Channel] = []


class Core:
    """The simulated Asterisk.  Subscribe to :meth:`publish` with :meth:`subscribe`."""

    def __init__(
        self,
        clock: Any,
        dialplan: Dialplan,
        prompts: PromptCatalog | None = None,
        seed: int = 0,
        agi_delay: float = 0.02,
    ) -> None:
        self.clock = clock
        self.dialplan = dialplan
        self.prompts = prompts or PromptCatalog()
        self.rng = random.Random(seed)
        #: event orders that vary on a real Asterisk (the agent leg's Hangup after a
        #: bridge, trace 13); its own generator, so ids drawn from ``rng`` stay as they were
        self.order_rng = random.Random(f"order-{seed}")
        self.agi_delay = agi_delay
        self.channels: dict[str, Channel] = {}
        #: global variables (Setvar without Channel); ${VAR} falls back to them
        self.globals: dict[str, str] = {"ASTETCDIR": "/etc/asterisk", **dialplan.globals}
        self.counts: Counter[str] = Counter()
        self.calls_started = 0
        self._listeners: list[Callable[[Event], None]] = []
        self._uid_seq = 0
        self._name_seq: Counter[str] = Counter()
        self._agi_queues: dict[str, deque[QueuedCommand]] = {}
        self.mixmonitor: set[str] = set()  # channels with a MixMonitor running
        self._redirect_to: dict[str, tuple[str, str, int]] = {}
        # Told after a channel's Hangup (actors stop their timers): name -> callable().
        self.on_gone: dict[str, Callable[[], None]] = {}
        # Dial's outbound legs: name -> callable() that tears the leg down
        # (its Local ;2 vanished, or a Hangup action).
        self.legs: dict[str, Callable[[], None]] = {}
        # Told when a channel answers (Answer()): name -> callable(); Originate's Local ;2.
        self.on_answer: dict[str, Callable[[], None]] = {}
        # ChanSpy: spied channel name -> callable() run just before its Hangup.
        self.spies: dict[str, Callable[[], None]] = {}
        #: AstDB: (family, key) -> value (DB() writes, DBGetTree/DBDel actions)
        self.astdb: dict[tuple[str, str], str] = {}
        #: AMI_CLIENT(user,sessions): set by the Simulator (it owns the sessions)
        self.ami_sessions: Callable[[str], int] = lambda username: 0
        self.dial: Dialer | None = None  # set by server.sim.dial.Dialer (it needs the core first)
        self.apps = Applications(self)

    # -- events ------------------------------------------------------------
    def subscribe(self, fn: Callable[[Event], None]) -> None:
        self._listeners.append(fn)

    def unsubscribe(self, fn: Callable[[Event], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def publish(self, ev: Event) -> None:
        self.counts[ev.name] += 1
        for fn in list(self._listeners):
            try:
                fn(ev)
            except Exception:
                log.exception("event listener %r failed on %s", fn, ev.name)

    # -- channels ----------------------------------------------------------
    def new_channel(
        self, base: str, context: str, exten: str, *, state: int = DOWN,
        caller: tuple[str, str] = ("<unknown>", "<unknown>"), linkedid: str | None = None,
        suffix: str = "", seq: int | None = None,
    ) -> Channel:
        tech = base.split("/", 1)[0]
        if seq is None:
            seq = self.next_seq(tech)
        uid = f"{int(self.clock.seconds())}.{self._uid_seq}"
        self._uid_seq += 1
        chan = Channel(
            name=f"{base}-{seq:08x}{suffix}", uniqueid=uid, linkedid=linkedid or uid,
            context=context, exten=exten, state=state, caller_num=caller[0],
            caller_name=caller[1], tech=tech, created=self.clock.seconds(),
        )
        self.channels[chan.name] = chan
        self.publish(chan_event("Newchannel", "call", chan))
        return chan

    def local_pair(
        self, exten: str, context: str, caller: tuple[str, str], linkedid: str | None = None,
        dialed_peer: str | None = None,
    ) -> tuple[Channel, Channel]:
        """Create ``Local/exten@context-N;1`` and ``;2`` with the traced events."""
        seq = self.next_seq("Local")
        base = f"Local/{exten}@{context}"
        one = self.new_channel(base, context, exten, linkedid=linkedid, suffix=";1", seq=seq)
        two = self.new_channel(base, context, exten, state=RING, linkedid=one.linkedid,
                               suffix=";2", seq=seq)
        one.peer, two.peer = two, one
        for chan in (one, two):
            if dialed_peer:
                self.set_var(chan, "DIALEDPEERNUMBER", dialed_peer)
            chan.caller_num, chan.caller_name = caller
            self.publish(chan_event("NewCallerid", "call", chan,
                                    ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")))
            chan.connected_num, chan.connected_name = caller
            self.publish(chan_event("NewConnectedLine", "call", chan))
        one.device = two.device = base
        self.publish(event("LocalBridge", "call", one.block("LocalOne"), two.block("LocalTwo"),
                           [("Context", context), ("Exten", exten), ("LocalOptimization", "Yes")]))
        return one, two

    def next_seq(self, tech: str) -> int:
        """The next channel number for ``tech`` (the 8 hex digits in its name)."""
        seq = self._name_seq[tech]
        self._name_seq[tech] += 1
        return seq

    def set_state(self, chan: Channel, state: int) -> None:
        if chan.state != state and not chan.hungup:
            chan.state = state
            self.publish(chan_event("Newstate", "call", chan))
            if chan.tech == "Local" and chan.device and state in (UP, RINGING):
                self.device_state(chan.device, "INUSE")

    def answer(self, chan: Channel) -> None:
        self.set_state(chan, UP)
        told = self.on_answer.pop(chan.name, None)
        if told is not None:
            told()

    def set_var(self, chan: Channel, name: str, value: str) -> None:
        chan.variables[name] = value
        self.publish(chan_event("VarSet", "dialplan", chan, ("Variable", name), ("Value", value)))

    def write_function(self, chan: Channel, name: str, value: str) -> bool:
        """``Set(FUNC(arg)=value)`` / AMI Setvar on a function; False if not one we know.

        Writing a function publishes no VarSet (only variables do, Asterisk 22).
        """
        name = name.strip()
        if name.upper() == "CHANNEL(LANGUAGE)":
            chan.language = value.strip()  # func_channel: prompts now come from sounds/<it>/
            return True
        if name.upper() == "TIMEOUT(ABSOLUTE)":
            self.set_absolute_timeout(chan, value)
            return True
        if name.upper().startswith("DB(") and name.endswith(")"):
            family, _, key = name[3:-1].partition("/")
            if family and key:  # func_db: "DB requires an argument, DB(<family>/<key>)"
                self.astdb[(family, key)] = value
            return True
        if name.lower() == "channel(hangup_handler_push)":
            # func_channel / pbx_hangup_handler.c: "context,exten,priority" (a
            # Gosub location), run when the channel hangs up, last pushed first.
            # Gosub's [[context,]exten,]priority; a label priority is resolved here.
            parts = [p.strip() for p in value.split(",")]
            context, exten = chan.context, chan.exten
            if len(parts) == 3:
                context, exten = parts[0], parts[1]
            elif len(parts) == 2:
                exten = parts[0]
            prio = parts[-1]
            number = int(prio) if prio.isdigit() else self.dialplan.label_priority(
                context, exten, prio)
            if number is None:
                log.error("%s: bad hangup handler location %r", chan.name, value)
            else:
                chan.hangup_handlers.append((context, exten, number))
            return True
        if name.lower() == "channel(hangupsource)":
            self.set_hangupsource(chan, value)
            return True
        return False

    def set_hangupsource(self, chan: Channel, source: str) -> None:
        """Asterisk 22 main/channel.c ``ast_set_hangupsource``: set on the channel
        and on its bridge peer, each only if not set yet (not traced: AMI never
        shows it; read with ``CHANNEL(hangupsource)``)."""
        if not chan.hangup_source:
            chan.hangup_source = source
        bridge = chan.bridge
        if bridge is not None:
            for other in bridge.channels:
                if other is not chan and not other.hangup_source:
                    other.hangup_source = source

    def set_absolute_timeout(self, chan: Channel, value: str) -> None:
        """``TIMEOUT(absolute)`` or the AbsoluteTimeout action: seconds from now, 0 clears.

        Not in the traces; as Asterisk 22's func_timeout.c and pbx.c document it:
        when the time comes the channel's application ends as if hung up (AsyncAGI:
        ``AsyncAGIEnd``, ``AGISTATUS=HANGUP``, no SoftHangupRequest event), then the
        dialplan goes on at ``T,1`` of the channel's context, or hangs up if there
        is no ``T`` extension.
        """
        try:
            seconds = float(value.strip() or 0)
        except ValueError:
            log.warning("%s: bad TIMEOUT(absolute) value %r", chan.name, value)
            return
        if chan.absolute_timeout is not None and chan.absolute_timeout.active():
            chan.absolute_timeout.cancel()
        chan.absolute_timeout = None
        if seconds > 0 and not chan.hungup:
            chan.absolute_timeout = self.clock.callLater(seconds, self._absolute_timeout, chan)

    def _absolute_timeout(self, chan: Channel) -> None:
        chan.absolute_timeout = None
        if chan.hungup:
            return
        if not self.dialplan.has_exten(chan.context, "T"):
            self.peer_gone(chan)  # the softhangup ends the pbx: the channel hangs up
            return
        self.redirect(chan, chan.context, "T", 1)

    def set_global(self, name: str, value: str) -> None:
        """A global variable: VarSet with ``Channel: none`` (trace 05a)."""
        self.globals[name] = value
        self.publish(event("VarSet", "dialplan", [("Channel", "none"), ("Uniqueid", "none"),
                                                  ("Variable", name), ("Value", value)]))

    def reevaluate_bridge(self, bridge: Bridge) -> None:
        """BRIDGEPEER on each member, BRIDGEPVTCALLID facing a PJSIP peer (09, 10)."""
        for chan in bridge.channels:
            others = [c for c in bridge.channels if c is not chan]
            if others:
                self.set_var(chan, "BRIDGEPEER", others[0].name)
        for chan in bridge.channels:
            others = [c for c in bridge.channels if c is not chan]
            if others and others[0].tech == "PJSIP":
                self.set_var(chan, "BRIDGEPVTCALLID", f"sim-{others[0].uniqueid}")

    def device_state(self, device: str, state: str) -> None:
        self.publish(event("DeviceStateChange", "call", [("Device", device), ("State", state)]))

    def lookup(self, chan: Channel, name: str) -> str:
        special = {
            "UNIQUEID": chan.uniqueid, "CHANNEL": chan.name, "EXTEN": chan.exten,
            "CONTEXT": chan.context, "CALLERID(num)": chan.caller_num,
            "CALLERID(name)": chan.caller_name, "CALLERID(all)":
            f'"{chan.caller_name}" <{chan.caller_num}>',
        }
        if name in special:
            return special[name]
        if name == "CHANNEL(language)":
            return chan.language
        if name == "CHANNEL(state)":
            return STATE_DESC[chan.state]
        if name in ("CHANNEL(name)", "CHANNEL(uniqueid)", "CHANNEL(linkedid)"):
            return {"CHANNEL(name)": chan.name, "CHANNEL(uniqueid)": chan.uniqueid,
                    "CHANNEL(linkedid)": chan.linkedid}[name]
        if name in chan.variables:
            return chan.variables[name]
        if name.startswith("AMI_CLIENT(") and name.endswith(")"):
            user, _, field = name[len("AMI_CLIENT("):-1].partition(",")
            # manager.c: only "sessions" is supported; anything else logs an error.
            return str(self.ami_sessions(user.strip())) if field.strip() == "sessions" else ""
        if name == "CHANNEL(hangupsource)":
            return chan.hangup_source
        return self.read_function(name) if name.endswith(")") else self.global_value(name)

    def read_function(self, name: str) -> str:
        """The channel-independent functions the shipped dialplan reads (not traced;
        as Asterisk 22 documents them): STRFTIME, DB, DB_DELETE."""
        func, _, arg = name[:-1].partition("(")
        func = func.upper()
        if func == "STRFTIME":
            # func_strings.c: an empty epoch is now, with microseconds; %[n]q is
            # the fraction of a second (n digits, default 3); the rest strftime(3).
            epoch, _, rest = arg.partition(",")
            _tz, _, fmt = rest.partition(",")
            now = float(epoch) if epoch.strip() else self.clock.seconds()
            fraction = now - int(now)

            def q(m: re.Match) -> str:
                n = int(m.group(1) or 3)
                return f"{int(fraction * 10 ** n):0{n}d}"
            fmt = re.sub(r"%(\d?)q", q, fmt or "%c").replace("%s", str(int(now)))
            return time.strftime(fmt, time.gmtime(now))
        if func in ("DB", "DB_DELETE"):
            family, _, key = arg.partition("/")
            if func == "DB":
                return self.astdb.get((family, key), "")
            # func_db.c: DB_DELETE returns the value and deletes the key.
            return self.astdb.pop((family, key), "")
        return self.global_value(name)

    def global_value(self, name: str) -> str:
        """A name looked up without a channel (AMI Getvar with no Channel): EPOCH, globals."""
        if name == "EPOCH":
            return str(int(self.clock.seconds()))
        return self.globals.get(name, "")

    def expand(self, chan: Channel, text: str) -> str:
        return substitute(text, lambda name: self.lookup(chan, name))

    def find(self, name: str) -> Channel | None:
        chan = self.channels.get(name)
        return chan if chan is not None and not chan.hungup else None

    def agi_queue(self, chan: Channel) -> deque[QueuedCommand]:
        return self._agi_queues.setdefault(chan.name, deque())

    def moh_start(self, chan: Channel, klass: str) -> None:
        self.publish(chan_event("MusicOnHoldStart", "call", chan, ("Class", klass)))

    def moh_stop(self, chan: Channel) -> None:
        self.publish(chan_event("MusicOnHoldStop", "call", chan))

    def dtmf(self, chan: Channel, digit: str) -> None:
        """A digit arrives on ``chan``: DTMFBegin now, DTMFEnd (and delivery) 100 ms later."""
        if chan.hungup:
            return
        self.publish(chan_event("DTMFBegin", "dtmf", chan, ("Digit", digit),
                                ("Direction", "Received")))

        def end() -> None:
            if chan.hungup:
                return
            self.publish(chan_event("DTMFEnd", "dtmf", chan, ("Digit", digit),
                                    ("DurationMs", "100"), ("Direction", "Received")))
            sink = chan.dtmf_sink
            if sink is not None:
                sink(digit)
            # else: AsyncAGI between commands reads and drops the frame, like Asterisk.

        self.clock.callLater(0.1, end)

    # -- dialplan runner ---------------------------------------------------
    def start_pbx(self, chan: Channel, context: str, exten: str, priority: int = 1) -> None:
        chan.context, chan.exten, chan.priority = context, exten, priority
        self._run(chan)

    def _run(self, chan: Channel) -> None:
        while True:
            if chan.hungup or chan.interrupt in ("hangup", "agi-hangup"):
                self.end_pbx(chan)
                return
            target = self._redirect_to.pop(chan.name, None)
            if target is not None:
                chan.interrupt = None
                chan.context, chan.exten, chan.priority = target
            step = self.dialplan.step(chan.context, chan.exten, chan.priority)
            if step is None:
                self.end_pbx(chan)
                return
            chan.application = step.app
            chan.app_data = self.expand(chan, step.data)
            handler = self.apps.get(step.app)
            if handler is None:
                log.error("%s: application %s not simulated; hanging up", chan.name, step.app)
                self.end_pbx(chan)
                return
            outcome = handler(chan, chan.app_data)
            if outcome is PARKED:
                return
            if outcome == NEXT:
                chan.priority += 1

    def resume(self, chan: Channel) -> None:
        """An asynchronous application finished: go on after it."""
        chan.pending = None
        if not (chan.hungup or chan.name in self._redirect_to
                or chan.interrupt in ("hangup", "agi-hangup")):
            chan.priority += 1
        self._run(chan)

    def park(self, chan: Channel, interrupt: Callable[[str], None]) -> None:
        chan.pending = interrupt

    def redirect(self, chan: Channel, context: str, exten: str, priority: int) -> None:
        """Asterisk's async goto: the running application ends at once (trace 08)."""
        if not self.dialplan.has_exten(context, exten):
            # "Redirect successful", then the channel finds no extension and hangs up.
            log.info("redirect of %s to missing %s,%s: hanging up", chan.name, context, exten)
        self._redirect_to[chan.name] = (context, exten, priority)
        pending = chan.pending
        if pending is not None:
            chan.interrupt = "redirect"
            chan.pending = None
            pending("redirect")
        # not parked: the runner picks the target up at its next step

    def hangup_by_actor(self, chan: Channel, cause: int = 16) -> None:
        """``chan`` (a Local ;2 half driven by an actor) hangs up by itself."""
        if chan.hungup:
            return
        peer = chan.peer
        self.publish(chan_event("SoftHangupRequest", "call", chan, ("Cause", str(cause))))
        if peer is not None and not peer.hungup:
            self.publish(chan_event("HangupRequest", "call", peer, ("Cause", str(cause))))
        chan.hangup_cause = cause
        self.hangup_now(chan)
        if peer is not None and not peer.hungup:
            peer.hangup_cause = cause
            self.peer_gone(peer)

    def peer_gone(self, chan: Channel) -> None:
        """The other half of ``chan``'s Local pair is gone."""
        pending = chan.pending
        chan.interrupt = "hangup"
        if pending is not None:
            chan.pending = None
            pending("hangup")
            if chan.pending is None and not chan.hungup:
                self._run(chan)
        elif chan.name in self.legs:
            self.legs.pop(chan.name)()  # a dialled channel: Dial tears it down
        elif not chan.hungup:
            self.end_pbx(chan)

    def hangup_action(self, chan: Channel, cause: int | None) -> None:
        """AMI ``Hangup`` on ``chan``; ``cause`` None when the action had no Cause.

        Traced (05a): one ``SoftHangupRequest`` (Cause 16 whatever was asked),
        then the Local teardown; ``Hangup`` carries the requested cause, or the
        channel's own (0) without one.
        """
        if chan.pending is None and chan.peer is not None and chan.name.endswith(";2"):
            self.hangup_by_actor(chan, 16 if cause is None else cause)
            return
        if not chan.app_only:
            self.publish(chan_event("SoftHangupRequest", "call", chan, ("Cause", "16")))
            chan.soft_hangup_sent = True
        if cause is not None:
            chan.hangup_cause = cause
        if chan.name in self.legs and chan.pending is None:
            self.legs.pop(chan.name)()  # a dialled leg: Dial tears it down
            return
        self.peer_gone(chan)

    def end_pbx(self, chan: Channel) -> None:
        """The dialplan of ``chan`` ends: the channel hangs up (and its Local peer)."""
        if chan.hungup:
            return
        chan.pending = None
        if not (chan.soft_hangup_sent or chan.app_only):
            self.publish(chan_event("SoftHangupRequest", "call", chan, ("Cause", "16")))
        if chan.name in self.mixmonitor:
            self.mixmonitor.discard(chan.name)
            self.publish(chan_event("MixMonitorStop", "call", chan))
        peer = chan.peer
        cause = chan.hangup_cause
        if peer is not None and not peer.hungup:
            self.publish(chan_event("HangupRequest", "call", peer, ("Cause", str(cause))))
        self.hangup_now(chan)
        if peer is not None and not peer.hungup:
            peer.hangup_cause = cause
            stop = self.on_gone.pop(peer.name, None)
            if stop is not None:
                stop()
            self.publish(chan_event("SoftHangupRequest", "call", peer, ("Cause", "16")))
            self.hangup_now(peer)

    def hangup_now(self, chan: Channel, tech_cause: str | None = None) -> None:
        """Emit ``Hangup`` and forget the channel."""
        spy = self.spies.pop(chan.name, None)
        if spy is not None:
            spy()  # ChanSpyStop comes before the spied channel's Hangup (trace 10)
        self._run_hangup_handlers(chan)
        chan.hungup = True
        chan.dtmf_sink = None
        if chan.absolute_timeout is not None and chan.absolute_timeout.active():
            chan.absolute_timeout.cancel()
        chan.absolute_timeout = None
        extra = [("Cause", str(chan.hangup_cause)),
                 ("Cause-txt", CAUSE_TEXT.get(chan.hangup_cause, "Unknown"))]
        if tech_cause is not None:
            extra.append(("TechCause", tech_cause))
        self.publish(chan_event("Hangup", "call", chan, *extra))
        self.channels.pop(chan.name, None)
        self.on_answer.pop(chan.name, None)
        self.legs.pop(chan.name, None)
        self._agi_queues.pop(chan.name, None)
        self._redirect_to.pop(chan.name, None)
        stop = self.on_gone.pop(chan.name, None)
        if stop is not None:
            stop()  # hooks are idempotent: the actor or Dial may already know
        if chan.tech == "Local" and chan.device:
            self.device_state(chan.device, "NOT_INUSE")

    def _run_hangup_handlers(self, chan: Channel) -> None:
        """``CHANNEL(hangup_handler_push)`` handlers, last pushed first.

        Not traced.  Asterisk 22 (main/pbx_hangup_handler.c, called from
        ``ast_hangup`` before the channel's final snapshot, so before its
        ``Hangup`` event) runs each as a Gosub on the hung-up channel, its
        variables intact, until ``Return``.  Only applications that finish at once
        can run there (media is gone); the shipped handler uses Set, GotoIf,
        UserEvent and Return.
        """
        while chan.hangup_handlers:
            context, exten, priority = chan.hangup_handlers.pop()
            saved = (chan.context, chan.exten, chan.priority)
            chan.context, chan.exten, chan.priority = context, exten, priority
            for _ in range(200):  # a handler that never returns must not hang the sim
                step = self.dialplan.step(chan.context, chan.exten, chan.priority)
                if step is None or step.app.lower() in ("return", "hangup"):
                    break
                handler = self.apps.get(step.app)
                if handler is None or step.app.lower() not in _HANDLER_APPS:
                    log.error("%s: %s cannot run in a hangup handler", chan.name, step.app)
                    break
                if handler(chan, self.expand(chan, step.data)) == NEXT:
                    chan.priority += 1
            chan.context, chan.exten, chan.priority = saved

    def new_bridge(self) -> Bridge:
        bridge = Bridge(str(uuid.UUID(int=self.rng.getrandbits(128), version=4)))
        self.publish(event("BridgeCreate", "call", bridge_block(bridge.id, 0)))
        return bridge

    def bridge_enter(self, bridge: Bridge, chan: Channel) -> None:
        bridge.channels.append(chan)
        chan.bridge = bridge
        self.publish(event("BridgeEnter", "call", bridge_block(bridge.id, len(bridge.channels)),
                           chan.block()))

    def bridge_leave(self, bridge: Bridge, chan: Channel) -> None:
        if chan not in bridge.channels:
            return
        bridge.channels.remove(chan)
        chan.bridge = None
        self.publish(event("BridgeLeave", "call", bridge_block(bridge.id, len(bridge.channels)),
                           chan.block()))

    def bridge_destroy(self, bridge: Bridge) -> None:
        self.publish(event("BridgeDestroy", "call", bridge_block(bridge.id, 0)))

    # -- AGI action --------------------------------------------------------
    def has_agi(self, chan: Channel) -> bool:
        """The channel has run ``AGI(agi:async)``: res_agi's command datastore exists.

        Before that, res_agi refuses commands ("Failed to add AGI command to
        queue", Asterisk 22 source, not traced); afterwards the queue stays on
        the channel across AGI sessions (trace 08).
        """
        return chan.name in self._agi_queues

    def queue_agi(self, chan: Channel, command: str, command_id: str | None) -> None:
        cmd = QueuedCommand(command, command_id)
        if chan.agi is not None:
            chan.agi.enqueue(cmd)
        else:
            self.agi_queue(chan).append(cmd)  # runs at the next AGI(agi:async)


__all__ = ["Core", "Bridge", "NEXT", "JUMPED", "PARKED", "RINGING", "UP"]
