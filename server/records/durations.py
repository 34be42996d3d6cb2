"""Durations derived from a call's timeline: the one place they are computed.

Pure. The KPIs (ASA, AHT, occupancy) and the export read these numbers; nothing
else subtracts timestamps. Rules, each chosen to match the KPI definitions in
GUIDE §4:

- ivr_s: arrived → ivr_end.
- queue_wait_s: first enqueued → answered; if never answered, → abandoned, else
  → callback_requested. A requeue after a missed offer does not restart the wait:
  the caller has been waiting all along. Ringing counts as waiting (ASA includes it).
  Entering the dialplan's fallback queue (``fallback``) counts as being enqueued
  (for a caller it took straight from the menu), so a call answered or abandoned
  there has its wait too.
- ring_s: sum over offers of (offer time − ring_start).
- hold_s: sum of hold spans between answered and bridge_end; a hold still open at
  bridge_end is closed there (the agent hung up while the caller was on hold).
- talk_s: answered → bridge_end, minus hold.
- acw_s: bridge_end → wrap_up_end (after-call work).
- handling_s: talk + hold + acw, the AHT numerator.

A phase that did not happen is 0.0. Values are rounded to the millisecond so sums
print cleanly in CSV.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Protocol


class _Event(Protocol):
    @property
    def t(self) -> float: ...
    @property
    def kind(self) -> str: ...
    @property
    def details(self): ...


@dataclass(frozen=True)
class Durations:
    ivr_s: float = 0.0
    queue_wait_s: float = 0.0
    ring_s: float = 0.0
    talk_s: float = 0.0
    hold_s: float = 0.0
    acw_s: float = 0.0
    handling_s: float = 0.0
    offers: int = 0
    missed_offers: int = 0
    holds: int = 0

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _ms(seconds: float) -> float:
    return float(round(max(seconds, 0.0), 3))


def _first(events: list[_Event], kind: str, after: float | None = None) -> _Event | None:
    for event in events:
        if event.kind == kind and (after is None or event.t >= after):
            return event
    return None


def compute_durations(timeline: Iterable[_Event]) -> Durations:
    events = list(timeline)
    arrived = _first(events, "arrived")
    ivr_end = _first(events, "ivr_end")
    ivr_s = ivr_end.t - arrived.t if arrived and ivr_end else 0.0

    enqueued = next((e for e in events if e.kind in ("enqueued", "fallback")), None)
    answered = _first(events, "answered")
    queue_wait_s = 0.0
    if enqueued is not None:
        stop = (answered or _first(events, "abandoned")
                or _first(events, "callback_requested"))
        if stop is not None:
            queue_wait_s = stop.t - enqueued.t

    offers = [e for e in events if e.kind == "offer"]
    ring_s = sum(e.t - float(e.details["ring_start"]) for e in offers)
    missed = sum(1 for e in offers if e.details.get("outcome") != "answered")

    talk_s = hold_s = acw_s = 0.0
    holds = 0
    if answered is not None:
        bridge_end = _first(events, "bridge_end", after=answered.t)
        if bridge_end is not None:
            hold_s, holds = _hold(events, answered.t, bridge_end.t)
            talk_s = bridge_end.t - answered.t - hold_s
            wrap = _first(events, "wrap_up_end", after=bridge_end.t)
            if wrap is not None:
                acw_s = wrap.t - bridge_end.t

    talk, hold, acw = _ms(talk_s), _ms(hold_s), _ms(acw_s)
    return Durations(
        ivr_s=_ms(ivr_s), queue_wait_s=_ms(queue_wait_s), ring_s=_ms(ring_s),
        talk_s=talk, hold_s=hold, acw_s=acw, handling_s=_ms(talk + hold + acw),
        offers=len(offers), missed_offers=missed, holds=holds,
    )


def _hold(events: list[_Event], start: float, end: float) -> tuple[float, int]:
    """Total hold time and number of holds inside [start, end]."""
    total = 0.0
    count = 0
    open_at: float | None = None
    for event in events:
        if not start <= event.t <= end:
            continue
        if event.kind == "hold_start" and open_at is None:
            open_at = event.t
            count += 1
        elif event.kind == "hold_end" and open_at is not None:
            total += event.t - open_at
            open_at = None
        # A second hold_start while holding, or a hold_end without a start, is a
        # duplicate softphone event: ignored rather than double counted.
    if open_at is not None:
        total += end - open_at
    return total, count
