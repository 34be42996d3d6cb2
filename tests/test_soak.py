"""A short chaos soak: real redis-server, simulator and daemon processes on loopback.

The long versions are commands for the README (``python -m server.soak run|chaos``).
The run here kills -9 and restarts the daemon once, cuts the AMI link once (our TCP
proxy closes its sockets) and kills and restarts Redis once.  One run serves both
the soak's checks and the faults' (a plain soak beside it cost a minute of CI and
checked nothing the faulted run does not: the same traffic, rate and agents).

Every invariant is strict: whatever the faults overlap (a kill -9 while an
agent's phone rings for a caller, then a link cut), nothing is lost and no
agent stays stuck.
"""

from __future__ import annotations

import shutil

import pytest

from server.soak.runner import Options, execute

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server not installed")


def _why(report: dict) -> str:
    return "\n".join(report["violations"])


@pytest.fixture(scope="module")
def chaos():
    return execute(Options(rate=2.0, agents=10, duration=45.0, seed=1, short_prompts=True,
                           drain=75.0, sample_every=3.0, quiet=True, chaos=True,
                           chaos_events={"daemon_kill": 1, "link_cut": 1, "redis_restart": 1}))


def test_soak_loses_nothing_and_holds_every_invariant(chaos):
    soak = chaos
    assert soak["entered"] > 30, soak
    assert soak["lost"] == 0, _why(soak)
    assert soak["violations"] == []
    assert soak["handled"] > 0 and soak["routing_decisions"] > 0
    assert soak["routing_p99_ms"] is not None and soak["answer_wait_p99_s"] is not None
    assert soak["handled"] + soak["abandoned"] + sum(soak["other_outcomes"].values()) \
        == soak["entered"]
    assert len(soak["rss_over_time"]) >= 5


def test_chaos_faults_really_happened(chaos):
    kinds = [e["kind"] for e in chaos["chaos"]]
    assert sorted(kinds) == ["daemon_kill", "link_cut", "redis_restart"]
    assert chaos["daemon_starts"] == 2
    cut = next(e for e in chaos["chaos"] if e["kind"] == "link_cut")
    assert not cut["detail"].startswith("0 "), "the link cut closed no connection"
    assert chaos["entered"] > 50


def test_chaos_no_record_duplicated(chaos):
    assert chaos["duplicated_entries"] == 0
    assert not [v for v in chaos["violations"] if "duplicated" in v or "seen hash" in v]


def test_chaos_no_record_without_a_caller(chaos):
    assert not [v for v in chaos["violations"] if v.startswith("inbound record")]


def test_chaos_every_caller_accounted_for_exactly_once(chaos):
    assert chaos["lost_calls"] == [], _why(chaos)
    assert chaos["lost"] == 0 and chaos["stale_live_call_state"] == 0, _why(chaos)


def test_chaos_no_agent_stuck(chaos):
    assert chaos["stuck_agents"] == [], _why(chaos)


def test_chaos_verdict_ok(chaos):
    assert chaos["violations"] == [], _why(chaos)
