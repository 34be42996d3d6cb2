"""Deadlines in calendar and business hours (Asia/Shanghai), reminders, 催办 and grade raise."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from types import MappingProxyType

import pytest
from twisted.internet import task

from cases.due import Escalation, Reminder, due_score, tick
from cases.history import CallSummary, repeat_flag
from cases.ids import format_id, local_day, parse_id
from cases.machine import transition
from cases.model import CaseState, CaseType, Phase
from cases.rules import Limit
from cases.worktime import NoBusinessHours, business_add, deadline
from queues.model import BusinessHours, TimeRange

from .cases_support import OFFICE, TZ, H, new_case, rules, shanghai

RULES = rules()


@pytest.mark.parametrize(("start", "hours", "due"), [
    # inside one morning
    (shanghai(2026, 12, 8, 9, 0), 2, shanghai(2026, 12, 8, 11, 0)),
    # across lunch
    (shanghai(2026, 12, 8, 11, 0), 2, shanghai(2026, 12, 8, 14, 30)),
    # across a night: Tue 17:00 + 2 h = 0.5 h on Tuesday, 1.5 h on Wednesday
    (shanghai(2026, 12, 8, 17, 0), 2, shanghai(2026, 12, 9, 10, 0)),
    # across a weekend: Fri 16:30 + 8 h = 1 h Friday, 3.5 h + 3.5 h Monday
    (shanghai(2026, 12, 11, 16, 30), 8, shanghai(2026, 12, 14, 17, 0)),
    # opened on a Saturday night: counts from Monday's opening
    (shanghai(2026, 12, 12, 22, 0), 1, shanghai(2026, 12, 14, 9, 30)),
    # ending exactly at closing time is due at closing time
    (shanghai(2026, 12, 8, 16, 30), 1, shanghai(2026, 12, 8, 17, 30)),
    # a holiday (2027-01-01, a Friday) is skipped: Thu 17:00 + 1 h -> Mon 09:00
    (shanghai(2026, 12, 31, 17, 0), 1, shanghai(2027, 1, 4, 9, 0)),
])
def test_business_hours_deadlines(start: float, hours: float, due: float) -> None:
    assert business_add(OFFICE, start, hours * H) == due
    assert deadline(OFFICE, start, Limit(hours * H, business=True)) == due


def test_calendar_deadline_ignores_nights_and_weekends() -> None:
    start = shanghai(2026, 12, 11, 16, 30)
    assert deadline(OFFICE, start, Limit(8 * H)) == shanghai(2026, 12, 12, 0, 30)


def test_ranges_crossing_midnight_and_whole_days() -> None:
    t = dt.time.fromisoformat
    night = BusinessHours(TZ, MappingProxyType({"mon": (TimeRange(t("22:00"), t("06:00")),),
                                                "tue": (TimeRange(t("00:00"), t("00:00")),)}))
    # Monday 05:00 + 2 h: 1 h until 06:00, then Monday 22:00 + 1 h
    assert business_add(night, shanghai(2026, 12, 7, 5), 2 * H) == shanghai(2026, 12, 7, 23)
    # Monday 23:00 + 3 h: 1 h to midnight, then Tuesday (whole day) 02:00
    assert business_add(night, shanghai(2026, 12, 7, 23), 3 * H) == shanghai(2026, 12, 8, 2)
    closed = BusinessHours(TZ, MappingProxyType({}))
    with pytest.raises(NoBusinessHours):
        business_add(closed, 0.0, 60)


def test_business_limit_on_a_case_and_its_reminder() -> None:
    # service applications: 8 business hours to handle, reminder at 75 %
    friday = shanghai(2026, 12, 11, 16, 30)
    case = new_case(RULES, friday, CaseType.SERVICE_APPLICATION)
    case = transition(case, "accept", RULES, now=friday, actor="1001")
    assert case.deadline.phase is Phase.HANDLE
    assert case.deadline.due_at == shanghai(2026, 12, 14, 17, 0)
    # 6 business hours: 1 h Friday, 3.5 h Monday morning, 1.5 h after lunch
    assert case.deadline.remind_at == shanghai(2026, 12, 14, 15, 0)


def test_reminder_then_escalations_with_grade_raise() -> None:
    clock = task.Clock()
    clock.advance(shanghai(2026, 12, 8, 9, 0))
    case = new_case(RULES, clock.seconds())  # complaint, general: accept within 2 h
    assert due_score(case, RULES) == clock.seconds() + 1.5 * H
    clock.advance(1.5 * H - 1)
    assert tick([case], RULES, clock.seconds()) == []  # listed too early: nothing
    clock.advance(1)
    [(case, notice)] = tick([case], RULES, clock.seconds())
    assert notice == Reminder(case.id, "1001", Phase.ACCEPT, shanghai(2026, 12, 8, 11, 0))
    assert case.audit[-1].input == "remind" and case.audit[-1].actor == "system"
    assert tick([case], RULES, clock.seconds()) == []  # reminded once only
    assert due_score(case, RULES) == shanghai(2026, 12, 8, 11, 0)

    grades = []
    for expect_round, after in ((1, 0.5 * H), (2, 4 * H), (3, 4 * H)):
        clock.advance(after)
        [(case, notice)] = tick([case], RULES, clock.seconds())
        assert isinstance(notice, Escalation) and notice.round == expect_round
        assert (notice.responsible, notice.owner) == ("lead1", "1001")
        grades.append((notice.grade_from, notice.grade_to))
        assert due_score(case, RULES) == clock.seconds() + 4 * H
    assert grades == [("general", "important"), ("important", "major"), ("major", "major")]
    assert case.grade == "major" and case.state is CaseState.NEW
    assert [a.input for a in case.audit[-3:]] == ["escalate"] * 3
    assert "grade general -> important" in case.audit[-3].note


def test_overdue_without_reminder_escalates_directly_and_closed_cases_are_never_due() -> None:
    now = shanghai(2026, 12, 8, 9, 0)
    case = new_case(RULES, now, CaseType.FAULT_REPAIR)
    [(esc, notice)] = tick([case], RULES, now + 2 * H)
    assert isinstance(notice, Escalation) and notice.grade_from is None is notice.grade_to
    assert esc.deadline.reminded and esc.deadline.escalations == 1
    closed = replace(case, state=CaseState.CLOSED)
    assert due_score(closed, RULES) is None and tick([closed], RULES, now + 99 * H) == []


def test_accepting_starts_the_handling_limit_and_a_new_reminder() -> None:
    now = shanghai(2026, 12, 8, 9, 0)
    case = new_case(RULES, now)
    [(case, _)] = tick([case], RULES, now + 1.5 * H)
    case = transition(case, "accept", RULES, now=now + 1.6 * H, actor="1001")
    assert not case.deadline.reminded and case.deadline.due_at == now + 1.6 * H + 72 * H


def test_repeat_flag_same_intent_within_window_or_open_case() -> None:
    now = shanghai(2026, 12, 8, 9, 0)
    calls = [CallSummary("c1", now - 31 * 86400, "1", "138", "fault", "answered"),
             CallSummary("c2", now - 2 * 86400, "1", "138", "billing", "answered", 3),
             CallSummary("c3", now, "1", "138", "fault", "answered")]
    flag = repeat_flag(calls, [], intent="fault", now=now, window_days=30, exclude_call="c3")
    assert not flag.repeat
    flag = repeat_flag(calls, [], intent="billing", now=now, window_days=30)
    assert flag.repeat and flag.same_intent_calls == ("c2",)
    case = new_case(RULES, now)
    flag = repeat_flag([], [case], intent="fault", now=now, window_days=30)
    assert flag.repeat and flag.open_cases == (case.id,)


def test_case_ids_are_readable_and_per_local_day() -> None:
    # 23:30 UTC on 5 December is already 6 December in Shanghai
    at = dt.datetime(2026, 12, 5, 23, 30, tzinfo=dt.UTC).timestamp()
    assert local_day(at, TZ) == "20261206"
    assert format_id("20261206", 123) == "GD20261206-000123"
    assert parse_id("GD20261206-000123") == ("20261206", 123)
    assert parse_id("GD2026-1") is None
