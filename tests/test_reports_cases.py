"""Case figures of the report (回访率, on-time acceptance and closure, overdue, by type
and grade) against hand-computed values. Limits from tests/cases_support.rules():
complaint general accept 2 h / handle 72 h, important 1 h / 24 h; fault repair
0.5 h / 24 h; enquiry 2 h / 24 h; visits 24 h; 3 return-visit attempts. All in
calendar hours; the report is made at T + 30 h.

C1 complaint general: accept T+1h (on time), resolve T+11h (on time), visit reached
   and solved T+12h: closed
C2 fault repair: accept T+1h (late: 0.5 h), never resolved: handling due T+25h, overdue
C3 enquiry: never accepted: acceptance due T+2h+2h, handling due T+4h+24h: both late;
   overdue
C4 complaint, escalated at T+3h (general -> important), accepted T+3.5h: late for
   general's 2 h; handling runs with important's 24 h from T+3.5h: due T+27.5h, late;
   overdue; now of grade important
C5 fault repair: accept T+0.25h, resolve T+2h (both on time), three unreached visits:
   closed by the attempts, the visit counts as made
C6 enquiry: accept T+1h, resolve T+5h (on time); visit not made, due T+29h: overdue
"""

from __future__ import annotations

import pytest

from cases.machine import open_case, record_visit, transition
from server.reports.build import Directory, ReportBuilder, Targets
from server.reports.kpi import Policy

from .cases_support import H, rules, shanghai

RULES = rules()
T = shanghai(2026, 12, 1, 8)


def _open(n: int, type: str, at: float = T):
    return open_case(RULES, case_id=f"GD20261201-{n:06d}", type=type, account="0101234567",
                     phone="", now=at, actor="1001")


def _go(case, *steps):
    for inp, at in steps:
        case = transition(case, inp, RULES, now=T + at * H, actor="1001")
    return case


def cases():
    c1 = _go(_open(1, "complaint"), ("accept", 1), ("start", 1), ("resolve", 11),
             ("schedule_visit", 11))
    c1 = record_visit(c1, RULES, now=T + 12 * H, actor="1001", reached=True, resolved=True,
                      satisfaction=3)
    c2 = _go(_open(2, "fault_repair"), ("accept", 1), ("start", 1))
    c3 = _open(3, "enquiry", T + 2 * H)
    c4 = _go(_open(4, "complaint"), ("escalate", 3), ("accept", 3.5))
    c5 = _go(_open(5, "fault_repair"), ("accept", 0.25), ("start", 0.25), ("resolve", 2),
             ("schedule_visit", 2))
    for at in (3, 5, 7):
        c5 = record_visit(c5, RULES, now=T + at * H, actor="1001", reached=False)
    c6 = _go(_open(6, "enquiry"), ("accept", 1), ("start", 1), ("resolve", 5),
             ("schedule_visit", 5))
    return [c1, c2, c3, c4, c5, c6]


def test_case_figures_by_hand():
    all_cases = cases()
    assert [c.state.value for c in all_cases] == [
        "closed", "in_progress", "new", "accepted", "closed", "return_visit"]
    assert all_cases[3].grade == "important"
    b = ReportBuilder(start=shanghai(2026, 12, 1), end=shanghai(2026, 12, 2), by="centre",
                      policy=Policy(), directory=Directory(), timezone="Asia/Shanghai",
                      targets=Targets(), cases_rules=RULES)
    for case in all_cases:
        b.add_case(case, now=T + 30 * H)
    got = b.report(T + 30 * H)["cases"]
    assert {k: got[k] for k in ("opened", "closed", "overdue")} == {
        "opened": 6, "closed": 2, "overdue": 4}  # C2, C3, C4, C6
    # visits required: C1, C5, C6 (resolved); made: C1 (reached), C5 (attempts used up)
    assert got["return_visit_rate"] == pytest.approx(2 / 3)
    assert got["on_time_acceptance_rate"] == pytest.approx(3 / 6)  # C1, C5, C6
    assert got["on_time_closure_rate"] == pytest.approx(3 / 6)  # C1, C5, C6 of all six due
    assert got["by_type"] == {"complaint": 2, "enquiry": 2, "fault_repair": 2}
    assert got["by_grade"] == [
        {"type": "complaint", "grade": "general", "opened": 1, "closed": 1,
         "on_time_closure_rate": 1.0, "overdue": 0},
        {"type": "complaint", "grade": "important", "opened": 1, "closed": 0,
         "on_time_closure_rate": 0.0, "overdue": 1},
        {"type": "enquiry", "grade": "-", "opened": 2, "closed": 0,
         "on_time_closure_rate": 0.5, "overdue": 2},
        {"type": "fault_repair", "grade": "-", "opened": 2, "closed": 1,
         "on_time_closure_rate": 0.5, "overdue": 1},
    ]


def test_limits_not_yet_passed_are_not_counted_late():
    # A complaint opened at T, the report made at T + 10 min: its acceptance limit
    # (2 h) has not passed, so it is neither on time nor late yet, and not overdue.
    b = ReportBuilder(start=T, end=T + 86400, by="centre", policy=Policy(),
                      directory=Directory(), timezone="Asia/Shanghai", targets=Targets(),
                      cases_rules=RULES)
    b.add_case(_open(9, "complaint"), now=T + 600)
    got = b.report(T + 600)["cases"]
    assert (got["opened"], got["overdue"], got["on_time_acceptance_rate"],
            got["on_time_closure_rate"], got["return_visit_rate"]) == (1, 0, None, None, None)
