"""What the desk and the wallboard need beyond the router's counters, kept in memory.

Fed only by Notifier publications (``call`` phases and final ``record``s), so it
needs no polling and no Redis round trip on the hot path:

* arrivals per queue (``call`` phase ``queued``) for the Erlang C arrival rate;
* final records of the last 7 days, for an agent's figures today, the service
  level of the last 15 minutes and the screen-pop's previous calls from a number.

Only what happened since this process started is here: after a restart the
15-minute figures refill within 15 minutes; the 7-day history starts empty
(the records themselves are in Redis, and the review API reads them there).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from typing import Any
from zoneinfo import ZoneInfo

from queues.erlang import agents_needed
from server.config import Config
from server.records.durations import compute_durations
from server.records.model import CallRecord

HISTORY_S = 7 * 86400.0
WINDOW_S = 15 * 60.0
# A hard bound on memory (~5 KB a record): at 30 calls/s this holds ~11 minutes;
# older history (the screen-pop's 7 days) then comes only from what is left.
MAX_RECORDS = 20_000


def _first(rec: CallRecord, kind: str) -> float | None:
    return next((e.t for e in rec.timeline if e.kind == kind), None)


class LiveFigures:
    def __init__(self, clock, cfg: Config) -> None:
        self.clock, self.cfg = clock, cfg
        self.tz = ZoneInfo(cfg.acd.policy.timezone)
        self._arrivals: dict[str, deque[float]] = {}
        self._records: dict[str, CallRecord] = {}  # call_id -> latest final version

    # ------------------------------------------------------------ notifier input
    def on_publish(self, topic: str, payload: dict[str, Any]) -> None:
        if topic == "call" and payload.get("phase") == "queued" and payload.get("queue"):
            self._arrivals.setdefault(payload["queue"], deque()).append(payload["at"])
        elif topic == "record" and payload.get("final"):
            self.add_record(payload)

    def add_record(self, raw: dict[str, Any]) -> None:
        rec = CallRecord.from_dict(raw)
        old = self._records.get(rec.call_id)
        if old is None or old.version < rec.version:
            self._records[rec.call_id] = rec
        if len(self._records) > MAX_RECORDS:
            self._trim()

    def record(self, call_id: str) -> CallRecord | None:
        return self._records.get(call_id)

    def _trim(self) -> None:
        horizon = self.clock.seconds() - HISTORY_S
        for cid in [c for c, r in self._records.items() if (r.timeline[0].t if r.timeline
                                                            else 0) < horizon]:
            del self._records[cid]
        # Still full: drop the oldest tenth at once (insertion order), so the
        # scan above runs once per 2,000 records, not on every one.
        excess = len(self._records) - MAX_RECORDS * 9 // 10
        if excess > 0:
            for cid in list(self._records)[:excess]:
                del self._records[cid]

    # ------------------------------------------------------------ figures
    def day_start(self) -> float:
        now = dt.datetime.fromtimestamp(self.clock.seconds(), self.tz)
        return now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()

    def agent_today(self, agent_id: str) -> dict[str, Any]:
        since = self.day_start()
        handled = 0
        talk = hold = acw = 0.0
        missed = 0
        for rec in self._records.values():
            arrived = rec.timeline[0].t if rec.timeline else 0.0
            if arrived < since:
                continue
            missed += sum(1 for e in rec.timeline if e.kind == "offer"
                          and e.details.get("agent") == agent_id
                          and e.details.get("outcome") != "answered")
            if rec.agent_id != agent_id or _first(rec, "answered") is None:
                continue
            d = compute_durations(rec.timeline)
            handled += 1
            talk, hold, acw = talk + d.talk_s, hold + d.hold_s, acw + d.acw_s
        return {"agent_id": agent_id, "since": since, "handled": handled,
                "talk_s": talk, "hold_s": hold, "acw_s": acw,
                "aht_s": (talk + hold + acw) / handled if handled else None,
                "missed_offers": missed}

    def previous_calls(self, number: str, exclude: str | None = None) -> list[dict[str, Any]]:
        if not number:
            return []
        horizon = self.clock.seconds() - HISTORY_S
        out = [{"call_id": r.call_id, "arrived": r.timeline[0].t, "intent": r.intent,
                "outcome": r.outcome, "disposition": r.disposition, "agent_id": r.agent_id}
               for r in self._records.values()
               if r.caller == number and r.call_id != exclude and r.timeline
               and r.timeline[0].t >= horizon]
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
        (short abandons excluded, as GUIDE §4 defines it)."""
        q = self.cfg.acd.queues[queue]
        short = self.cfg.acd.policy.short_abandon_s
        since = self.clock.seconds() - WINDOW_S
        within = denominator = 0
        for rec in self._records.values():
            entered = next((e.t for e in rec.timeline if e.kind == "enqueued"
                            and e.details.get("queue") == queue), None)
            if entered is None or entered < since:
                continue
            answered, abandoned = _first(rec, "answered"), _first(rec, "abandoned")
            if answered is None and abandoned is not None and abandoned - entered < short:
                continue
            denominator += 1
            if answered is not None and answered - entered <= q.service_level.threshold_s:
                within += 1
        return within / denominator if denominator else None

    def agents_needed(self, queue: str, aht_s: float | None) -> int:
        q = self.cfg.acd.queues[queue]
        return agents_needed(self.arrival_rate(queue), aht_s or 180.0,
                             q.service_level.target, q.service_level.threshold_s)
