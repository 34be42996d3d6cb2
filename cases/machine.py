"""The case state machine: one transition table, and the pure functions that apply it.

    new --accept--> accepted --start--> in_progress --resolve--> resolved
    resolved --schedule_visit--> return_visit --visit_confirmed | visit_gave_up--> closed
    return_visit --visit_failed--> return_visit (until the configured attempts)
    return_visit --visit_unresolved--> reopened --start--> in_progress
    resolved | return_visit | closed --reopen--> reopened

plus self-loops that change no state (note, link_call, remind, escalate, reassign;
a closed case takes link_call only).  ``docs/cases.md`` holds the full
diagram, generated from ``TRANSITIONS`` by scripts/state_diagrams.py (docs/state-machines.md).

Every function returns a new ``Case`` (version + 1) with one audit entry appended;
a pair missing from the table raises ``InvalidTransition``.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import Any

from .model import GRADED, PHASE_OF, AuditEntry, Case, CaseState, CaseType, Deadline, VisitAttempt
from .rules import CasesConfig
from .worktime import deadline

__all__ = [
    "TRANSITIONS",
    "CaseError",
    "CaseInput",
    "InvalidTransition",
    "open_case",
    "record_visit",
    "transition",
]


class CaseInput(StrEnum):
    ACCEPT = "accept"
    START = "start"
    NOTE = "note"  # a progress note; no change of state
    LINK_CALL = "link_call"  # a later call or follow-up about the case
    RESOLVE = "resolve"
    SCHEDULE_VISIT = "schedule_visit"  # the return visit is booked (outbound follow-up)
    VISIT_CONFIRMED = "visit_confirmed"  # reached; the customer confirms it is solved
    VISIT_UNRESOLVED = "visit_unresolved"  # reached; the customer says it is not solved
    VISIT_FAILED = "visit_failed"  # not reached; another attempt follows
    VISIT_GAVE_UP = "visit_gave_up"  # not reached for the configured number of times
    REOPEN = "reopen"
    ESCALATE = "escalate"  # to the responsible person; the grade rises where configured
    REASSIGN = "reassign"  # a new owner (and/or responsible person)
    REMIND = "remind"  # the owner was reminded of the coming deadline


S, Inp = CaseState, CaseInput
_WORKING = (S.NEW, S.ACCEPTED, S.IN_PROGRESS, S.REOPENED, S.RESOLVED, S.RETURN_VISIT)

# The one transition table.  Anything not listed raises InvalidTransition.
TRANSITIONS: dict[tuple[CaseState, CaseInput], CaseState] = {
    (S.NEW, Inp.ACCEPT): S.ACCEPTED,
    (S.ACCEPTED, Inp.START): S.IN_PROGRESS,
    (S.REOPENED, Inp.START): S.IN_PROGRESS,
    (S.IN_PROGRESS, Inp.RESOLVE): S.RESOLVED,
    (S.RESOLVED, Inp.SCHEDULE_VISIT): S.RETURN_VISIT,
    (S.RETURN_VISIT, Inp.VISIT_CONFIRMED): S.CLOSED,
    (S.RETURN_VISIT, Inp.VISIT_UNRESOLVED): S.REOPENED,
    (S.RETURN_VISIT, Inp.VISIT_FAILED): S.RETURN_VISIT,
    (S.RETURN_VISIT, Inp.VISIT_GAVE_UP): S.CLOSED,
    (S.RESOLVED, Inp.REOPEN): S.REOPENED,
    (S.RETURN_VISIT, Inp.REOPEN): S.REOPENED,
    (S.CLOSED, Inp.REOPEN): S.REOPENED,
    (S.CLOSED, Inp.LINK_CALL): S.CLOSED,  # a later call about a closed case is still evidence
    **{(s, Inp.NOTE): s for s in _WORKING},
    **{(s, Inp.LINK_CALL): s for s in _WORKING},
    **{(s, Inp.REMIND): s for s in _WORKING},
    **{(s, Inp.ESCALATE): s for s in _WORKING},
    **{(s, Inp.REASSIGN): s for s in _WORKING},
}

# Only record_visit may apply these: it checks the outcome and counts the attempts.
_VISIT_INPUTS = frozenset({Inp.VISIT_CONFIRMED, Inp.VISIT_UNRESOLVED, Inp.VISIT_FAILED,
                           Inp.VISIT_GAVE_UP})


class CaseError(ValueError):
    """Bad input for a case (unknown grade, satisfaction out of range, ...)."""


class InvalidTransition(Exception):
    def __init__(self, case_id: str, state: CaseState, input: CaseInput) -> None:
        super().__init__(f"case {case_id}: {input} not allowed in state {state}")
        self.case_id, self.state, self.input = case_id, state, input


def _deadline(rules: CasesConfig, case: Case, state: CaseState, now: float) -> Deadline | None:
    phase = PHASE_OF.get(state)
    if phase is None:
        return None
    limit = rules.limit(case.type, case.grade, phase)
    due = deadline(rules.hours, now, limit)
    remind = deadline(rules.hours, now, replace(limit, seconds=limit.seconds
                                                * rules.reminder_share))
    return Deadline(phase, now, due, remind)


def open_case(rules: CasesConfig, *, case_id: str, type: CaseType | str, account: str,
              phone: str, now: float, actor: str, grade: str | None = None,
              owner: str | None = None, responsible: str | None = None,
              call_id: str | None = None, intent: str = "", summary: str = "",
              client_key: str = "") -> Case:
    """A new case in state ``new`` with its acceptance limit running.

    Raises CaseError for an unknown type, a grade on an ungraded type, or a grade
    the type does not have.  A graded type without a grade gets its lowest one.
    """
    try:
        ctype = CaseType(type)
    except ValueError:
        raise CaseError(f"unknown case type '{type}' (known: "
                        f"{', '.join(t.value for t in CaseType)})") from None
    trules = rules.types[ctype]
    if ctype in GRADED:
        grade = grade or trules.default_grade
        if trules.grade(grade) is None:
            raise CaseError(f"unknown grade '{grade}' for {ctype} (known: "
                            f"{', '.join(g.name for g in trules.grades)})")
    elif grade:
        raise CaseError(f"a {ctype} case has no grade (only complaints and reports do)")
    if not account and not phone:
        raise CaseError("a case needs the customer's account number or phone")
    case = Case(case_id, 1, ctype, grade, S.NEW, account, phone, owner, responsible, now, now,
                summary=summary, intent=intent, client_key=client_key,
                call_ids=(call_id,) if call_id else ())
    entry = AuditEntry(now, actor, "open", "", S.NEW, summary)
    return replace(case, deadline=_deadline(rules, case, S.NEW, now), audit=(entry,))


def transition(case: Case, input: CaseInput | str, rules: CasesConfig, *, now: float,
               actor: str, note: str = "", owner: str | None = None,
               responsible: str | None = None, call_id: str | None = None,
               visit_at: float | None = None) -> Case:
    """Apply one input.  Raises InvalidTransition (not in the table) or CaseError.

    ``reassign`` takes ``owner`` and/or ``responsible``; ``link_call`` takes
    ``call_id``; ``escalate`` raises the grade where the rules say so and counts
    a 催办 round; ``schedule_visit`` books the first return-visit call at
    ``visit_at`` (None: now).  The visit inputs go through :func:`record_visit` only.
    """
    try:
        inp = CaseInput(input)
    except ValueError:
        raise CaseError(f"unknown input '{input}' (known: "
                        f"{', '.join(i.value for i in CaseInput)})") from None
    if inp in _VISIT_INPUTS:
        raise CaseError(f"{inp} is recorded with the return-visit outcome (record_visit)")
    if visit_at is not None and inp is not Inp.SCHEDULE_VISIT:
        raise CaseError("a visit time goes with schedule_visit only")
    return _apply(case, inp, rules, now=now, actor=actor, note=note, owner=owner,
                  responsible=responsible, call_id=call_id, visit_at=visit_at)


def record_visit(case: Case, rules: CasesConfig, *, now: float, actor: str, reached: bool,
                 resolved: bool | None = None, satisfaction: int | None = None,
                 reason: str = "", call_id: str = "") -> Case:
    """Record one return-visit call and move the case by its outcome.

    Reached and solved closes the case; reached and not solved reopens it; not
    reached stays in return_visit with the next call due ``visit_retry_s`` from
    now, until the configured number of failed calls closes it (every attempt is
    kept in ``visits``).  ``call_id``: the return-visit call; an attempt already
    recorded for it returns ``case`` itself (the same object: nothing to write).
    Raises CaseError for a satisfaction outside 1-3 or a reached visit without
    the customer's answer.
    """
    if satisfaction is not None and satisfaction not in (1, 2, 3):
        raise CaseError(f"satisfaction must be 1, 2 or 3, not {satisfaction!r}")
    if reached and resolved is None:
        raise CaseError("a reached return visit says whether the problem is solved")
    if not reached and (resolved is not None or satisfaction is not None):
        raise CaseError("an unreached return visit has no customer answers")
    if call_id and any(v.call_id == call_id for v in case.visits):
        return case
    if reached:
        inp = Inp.VISIT_CONFIRMED if resolved else Inp.VISIT_UNRESOLVED
    else:
        last = case.failed_visits + 1 >= rules.visit_max_attempts
        inp = Inp.VISIT_GAVE_UP if last else Inp.VISIT_FAILED
    attempt = VisitAttempt(now, actor, reached, resolved, satisfaction, reason, call_id)
    if (case.state, inp) not in TRANSITIONS:
        raise InvalidTransition(case.id, case.state, inp)
    note = reason if reached else f"attempt {case.failed_visits + 1} not reached; {reason}"
    return _apply(replace(case, visits=(*case.visits, attempt)), inp, rules, now=now,
                  actor=actor, note=note.strip("; "))


def _apply(case: Case, inp: CaseInput, rules: CasesConfig, *, now: float, actor: str,
           note: str = "", owner: str | None = None, responsible: str | None = None,
           call_id: str | None = None, visit_at: float | None = None) -> Case:
    try:
        to = TRANSITIONS[(case.state, inp)]
    except KeyError:
        raise InvalidTransition(case.id, case.state, inp) from None
    fields: dict[str, Any] = {"state": to, "updated_at": now}  # replace() keywords
    details: list[str] = []
    dl = case.deadline
    if inp is Inp.REASSIGN:
        if owner is None and responsible is None:
            raise CaseError("reassign needs a new owner or responsible person")
        if owner is not None:
            fields["owner"] = owner
            details.append(f"owner {case.owner or '-'} -> {owner}")
        if responsible is not None:
            fields["responsible"] = responsible
            details.append(f"responsible {case.responsible or '-'} -> {responsible}")
    elif inp is Inp.LINK_CALL:
        if not call_id:
            raise CaseError("link_call needs a call id")
        if call_id not in case.call_ids:
            fields["call_ids"] = (*case.call_ids, call_id)
        details.append(f"call {call_id}")
    elif inp is Inp.REMIND and dl is not None:
        dl = replace(dl, reminded=True)
    elif inp is Inp.ESCALATE and dl is not None:
        grade = rules.raise_grade(case.type, case.grade)
        if grade != case.grade:
            fields["grade"] = grade
            details.append(f"grade {case.grade} -> {grade}")
        dl = replace(dl, reminded=True, escalations=dl.escalations + 1, last_escalated_at=now)
    if inp is Inp.REOPEN or inp is Inp.VISIT_UNRESOLVED:
        fields["reopened"] = case.reopened + 1
    # The next return-visit call: booked, or the retry after an unreached one; none
    # once the case leaves return_visit.
    if inp is Inp.SCHEDULE_VISIT:
        fields["visit_at"] = now if visit_at is None else visit_at
    elif inp is Inp.VISIT_FAILED:
        fields["visit_at"] = now + rules.visit_retry_s
    elif to is not S.RETURN_VISIT:
        fields["visit_at"] = None
    fields["deadline"] = dl
    if PHASE_OF.get(to) != PHASE_OF.get(case.state) or inp is Inp.REOPEN \
            or inp is Inp.VISIT_UNRESOLVED:
        # A new phase, or the case starts over: a fresh limit from now.
        fields["deadline"] = _deadline(rules, replace(case, **fields), to, now)
    text = "; ".join([*details, note] if note else details)
    entry = AuditEntry(now, actor, inp.value, case.state.value, to.value, text)
    return case.changed(audit=(*case.audit, entry), **fields)
