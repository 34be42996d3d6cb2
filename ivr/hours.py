"""Is a queue open at ``now``?  Business hours and holidays, pure.

Hours are read in the queue's own timezone (``zoneinfo``), so a centre in
Asia/Shanghai is judged by Beijing time whatever the server's clock zone.
A range that crosses midnight (22:00-06:00) is read on the weekday it is
listed under: Monday's 22:00-06:00 covers Monday 00:00-06:00 and 22:00-24:00.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

from queues.model import WEEKDAYS, BusinessHours, Queue

__all__ = ["ALWAYS_OPEN", "closed_redirect", "is_open", "opener"]


def is_open(hours: BusinessHours, now: float) -> bool:
    local = dt.datetime.fromtimestamp(now, ZoneInfo(hours.timezone))
    if local.date() in hours.holidays:
        return False
    ranges = hours.weekly.get(WEEKDAYS[local.weekday()], ())
    return any(r.contains(local.time()) for r in ranges)


def ALWAYS_OPEN(queue: str, now: float) -> bool:  # noqa: N802 - reads as a constant
    return True


def opener(queues: Mapping[str, Queue]) -> Callable[[str, float], bool]:
    """The ``is_open(queue_name, now)`` callable the IVR engine takes.

    An unknown queue name counts as open: check-config rejects such names,
    and a caller must never be turned away by a gap in the configuration.
    """

    def queue_is_open(name: str, now: float) -> bool:
        queue = queues.get(name)
        return True if queue is None else is_open(queue.hours, now)

    return queue_is_open


def closed_redirect(queues: Mapping[str, Queue]) -> Callable[[str], str | None]:
    """The engine's ``closed_queue`` callable: a queue's out-of-hours target, if any."""

    def redirect(name: str) -> str | None:
        queue = queues.get(name)
        return None if queue is None else queue.closed_queue

    return redirect
