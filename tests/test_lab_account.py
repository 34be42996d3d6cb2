"""deploy/lab's reading of Asterisk's own account, checked against a real recording.

Trace 13 (the project on a real Asterisk 22.10.1, 30 scripted callers) is what
issue 12 reports on: 27 answered calls, 6 of them with the caller's AsyncAGIStart
before the agent channel's Hangup, agent 1003 holding each caller for 2 s, talk
8 s (6 s plus 2 s hold for 1003).  No Asterisk needed; skipped where the trace is
not on this machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.lab import account, compare

ROOT = Path(__file__).resolve().parents[1]
NAME = "13-hotline-real-30-calls-observer.ami.gz"
CANDIDATES = [ROOT / "tests" / "fixtures" / "ami-traces" / NAME,
              Path("/work/shared/ami-traces") / NAME]
TRACE = next((p for p in CANDIDATES if p.exists()), None)

pytestmark = pytest.mark.skipif(TRACE is None, reason=f"{NAME} not on this machine")


@pytest.fixture(scope="module")
def accounts() -> dict[str, account.CallAccount]:
    return account.build_accounts(account.read_events(TRACE))


def test_every_scripted_caller_is_found_with_its_channel_and_linkedid(accounts):
    assert len(accounts) == 30
    for acc in accounts.values():
        assert acc.channel.startswith("Local/caller@lab-callers-") and acc.channel.endswith(";1")
        assert acc.linkedid == acc.uniqueid  # the ;1 half starts the call


def test_answered_calls_agents_talk_and_hold_are_read_from_the_events(accounts):
    answered = [a for a in accounts.values() if a.answered]
    assert len(answered) == 27
    assert {a.agent for a in answered} == {"1001", "1002", "1003"}
    for acc in answered:
        assert acc.ended_by == "agent"
        if acc.agent == "1003":  # the holding phone: 2 s hold at 3 s, hangs up at 8 s
            assert len(acc.holds) == 1 and acc.hold_s == pytest.approx(2.0, abs=0.05)
            assert acc.talk_s == pytest.approx(6.0, abs=0.05)
        else:
            assert acc.holds == [] and acc.talk_s == pytest.approx(8.0, abs=0.05)


def test_the_issue_12_event_order_is_detected_in_6_of_27_answered_calls(accounts):
    raced = [a for a in accounts.values() if a.agi_before_agent_hangup]
    assert len(raced) == 6
    # those callers pressed a survey key but were never asked (the server said goodbye)
    assert all(not a.survey_prompt for a in raced)


def test_no_caller_of_trace_13_heard_a_retry_prompt_and_a_lost_key_would_show(accounts,
                                                                               tmp_path):
    for acc in accounts.values():
        assert compare.compare_call(acc, [], tmp_path, tmp_path, 0.25)["checks"][
            "no_retry"] == "ok"
    # a '#' lost during the fault intro (issue 12.5): the account entry times out
    lost = account.CallAccount("c9", prompts=[(1.0, "zh", "hotline/fault-intro"),
                                              (9.0, "zh", "hotline/account-number"),
                                              (20.0, "zh", "hotline/account-retry")])
    row = compare.compare_call(lost, [], tmp_path, tmp_path, 0.25)
    assert "hotline/account-retry" in row["checks"]["no_retry"]


def test_the_welcome_is_played_from_sounds_en(accounts):
    for acc in accounts.values():
        first = acc.prompts[0]
        assert first[1:] == ("en", "hotline/welcome")


def test_comparison_flags_a_missing_record_and_a_wrong_talk_time(accounts, tmp_path):
    acc = next(a for a in accounts.values() if a.answered and a.agent != "1003"
               and not a.agi_before_agent_hangup)
    good = {"call_id": acc.linkedid, "outcome": "answered", "agent_id": acc.agent,
            "language": "zh", "satisfaction": "satisfied", "recording": None,
            "durations": {"talk_s": round(acc.talk_s, 3), "hold_s": 0.0, "holds": 0},
            "timeline": [[0, "bridge_end", {"hung_up_by": "agent"}]]}
    row = compare.compare_call(acc, [good], tmp_path, tmp_path, 0.25)
    assert {k: v for k, v in row["checks"].items() if v != "ok"}.keys() == \
        {"recording", "language"}
    late = {**good, "durations": {**good["durations"], "talk_s": acc.talk_s + 60}}
    assert row["checks"]["talk"] == "ok"
    assert "record" in compare.compare_call(acc, [late], tmp_path, tmp_path, 0.25)[
        "checks"]["talk"]
    assert compare.compare_call(acc, [], tmp_path, tmp_path, 0.25)["checks"] == \
        {"one_record": "0 records", "no_retry": "ok", "no_replay": "ok"}
