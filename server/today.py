"""Today's figures from the records in Redis, kept current by the notifier: not process memory.

At start-up, and again at each local midnight (``reports.timezone`` in server.yaml),
the final records of the calls that arrived today are read from Redis through the
reports' reader (``server/reports/reader.py``) and counted with the reports' own
tallies (``server/reports/kpi.py``: one definition of every figure).  Each final
record the notifier publishes afterwards is added the same way.  So a restart does
not zero the wallboard's "today", the queues' day figures or an agent's figures.

Dedupe: a call counts once, as its newest final version.  Per call of today we keep
the version counted and its ``CallFacts``; a newer version first takes the older
one's contribution back out (the same tally, negated, added) and then adds its own;
an older or equal version is ignored.  Whether the reading or the notifier brings a
version first does not matter.

Redis down at start-up (or at midnight): the figures say ``state: unavailable`` with
the error, the reading is retried with a growing delay (1 s to 60 s), and records
published meanwhile are counted already; nothing raises.

Repeat contacts need 30 days of history and are not counted here (null).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import fields
from typing import Any
from zoneinfo import ZoneInfo

from twisted.internet import defer
from twisted.logger import Logger

from queues.stats import QueueCounters
from server.config import Config
from server.records.model import CallRecord
from server.reports.bands import AMBER_POINTS, COLOURS, status
from server.reports.kpi import CallFacts, Policy, Tally, call_facts, figures
from server.reports.reader import read_records

__all__ = ["NO_QUEUE", "TodayFigures", "sl_status"]

NO_QUEUE = "(no queue)"
RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
CASE_COUNTS_MAX_AGE_S = 10.0


def sl_status(value: float | None, target: float) -> str:
    """green at or above the target, amber up to 5 points below it, red below that;
    "none" when there is no figure yet (server/reports/bands.py, the reports' rule)."""
    return COLOURS[status(value, target, higher_is_better=True)]


def _negated(t: Tally) -> Tally:
    """A tally that, added, takes ``t`` back out (Tally only ever adds)."""
    out = Tally()
    for f in fields(QueueCounters):
        setattr(out.calls, f.name, -getattr(t.calls, f.name))
    for f in fields(Tally):
        value = getattr(t, f.name)
        if f.name in ("calls", "idle_known"):
            continue
        setattr(out, f.name, {k: -v for k, v in value.items()} if isinstance(value, dict)
                else -value)
    return out


class TodayFigures:
    """Centre, queue and agent figures for today (local day), from Redis and the notifier.

    :param client: the redis.asyncio client the records are read with.
    :param case_counts: optional, fires with ``CaseService.counts()``'s dict (open and
        overdue cases for the wallboard's headline).
    """

    log = Logger()

    def __init__(self, reactor, cfg: Config, client, *, case_counts=None) -> None:
        self.reactor, self.client, self._case_counts = reactor, client, case_counts
        rep = cfg.server.reports
        self.tz = ZoneInfo(rep.timezone)
        self.targets = rep.targets
        self._lag, self._slack = rep.max_record_lag_s, rep.clock_slack_s
        self.policy = Policy(
            short_abandon_s=cfg.acd.policy.short_abandon_s,
            threshold_s={n: q.service_level.threshold_s for n, q in cfg.acd.queues.items()})
        self.sl_targets = {n: q.service_level.target for n, q in cfg.acd.queues.items()}
        self.day_start = self.day_end = 0.0
        self.state, self.error, self.loaded_at = "loading", None, None
        self._generation = 0
        self._attempt = 0
        self._timers: list[Any] = []
        self._cases: dict[str, Any] | None = None
        self._cases_at: float | None = None
        self._cases_reading = False
        # The reading under way (or the last one): fires with None when it ends, read
        # or failed (a failure schedules the retry).  For tests and the start-up log.
        self.reading: defer.Deferred = defer.succeed(None)
        self._clear()

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Begin today: read it from Redis (retried) and schedule the next midnight."""
        self._new_day()

    def stop(self) -> None:
        self._generation += 1  # a reading under way adds nothing more
        for timer in self._timers:
            if timer.active():
                timer.cancel()
        self._timers.clear()

    def _clear(self) -> None:
        self.centre = Tally()
        self.queues: dict[str, Tally] = {}
        self.agents: dict[str, Tally] = {}
        self._seen: dict[str, tuple[int, CallFacts]] = {}

    def _new_day(self) -> None:
        self.stop()
        now = self.reactor.seconds()
        start = dt.datetime.fromtimestamp(now, self.tz).replace(
            hour=0, minute=0, second=0, microsecond=0)
        self.day_start = start.timestamp()
        self.day_end = (start + dt.timedelta(days=1)).timestamp()  # wall-clock: DST-safe
        self._clear()
        self.state, self.error, self._attempt = "loading", None, 0
        self._timers.append(self.reactor.callLater(max(0.0, self.day_end - now), self._new_day))
        self._load()

    def _load(self) -> None:
        generation = self._generation
        d = defer.Deferred.fromFuture(asyncio.ensure_future(self._read(generation)))
        d.addCallbacks(lambda _: self._loaded(generation),
                       lambda f: self._failed(generation, f))
        self.reading = d

    async def _read(self, generation: int) -> None:
        async for record in read_records(self.client, self.day_start, self.day_end,
                                         max_lag_s=self._lag, slack_s=self._slack):
            if generation != self._generation:
                return
            self.add(record)

    def _loaded(self, generation: int) -> None:
        if generation == self._generation:
            self.state, self.error, self.loaded_at = "ok", None, self.reactor.seconds()

    def _failed(self, generation: int, failure) -> None:
        if generation != self._generation:
            return
        delay = RETRY_S[min(self._attempt, len(RETRY_S) - 1)]
        self._attempt += 1
        self.state, self.error = "unavailable", failure.getErrorMessage()
        self.log.warn("Today's figures not read from Redis ({error}); retrying in {delay} s",
                      error=self.error, delay=delay)
        self._timers = [t for t in self._timers if t.active()]
        self._timers.append(self.reactor.callLater(delay, self._load))

    # ------------------------------------------------------------ input
    def on_publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Notifier subscriber: each final record is counted (see the module doc)."""
        if topic == "record" and payload.get("final"):
            self.add(CallRecord.from_dict(payload))

    def add(self, record: CallRecord) -> None:
        arrived = record.timeline[0].t if record.timeline else None
        if arrived is None or not self.day_start <= arrived < self.day_end:
            return
        old = self._seen.get(record.call_id)
        if old is not None and old[0] >= record.version:
            return
        facts = call_facts(record)
        if old is not None:
            self._apply(old[1], negate=True)
        self._seen[record.call_id] = (record.version, facts)
        self._apply(facts, negate=False)

    def _apply(self, f: CallFacts, *, negate: bool) -> None:
        def put(target: Tally, offers: bool) -> None:
            part = Tally()
            part.add_call(f, self.policy, None)
            if offers:
                part.add_offers(len(f.offers), sum(missed for _, missed in f.offers))
            target.add(_negated(part) if negate else part)

        put(self.centre, True)
        put(self.queues.setdefault(f.queue or NO_QUEUE, Tally()), True)
        if f.agent is not None:  # the agent's own figures: offers go to the offered agent
            put(self.agents.setdefault(f.agent, Tally()), False)
        for agent, missed in f.offers:
            part = Tally()
            part.add_offers(1, missed)
            self.agents.setdefault(agent, Tally()).add(_negated(part) if negate else part)

    # ------------------------------------------------------------ output
    def status(self) -> dict[str, Any]:
        return {"state": self.state, "error": self.error, "since": self.day_start,
                "loaded_at": self.loaded_at, "calls": len(self._seen)}

    def centre_figures(self) -> dict[str, Any]:
        return figures(self.centre)

    def queue_figures(self, queue: str) -> dict[str, Any]:
        return figures(self.queues.get(queue) or Tally())

    def agent_figures(self, agent_id: str) -> dict[str, Any]:
        """The desk's "today": handled, talk/hold/ACW, AHT and missed offers."""
        t = self.agents.get(agent_id) or Tally()
        c = t.calls
        return {"agent_id": agent_id, "since": self.day_start, "handled": c.handled,
                "talk_s": round(c.talk_s, 3), "hold_s": round(c.hold_s, 3),
                "acw_s": round(c.acw_s, 3), "aht_s": figures(t)["aht_s"],
                "missed_offers": t.missed_offers, "figures_state": self.state}

    def case_counts(self) -> dict[str, Any] | None:
        """The last open/overdue case counts read (None before the first); starts a new
        read when they are older than ``CASE_COUNTS_MAX_AGE_S``."""
        now = self.reactor.seconds()
        stale = self._cases_at is None or now - self._cases_at >= CASE_COUNTS_MAX_AGE_S
        if self._case_counts is not None and stale and not self._cases_reading:
            self._cases_reading = True
            d = defer.maybeDeferred(self._case_counts)

            def got(counts: dict[str, Any]) -> None:
                self._cases, self._cases_at = counts, self.reactor.seconds()

            def failed(f) -> None:
                self.log.warn("case counts for the wallboard not read: {e}",
                              e=f.getErrorMessage())

            def done(_: Any) -> None:
                self._cases_reading = False
            d.addCallbacks(got, failed).addBoth(done)
        return self._cases

    def headline(self) -> dict[str, Any]:
        """The wallboard's centre-wide figures for today, each with its target."""
        f = self.centre_figures()
        t = self.targets
        cases = self.case_counts()
        return {
            **self.status(),
            "offered": f["offered"], "answered": f["answered"],
            "connection_rate": f["connection_rate"], "connection_rate_target": t.connection_rate,
            "service_level": f["service_level"], "service_level_target": t.service_level,
            "service_level_status": sl_status(f["service_level"], t.service_level),
            "amber_band": AMBER_POINTS,
            "abandon_rate": f["abandon_rate"], "abandon_rate_target": t.abandon_rate,
            "satisfaction_rate": f["satisfaction_rate"],
            "satisfaction_rate_target": t.satisfaction_rate,
            "open_cases": None if cases is None else cases.get("open"),
            "overdue_cases": None if cases is None else cases.get("overdue"),
        }
