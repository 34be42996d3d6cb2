"""The router's persistence half: live state to plain dicts and back.

Split from ``router.py`` only to keep that file readable; it reaches into the
router's private state on purpose and nothing else should.

Restoring forgets offers in flight: the call waits at its old place and the agent is
ready (or takes the pause they asked for), because after a restart nobody can know
whether that ring still exists; the adapter reconciles with Asterisk (hanging up
stale agent legs) before it feeds new events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from queues.agents import DEVICE_OFFLINE, AgentState, Device
from queues.items import Kind

if TYPE_CHECKING:
    from queues.router import Router, _Item

__all__ = ["VERSION", "restore", "snapshot"]

VERSION = 1
S = AgentState
_ITEM_FIELDS = (
    "id", "queue", "enqueued_at", "seq", "priority", "queue_entered_at", "intent", "number",
    "due_at", "note", "attempt", "not_before", "offered_to", "agent_id", "answered_at",
    "ended_at", "hold_s",
)  # fmt: skip
_AGENT_FIELDS = (
    "state", "since", "pause_reason", "resume_reason", "device", "item_id", "misses",
    "idle_since", "pending_pause", "wrap_ends_at",
)  # fmt: skip


def _item(i: _Item) -> dict[str, Any]:
    d = {f: getattr(i, f) for f in _ITEM_FIELDS}
    d["kind"] = str(i.kind)
    d["missed_by"] = sorted(i.missed_by)
    return d


def snapshot(r: Router) -> dict[str, Any]:
    agents = []
    for a in r._roster.runtimes():
        d = {f: getattr(a, f) for f in _AGENT_FIELDS}
        d["state"], d["device"], d["id"] = str(a.state), str(a.device), a.spec.id
        agents.append(d)
    return {
        "version": VERSION,
        "taken_at": r.clock.seconds(),
        "waiting": [_item(i) for i in r._waiting.in_order()],  # in routing order
        "active": [_item(i) for i in r._roster.active_items()],
        "agents": agents,
        "rr_last": dict(r._dispatcher.rr_last),
    }


def _mk(d: dict[str, Any]) -> _Item:
    from queues.router import _Item

    kw = {f: d[f] for f in _ITEM_FIELDS if f != "offered_to"}
    return _Item(kind=Kind(d["kind"]), missed_by=set(d["missed_by"]), **kw)


def restore(r: Router, data: dict[str, Any]) -> Router:
    """Load ``data`` into a freshly built router (no outputs until the final dispatch)."""
    if data.get("version") != VERSION:
        raise ValueError(f"snapshot version {data.get('version')} is not {VERSION}")
    top = -1
    for d in data["waiting"]:
        if d["queue"] not in r.config.queues:
            continue  # a queue removed from the config: nothing can serve it
        it = _mk(d)
        top = max(top, it.seq)
        r._escalation.admit(it)
        if it.kind is Kind.CALLBACK and it.number:
            r._callbacks.note(it)
    for d in data["active"]:
        it = _mk(d)
        top = max(top, it.seq)
        r._roster.restore_answered(it)
    for d in data["agents"]:
        a = r._roster.get(d["id"])
        if a is None:
            continue  # agent removed from the config
        state, reason, pending = S(d["state"]), d["pause_reason"], d["pending_pause"]
        if state is S.RESERVED:
            state, reason, pending = (S.PAUSED, pending, None) if pending else (S.READY, None, None)
        device = Device(d["device"])
        if state is S.READY and device is Device.OFFLINE:
            state, reason = S.PAUSED, DEVICE_OFFLINE
        a.state, a.since, a.pause_reason, a.pending_pause = state, d["since"], reason, pending
        a.resume_reason, a.device = d["resume_reason"], device
        a.misses, a.idle_since = d["misses"], d["idle_since"]
        a.item_id = d["item_id"] if state in (S.ON_CALL, S.WRAP_UP) else None
        if state is S.WRAP_UP and d["wrap_ends_at"] is not None:
            a.wrap_ends_at = d["wrap_ends_at"]
        r._roster.restore_agent(a)
    r._dispatcher.rr_last.update(data.get("rr_last", {}))
    r._waiting.continue_after(top)
    r._dispatch()
    return r
