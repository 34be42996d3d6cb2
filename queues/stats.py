"""KPI counters, fed by the router's events and computed here only (GUIDE §4).

Counting rules, so the numbers add up:
- ``offered``: an inbound call entering a queue (also a call overflowed into it).
- ``answered``/``answered_within``: an inbound call answered by an agent; its wait runs
  from the original enqueue time, so a RONA requeue does not reset the clock.
- ``abandoned`` includes ``short_abandoned``; short ones leave the SL denominator.
- ``overflowed``: counted in the queue the call left; it stays in that queue's offered.
- ``callbacks``: callers who left the line for a callback (they remain offered and
  unanswered for SL; the callback is outbound work, counted in ``handled``/AHT).
- ``handled``: items (inbound or outbound) whose after-call work ended; AHT uses these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["AcdStats", "QueueCounters", "QueueKpis", "SlDefinition"]


class SlDefinition(StrEnum):
    """Service level definitions offered by name; the first is the house one."""

    EXCLUDE_SHORT_ABANDONS = "exclude_short_abandons"  # within T / (offered - short)
    ALL_OFFERED = "all_offered"  # within T / offered
    ANSWERED_ONLY = "answered_only"  # within T / answered


@dataclass
class QueueCounters:
    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    overflowed: int = 0
    callbacks: int = 0
    handled: int = 0
    answered_wait_s: float = 0.0
    talk_s: float = 0.0
    hold_s: float = 0.0
    acw_s: float = 0.0


@dataclass(frozen=True)
class QueueKpis:
    queue: str
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    overflowed: int
    callbacks: int
    handled: int
    waiting: int
    oldest_wait_s: float
    service_level: float | None  # None until something is in the denominator
    asa_s: float | None
    aht_s: float | None
    abandon_rate: float | None
    connection_rate: float | None  # 接通率: answered / offered (95598 target >= 0.95)


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


class AcdStats:
    def __init__(self, sl_threshold_s: dict[str, int], short_abandon_s: float) -> None:
        self._threshold = dict(sl_threshold_s)
        self.short_abandon_s = short_abandon_s
        self.queues: dict[str, QueueCounters] = {q: QueueCounters() for q in sl_threshold_s}
        # agent id -> [handling seconds, ready idle seconds], whole day
        self.agent_time: dict[str, list[float]] = {}

    def _q(self, queue: str) -> QueueCounters:
        return self.queues.setdefault(queue, QueueCounters())

    # events -------------------------------------------------------------------
    def offered(self, queue: str) -> None:
        self._q(queue).offered += 1

    def answered(self, queue: str, wait_s: float) -> None:
        c = self._q(queue)
        c.answered += 1
        c.answered_wait_s += wait_s
        if wait_s <= self._threshold.get(queue, 20):
            c.answered_within += 1

    def abandoned(self, queue: str, wait_s: float) -> bool:
        """Count an abandon; returns True when it was a short abandon."""
        c = self._q(queue)
        c.abandoned += 1
        short = wait_s < self.short_abandon_s
        if short:
            c.short_abandoned += 1
        return short

    def overflowed(self, from_queue: str, to_queue: str | None) -> None:
        self._q(from_queue).overflowed += 1
        if to_queue is not None:
            self.offered(to_queue)

    def callback(self, queue: str) -> None:
        self._q(queue).callbacks += 1

    def handled(self, queue: str, talk_s: float, hold_s: float, acw_s: float) -> None:
        c = self._q(queue)
        c.handled += 1
        c.talk_s += talk_s
        c.hold_s += hold_s
        c.acw_s += acw_s

    def agent_span(self, agent_id: str, seconds: float, busy: bool) -> None:
        t = self.agent_time.setdefault(agent_id, [0.0, 0.0])
        t[0 if busy else 1] += seconds

    # figures ------------------------------------------------------------------
    def service_level(
        self, queue: str, definition: SlDefinition = SlDefinition.EXCLUDE_SHORT_ABANDONS
    ) -> float | None:
        c = self._q(queue)
        if definition is SlDefinition.ALL_OFFERED:
            return _ratio(c.answered_within, c.offered)
        if definition is SlDefinition.ANSWERED_ONLY:
            return _ratio(c.answered_within, c.answered)
        return _ratio(c.answered_within, c.offered - c.short_abandoned)

    def occupancy(self, agent_id: str) -> float | None:
        """Handling / (handling + ready idle) for the day so far."""
        busy, idle = self.agent_time.get(agent_id, (0.0, 0.0))
        return _ratio(busy, busy + idle)

    def kpis(self, queue: str, waiting: int = 0, oldest_wait_s: float = 0.0) -> QueueKpis:
        c = self._q(queue)
        return QueueKpis(
            queue=queue,
            offered=c.offered,
            answered=c.answered,
            abandoned=c.abandoned,
            short_abandoned=c.short_abandoned,
            overflowed=c.overflowed,
            callbacks=c.callbacks,
            handled=c.handled,
            waiting=waiting,
            oldest_wait_s=oldest_wait_s,
            service_level=self.service_level(queue),
            asa_s=_ratio(c.answered_wait_s, c.answered),
            aht_s=_ratio(c.talk_s + c.hold_s + c.acw_s, c.handled),
            abandon_rate=_ratio(c.abandoned, c.offered),
            connection_rate=_ratio(c.answered, c.offered),
        )
