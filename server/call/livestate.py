"""What a restarted server needs to re-adopt the calls: the live state in Redis.

One write per call in flight: pooled Redis connections could otherwise run a put
after the delete that followed it (a stale entry, and a restart would restore a
call that ended).  Writes queued meanwhile collapse into the newest.  A refused
write is retried with the then-current state, coalesced per call.  The router's
snapshot is debounced: one per half second at most, however busy the floor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from server.call.table import Call

__all__ = ["LiveState", "LiveStateWriter", "call_state"]


class LiveState(Protocol):
    """Where the adapter keeps what a restart needs (``RecordStore``'s live state)."""

    def put(self, kind: str, id: str, state: dict[str, Any]) -> defer.Deferred[Any]: ...
    def delete(self, kind: str, id: str) -> defer.Deferred[Any]: ...


class Timer(Protocol):
    """A pending ``callLater`` (``IDelayedCall``, as far as this module uses it)."""

    def active(self) -> bool: ...
    def cancel(self) -> None: ...


class Clock(Protocol):
    def seconds(self) -> float: ...
    def callLater(self, delay: float, f: Callable[..., object], *a: object) -> Timer: ...


def call_state(call: Call) -> dict[str, Any]:
    """The live-state entry of ``call`` (server/call/reconcile.py restores from it)."""
    return {
        "channel": call.channel, "caller": call.caller, "dialled": call.dialled,
        "phase": call.phase, "queue": call.queue, "intent": call.intent,
        "priority": call.priority, "account": call.account,
        "agent_id": call.agent_id, "agent_channel": call.agent_channel,
        "talked": call.talked, "wrap_done": call.wrap_done, "outcome": call.outcome,
        "ivr": call.ivr.snapshot(),
        "uniqueid": call.session.uniqueid if call.session else ""}


class LiveStateWriter:
    """Serialised per-call writes, retries, and the debounced router snapshot.

    :param live: the store, or None (no live state kept: nothing is written).
    :param calls: the live calls by id (a retry writes the then-current state).
    :param router_snapshot: the router's snapshot (``Router.snapshot``).
    """

    log = Logger()

    def __init__(self, clock: Clock, live: LiveState | None, calls: Mapping[str, Call],
                 router_snapshot: Callable[[], dict[str, Any]]) -> None:
        self.clock = clock
        self.live = live
        self._calls = calls
        self._router_snapshot = router_snapshot
        self.router_save: Timer | None = None  # a pending debounced router snapshot
        self._dirty: set[str] = set()  # calls whose live state Redis refused
        self._retry: Timer | None = None
        self._busy: set[str] = set()  # calls with a write in flight
        self._next: dict[str, dict[str, Any] | None] = {}  # the newest state waiting its turn

    def save(self, call: Call, final: bool = False) -> None:
        """Keep what a restarted server needs to re-adopt ``call`` (``final``: drop it),
        and the router's places."""
        if self.live is None:
            return
        call.saved_step = call.ivr_step()
        self.write(call.id, None if final else call_state(call))
        self.schedule_router_save()

    def write(self, call_id: str, state: dict[str, Any] | None) -> None:
        """Put ``state`` (None: delete) after any write of this call still in flight."""
        if self.live is None:
            return
        if call_id in self._busy:
            self._next[call_id] = state
            return
        self._busy.add(call_id)
        d = (self.live.delete("call", call_id) if state is None
             else self.live.put("call", call_id, state))
        d.addErrback(self._failed, call_id)

        def next_one(_: object) -> None:
            self._busy.discard(call_id)
            if call_id in self._next:
                self.write(call_id, self._next.pop(call_id))
        d.addBoth(next_one)

    def _failed(self, failure: Failure, call_id: str) -> None:
        """Redis refused a write: a stale entry would make a restart restore the wrong
        phase, so it is not dropped; retried with the then-current state."""
        if not self._dirty:
            self.log.warn("Live state not saved ({e}); retrying", e=failure.getErrorMessage())
        self._dirty.add(call_id)
        if self._retry is None or not self._retry.active():
            self._retry = self.clock.callLater(2.0, self._retry_dirty)

    def _retry_dirty(self) -> None:
        self._retry = None
        dirty, self._dirty = self._dirty, set()
        for call_id in dirty:
            call = self._calls.get(call_id)
            if call is None:  # ended meanwhile: its entry must go
                self.write(call_id, None)
            else:
                self.save(call)

    def schedule_router_save(self) -> None:
        """Save the router's snapshot within half a second (coalesced)."""
        if self.live is None or (self.router_save is not None and self.router_save.active()):
            return
        self.router_save = self.clock.callLater(0.5, self._save_router)

    def _save_router(self) -> None:
        self.router_save = None
        assert self.live is not None

        def failed(f: Failure) -> None:
            self.log.warn("Router snapshot not saved: {e}", e=f.getErrorMessage())
            self.schedule_router_save()  # the next one carries the then-current state

        self.live.put("router", "snapshot", self._router_snapshot()).addErrback(failed)

    def stop(self) -> None:
        """Cancel the pending timers (service shutdown)."""
        for timer in (self.router_save, self._retry):
            if timer is not None and timer.active():
                timer.cancel()
        self.router_save = self._retry = None
