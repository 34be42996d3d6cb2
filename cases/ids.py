"""Readable case ids: ``GD<yyyymmdd>-<nnnnnn>``, numbered per local day.

The date is the centre's local date (the rules' timezone), so the numbering
restarts at local midnight, as the people reading the ids expect.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

__all__ = ["format_id", "local_day", "parse_id"]

_ID = re.compile(r"^GD(\d{8})-(\d{6,})$")


def local_day(now: float, timezone: str) -> str:
    """``yyyymmdd`` of ``now`` in ``timezone``."""
    return dt.datetime.fromtimestamp(now, ZoneInfo(timezone)).strftime("%Y%m%d")


def format_id(day: str, seq: int) -> str:
    return f"GD{day}-{seq:06d}"


def parse_id(case_id: str) -> tuple[str, int] | None:
    """(day, sequence), or None when ``case_id`` is not a case id."""
    m = _ID.match(case_id)
    return (m.group(1), int(m.group(2))) if m else None
