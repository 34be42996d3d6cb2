"""Properties of the case machine and of business-hours arithmetic, over random inputs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cases.machine import (
    TRANSITIONS,
    CaseError,
    CaseInput,
    InvalidTransition,
    record_visit,
    transition,
)
from cases.model import CaseState
from cases.worktime import business_add

from .cases_support import OFFICE, new_case, rules, shanghai

RULES = rules()
STEP = st.one_of(
    st.sampled_from([i for i in CaseInput if not i.value.startswith("visit_")]),
    st.tuples(st.booleans(), st.booleans(), st.sampled_from([None, 1, 2, 3])),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, max_size=40))
def test_random_inputs_keep_the_case_consistent(steps) -> None:
    now = shanghai(2026, 12, 8, 9)
    case = new_case(RULES, now)
    for step in steps:
        now += 600
        before = case
        try:
            if isinstance(step, tuple):
                reached, resolved, sat = step
                case = record_visit(case, RULES, now=now, actor="x", reached=reached,
                                    resolved=resolved if reached else None,
                                    satisfaction=sat if reached else None)
            else:
                case = transition(case, step, RULES, now=now, actor="x", owner="1002",
                                  call_id="c")
        except InvalidTransition as e:
            assert (e.state, e.input) not in TRANSITIONS and case is before
            continue
        except CaseError:
            assert case is before
            continue
        entry = case.audit[-1]
        assert (CaseState(entry.from_state), CaseInput(entry.input)) in TRANSITIONS
        assert TRANSITIONS[(CaseState(entry.from_state), CaseInput(entry.input))] is case.state
        assert case.version == before.version + 1 == len(case.audit)
        assert (case.deadline is None) == (case.state is CaseState.CLOSED)
        if case.state is CaseState.CLOSED and before.state is not CaseState.CLOSED:
            last = case.visits[-1]
            assert last.resolved or (not last.reached
                                     and case.failed_visits >= RULES.visit_max_attempts)


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 60 * 86400), st.floats(1, 40 * 3600), st.floats(1, 40 * 3600))
def test_business_time_adds_up(offset, a, b) -> None:
    start = shanghai(2026, 12, 1) + offset
    one = business_add(OFFICE, start, a)
    assert one >= start
    assert abs(business_add(OFFICE, one, b) - business_add(OFFICE, start, a + b)) < 1e-3
    assert business_add(OFFICE, start, a + b) >= one
