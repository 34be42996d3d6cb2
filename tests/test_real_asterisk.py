"""The project on a real Asterisk 22 with SIP softphones (deploy/lab).

Runs a short scenario (three callers: key 0, fault, billing; all answered by the
baresip phones, each presses a survey key after the agent hangs up) through
``python -m deploy.lab run`` and checks the project's records against Asterisk's
own account.  Skipped where there is no Asterisk build (CI): see deploy/lab/README.md.

Issue 12 found four of these failing on the first real run (English prompts,
recordings where the server did not look, keys lost during the fault intro, and
the survey skipped when the caller came back from the Dial before the agent's
Hangup); they pass since its fixes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASTERISK = Path("/opt/asterisk/sbin/asterisk")

# Minutes of real SIP calls: run on request (HOTLINE_LAB=1) where the lab's Asterisk
# is built, never by default, so the suite stays within its time budget.
pytestmark = [
    pytest.mark.skipif(not ASTERISK.exists(),
                       reason="no real Asterisk here (CI); see deploy/lab/README.md"),
    pytest.mark.skipif(os.environ.get("HOTLINE_LAB") != "1",
                       reason="real-Asterisk runs are opt-in: HOTLINE_LAB=1"),
]


def _busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def comparison(tmp_path_factory) -> dict:
    from deploy.lab.run import missing_tools
    lacking = missing_tools()
    if lacking:
        pytest.skip("lab tools missing: " + ", ".join(lacking))
    if _busy(5038):
        pytest.skip("127.0.0.1:5038 is taken (another lab run or Asterisk)")
    out = tmp_path_factory.mktemp("lab-out")
    # bounded: 3 callers at 1/s, 2 s ring + 8 s talk + survey, ~60 s in all
    proc = subprocess.run(
        [sys.executable, "-m", "deploy.lab", "run", "--repo", str(ROOT), "--callers", "3",
         "--rate", "1", "--profiles", "general,fault,billing", "--wrapup", "5",
         "--case-owner", "1003", "--return-visit", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=420)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "comparison.json").read_text())


def _failures(result: dict, *checks: str) -> list[str]:
    return [f"{row['tag']} {name}: {row['checks'][name]}" for row in result["calls"]
            for name in checks if row["checks"].get(name, "ok") != "ok"]


def test_a_caller_with_an_open_case_rings_its_owner_first(comparison):
    """Issue 14, point 6: agent 1003 opened a case for the first caller's number
    before the run; 1001 and 1002 were idle longer, yet Asterisk rang 1003 first."""
    owner = comparison["followup"]["case_owner"]
    assert owner["verdict"] == "ok", owner
    assert owner["asterisk_rang_first"] == "1003" == owner["answered_by"]


def test_a_resolved_case_gets_its_return_visit_through_the_phones(comparison):
    """Issue 14, point 4: 1002 resolved a case before the run; the server placed its
    return visit as a follow-up (an agent's phone first, the whisper, then the customer,
    Local/<number>@sim-customers, which answered as Asterisk shows), linked the call to
    the case, and the case closed once the outcome was recorded."""
    visit = comparison["followup"]["return_visit"]
    assert visit["verdict"] == "ok", visit
    assert visit["state"] == "closed" and len(visit["visit_calls"]) == 1
    assert comparison["extra_records"] == [] and comparison["outbound_records"] == \
        visit["visit_calls"]


def test_the_period_report_counts_what_asterisk_saw(comparison):
    """Issue 15: ``server report`` over the lab's Redis has as many calls, answered
    calls and survey answers as Asterisk's own account of the run."""
    report = comparison["followup"]["report"]
    assert report["verdict"] == "ok", report
    assert report["report"]["answered"] == 3


def test_every_scripted_caller_has_exactly_one_record(comparison):
    assert len(comparison["calls"]) == 3
    assert _failures(comparison, "one_record") == []
    assert comparison["extra_records"] == []


def test_records_agree_with_asterisk_on_answer_agent_talk_hold_and_who_hung_up(comparison):
    assert all(row["asterisk"]["answered"] for row in comparison["calls"])
    assert _failures(comparison, "answered", "agent", "talk", "hold", "ended_by") == []
    # the holding phone (1003) put its caller on hold once; Asterisk saw it too
    held = [row for row in comparison["calls"] if row["asterisk"]["agent"] == "1003"]
    assert all(row["asterisk"]["holds"] == 1 for row in held)


def test_prompts_play_in_the_language_of_the_record(comparison):
    assert _failures(comparison, "language") == []


def test_recordings_are_where_the_server_looks(comparison):
    assert _failures(comparison, "recording") == []


def test_no_key_of_a_scripted_caller_is_lost(comparison):
    assert _failures(comparison, "no_retry") == []


def test_every_caller_who_pressed_a_survey_key_is_surveyed(comparison):
    # in whichever order Asterisk reports the end of the talk (trace 13)
    assert _failures(comparison, "survey") == []


