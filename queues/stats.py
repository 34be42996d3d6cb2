"""KPI counters, fed by the router's events and computed here only (GUIDE §4).

Counting rules, so the numbers add up:
- ``offered``: an inbound call entering a queue (also a call overflowed into it).
- ``answered``/``answered_within``: an inbound call answered by an agent; its wait runs
  from the original enqueue time, so a RONA requeue does not reset the clock.
- ``abandoned`` includes ``short_abandoned``; short ones leave the SL denominator.
- Service level (house definition, issue 15): answered within T / (answered +
  abandoned after the short-abandon threshold). A call overflowed out of a queue,
  or one that left for a callback, is in neither term: it counts where it was
  answered or abandoned. The other definitions are offered by name.
- ``overflowed``: counted in the queue the call left; it stays in that queue's offered.
- ``callbacks``: callers who left the line for a callback (they remain offered and
  unanswered for SL; the callback is outbound work, counted in ``handled``/AHT).
- ``handled``: items (inbound or outbound) whose after-call work ended; AHT uses these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["DEFAULT_THRESHOLD_S", "AcdStats", "QueueCounters", "QueueKpis", "SlDefinition",
           "ratio"]

DEFAULT_THRESHOLD_S = 20  # GUIDE §4: T = 20 s unless the queue says otherwise


class SlDefinition(StrEnum):
    """Service level definitions offered by name; the first is the house one."""

    ANSWERED_OR_ABANDONED = "answered_or_abandoned"  # within T / (answered + long abandons)
    EXCLUDE_SHORT_ABANDONS = "exclude_short_abandons"  # within T / (offered - short)
    ALL_OFFERED = "all_offered"  # within T / offered
    ANSWERED_ONLY = "answered_only"  # within T / answered


def ratio(a: float, b: float) -> float | None:
    """a / b, or None when nothing is in the denominator (a rate of no calls is no rate)."""
    return a / b if b > 0 else None


_ratio = ratio


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

    # The formulas: every figure is computed here, from counters that add up, so
    # the live ACD (AcdStats) and the period reports (server/reports) share them.
    def count_answered(self, wait_s: float, threshold_s: float) -> None:
        self.answered += 1
        self.answered_wait_s += wait_s
        if wait_s <= threshold_s:
            self.answered_within += 1

    def count_abandoned(self, wait_s: float, short_abandon_s: float) -> bool:
        """Count an abandon; True when it was a short one (quicker than the threshold)."""
        self.abandoned += 1
        short = wait_s < short_abandon_s
        if short:
            self.short_abandoned += 1
        return short

    def count_handled(self, talk_s: float, hold_s: float, acw_s: float) -> None:
        self.handled += 1
        self.talk_s += talk_s
        self.hold_s += hold_s
        self.acw_s += acw_s

    def service_level(
        self, definition: SlDefinition = SlDefinition.ANSWERED_OR_ABANDONED
    ) -> float | None:
        if definition is SlDefinition.ALL_OFFERED:
            return _ratio(self.answered_within, self.offered)
        if definition is SlDefinition.ANSWERED_ONLY:
            return _ratio(self.answered_within, self.answered)
        if definition is SlDefinition.EXCLUDE_SHORT_ABANDONS:
            return _ratio(self.answered_within, self.offered - self.short_abandoned)
        return _ratio(self.answered_within,
                      self.answered + self.abandoned - self.short_abandoned)

    @property
    def asa_s(self) -> float | None:
        return _ratio(self.answered_wait_s, self.answered)

    @property
    def aht_s(self) -> float | None:
        return _ratio(self.talk_s + self.hold_s + self.acw_s, self.handled)

    @property
    def abandon_rate(self) -> float | None:
        return _ratio(self.abandoned, self.offered)

    @property
    def connection_rate(self) -> float | None:
        """接通率 to agents: answered / offered."""
        return _ratio(self.answered, self.offered)

    def add(self, other: QueueCounters) -> None:
        """Add ``other``'s counts (every field is a sum)."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


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

    def threshold_s(self, queue: str) -> int:
        """The queue's SL threshold T (20 s for a queue not configured, e.g. the
        dialplan's fallback queue)."""
        return self._threshold.get(queue, DEFAULT_THRESHOLD_S)

    def answered(self, queue: str, wait_s: float) -> None:
        self._q(queue).count_answered(wait_s, self.threshold_s(queue))

    def abandoned(self, queue: str, wait_s: float) -> bool:
        """Count an abandon; returns True when it was a short abandon."""
        return self._q(queue).count_abandoned(wait_s, self.short_abandon_s)

    def overflowed(self, from_queue: str, to_queue: str | None) -> None:
        self._q(from_queue).overflowed += 1
        if to_queue is not None:
            self.offered(to_queue)

    def callback(self, queue: str) -> None:
        self._q(queue).callbacks += 1

    def handled(self, queue: str, talk_s: float, hold_s: float, acw_s: float) -> None:
        self._q(queue).count_handled(talk_s, hold_s, acw_s)

    def agent_span(self, agent_id: str, seconds: float, busy: bool) -> None:
        t = self.agent_time.setdefault(agent_id, [0.0, 0.0])
        t[0 if busy else 1] += seconds

    # figures ------------------------------------------------------------------
    def service_level(
        self, queue: str, definition: SlDefinition = SlDefinition.ANSWERED_OR_ABANDONED
    ) -> float | None:
        return self._q(queue).service_level(definition)

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
            asa_s=c.asa_s,
            aht_s=c.aht_s,
            abandon_rate=c.abandon_rate,
            connection_rate=c.connection_rate,
        )
