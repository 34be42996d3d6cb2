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
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASTERISK = Path("/opt/asterisk/sbin/asterisk")

pytestmark = pytest.mark.skipif(not ASTERISK.exists(),
                                reason="no real Asterisk here (CI); see deploy/lab/README.md")


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
         "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=420)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "comparison.json").read_text())


def _failures(result: dict, *checks: str) -> list[str]:
    return [f"{row['tag']} {name}: {row['checks'][name]}" for row in result["calls"]
            for name in checks if row["checks"].get(name, "ok") != "ok"]


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
