"""Event values and the per-session event filter.

An :class:`Event` is what the simulated core publishes; each AMI session turns
it into wire bytes (and may drop it, see :class:`EventFilter`).  Header order
is the one recorded from Asterisk 22 (tests/fixtures/ami-traces).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from server.sim.channel import Channel

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Event:
    name: str
    headers: Headers  # every header after ``Event:``, in wire order

    def get(self, key: str) -> str | None:
        for k, v in self.headers:
            if k == key:
                return v
        return None

    def pairs(self) -> list[tuple[str, str]]:
        return [("Event", self.name), *self.headers]


def event(name: str, privilege: str, *parts: Iterable[tuple[str, str]]) -> Event:
    headers: list[tuple[str, str]] = [("Privilege", f"{privilege},all")]
    for part in parts:
        headers.extend(part)
    return Event(name, tuple(headers))


def chan_event(name: str, privilege: str, chan: Channel, *extra: tuple[str, str]) -> Event:
    return event(name, privilege, chan.block(), extra)


def dial_event(
    name: str, caller: Channel | None, dest: Channel, *extra: tuple[str, str]
) -> Event:
    """DialBegin/DialState/DialEnd; Originate's dials have no caller block."""
    return event(name, "call", caller.block() if caller else (), dest.block("Dest"), extra)


def bridge_block(bridge_id: str, num_channels: int) -> list[tuple[str, str]]:
    return [
        ("BridgeUniqueid", bridge_id), ("BridgeType", "basic"),
        ("BridgeTechnology", "simple_bridge"), ("BridgeCreator", "<unknown>"),
        ("BridgeName", "<unknown>"), ("BridgeNumChannels", str(num_channels)),
        ("BridgeVideoSourceMode", "none"),
    ]


_INCLUDE_NAME = re.compile(r"^eventfilter\(action\(include\),name\((\w+)\)\)\s*=")

#: Variables trace 12's exclude-style filter lets through.
SHIPPED_VARSET_KEEP = frozenset({"AGENT_IFACE", "DIALSTATUS"})


@dataclass(frozen=True)
class EventFilter:
    """Per-AMI-user event filter, like manager.conf ``eventfilter`` lines.

    ``shipped()`` is the filter deploy/asterisk/manager.conf ships (trace 12):
    no Newexten, no Cdr, VarSet only for AGENT_IFACE and DIALSTATUS.  The
    simulator emits no Newexten and no Cdr at all, so with ``unfiltered()`` a
    session sees every VarSet the simulator models but still no Newexten/Cdr.
    """

    exclude_names: frozenset[str] = frozenset()
    varset_keep: frozenset[str] | None = None  # None: keep every VarSet
    #: ``eventfilter(action(include),name(X))`` lines: when there are any, only
    #: events named in one pass (include filters are OR-ed, Asterisk 22 manager.c).
    #: Answers to list actions (CoreShowChannel, DeviceStateChange after
    #: DeviceStateList, ...) are written to the session directly, never filtered
    #: (trace 15b: CoreShowChannel reached a user whose list does not name it).
    include_names: frozenset[str] | None = None

    @classmethod
    def shipped(cls) -> EventFilter:
        """Trace 12's exclude-style filter, which the traces 02-12 were compared under."""
        return cls(frozenset({"Newexten", "Cdr"}), SHIPPED_VARSET_KEEP)

    @classmethod
    def from_manager_conf(cls, text: str, user: str) -> EventFilter:
        """The include list of ``[user]`` in a manager.conf (deploy/asterisk ships one)."""
        names: set[str] = set()
        section = None
        for line in text.splitlines():
            line = line.split(";", 1)[0].strip()
            if line.startswith("[") and "]" in line:
                section = line[1:line.index("]")]
            elif section == user and (m := _INCLUDE_NAME.match(line)):
                names.add(m.group(1))
        if not names:
            raise ValueError(f"manager.conf: no eventfilter include names for [{user}]")
        return cls(include_names=frozenset(names))

    @classmethod
    def unfiltered(cls) -> EventFilter:
        return cls()

    def allows(self, ev: Event) -> bool:
        if self.include_names is not None and ev.name not in self.include_names:
            return False
        if ev.name in self.exclude_names:
            return False
        if ev.name == "VarSet" and self.varset_keep is not None:
            return ev.get("Variable") in self.varset_keep
        return True
