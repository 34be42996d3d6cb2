"""The demo summary's ``cases`` figures, read back from the case store (not counted by
the process): what the store holds at the end of the run is what the summary says."""

from __future__ import annotations

from collections import Counter
from typing import Any

from cases.machine import CaseInput
from cases.model import Case, CaseState, CaseType
from server.cases.service import CaseService

__all__ = ["case_figures", "case_summary"]


def case_figures(cases: list[Case], now: float) -> dict[str, Any]:
    """``opened``: every case; ``resolved``: those resolved at least once;
    ``return_visits_done``: those whose return visit reached the customer;
    ``closed``: closed now; ``overdue``: open and past their running limit now;
    ``by_type`` and ``by_grade`` (complaints and reports): every case."""
    return {
        "opened": len(cases),
        "resolved": sum(any(a.input == CaseInput.RESOLVE for a in c.audit) for c in cases),
        "return_visits_done": sum(c.visit_outcome is not None for c in cases),
        "closed": sum(c.state is CaseState.CLOSED for c in cases),
        "overdue": sum(c.is_open and c.deadline is not None and c.deadline.overdue(now)
                       for c in cases),
        "by_type": dict(sorted(Counter(c.type.value for c in cases).items())),
        "by_grade": dict(sorted(Counter(c.grade for c in cases if c.grade).items())),
    }


async def case_summary(service: CaseService, clock: Any) -> dict[str, Any]:
    """Every case in the store (by its type index: open and closed), as ``case_figures``.
    Fails with the Redis error when the store cannot be read."""
    found: dict[str, Case] = {}
    for t in CaseType:
        for case in await service.find(type=t.value, limit=1_000_000):
            found[case.id] = case
    return case_figures(list(found.values()), clock.seconds())
