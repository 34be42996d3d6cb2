"""What the desk and the wallboard need beyond the router's counters, kept in memory.

Fed only by Notifier publications (``call`` phases and final ``record``s), so it
needs no polling and no Redis round trip on the hot path:

* arrivals per queue (``call`` phase ``queued``) for the Erlang C arrival rate;
* a summary of each final call of the last 7 days (bounded), for the service
  level of the last 15 minutes and the screen-pop's previous calls from a number;
  the newest final records whole, for a disposition set after the call.

The day's figures (an agent's, each queue's, the centre's) are not here: they come
from the records in Redis (``server/today.py``), so a restart does not zero them.

Only what happened since this process started is here: after a restart the
15-minute figures refill within 15 minutes; the 7-day history starts empty
(the records themselves are in Redis, and the review API reads them there).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from queues.erlang import agents_needed
from queues.stats import QueueCounters
from server.config import Config
from server.records.model import CallRecord

HISTORY_S = 7 * 86400.0
WINDOW_S = 15 * 60.0
# Hard bounds on memory.  Each final call keeps a small summary (~0.5 KB: what the
# figures below read); 50,000 of them cover a busy provincial centre's day, or
# ~28 minutes at 30 calls/s.  Whole records (~3-5 KB, for an agent who sets the
# disposition after the call) are kept for the newest 2,000 only.
MAX_SUMMARIES = 50_000
MAX_RECORDS = 2_000


@dataclass(frozen=True, slots=True)
class _Done:
    """A final call, reduced to what the screen-pop and the 15-minute figures need."""

    call_id: str
    version: int
    arrived: float
    caller: str
    intent: str | None
    outcome: str | None
    disposition: str | None
    agent_id: str | None
    answered: float | None  # the first "answered"
    abandoned: float | None  # the first "abandoned"
    entered: tuple[tuple[str, float], ...]  # (queue, first time it entered that queue)

    @classmethod
    def of(cls, rec: CallRecord) -> _Done:
        answered = _first(rec, "answered")
        entered: dict[str, float] = {}
        for e in rec.timeline:
            # into a queue: enqueued, overflowed to it, or the dialplan's fallback queue
            queue = e.details.get("to_queue" if e.kind == "overflow" else "queue")
            if e.kind in ("enqueued", "overflow", "fallback") and isinstance(queue, str) \
                    and queue not in entered:
                entered[queue] = e.t
        return cls(
            rec.call_id, rec.version, rec.timeline[0].t if rec.timeline else 0.0, rec.caller,
            rec.intent, rec.outcome, rec.disposition, rec.agent_id, answered,
            _first(rec, "abandoned"), tuple(entered.items()))


def _first(rec: CallRecord, kind: str) -> float | None:
    return next((e.t for e in rec.timeline if e.kind == kind), None)


def _bound(cache: dict, limit: int) -> None:
    """Drop the oldest tenth (insertion order) once over ``limit``: amortised O(1)."""
    if len(cache) > limit:
        for key in list(cache)[:len(cache) - limit * 9 // 10]:
            del cache[key]


class LiveFigures:
    def __init__(self, clock, cfg: Config) -> None:
        self.clock, self.cfg = clock, cfg
        self.tz = ZoneInfo(cfg.acd.policy.timezone)
        self._arrivals: dict[str, deque[float]] = {}
        self._done: dict[str, _Done] = {}  # call_id -> summary of its latest final version
        self._records: dict[str, CallRecord] = {}  # the newest final records, whole

    # ------------------------------------------------------------ notifier input
    def on_publish(self, topic: str, payload: dict[str, Any]) -> None:
        if topic == "call" and payload.get("phase") == "queued" and payload.get("queue"):
            self._arrivals.setdefault(payload["queue"], deque()).append(payload["at"])
        elif topic == "record" and payload.get("final"):
            self.add_record(payload)

    def add_record(self, raw: dict[str, Any]) -> None:
        rec = CallRecord.from_dict(raw)
        old = self._done.get(rec.call_id)
        if old is not None and old.version >= rec.version:
            return
        horizon = self.clock.seconds() - HISTORY_S
        self._done.pop(rec.call_id, None)  # re-inserted as the newest
        self._done[rec.call_id] = _Done.of(rec)
        self._records.pop(rec.call_id, None)
        self._records[rec.call_id] = rec
        if len(self._done) > MAX_SUMMARIES:
            for cid in [c for c, d in self._done.items() if d.arrived < horizon]:
                del self._done[cid]
        _bound(self._done, MAX_SUMMARIES)
        _bound(self._records, MAX_RECORDS)

    def record(self, call_id: str) -> CallRecord | None:
        """The whole final record of one of the newest calls (None if older)."""
        return self._records.get(call_id)

    # ------------------------------------------------------------ figures
    def day_start(self) -> float:
        now = dt.datetime.fromtimestamp(self.clock.seconds(), self.tz)
        return now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()

    def previous_calls(self, number: str, exclude: str | None = None) -> list[dict[str, Any]]:
        if not number:
            return []
        horizon = self.clock.seconds() - HISTORY_S
        out = [{"call_id": d.call_id, "arrived": d.arrived, "intent": d.intent,
                "outcome": d.outcome, "disposition": d.disposition, "agent_id": d.agent_id}
               for d in self._done.values()
               if d.caller == number and d.call_id != exclude and d.arrived >= horizon]
        return sorted(out, key=lambda c: c["arrived"], reverse=True)

    def arrival_rate(self, queue: str) -> float:
        """Calls per second entering ``queue`` over the last 15 minutes."""
        q = self._arrivals.get(queue)
        if not q:
            return 0.0
        now = self.clock.seconds()
        while q and q[0] < now - WINDOW_S:
            q.popleft()
        return len(q) / WINDOW_S

    def recent_service_level(self, queue: str) -> float | None:
        """SL over calls that entered ``queue`` in the last 15 minutes and have ended
        there (answered or abandoned in it, not overflowed on), by the house
        definition the reports use (``QueueCounters.service_level``: within T /
        (answered + abandons after the short-abandon threshold))."""
        q = self.cfg.acd.queues[queue]
        short = self.cfg.acd.policy.short_abandon_s
        since = self.clock.seconds() - WINDOW_S
        counters = QueueCounters()
        for d in self._done.values():
            entered = next((t for name, t in d.entered if name == queue), None)
            if entered is None or entered < since or d.entered[-1][0] != queue:
                continue
            if d.answered is not None:
                counters.count_answered(d.answered - entered, q.service_level.threshold_s)
            elif d.abandoned is not None:
                counters.count_abandoned(d.abandoned - entered, short)
        return counters.service_level()

    def agents_needed(self, queue: str, aht_s: float | None) -> int:
        q = self.cfg.acd.queues[queue]
        return agents_needed(self.arrival_rate(queue), aht_s or 180.0,
                             q.service_level.target, q.service_level.threshold_s)
