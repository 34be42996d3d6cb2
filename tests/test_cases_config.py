"""config/cases.yaml: the shipped rules load into the values the case machine uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from cases.machine import open_case, transition
from cases.model import CaseType, Phase
from server.config import ConfigError, load_config

from .cases_support import shanghai
from .test_config_support import broken_copy

ENV = {"HOTLINE_AMI_SECRET": "s3cret"}
GOOD = Path(__file__).resolve().parent.parent / "config"


def test_shipped_rules() -> None:
    rules = load_config(GOOD, environ=ENV).cases
    assert set(rules.types) == set(CaseType)
    complaint = rules.types[CaseType.COMPLAINT]
    assert [(g.name, g.raise_to) for g in complaint.grades] == [
        ("general", "important"), ("important", "major"), ("major", None)]
    assert rules.limit(CaseType.COMPLAINT, "major", Phase.ACCEPT).seconds == 1800
    handle = rules.limit(CaseType.SERVICE_APPLICATION, None, Phase.HANDLE)
    assert handle.business and handle.seconds == 24 * 3600
    assert rules.limit(CaseType.REPORT, "general", Phase.HANDLE).seconds == 5 * 86400
    assert (rules.reminder_share, rules.escalate_every_s, rules.visit_max_attempts,
            rules.visit_retry_s, rules.repeat_contact_days) == (0.75, 4 * 3600, 3, 7200, 30)
    assert rules.auto_open_for("work_order", "complaint").type is CaseType.COMPLAINT
    assert rules.auto_open_for("work_order", "billing").type is CaseType.ENQUIRY
    assert rules.auto_open_for("resolved", "complaint") is None
    assert rules.hours.timezone == "Asia/Shanghai" and rules.hours.weekly["sat"] == ()


def test_shipped_business_hours_drive_a_case_deadline() -> None:
    rules = load_config(GOOD, environ=ENV).cases
    friday = shanghai(2026, 12, 11, 17, 0)
    case = open_case(rules, case_id="GD20261211-000001", type="service_application",
                     account="1", phone="", now=friday, actor="1001")
    # 4 business hours from Friday 17:00: 0.5 h Friday, then Monday 08:30 + 3.5 h
    assert case.deadline.due_at == shanghai(2026, 12, 14, 12, 0)
    case = transition(case, "accept", rules, now=friday, actor="1001")
    assert case.deadline.phase is Phase.HANDLE


def test_several_problems_in_cases_yaml_are_reported_at_once(tmp_path: Path) -> None:
    case = {"file": "cases.yaml", "set": {"types.gripe": {"label": "x"},
                                          "types.complaint.grades.0.accept": "-1h",
                                          "timezone": "Mars/Base"}}
    with pytest.raises(ConfigError) as info:
        load_config(broken_copy(case, tmp_path), environ=ENV)
    by_path = {p.path: p.message for p in info.value.problems}
    assert "unknown case type" in by_path["types.gripe"]
    assert "bad duration" in by_path["types.complaint.grades[0].accept"]
    assert "unknown timezone" in by_path["timezone"]
