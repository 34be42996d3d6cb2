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


def _phases_of_calls(rig) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    rig.cc.notifier.subscribe(
        lambda topic, p: seen.setdefault(p["call_id"], []).append(p["phase"])
        if topic == "call" else None)
    return seen


def _reachable(a: str, b: str) -> bool:
    return any(src == a and dst == b for (src, _), dst in TRANSITIONS.items())


def test_a_call_not_answered_then_answered_moves_only_along_the_table():
    from server.sim import AgentBehaviour, PhoneScript
    from tests.e2e_support import Rig
    from tests.test_e2e_calls import caller

    rig = Rig()
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=None)))  # rings out
    rig.sim.add_phone(PhoneScript("1009", AgentBehaviour(answer_after=3.0, talk=10.0)))
    seen = _phases_of_calls(rig)
    rig.run(1)
    rig.login_agents("1007", "1009")
    caller(rig, "1", "5", "1")  # Mandarin, suggestions, survey "satisfied"
    rig.run(300)
    (phases,) = seen.values()
    path = ["ivr", *phases]
    assert all(_reachable(a, b) for a, b in zip(path, path[1:], strict=False)), path
    assert path[0:2] == ["ivr", "queued"] and path[-3:] == ["talking", "survey", "ended"]
    # one of the two agents rang out first: the Dial's failure took it back to the queue
    assert path.count("connecting") == 2 and path.count("queued") == 2, path