# ---------------------------------------------------------------- daemon faults (issue 12.6-8)
# Each scenario is one bounded lab run (about 2-3 minutes) with the daemon stopped by
# PID and started again on the same Redis and config.  Besides the per-call checks,
# the harness reads the daemon's own sessions (deploy/lab/faults.py): nothing sent to
# a restored channel before the first complete CoreShowChannels, no caller given a
# second HotlineFallback.  A hold that begins while no daemon listens counts as talk
# (nobody can know of it); the survey of a talk that ended then cannot be asked.

def _fault_run(tmp_path_factory, name: str, *args: str) -> dict:
    from deploy.lab.run import missing_tools
    lacking = missing_tools()
    if lacking:
        pytest.skip("lab tools missing: " + ", ".join(lacking))
    if _busy(5038) or _busy(5060):
        pytest.skip("127.0.0.1:5038 or :5060 is taken (another lab run or Asterisk)")
    out = tmp_path_factory.mktemp(name)
    proc = subprocess.run(
        [sys.executable, "-m", "deploy.lab", "run", "--repo", str(ROOT), "--wrapup", "5",
         "--out", str(out), *args], cwd=ROOT, capture_output=True, text=True, timeout=420)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "comparison.json").read_text())


ALL_CHECKS = ("one_record", "answered", "outcome", "agent", "talk", "hold", "ended_by",
              "survey", "recording", "language", "no_retry", "route", "no_replay")


def _session_failures(result: dict) -> list[str]:
    return [f"{k}: {v}" for k, v in result["faults"]["checks"].items() if v != "ok"]


def test_server_away_65s_records_follow_asterisk(tmp_path_factory):
    """Trace 14 in small: a caller talking when the daemon gets SIGTERM, callers who
    fall back (watchdog) and finish in the fallback queue while it is away, and one
    who arrives meanwhile (server-down); back 60 s later."""
    result = _fault_run(tmp_path_factory, "away", "--callers", "5", "--rate", "0.5",
                        "--profiles", "general", "--stop-daemon-at", "13", "--away", "60")
    assert _session_failures(result) == []
    assert _failures(result, *ALL_CHECKS) == []
    calls = result["calls"]
    assert len(calls) == 5 and result["extra_records"] == []
    assert any(row["asterisk"]["ended_while_away"] and not row["asterisk"]["fallback"]
               for row in calls), "no talk ended while the daemon was away"
    assert any(row["record"]["outcome"] == "fallback_answered" for row in calls)


def test_restart_while_callers_are_in_the_fallback_queue(tmp_path_factory):
    """Trace 15 in small: kill -9 while callers are in the menus and the queue; the
    watchdog (30 s) takes them to Queue(hotline-fallback); the daemon comes back 42 s
    after the kill, while some talk to an agent from that queue and one still waits."""
    result = _fault_run(tmp_path_factory, "fallback", "--callers", "5", "--rate", "1",
                        "--profiles", "general", "--kill-daemon-at", "4",
                        "--back-after", "42")
    assert _session_failures(result) == []
    assert _failures(result, *ALL_CHECKS) == []
    assert all(row["asterisk"]["fallbacks"] == 1 for row in result["calls"])
    assert {row["record"]["outcome"] for row in result["calls"]} == {"fallback_answered"}


def test_kill_9_while_callers_key_in_menus_keeps_their_keys(tmp_path_factory):
    """Issue 12.8: kill -9 just after the menus' GET DATA started, back 0.5 s later.
    A key pressed after the new session logged in ends the dead process's GET DATA
    and its result reaches the new session: the step takes it (the record's path is
    what the caller keyed, no retry prompt).  A key pressed before that is lost
    (Asterisk emits the result to no session; the comparison excuses route and
    no_retry for it).  Either way only that step is replayed, never the welcome."""
    result = _fault_run(tmp_path_factory, "keys", "--callers", "4", "--rate", "1",
                        "--profiles", "slow-billing,slow-complaint",
                        "--kill-daemon-at", "11.5", "--back-after", "0.5")
    assert _session_failures(result) == []
    assert _failures(result, *ALL_CHECKS) == []
    assert all(row["record"]["outcome"] == "answered" for row in result["calls"])
    stale = result["faults"]["stale_results"]
    assert stale, "no result of the dead process reached the new session (timing)"
    used = {line.split()[1] for line in stale}
    for row in result["calls"]:
        if row["channel"] in used and not row["asterisk"]["keys_in_gap"]:
            assert row["checks"]["route"] == "ok" and "excused" not in row


def test_at_the_maximum_wait_a_callback_keeps_the_place(tmp_path_factory):
    """Issue 14, point 6: the agents are paused; the caller waits in general past its
    max_wait_s (20 s in this run), hears the keep-place offer and presses 1 (also while
    their number is read out: the lab found that key taken for "49" and the callback
    lost); the callback is placed once the agents are back, to the caller's number,
    and the customer answers (Asterisk's DialEnd)."""
    result = _fault_run(tmp_path_factory, "maxwait", "--callers", "1", "--rate", "1",
                        "--profiles", "maxwait", "--max-wait")
    check = result["followup"]["max_wait"]
    assert check["verdict"] == "ok", check
    assert check["caller_outcome"] == ["callback"] and len(check["callback_agent"]) == 1
    assert _failures(result, *ALL_CHECKS) == []
    assert result["extra_records"] == [] and len(result["outbound_records"]) == 1
