"""The case rules from config/cases.yaml, as frozen values (built by server/config/cases_parse).

Time limits are per type, and per grade for complaints and reports; each limit
runs in calendar time or in business hours (the centre's working time, the
same ``BusinessHours`` value the ACD uses for its queues).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from queues.model import BusinessHours

from .model import CaseType, Phase

__all__ = ["AutoOpen", "CasesConfig", "Grade", "Limit", "Limits", "TypeRules"]


@dataclass(frozen=True)
class Limit:
    seconds: float
    business: bool = False  # counted in business hours instead of calendar time

    def __str__(self) -> str:
        hours = self.seconds / 3600
        return f"{hours:g} {'business ' if self.business else ''}hours"


@dataclass(frozen=True)
class Limits:
    accept: Limit
    handle: Limit
    visit: Limit

    def of(self, phase: Phase) -> Limit:
        return {Phase.ACCEPT: self.accept, Phase.HANDLE: self.handle,
                Phase.VISIT: self.visit}[phase]


@dataclass(frozen=True)
class Grade:
    name: str
    label: str
    limits: Limits
    raise_to: str | None = None  # the grade an overdue case is raised to; None: stays


@dataclass(frozen=True)
class TypeRules:
    type: CaseType
    label: str
    limits: Limits | None  # ungraded types
    grades: tuple[Grade, ...] = ()  # graded types, lowest first

    def grade(self, name: str | None) -> Grade | None:
        return next((g for g in self.grades if g.name == name), None)

    @property
    def default_grade(self) -> str | None:
        return self.grades[0].name if self.grades else None


@dataclass(frozen=True)
class AutoOpen:
    """A wrap-up disposition (with the call's intent, if given) that opens a case."""

    disposition: str
    intent: str | None
    type: CaseType
    grade: str | None = None  # None: the type's lowest grade


@dataclass(frozen=True)
class CasesConfig:
    timezone: str
    hours: BusinessHours  # for limits counted in business hours
    reminder_share: float  # remind the owner when this share of a limit has passed
    escalate_every_s: float  # after the first escalation, chase again this often
    visit_max_attempts: int  # failed return-visit calls before the case closes anyway
    visit_retry_s: float  # wait between failed return-visit calls
    repeat_contact_days: int  # same intent within N days flags a repeat contact
    auto_open: tuple[AutoOpen, ...]
    types: Mapping[CaseType, TypeRules]
    spool: str = "cases.spool"  # case writes waiting for Redis
    # The queue whose agents make the return visits; None: the one serving the case's
    # intent (server/return_visits.py).
    visit_queue: str | None = None

    def limit(self, type: CaseType, grade: str | None, phase: Phase) -> Limit:
        rules = self.types[type]
        g = rules.grade(grade)
        limits = g.limits if g is not None else rules.limits
        if limits is None:  # a graded type with an unknown grade: the lowest one
            limits = rules.grades[0].limits
        return limits.of(phase)

    def raise_grade(self, type: CaseType, grade: str | None) -> str | None:
        g = self.types[type].grade(grade)
        return g.raise_to if g is not None and g.raise_to else grade

    def auto_open_for(self, disposition: str, intent: str | None) -> AutoOpen | None:
        """The first rule matching the disposition and (if the rule names one) the intent."""
        for rule in self.auto_open:
            if rule.disposition == disposition and rule.intent in (None, intent):
                return rule
        return None
