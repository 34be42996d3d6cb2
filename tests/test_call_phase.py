"""The call's phase table (server/call/phase.py): every change goes through it, and a
pair it does not list raises instead of leaving a call in a phase nobody handles."""

from __future__ import annotations

import pytest

from server.call.phase import (
    TRANSITIONS,
    CallPhase,
    InvalidPhaseTransition,
    PhaseInput,
    next_phase,
)


def test_the_table_leads_a_call_through_its_normal_course():
    phase = CallPhase.IVR
    for event in (PhaseInput.ENQUEUED, PhaseInput.OFFERED, PhaseInput.DIAL_FAILED,
                  PhaseInput.OFFERED, PhaseInput.ANSWERED, PhaseInput.TALK_ENDED,
                  PhaseInput.HUNG_UP):
        phase = next_phase("c1", phase, event)
    assert phase is CallPhase.ENDED


def test_a_pair_not_in_the_table_raises_with_the_call_phase_and_input():
    with pytest.raises(InvalidPhaseTransition) as err:
        next_phase("c1", CallPhase.IVR, PhaseInput.ANSWERED)
    assert (err.value.call_id, err.value.phase, err.value.event) == (
        "c1", CallPhase.IVR, PhaseInput.ANSWERED)
    with pytest.raises(InvalidPhaseTransition):
        next_phase("c1", CallPhase.ENDED, PhaseInput.OFFERED)  # no offers after the end


def test_phases_are_the_strings_the_live_state_and_the_pages_carry():
    assert next_phase("c1", "queued", PhaseInput.OFFERED) == "connecting"  # type: ignore[arg-type]
    assert {p.value for p in CallPhase} == {
        "ivr", "queued", "connecting", "talking", "survey", "fallback", "ended"}


def test_every_phase_can_end_when_the_caller_hangs_up():
    assert {p for p in CallPhase if (p, PhaseInput.HUNG_UP) in TRANSITIONS} == set(CallPhase)
