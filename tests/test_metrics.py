"""Prometheus metrics after a simulated run: every figure checked against the records.

The run is the real adapter, IVR and ACD against the simulator on a task.Clock
(tests/e2e_support.py).  Expected values are derived from the final records, the
ACD's own counters and the AMI event counts of that run, never written in.
"""

from __future__ import annotations

import itertools
from collections import Counter
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from queues.agents import AgentState
from server.metrics import ROUTER_INPUTS, HotlineMetrics
from server.records.durations import compute_durations
from server.sim import COMMAND, AgentBehaviour, CallerScript, PhoneScript, Press
from tests.e2e_support import Rig


def press(digit: str) -> Press:
    return Press(digit, 0.5, after=COMMAND, command="GET DATA")


def caller(rig: Rig, number: str, *digits: str, at: float, patience: float | None = None):
    rig.sim.add_caller(CallerScript(number, "张伟", arrive_at=rig.sim.uptime() + at,
                                    presses=tuple(press(d) for d in digits),
                                    patience=patience))


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple], float]:
    """Every sample of the text exposition: (name, sorted labels) -> value."""
    text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def by_label(samples, name: str, label: str) -> dict[str, float]:
    return {dict(k)[label]: v for (n, k), v in samples.items() if n == name}


class Ticks:
    """A routing-latency timer: each reading 1 ms after the last."""

    def __init__(self) -> None:
        self._n = itertools.count()

    def __call__(self) -> float:
        return next(self._n) * 0.001


@pytest.fixture(scope="module")
def run():
    rig = Rig()
    registry = CollectorRegistry()
    ami = SimpleNamespace(connected=rig.proto.logged_in, reconnects=0)
    spool = SimpleNamespace(backlog=3)
    metrics = HotlineMetrics(registry, calls=rig.cc, events=rig.events, ami=ami,
                             records=spool, timer=Ticks())
    # 1007 never answers (a missed offer, then paused); 1009 answers and holds.
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=None)))
    rig.sim.add_phone(PhoneScript("1009", AgentBehaviour(answer_after=3.0, talk=40.0,
                                                         hold_at=5.0, hold_for=12.0)))
    rig.run(1)
    rig.login_agents("1007", "1009")
    caller(rig, "13912345678", "1", "5", "2", at=1.0)            # answered after a miss
    caller(rig, "13912345679", "1", "5", at=3.0, patience=45.0)  # waits, gives up
    caller(rig, "13912345670", "1", "5", at=4.0, patience=12.0)  # gives up sooner
    caller(rig, "13912345671", "1", "2", at=5.0, patience=9.0)   # hangs up in the menu
    rig.run(300)
    yield SimpleNamespace(rig=rig, registry=registry, metrics=metrics, ami=ami,
                          samples=scrape(registry), records=rig.final_records())
    metrics.close()


def test_the_run_has_the_outcomes_the_checks_need(run):
    outcomes = Counter(r.outcome for r in run.records.values())
    assert outcomes["answered"] >= 1 and outcomes["abandoned"] >= 1
    assert outcomes["ivr_hangup"] >= 1
    assert run.rig.cc.calls == {}  # every call finished


def test_queue_counters_equal_the_records(run):
    s, records = run.samples, run.records.values()
    queues = sorted(run.rig.cfg.acd.queues)
    assert sorted(by_label(s, "hotline_queue_calls_offered_total", "queue")) == queues
    for q in queues:
        last_q = [r for r in records if r.queues and r.queues[-1] == q]
        answered = sum(1 for r in last_q if r.outcome == "answered")
        abandoned = [r for r in last_q if r.outcome == "abandoned"]
        short = sum(1 for r in abandoned if compute_durations(r.timeline).queue_wait_s
                    < run.rig.cfg.acd.policy.short_abandon_s)
        assert value(s, "hotline_queue_calls_answered_total", queue=q) == answered
        assert value(s, "hotline_queue_calls_abandoned_total", queue=q) == len(abandoned)
        assert value(s, "hotline_queue_calls_short_abandoned_total", queue=q) == short
        # No call overflowed in this run, so each was offered to its last queue only.
        assert value(s, "hotline_queue_calls_offered_total", queue=q) == len(last_q)
        threshold = run.rig.cfg.acd.queues[q].service_level.threshold_s
        within = sum(1 for r in last_q if r.outcome == "answered"
                     and compute_durations(r.timeline).queue_wait_s <= threshold)
        assert value(s, "hotline_queue_calls_answered_within_threshold_total",
                     queue=q) == within
        assert value(s, "hotline_queue_waiting_calls", queue=q) == 0
        assert value(s, "hotline_queue_oldest_wait_seconds", queue=q) == 0
        kpis = run.rig.cc.acd.queue_kpis(q)
        sl = s.get(("hotline_queue_service_level_ratio", (("queue", q),)))
        assert sl == kpis.service_level  # None (absent) exactly when undefined
    assert sum(by_label(s, "hotline_queue_calls_answered_total", "queue").values()) == sum(
        1 for r in records if r.outcome == "answered")


