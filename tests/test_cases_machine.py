"""The case state machine: every (state, input) pair, allowed and refused; return visits."""

from __future__ import annotations

import itertools

import pytest
from twisted.internet import task

from cases.machine import (
    TRANSITIONS,
    CaseError,
    CaseInput,
    InvalidTransition,
    open_case,
    record_visit,
    transition,
)
from cases.model import Case, CaseState, CaseType, Phase

from .cases_support import H, in_state, new_case, rules

RULES = rules()
VISIT_INPUTS = {CaseInput.VISIT_CONFIRMED, CaseInput.VISIT_UNRESOLVED, CaseInput.VISIT_FAILED,
                CaseInput.VISIT_GAVE_UP}
PLAIN = [i for i in CaseInput if i not in VISIT_INPUTS]
ARGS = {CaseInput.REASSIGN: {"owner": "1002"}, CaseInput.LINK_CALL: {"call_id": "1700000009.9"}}


def _start() -> tuple[task.Clock, Case]:
    clock = task.Clock()
    clock.advance(1_800_000_000)
    return clock, new_case(RULES, clock.seconds())


@pytest.mark.parametrize(("state", "inp"), list(itertools.product(CaseState, PLAIN)),
                         ids=lambda v: str(v))
def test_every_pair_follows_the_table(state: CaseState, inp: CaseInput) -> None:
    clock, case = _start()
    case = in_state(case, state)
    clock.advance(60)
    if (state, inp) not in TRANSITIONS:
        with pytest.raises(InvalidTransition) as info:
            transition(case, inp, RULES, now=clock.seconds(), actor="1001", **ARGS.get(inp, {}))
        assert (info.value.state, info.value.input) == (state, inp)
        return
    new = transition(case, inp, RULES, now=clock.seconds(), actor="1001", note="n",
                     **ARGS.get(inp, {}))
    assert new.state is TRANSITIONS[(state, inp)]
    assert new.version == case.version + 1 and new.updated_at == clock.seconds()
    last = new.audit[-1]
    assert (last.at, last.actor, last.input, last.from_state, last.to_state) == (
        clock.seconds(), "1001", inp.value, state.value, new.state.value)
    assert last.note.endswith("n") and new.audit[:-1] == case.audit


@pytest.mark.parametrize(("state", "inp"), list(itertools.product(CaseState, sorted(VISIT_INPUTS))),
                         ids=lambda v: str(v))
def test_visit_inputs_only_through_record_visit(state: CaseState, inp: CaseInput) -> None:
    clock, case = _start()
    with pytest.raises(CaseError):
        transition(in_state(case, state), inp, RULES, now=clock.seconds(), actor="1001")


def _walk_to_visit(clock: task.Clock, case: Case) -> Case:
    for inp in ("accept", "start", "resolve", "schedule_visit"):
        clock.advance(600)
        case = transition(case, inp, RULES, now=clock.seconds(), actor="1001")
    return case


def test_full_life_with_phases_and_audit() -> None:
    clock, case = _start()
    opened = clock.seconds()
    assert case.state is CaseState.NEW and case.version == 1 and case.grade == "general"
    assert case.deadline.phase is Phase.ACCEPT and case.deadline.due_at == opened + 2 * H
    case = _walk_to_visit(clock, case)
    assert case.state is CaseState.RETURN_VISIT
    # the visit limit runs from the resolution (opened + 1800 s), 24 h for "general"
    assert case.deadline.phase is Phase.VISIT
    assert case.deadline.due_at == opened + 1800 + 24 * H
    clock.advance(60)
    case = record_visit(case, RULES, now=clock.seconds(), actor="1001", reached=True,
                        resolved=True, satisfaction=3, reason="")
    assert case.state is CaseState.CLOSED and case.deadline is None
    assert case.visit_outcome.satisfaction == 3
    assert [(a.input, a.from_state, a.to_state) for a in case.audit] == [
        ("open", "", "new"), ("accept", "new", "accepted"),
        ("start", "accepted", "in_progress"), ("resolve", "in_progress", "resolved"),
        ("schedule_visit", "resolved", "return_visit"),
        ("visit_confirmed", "return_visit", "closed")]
    assert case.version == 6


def test_closes_after_the_configured_failed_visits_and_records_them() -> None:
    clock, case = _start()
    case = _walk_to_visit(clock, case)
    states = []
    for _ in range(RULES.visit_max_attempts):
        clock.advance(2 * H)
        case = record_visit(case, RULES, now=clock.seconds(), actor="1001", reached=False,
                            reason="no answer")
        states.append(case.state)
    assert states == [CaseState.RETURN_VISIT, CaseState.RETURN_VISIT, CaseState.CLOSED]
    assert [v.reached for v in case.visits] == [False] * 3
    assert case.audit[-1].input == "visit_gave_up" and "attempt 3" in case.audit[-1].note
    with pytest.raises(InvalidTransition):
        record_visit(case, RULES, now=clock.seconds(), actor="1001", reached=False)


def test_unresolved_visit_reopens_with_a_fresh_handling_limit() -> None:
    clock, case = _start()
    case = _walk_to_visit(clock, case)
    clock.advance(H)
    case = record_visit(case, RULES, now=clock.seconds(), actor="1001", reached=True,
                        resolved=False, satisfaction=1, reason="still no power")
    assert case.state is CaseState.REOPENED and case.reopened == 1
    assert case.deadline.phase is Phase.HANDLE
    assert case.deadline.due_at == clock.seconds() + 72 * H
    assert case.audit[-1].note == "still no power"
    # failed attempts before a reached one do not count towards the next visit phase
    for inp in ("start", "resolve", "schedule_visit"):
        case = transition(case, inp, RULES, now=clock.seconds(), actor="1001")
    assert case.failed_visits == 0


