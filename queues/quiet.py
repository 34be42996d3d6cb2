"""Quiet hours: no callbacks or follow-ups at night (DL/T 2046), timezone aware."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from queues.model import TimeRange

__all__ = ["QuietHours"]


class QuietHours:
    def __init__(self, window: TimeRange, timezone: str) -> None:
        self.window = window
        self.tz = ZoneInfo(timezone)

    def _local(self, ts: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(ts, self.tz)

    def active(self, ts: float) -> bool:
        return self.window.contains(self._local(ts).time())

    def ends_after(self, ts: float) -> float:
        """The epoch time quiet hours next end (``ts`` itself if not quiet now)."""
        if not self.active(ts):
            return ts
        local = self._local(ts)
        end = dt.datetime.combine(local.date(), self.window.end, tzinfo=self.tz)
        if end <= local:
            end += dt.timedelta(days=1)
        # Round-trip through UTC so a DST change overnight lands on the wall-clock end.
        return end.astimezone(dt.UTC).timestamp()