def test_duration_histograms_count_and_sum_the_records(run):
    s, records = run.samples, list(run.records.values())
    durations = [(r, compute_durations(r.timeline)) for r in records]

    def check(metric: str, picked: list[float]) -> None:
        counts = by_label(s, f"{metric}_count", "queue")
        sums = by_label(s, f"{metric}_sum", "queue")
        assert sum(counts.values()) == len(picked)
        assert sum(sums.values()) == pytest.approx(sum(picked))

    check("hotline_call_queue_wait_seconds",
          [d.queue_wait_s for r, d in durations if any(e.kind == "enqueued" for e in r.timeline)])
    check("hotline_call_ring_seconds", [d.ring_s for r, d in durations if d.offers])
    answered = [d for r, d in durations if r.outcome == "answered"]
    check("hotline_call_talk_seconds", [d.talk_s for d in answered])
    check("hotline_call_hold_seconds", [d.hold_s for d in answered])
    check("hotline_call_handling_seconds", [d.handling_s for d in answered])
    assert sum(d.hold_s for d in answered) > 0  # the hold was seen


def test_agents_ivr_ami_and_spool(run):
    s, rig = run.samples, run.rig
    agents = by_label(s, "hotline_agents", "state")
    assert set(agents) == {str(st) for st in AgentState}
    assert sum(agents.values()) == len(rig.cfg.acd.agents)
    for st in AgentState:
        expected = sum(1 for a in rig.cfg.acd.agents if rig.cc.acd.agent(a).state is st)
        assert agents[str(st)] == expected
    assert agents["paused"] >= 1  # 1007, after its missed call

    outcomes = Counter(r.outcome for r in run.records.values())
    assert value(s, "hotline_ivr_entered_total") == len(run.records)
    assert value(s, "hotline_ivr_hangups_total") == outcomes["ivr_hangup"]
    assert value(s, "hotline_ivr_finished_total") == sum(
        1 for r in run.records.values() if r.queues)
    assert value(s, "hotline_calls_ended_total") == len(run.records)
    assert value(s, "hotline_records_written_total") == len(run.records)

    events = by_label(s, "hotline_ami_events_total", "event")
    assert events == dict(rig.events.counts) and events["DialBegin"] >= 2
    assert value(s, "hotline_ami_connected") == 1
    assert value(s, "hotline_ami_reconnects_total") == 0
    assert value(s, "hotline_records_spool_backlog") == 3


def test_routing_latency_is_timed_per_router_input(run):
    s = run.samples
    counts = by_label(s, "hotline_routing_decision_seconds_count", "input")
    assert set(counts) == set(ROUTER_INPUTS)
    enqueued = sum(1 for r in run.records.values() if r.queues)
    assert counts["enqueue"] == enqueued
    assert counts["login"] == 2
    # The fake timer ticks 1 ms per reading and each input reads it twice.
    sums = by_label(s, "hotline_routing_decision_seconds_sum", "input")
    assert sums["enqueue"] == pytest.approx(0.001 * counts["enqueue"])


def test_live_gauges_follow_the_router_without_copies():
    rig = Rig()
    registry = CollectorRegistry()
    metrics = HotlineMetrics(registry, calls=rig.cc, events=rig.events)
    caller(rig, "13912345678", "1", "5", at=1.0, patience=60.0)  # nobody logged in
    rig.run(30)
    (item,) = rig.cc.acd.waiting()
    s = scrape(registry)
    waited = rig.clock.seconds() - item.enqueued_at
    assert value(s, "hotline_queue_waiting_calls", queue=item.queue) == 1
    assert value(s, "hotline_queue_oldest_wait_seconds", queue=item.queue) == pytest.approx(
        waited)
    assert ("hotline_ami_connected", ()) not in s  # no AMI link given
    rig.run(60)
    s = scrape(registry)
    assert value(s, "hotline_queue_waiting_calls", queue=item.queue) == 0
    assert value(s, "hotline_queue_calls_abandoned_total", queue=item.queue) == 1
    metrics.close()
    assert "enqueue" not in vars(rig.cc.acd)  # the router's own method again
