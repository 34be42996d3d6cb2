"""deploy/ uses exactly the metric names the server exports.

A renamed metric would leave a Grafana panel empty and an alert silent without any
error; this test fails instead.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import yaml
from prometheus_client import CollectorRegistry
from twisted.internet import defer, task

from server.metrics import HotlineMetrics
from tests.e2e_support import ROOT, Rig

DEPLOY = ROOT / "deploy"
NAME = re.compile(r"\bhotline_[a-z0-9_]+")
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}


class _StubToday:
    """What TodayCollector reads: TodayFigures.headline() (a day with calls)."""

    def headline(self) -> dict:
        return {"state": "ok", "offered": 10, "answered": 9, "connection_rate": 0.95,
                "service_level": 0.8, "abandon_rate": 0.1, "satisfaction_rate": 1.0,
                "connection_rate_target": 0.95, "service_level_target": 0.8,
                "abandon_rate_target": 0.05, "satisfaction_rate_target": 0.98}


def exported_names() -> set[str]:
    rig = Rig()
    registry = CollectorRegistry()
    metrics = HotlineMetrics(registry, calls=rig.cc, events=rig.events,
                             ami=SimpleNamespace(connected=True, reconnects=0),
                             records=SimpleNamespace(backlog=0),
                             case_counts=lambda: defer.succeed(
                                 {"open": 0, "overdue": 0, "state": {}, "type": {},
                                  "grade": {}}),
                             clock=task.Clock(), today=_StubToday())
    try:
        return {family.name + suffix for family in registry.collect()
                for suffix in SUFFIXES[family.type]}
    finally:
        metrics.close()


def dashboard_exprs() -> list[str]:
    dash = json.loads((DEPLOY / "grafana" / "hotline-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    exprs += [v["definition"] for v in dash["templating"]["list"]]
    return exprs


def rules() -> list[dict]:
    doc = yaml.safe_load((DEPLOY / "prometheus" / "hotline-rules.yml").read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def test_dashboard_and_rules_use_only_exported_names():
    exported = exported_names()
    used = {n for e in dashboard_exprs() + [r["expr"] for r in rules()] for n in NAME.findall(e)}
    assert used - exported == set()
    # and the dashboard shows every family at least once
    families = {re.sub(r"(_total|_bucket|_sum|_count)$", "", n) for n in exported}
    shown = {re.sub(r"(_total|_bucket|_sum|_count)$", "", n) for n in used}
    assert families - shown <= {"hotline_queue_service_level_threshold_seconds",
                                "hotline_queue_calls_handled", "hotline_calls_ended",
                                "hotline_records_written", "hotline_cases_counts_up",
                                "hotline_cases_counts_age_seconds"}


def test_rules_alert_on_service_level_and_abandon_rate():
    by_name = {r.get("alert") or r.get("record"): r for r in rules()}
    recorded = {r["record"] for r in rules() if "record" in r}
    assert by_name["HotlineCasesOverdue"]["expr"].startswith("hotline_cases_overdue > 0")
    # today's figures against their targets (issue 15): SL for 15 minutes, satisfaction
    sl, sat = by_name["HotlineServiceLevelBelowTarget"], by_name["HotlineSatisfactionBelowTarget"]
    assert sl["for"] == "15m" and 'hotline_today_target{figure="service_level"}' in sl["expr"]
    assert 'hotline_today_target{figure="satisfaction_rate"}' in sat["expr"]
    for name in ("HotlineServiceLevelLow", "HotlineAbandonRateHigh"):
        rule = by_name[name]
        assert rule["labels"]["severity"] and rule["annotations"]["summary"]
        assert any(rec in rule["expr"] for rec in recorded)
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert scrape["rule_files"] == ["hotline-rules.yml"]
    (job,) = scrape["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:9598"]  # server.yaml default
