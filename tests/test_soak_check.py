"""The soak checker's judgement on hand-made data: what counts as lost, duplicated, stuck."""

from __future__ import annotations

import pytest

from server.soak.check import (
    Caller,
    ChaosEvent,
    StreamEntry,
    bucket_quantile,
    judge,
    routing_buckets,
)
from server.soak.procs import RigError
from server.soak.runner import Options, Run, auto_talk


def _rec(cid: str, version: int, outcome: str = "answered") -> StreamEntry:
    timeline = [[0.0, "arrived", {}], [1.0, "enqueued", {"queue": "fault"}],
                [3.0, "answered", {}], [9.0, "ended", {}]]
    return StreamEntry(f"{version}-0", cid, version, {
        "call_id": cid, "version": version, "kind": "inbound", "caller": "139", "dialled":
        "95598", "outcome": outcome, "final": True, "timeline": timeline})


def test_metrics_histogram_quantiles():
    text = "\n".join([
        '# TYPE hotline_routing_decision_seconds histogram',
        'hotline_routing_decision_seconds_bucket{input="arrive",le="0.001"} 50.0',
        'hotline_routing_decision_seconds_bucket{input="arrive",le="0.01"} 90.0',
        'hotline_routing_decision_seconds_bucket{input="arrive",le="+Inf"} 100.0',
        'hotline_routing_decision_seconds_bucket{input="leave",le="0.001"} 50.0',
        'hotline_routing_decision_seconds_bucket{input="leave",le="0.01"} 90.0',
        'hotline_routing_decision_seconds_bucket{input="leave",le="+Inf"} 100.0',
        'hotline_routing_decision_seconds_count{input="leave"} 100.0',
    ])
    b = routing_buckets(text)
    assert b == {0.001: 100.0, 0.01: 180.0, float("inf"): 200.0}
    assert bucket_quantile(0.5, b) == 0.001
    assert abs(bucket_quantile(0.7, b) - (0.001 + 0.009 * 40 / 80)) < 1e-12
    assert bucket_quantile(0.99, b) == 0.01  # in +Inf: the highest finite bound
    assert bucket_quantile(0.5, {}) is None


def test_judge_counts_outcomes_and_flags_losses_duplicates_and_strangers():
    callers = {u: Caller(u, u, "139", 100.0, 120.0) for u in ("a", "b", "c", "d")}
    callers["d"].gone_at = None  # still on the line
    entries = [_rec("a", 3), _rec("a", 3), _rec("b", 2, "abandoned"), _rec("b", 5, "answered"),
               _rec("x", 1)]
    seen = {"a": 3, "b": 5, "x": 1}
    kill = ChaosEvent(110.0, "daemon_kill", 111.0)
    v = judge(callers, entries, seen, ["d"], None, [kill], sim_active=1)
    f = v.figures
    assert (f["entered"], f["handled"], f["abandoned"], f["lost"]) == (4, 2, 0, 2)
    assert f["lost_still_on_line"] == 1 and f["duplicated_entries"] == 1
    assert f["answer_wait_p50_s"] == 2.0
    assert {x["uid"] for x in v.lost} == {"c", "d"}
    assert all(x["during"] == ["daemon_kill@110.0"] for x in v.lost)
    text = "\n".join(v.violations)
    assert "call a version 3 appears 2 times" in text
    assert "inbound record x" in text
    assert "lost: caller 139 (uid c)" in text and "hung up after 20.0 s" in text


def test_judge_stuck_agents():
    callers = {"a": Caller("a", "a", "139", 100.0, None)}
    snap = {"agents": [
        {"id": "1001", "state": "reserved", "call_id": "a", "in_state_s": 61.0},
        {"id": "1002", "state": "on_call", "call_id": None, "in_state_s": 1.0},
        {"id": "1003", "state": "on_call", "call_id": "a", "in_state_s": 10.0},
        {"id": "1004", "state": "ready", "call_id": None, "in_state_s": 900.0},
    ]}
    v = judge(callers, [_rec("a", 1)], {"a": 1}, [], snap, [], sim_active=1)
    assert [s["id"] for s in v.stuck] == ["1001", "1002"]


def test_auto_talk_keeps_the_floor_about_80_percent_busy():
    lo, hi = (float(x) for x in auto_talk(Options(rate=30, agents=300, wrapup=2)).split(","))
    mean_cycle = (lo + hi) / 2 + 2 + 2
    assert 0.7 < 0.85 * 30 * mean_cycle / 300 < 0.9


def test_run_parts_before_start_raise_a_rig_error() -> None:
    run = Run(Options(quiet=True))
    try:
        for part in ("redis", "sim", "proxy", "daemon", "http"):
            with pytest.raises(RigError, match="not running"):
                getattr(run, part)
    finally:
        run.stop()  # stops only the parts that exist (none) and removes the workdir
    assert not run.workdir.exists()
