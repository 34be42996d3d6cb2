"""The router's persistence: live state to plain JSON-able dicts and back.

It reads and writes the router only through the public methods listed in
``RouterState`` (``Router`` has them all), so it imports nothing of the router
and the router imports it plainly.

Restoring forgets offers in flight: the call waits at its old place and the agent is
ready (or takes the pause they asked for), because after a restart nobody can know
whether that ring still exists; the adapter reconciles with Asterisk (hanging up
stale agent legs) before it feeds new events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from queues.agents import DEVICE_OFFLINE, AgentRuntime, AgentState, Device, SavedAgent
from queues.items import Kind
from queues.model import AcdConfig
from queues.ports import Clock
from queues.waiting import WaitingItem

__all__ = ["VERSION", "RouterState", "restore", "snapshot"]

VERSION = 1
S = AgentState
_ITEM_FIELDS = (
    "id", "queue", "enqueued_at", "seq", "priority", "queue_entered_at", "intent", "number",
    "due_at", "note", "attempt", "not_before", "offered_to", "agent_id", "answered_at",
    "ended_at", "hold_s",
)  # fmt: skip
# Added with issue 14's routing; a snapshot written before them restores with these.
_NEW_ITEM_FIELDS: dict[str, Any] = {
    "min_tier": None, "preferred": None, "prefer_until": 0.0, "owner_case": None,
    "past_max_wait": False,
    "case_id": None,  # a return visit's case (issue 14, point 4)
}
_AGENT_FIELDS = (
    "state", "since", "pause_reason", "resume_reason", "device", "item_id", "misses",
    "idle_since", "pending_pause", "wrap_ends_at",
)  # fmt: skip


class RouterState(Protocol):
    """What this module needs of the router: its public snapshot methods."""

    @property
    def clock(self) -> Clock: ...
    @property
    def config(self) -> AcdConfig: ...
    def waiting_items(self) -> list[WaitingItem]: ...
    def answered_items(self) -> list[WaitingItem]: ...
    def agent_runtimes(self) -> list[AgentRuntime]: ...
    def round_robin(self) -> dict[str, str]: ...
    def restore_waiting(self, it: WaitingItem) -> None: ...
    def restore_answered(self, it: WaitingItem) -> None: ...
    def restore_agent(self, saved: SavedAgent) -> bool: ...
    def restore_round_robin(self, last: Mapping[str, str]) -> None: ...
    def continue_sequence_after(self, seq: int) -> None: ...
    def dispatch(self) -> None: ...


R = TypeVar("R", bound=RouterState)


def _item(i: WaitingItem) -> dict[str, Any]:
    d = {f: getattr(i, f) for f in (*_ITEM_FIELDS, *_NEW_ITEM_FIELDS)}
    d["kind"] = str(i.kind)
    d["missed_by"] = sorted(i.missed_by)
    return d


def _agent(a: AgentRuntime) -> dict[str, Any]:
    d = {f: getattr(a, f) for f in _AGENT_FIELDS}
    d["state"], d["device"], d["id"] = str(a.state), str(a.device), a.spec.id
    return d


def snapshot(r: RouterState) -> dict[str, Any]:
    return {
        "version": VERSION,
        "taken_at": r.clock.seconds(),
        "waiting": [_item(i) for i in r.waiting_items()],  # in routing order
        "active": [_item(i) for i in r.answered_items()],
        "agents": [_agent(a) for a in r.agent_runtimes()],
        "rr_last": r.round_robin(),
    }


def _mk(d: dict[str, Any], config: AcdConfig) -> WaitingItem:
    kw = {f: d[f] for f in _ITEM_FIELDS if f != "offered_to"}
    kw.update({f: d.get(f, default) for f, default in _NEW_ITEM_FIELDS.items()})
    if "min_tier" not in d and d["queue"] in config.queues:
        kw["min_tier"] = config.queues[d["queue"]].min_tier  # older snapshot: its queue's
    if kw["min_tier"] is not None and kw["min_tier"] not in {t.name for t in config.tiers}:
        kw["min_tier"] = None  # a tier removed from the config
    return WaitingItem(kind=Kind(d["kind"]), missed_by=set(d["missed_by"]), **kw)


def _saved_agent(d: dict[str, Any]) -> SavedAgent:
    """The state to come back in: a ring in flight is forgotten (ready, or the pause
    asked for meanwhile), and a ready agent whose phone was offline is paused."""
    state, reason, pending = S(d["state"]), d["pause_reason"], d["pending_pause"]
    if state is S.RESERVED:
        state, reason, pending = (S.PAUSED, pending, None) if pending else (S.READY, None, None)
    device = Device(d["device"])
    if state is S.READY and device is Device.OFFLINE:
        state, reason = S.PAUSED, DEVICE_OFFLINE
    busy = state in (S.ON_CALL, S.WRAP_UP)
    return SavedAgent(
        d["id"], state, d["since"], reason, pending, d["resume_reason"], device, d["misses"],
        d["idle_since"], d["item_id"] if busy else None,
        d["wrap_ends_at"] if state is S.WRAP_UP else None,
    )  # fmt: skip


def restore(r: R, data: dict[str, Any]) -> R:
    """Load ``data`` into a freshly built router (no outputs until the final dispatch)."""
    if data.get("version") != VERSION:
        raise ValueError(f"snapshot version {data.get('version')} is not {VERSION}")
    top = -1
    for d in data["waiting"]:
        if d["queue"] not in r.config.queues:
            continue  # a queue removed from the config: nothing can serve it
        it = _mk(d, r.config)
        top = max(top, it.seq)
        r.restore_waiting(it)
    for d in data["active"]:
        it = _mk(d, r.config)
        top = max(top, it.seq)
        r.restore_answered(it)
    for d in data["agents"]:
        r.restore_agent(_saved_agent(d))  # False: agent removed from the config
    r.restore_round_robin(data.get("rr_last", {}))
    r.continue_sequence_after(top)
    r.dispatch()
    return r
