"""Event values and the per-session event filter.

An :class:`Event` is what the simulated core publishes; each AMI session turns
it into wire bytes (and may drop it, see :class:`EventFilter`).  Header order
is the one recorded from Asterisk 22 (tests/fixtures/ami-traces).
"""

from __future__ import annotations

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


#: Variables the shipped manager.conf filter lets through (trace 12).
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

    @classmethod
    def shipped(cls) -> EventFilter:
        return cls(frozenset({"Newexten", "Cdr"}), SHIPPED_VARSET_KEEP)

    @classmethod
    def unfiltered(cls) -> EventFilter:
        return cls()

    def allows(self, ev: Event) -> bool:
        if ev.name in self.exclude_names:
            return False
        if ev.name == "VarSet" and self.varset_keep is not None:
            return ev.get("Variable") in self.varset_keep
        return True
