"""A figure against its target: met (green), near (amber) or missed (red).

One rule for the printable report, the report page's data and the wallboard's
headline: amber is at most 5 points short of a rate's target, or at most 10 %
over a duration's.  (The report page repeats it in reports.js for the browser.)
"""

from __future__ import annotations

__all__ = ["AMBER_POINTS", "AMBER_SHARE", "COLOURS", "status"]

AMBER_POINTS, AMBER_SHARE = 0.05, 0.10
#: the wallboard's words for the same verdicts
COLOURS = {"met": "green", "near": "amber", "missed": "red", "none": "none", "info": "none"}


def status(value: object, target: object, higher_is_better: bool, duration: bool = False) -> str:
    """``met``, ``near`` (amber), ``missed`` (red), ``none`` (no value) or ``info`` (no target)."""
    if not isinstance(value, int | float):
        return "none"
    if not isinstance(target, int | float):
        return "info"
    gap = (target - value) if higher_is_better else (value - target)
    if gap <= 0:
        return "met"
    limit = target * AMBER_SHARE if duration else AMBER_POINTS
    # 0.80 - 0.75 is 0.05000000000000004 in binary floating point: exactly 5 points
    # short is amber, as the words say, so compare with a hair of room.
    return "near" if gap <= limit + 1e-9 else "missed"