def test_a_case_never_closes_without_its_visit() -> None:
    closing = {(s, i) for (s, i), t in TRANSITIONS.items() if t is CaseState.CLOSED
               and s is not CaseState.CLOSED}
    assert closing == {(CaseState.RETURN_VISIT, CaseInput.VISIT_CONFIRMED),
                       (CaseState.RETURN_VISIT, CaseInput.VISIT_GAVE_UP)}


def test_record_visit_refuses_bad_outcomes() -> None:
    clock, case = _start()
    case = _walk_to_visit(clock, case)
    now = clock.seconds()
    for bad in ({"reached": True, "resolved": True, "satisfaction": 4},
                {"reached": True},
                {"reached": False, "satisfaction": 2}):
        with pytest.raises(CaseError):
            record_visit(case, RULES, now=now, actor="1001", **bad)
    with pytest.raises(InvalidTransition):
        record_visit(in_state(case, CaseState.IN_PROGRESS), RULES, now=now, actor="1001",
                     reached=True, resolved=True)


def test_open_checks_type_grade_and_customer() -> None:
    now = 1_800_000_000.0
    assert new_case(RULES, now, grade="major").deadline.due_at == now + 0.5 * H
    assert new_case(RULES, now, CaseType.FAULT_REPAIR).grade is None
    for kw in ({"grade": "huge"}, {"type": "gripe"}, {"type": CaseType.ENQUIRY, "grade": "general"},
               {"account": "", "phone": ""}):
        with pytest.raises(CaseError):
            new_case(RULES, now, **kw)


def test_reassign_link_call_and_escalate_details() -> None:
    clock, case = _start()
    case = transition(case, "reassign", RULES, now=clock.seconds(), actor="lead1", owner="1003",
                      responsible="sup1")
    assert (case.owner, case.responsible) == ("1003", "sup1")
    assert case.audit[-1].note == "owner 1001 -> 1003; responsible lead1 -> sup1"
    with pytest.raises(CaseError):
        transition(case, "reassign", RULES, now=clock.seconds(), actor="lead1")
    case = transition(case, "link_call", RULES, now=clock.seconds(), actor="1003",
                      call_id="1700000002.5")
    again = transition(case, "link_call", RULES, now=clock.seconds(), actor="1003",
                       call_id="1700000002.5")
    assert again.call_ids == ("1700000000.1", "1700000002.5") and again.version == case.version + 1
    case = transition(case, "escalate", RULES, now=clock.seconds(), actor="sup1")
    assert case.grade == "important" and case.deadline.escalations == 1
    with pytest.raises(CaseError):
        transition(case, "jump", RULES, now=clock.seconds(), actor="x")


def test_escalating_an_ungraded_case_keeps_no_grade() -> None:
    now = 1_800_000_000.0
    case = open_case(RULES, case_id="GD1", type="fault_repair", account="1", phone="",
                     now=now, actor="1001")
    case = transition(case, "escalate", RULES, now=now, actor="sup1")
    assert case.grade is None and "grade" not in case.audit[-1].note


def test_round_trip_through_the_dict_form() -> None:
    clock, case = _start()
    case = _walk_to_visit(clock, case)
    case = record_visit(case, RULES, now=clock.seconds(), actor="1001", reached=False)
    assert Case.from_dict(case.to_dict()) == case


def test_the_next_return_visit_call_is_booked_then_retried_after_an_unreached_one() -> None:
    """visit_at: the booked call (schedule_visit, default now), then retry_after past
    each unreached call, none once the case leaves return_visit."""
    clock = task.Clock()
    clock.advance(1_800_000_000)
    case = new_case(RULES, clock.seconds())
    for inp in ("accept", "start", "resolve"):
        case = transition(case, inp, RULES, now=clock.seconds(), actor="1001")
    assert case.visit_at is None
    with pytest.raises(CaseError, match="schedule_visit only"):
        transition(case, "note", RULES, now=clock.seconds(), actor="1001", visit_at=1.0)
    booked = transition(case, "schedule_visit", RULES, now=clock.seconds(), actor="system",
                        visit_at=clock.seconds() + 600)
    assert booked.visit_at == clock.seconds() + 600
    case = transition(case, "schedule_visit", RULES, now=clock.seconds(), actor="system")
    assert case.visit_at == clock.seconds()
    clock.advance(100)
    case = record_visit(case, RULES, now=clock.seconds(), actor="system", reached=False,
                        call_id="rv-1#1", reason="customer_no_answer")
    assert case.state is CaseState.RETURN_VISIT
    assert case.visit_at == clock.seconds() + RULES.visit_retry_s
    assert (case.visits[-1].call_id, case.visits[-1].reason) == ("rv-1#1", "customer_no_answer")
    # the same call reported twice is one attempt
    assert record_visit(case, RULES, now=clock.seconds(), actor="system", reached=False,
                        call_id="rv-1#1") is case
    case = record_visit(case, RULES, now=clock.seconds(), actor="1007", reached=True,
                        resolved=True, satisfaction=3, call_id="rv-2#1")
    assert (case.state, case.visit_at) == (CaseState.CLOSED, None)
    assert Case.from_dict(case.to_dict()) == case
