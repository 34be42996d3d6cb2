"""``Queue(name)``: app_queue as the dialplan's safety net uses it (trace 14).

Only what deploy/asterisk/queues.conf configures: static members (``member =>
PJSIP/...``), ``strategy = rrmemory``, ``timeout`` (ring each phone), ``retry``
(wait between rounds), ``ringinuse = no``, ``setinterfacevar``.  The caller
hears music until a member answers; a member is rung like a Dial (the same
softphones, server/sim/dial.py) and bridged to the caller; when the member hangs
up the caller is hung up too (no ``c`` option).  States per caller:
``waiting`` ⇄ ``ringing`` → ``bridged`` → ``done``, or ``done`` when the caller
hangs up first.

Events as trace 14 shows them (``agent`` class, never read by the server's AMI
user): QueueCallerJoin, AgentCalled, DialBegin/DialState/DialEnd, MusicOnHoldStop,
QueueCallerLeave, AgentConnect, the bridge, AgentComplete.  Not traced and taken
from Asterisk 22's app_queue.c: QueueCallerAbandon when the caller hangs up while
waiting, AgentRingNoAnswer after an unanswered ring, and the variables set on the
caller (QUEUEWAIT, ANSWEREDTIME and DIALEDTIME with their ``_MS`` forms, emptied at
the start, as the trace shows; ANSWEREDTIME 0 and ABANDONED=TRUE if nobody answered;
MEMBERINTERFACE and friends with ``setinterfacevar``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.sim.channel import Channel
from server.sim.dial import DialCall
from server.sim.events import chan_event, event

if TYPE_CHECKING:
    from server.sim.dial import Dialer

#: deploy/asterisk/queues.conf
DEFAULT_QUEUES = Path(__file__).resolve().parents[2] / "deploy" / "asterisk" / "queues.conf"
_EMPTIED = ("ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS", "QUEUEWAIT",
            "QUEUEWAIT_MS")


@dataclass(frozen=True)
class QueueConfig:
    name: str
    members: tuple[str, ...]
    timeout: float = 15.0  # app_queue's defaults when queues.conf says nothing
    retry: float = 5.0
    setinterfacevar: bool = False


def load_queues(path: str | Path = DEFAULT_QUEUES) -> dict[str, QueueConfig]:
    """The queues of a queues.conf (``[general]`` skipped; ``;`` comments)."""
    queues: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"\[([^\]]+)\]", line)
        if m:
            name = m.group(1).strip()
            current = None if name == "general" else queues.setdefault(name, {"members": []})
            continue
        key, sep, value = line.partition("=>") if "=>" in line else line.partition("=")
        if current is None or not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "member":
            current["members"].append(value.split(",")[0].strip())
        else:
            current[key] = value
    return {name: QueueConfig(
        name, tuple(q["members"]), float(q.get("timeout", 15)), float(q.get("retry", 5)),
        q.get("setinterfacevar", "no").lower() in ("yes", "true", "1", "on"))
        for name, q in queues.items()}


class MemberDial(DialCall):
    """One ring of one member; its end goes back to the queue, not the dialplan."""

    sets_dial_vars = False  # app_queue sets no DIALSTATUS on the caller (trace 14)

    def __init__(self, queue: QueueCall, member: str) -> None:
        super().__init__(queue.dialer, queue.caller, member, queue.config.timeout, "")
        self.queue = queue

    def _announce(self) -> None:
        self.queue.called(self)

    def _before_bridge(self) -> None:
        self.queue.answered(self)

    def _bridge_ending(self) -> None:
        self.queue.complete(self, "agent")

    def _done(self, status: str | None, cause: int) -> None:
        self.queue.member_done(self, status)

    def _release_caller(self) -> None:
        self.queue.member_done(self, None)


class QueueCall:
    def __init__(self, dialer: Dialer, caller: Channel, config: QueueConfig) -> None:
        self.dialer = dialer
        self.core = dialer.core
        self.caller = caller
        self.config = config
        self.state = "waiting"
        self.joined = self.core.clock.seconds()
        self.member: MemberDial | None = None
        self.timer: Any = None
        self.answered_at: float | None = None

    def start(self) -> None:
        for name in _EMPTIED:
            self.core.set_var(self.caller, name, "")
        self.core.park(self.caller, self.interrupt)
        self.core.publish(chan_event("QueueCallerJoin", "agent", self.caller,
                                     ("Queue", self.config.name), ("Position", "1"),
                                     ("Count", "1")))
        self.core.moh_start(self.caller, "default")
        self._ring_next()

    # -- members -------------------------------------------------------------
    def _free_members(self) -> list[str]:
        phones = self.dialer.phones.phones
        start = self.dialer.queue_last.get(self.config.name, -1) + 1
        members = self.config.members
        order = [members[(start + i) % len(members)] for i in range(len(members))]
        free = []
        for iface in order:
            phone = phones.get(iface.partition("/")[2]) if iface.startswith("PJSIP/") else None
            if phone is not None and phone.state == "reachable" and not phone.call_state:
                free.append(iface)  # ringinuse = no: skip phones on a call
        return free

    def _ring_next(self) -> None:
        self.timer = None
        if self.state != "waiting":
            return
        free = self._free_members()
        if not free:
            self.timer = self.core.clock.callLater(self.config.retry, self._ring_next)
            return
        self.state = "ringing"
        member = self.member = MemberDial(self, free[0])
        member.start()  # may end at once (the phone went away): member_done
        # Queue keeps the caller parked on itself, not on the member's Dial.
        self.core.park(self.caller, self.interrupt)

    def called(self, member: MemberDial) -> None:
        """AgentCalled: between the member channel's creation and DialBegin (trace 14)."""
        self._agent_event("AgentCalled", member)

    def _agent_event(self, name: str, member: MemberDial, *extra: tuple[str, str]) -> None:
        assert member.dest is not None
        self.core.publish(event(name, "agent", self.caller.block(), member.dest.block("Dest"),
                                [("Queue", self.config.name), ("Interface", member.iface),
                                 ("MemberName", member.iface), *extra]))

    def answered(self, member: MemberDial) -> None:
        """The member answered: the caller leaves the queue for the bridge."""
        now = self.core.clock.seconds()
        self.state, self.answered_at = "bridged", now
        members = self.config.members
        self.dialer.queue_last[self.config.name] = members.index(member.iface)
        self.core.moh_stop(self.caller)
        self.core.publish(chan_event("QueueCallerLeave", "agent", self.caller,
                                     ("Queue", self.config.name), ("Position", "1"),
                                     ("Count", "1")))
        wait = int(now - self.joined)  # app_queue: time(NULL) - qe->start, whole seconds
        self.core.set_var(self.caller, "QUEUEPOSITION", "1")
        self.core.set_var(self.caller, "QUEUEWAIT", str(wait))
        self.core.set_var(self.caller, "QUEUEWAIT_MS", str(wait * 1000))
        if self.config.setinterfacevar:
            for name, value in (("MEMBERINTERFACE", member.iface), ("MEMBERNAME", member.iface)):
                self.core.set_var(self.caller, name, value)
        ring = str(int(now - member.started))
        self._agent_event("AgentConnect", member, ("HoldTime", str(wait)), ("RingTime", ring))

    def complete(self, member: MemberDial, reason: str) -> None:
        """AgentComplete: the conversation is over (``agent`` or ``caller`` hung up)."""
        if member.dest is None:
            return
        talk = int(self.core.clock.seconds() - (self.answered_at or 0))
        self._agent_event("AgentComplete", member,
                          ("HoldTime", str(int((self.answered_at or 0) - self.joined))),
                          ("TalkTime", str(talk)), ("Reason", reason))

    def member_done(self, member: MemberDial, status: str | None) -> None:
        if member is not self.member:
            return
        self.member = None
        if self.state == "bridged":
            self._finish(hang_up=True)
            return
        if self.state == "done":
            return
        if status in ("NOANSWER", "BUSY") and member.dest is not None:
            self._agent_event("AgentRingNoAnswer", member, ("RingTime", str(int(
                self.core.clock.seconds() - member.started))))
        self.state = "waiting"
        self.core.park(self.caller, self.interrupt)
        self.timer = self.core.clock.callLater(self.config.retry, self._ring_next)

    # -- the caller ----------------------------------------------------------
    def interrupt(self, reason: str) -> None:
        """The caller hung up (or was redirected) while waiting, ringing or bridged."""
        if self.state == "done":
            return
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        member, bridged = self.member, self.state == "bridged"
        self.state = "done"
        self.member = None
        if member is not None and bridged:
            self.complete(member, "caller")
        if member is not None:
            member.interrupt(reason)  # DialEnd CANCEL, or the bridge torn down
        if not bridged:
            self.core.moh_stop(self.caller)
            self.core.publish(chan_event("QueueCallerAbandon", "agent", self.caller, (
                "Queue", self.config.name), ("Position", "1"), ("OriginalPosition", "1"),
                ("HoldTime", str(int(self.core.clock.seconds() - self.joined)))))
            self._unanswered_vars()
        self.core.resume(self.caller)

    def _unanswered_vars(self) -> None:
        wait = int(self.core.clock.seconds() - self.joined)
        self.core.set_var(self.caller, "ABANDONED", "TRUE")
        for name, value in (("QUEUEWAIT", str(wait)), ("QUEUEWAIT_MS", str(wait * 1000)),
                            ("ANSWEREDTIME", "0"), ("ANSWEREDTIME_MS", "0")):
            self.core.set_var(self.caller, name, value)

    def _finish(self, hang_up: bool) -> None:
        self.state = "done"
        if hang_up:
            self.caller.interrupt = "hangup"  # no c option: the caller goes with the agent
        if self.caller.pending == self.interrupt:
            self.core.resume(self.caller)
