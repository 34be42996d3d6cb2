"""What is due: reminders and escalations (催办) for the cases the store says are due.

The store keeps each open case's ``Deadline.next_at`` in a sorted set and hands
the tick only the cases whose score has passed (ZRANGEBYSCORE), so the cost of a
tick follows the number of due cases, never the number of open ones.  The tick
is pure: it returns the changed cases and what to tell whom; the caller writes
the cases (which moves their score) and delivers the notices.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .machine import CaseInput, transition
from .model import Case, Phase
from .rules import CasesConfig

__all__ = ["SYSTEM", "Escalation", "Reminder", "due_score", "tick"]

SYSTEM = "system"


@dataclass(frozen=True)
class Reminder:
    """Tell the owner a limit is coming: ``due_at`` is when it runs out."""

    case_id: str
    owner: str | None
    phase: Phase
    due_at: float


@dataclass(frozen=True)
class Escalation:
    """Tell the responsible person a case is overdue; ``round`` counts the 催办 rounds."""

    case_id: str
    responsible: str | None
    owner: str | None
    phase: Phase
    due_at: float
    round: int
    grade_from: str | None
    grade_to: str | None


def due_score(case: Case, rules: CasesConfig) -> float | None:
    """The case's score in the due set; None when nothing is pending (closed)."""
    if not case.is_open or case.deadline is None:
        return None
    return case.deadline.next_at(rules.escalate_every_s)


def tick(cases: Iterable[Case], rules: CasesConfig, now: float
         ) -> list[tuple[Case, Reminder | Escalation]]:
    """For each case given, the changed case and its notice, if one is due at ``now``.

    A case whose score has not come (a stale entry: it moved since the store
    listed it) gives nothing.  An overdue case that was never reminded is
    escalated directly: the reminder would come too late to help.
    """
    out: list[tuple[Case, Reminder | Escalation]] = []
    for case in cases:
        score = due_score(case, rules)
        if score is None or score > now:
            continue
        dl = case.deadline
        assert dl is not None  # due_score is None without one
        if not dl.overdue(now):
            new = transition(case, CaseInput.REMIND, rules, now=now, actor=SYSTEM,
                             note=f"{dl.phase} due at {dl.due_at:.0f}")
            out.append((new, Reminder(case.id, case.owner, dl.phase, dl.due_at)))
            continue
        new = transition(case, CaseInput.ESCALATE, rules, now=now, actor=SYSTEM,
                         note=f"{dl.phase} overdue since {dl.due_at:.0f}")
        out.append((new, Escalation(case.id, case.responsible, case.owner, dl.phase,
                                    dl.due_at, dl.escalations + 1, case.grade, new.grade)))
    return out
