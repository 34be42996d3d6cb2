"""Case values: type, state, audit entries, return-visit attempts, the case itself.

Frozen dataclasses; every change makes a new ``Case`` with ``version + 1`` (see
``cases.machine``), so the store can write idempotently by (id, version).
``to_dict``/``from_dict`` are the JSON form kept in Redis and in the spool.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

__all__ = [
    "GRADED",
    "LABELS",
    "PHASE_OF",
    "AuditEntry",
    "Case",
    "CaseState",
    "CaseType",
    "Deadline",
    "Phase",
    "VisitAttempt",
]


class CaseType(StrEnum):
    COMPLAINT = "complaint"
    REPORT = "report"
    FAULT_REPAIR = "fault_repair"
    SERVICE_APPLICATION = "service_application"
    ENQUIRY = "enquiry"
    SUGGESTION = "suggestion"  # suggestions and praise


LABELS = {
    CaseType.COMPLAINT: "投诉",
    CaseType.REPORT: "举报",
    CaseType.FAULT_REPAIR: "故障报修",
    CaseType.SERVICE_APPLICATION: "业务办理",
    CaseType.ENQUIRY: "咨询",
    CaseType.SUGGESTION: "意见建议/表扬",
}

# Only complaints and reports carry a grade (投诉分级); the others have one set of limits.
GRADED = frozenset({CaseType.COMPLAINT, CaseType.REPORT})


class CaseState(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"  # solved; the return visit is still to be scheduled
    RETURN_VISIT = "return_visit"  # the return visit is scheduled or being attempted
    CLOSED = "closed"
    REOPENED = "reopened"


class Phase(StrEnum):
    """Which time limit runs: acceptance, handling, or the return visit."""

    ACCEPT = "accept"
    HANDLE = "handle"
    VISIT = "visit"


S = CaseState
# A closed case has no running limit.
PHASE_OF: dict[CaseState, Phase] = {
    S.NEW: Phase.ACCEPT,
    S.ACCEPTED: Phase.HANDLE,
    S.IN_PROGRESS: Phase.HANDLE,
    S.REOPENED: Phase.HANDLE,
    S.RESOLVED: Phase.VISIT,
    S.RETURN_VISIT: Phase.VISIT,
}


@dataclass(frozen=True)
class AuditEntry:
    at: float
    actor: str  # agent id, user name, or "system" for the tick
    input: str  # the CaseInput, or "open"
    from_state: str  # "" for the opening entry
    to_state: str
    note: str = ""


@dataclass(frozen=True)
class VisitAttempt:
    """One return-visit call: reached or not; if reached, the customer's answers."""

    at: float
    actor: str
    reached: bool
    resolved: bool | None = None  # the customer says the problem is solved
    satisfaction: int | None = None  # 1 dissatisfied, 2 fairly satisfied, 3 satisfied
    reason: str = ""
    call_id: str = ""  # the return-visit call (its record), when one was placed


@dataclass(frozen=True)
class Deadline:
    """The running limit of the current phase, with its reminder and 催办 state."""

    phase: Phase
    started_at: float
    due_at: float
    remind_at: float
    reminded: bool = False
    escalations: int = 0
    last_escalated_at: float | None = None

    def next_at(self, escalate_every_s: float) -> float:
        """When the tick must next look at this case (the due set's score)."""
        if not self.reminded and self.remind_at < self.due_at:
            return self.remind_at
        if self.escalations == 0 or self.last_escalated_at is None:
            return self.due_at
        return self.last_escalated_at + escalate_every_s

    def overdue(self, now: float) -> bool:
        return now >= self.due_at


@dataclass(frozen=True)
class Case:
    id: str
    version: int
    type: CaseType
    grade: str | None  # complaints and reports only
    state: CaseState
    account: str
    phone: str
    owner: str | None  # the agent following it up (跟进人)
    responsible: str | None  # team lead or supervisor (责任人)
    created_at: float
    updated_at: float
    summary: str = ""
    intent: str = ""  # the IVR intent of the call that opened it
    client_key: str = ""  # idempotent create
    call_ids: tuple[str, ...] = ()  # the opening call first, then every later one
    deadline: Deadline | None = None
    visits: tuple[VisitAttempt, ...] = ()  # every return-visit attempt, failed ones too
    audit: tuple[AuditEntry, ...] = ()
    reopened: int = 0
    # When the next return-visit call is due (booked, or the retry after an unreached
    # one); None outside return_visit.  server/return_visits.py places the call.
    visit_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self.state is not CaseState.CLOSED

    @property
    def failed_visits(self) -> int:
        """Unreached attempts since the case last entered its visit phase."""
        n = 0
        for v in reversed(self.visits):
            if v.reached:
                break
            n += 1
        return n

    @property
    def visit_outcome(self) -> VisitAttempt | None:
        """The last attempt that reached the customer, if any."""
        return next((v for v in reversed(self.visits) if v.reached), None)

    def changed(self, **fields: Any) -> Case:
        return replace(self, version=self.version + 1, **fields)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Case:
        dl = d.get("deadline")
        deadline = None if dl is None else Deadline(**{**dl, "phase": Phase(dl["phase"])})
        return cls(**{
            **d,
            "type": CaseType(d["type"]),
            "state": CaseState(d["state"]),
            "call_ids": tuple(d.get("call_ids", ())),
            "deadline": deadline,
            "visits": tuple(VisitAttempt(**v) for v in d.get("visits", ())),
            "audit": tuple(AuditEntry(**a) for a in d.get("audit", ())),
        })
