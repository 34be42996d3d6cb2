"""The report's period from what people type, and the CSV form (shared by the command
and ``GET /api/reports``). Pure.

A date ``YYYY-MM-DD`` is a local day in the reports' timezone; as ``to`` it is
inclusive (the period ends at the next local midnight). An ISO datetime with an
offset is taken as given; without one, in the reports' timezone. Epoch seconds
(the API's numbers) are accepted too.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any
from zoneinfo import ZoneInfo

from .kpi import FIGURES

__all__ = ["PeriodError", "parse_when", "period", "to_csv"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EPOCH = re.compile(r"^\d{9,11}(\.\d+)?$")
MAX_DAYS = 400  # a year and a bit: longer reports are refused, not left running


class PeriodError(ValueError):
    """A ``from``/``to`` people can fix: the message says how."""


def parse_when(text: str, timezone: str, *, end: bool = False) -> float:
    """Epoch seconds for ``text`` (see the module doc). Raises PeriodError."""
    text = text.strip()
    if _EPOCH.match(text):
        return float(text)
    tz = ZoneInfo(timezone)
    try:
        if _DATE.match(text):
            day = dt.date.fromisoformat(text)
            if end:
                day += dt.timedelta(days=1)
            return dt.datetime.combine(day, dt.time(), tz).timestamp()
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"'{text}' is not a date (YYYY-MM-DD), an ISO date-time "
                          f"(2026-12-01T08:00) or epoch seconds") from None
    return (value if value.tzinfo else value.replace(tzinfo=tz)).timestamp()


def period(start: str, end: str, timezone: str) -> tuple[float, float]:
    """[from, to) in epoch seconds; raises PeriodError when empty, reversed or too long."""
    lo, hi = parse_when(start, timezone), parse_when(end, timezone, end=True)
    if hi <= lo:
        raise PeriodError(f"the period is empty: 'to' ({end}) is not after 'from' ({start})")
    if hi - lo > MAX_DAYS * 86400:
        raise PeriodError(f"the period is longer than {MAX_DAYS} days; report it in parts")
    return lo, hi


def to_csv(report: dict[str, Any]) -> str:
    """One row per group, then a ``total`` row: ``key,label`` and the FIGURES in order."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["key", "label", *FIGURES])
    for row in [*report["groups"], {"key": "total", "label": "total", **report["total"]}]:
        w.writerow([row["key"], row["label"], *("" if row[f] is None else row[f]
                                                 for f in FIGURES)])
    return out.getvalue()
