"""Deadlines in calendar or business time: ``deadline(hours, start, limit)``.

Business time follows the same rules as ``ivr/hours.py`` reads a queue's hours:
ranges are local times in the hours' own timezone, listed per weekday; a range
that crosses midnight (22:00-06:00) covers that same date's 00:00-06:00 and
22:00-24:00; "00:00-00:00" is the whole day; holidays are closed all day.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from queues.model import WEEKDAYS, BusinessHours

from .rules import Limit

__all__ = ["NoBusinessHours", "business_add", "deadline"]

_MIDNIGHT = dt.time(0, 0)
# A year of dates is enough to find any limit a sane config can ask for; a config
# with no open time at all stops here instead of looping for ever.
_MAX_DAYS = 400


class NoBusinessHours(ValueError):
    """The hours have no open time within a year of the start."""


def deadline(hours: BusinessHours, start: float, limit: Limit) -> float:
    """The moment ``limit`` after ``start``: calendar seconds, or open seconds of ``hours``."""
    if not limit.business:
        return start + limit.seconds
    return business_add(hours, start, limit.seconds)


def _segments(hours: BusinessHours, day: dt.date, tz: ZoneInfo) -> list[tuple[float, float]]:
    """The open intervals of one local date, as sorted merged (start, end) timestamps."""
    if day in hours.holidays:
        return []
    spans: list[tuple[dt.time, dt.time | None]] = []  # None end: midnight at the date's end
    for r in hours.weekly.get(WEEKDAYS[day.weekday()], ()):
        if r.start < r.end:
            spans.append((r.start, r.end))
        else:  # crosses midnight: the date's early part and its late part
            if r.end != _MIDNIGHT:
                spans.append((_MIDNIGHT, r.end))
            spans.append((r.start, None))
    next_day = dt.datetime.combine(day + dt.timedelta(days=1), _MIDNIGHT, tz).timestamp()
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans, key=lambda s: s[0]):
        lo = dt.datetime.combine(day, a, tz).timestamp()
        hi = next_day if b is None else dt.datetime.combine(day, b, tz).timestamp()
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        elif hi > lo:
            out.append((lo, hi))
    return out


def business_add(hours: BusinessHours, start: float, seconds: float) -> float:
    """The moment when ``seconds`` of open time have passed since ``start``.

    Starting outside the hours counts from the next opening; a limit that ends
    exactly at a closing time is due at that closing time.
    """
    tz = ZoneInfo(hours.timezone)
    day = dt.datetime.fromtimestamp(start, tz).date()
    left = float(seconds)
    for _ in range(_MAX_DAYS):
        for lo, hi in _segments(hours, day, tz):
            if hi <= start:
                continue
            lo = max(lo, start)
            if left <= hi - lo:
                return lo + left
            left -= hi - lo
        day += dt.timedelta(days=1)
    raise NoBusinessHours(f"no open time in {_MAX_DAYS} days after {start} ({hours.timezone})")
