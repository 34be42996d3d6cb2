"""Test support, not tests: case rules built by hand, and a case forced into any state."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from types import MappingProxyType
from zoneinfo import ZoneInfo

from cases.machine import open_case
from cases.model import Case, CaseState, CaseType
from cases.rules import AutoOpen, CasesConfig, Grade, Limit, Limits, TypeRules
from queues.model import BusinessHours, TimeRange

TZ = "Asia/Shanghai"
H = 3600.0


def shanghai(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> float:
    return dt.datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(TZ)).timestamp()


def _t(s: str) -> dt.time:
    return dt.time.fromisoformat(s)


OFFICE = BusinessHours(TZ, MappingProxyType({
    **{d: (TimeRange(_t("08:30"), _t("12:00")), TimeRange(_t("13:30"), _t("17:30")))
       for d in ("mon", "tue", "wed", "thu", "fri")},
    "sat": (), "sun": (),
}), (dt.date(2027, 1, 1),))


def limits(accept: float, handle: float, visit: float, business: bool = False) -> Limits:
    return Limits(Limit(accept * H), Limit(handle * H, business), Limit(visit * H))


def rules(**overrides) -> CasesConfig:
    graded = (
        Grade("general", "一般", limits(2, 72, 24), "important"),
        Grade("important", "重要", limits(1, 24, 24), "major"),
        Grade("major", "重大", limits(0.5, 8, 12)),
    )
    types = {
        CaseType.COMPLAINT: TypeRules(CaseType.COMPLAINT, "投诉", None, graded),
        CaseType.REPORT: TypeRules(CaseType.REPORT, "举报", None, graded[:2]),
        CaseType.FAULT_REPAIR: TypeRules(CaseType.FAULT_REPAIR, "故障报修", limits(0.5, 24, 24)),
        CaseType.SERVICE_APPLICATION: TypeRules(
            CaseType.SERVICE_APPLICATION, "业务办理", limits(4, 8, 24, business=True)),
        CaseType.ENQUIRY: TypeRules(CaseType.ENQUIRY, "咨询", limits(2, 24, 24)),
        CaseType.SUGGESTION: TypeRules(CaseType.SUGGESTION, "意见建议/表扬", limits(4, 120, 48)),
    }
    base = {
        "timezone": TZ, "hours": OFFICE, "reminder_share": 0.75, "escalate_every_s": 4 * H,
        "visit_max_attempts": 3, "visit_retry_s": 2 * H, "repeat_contact_days": 30,
        "auto_open": (AutoOpen("work_order", "complaint", CaseType.COMPLAINT),
                      AutoOpen("work_order", None, CaseType.FAULT_REPAIR)),
        "types": MappingProxyType(types),
    }
    return CasesConfig(**{**base, **overrides})


def new_case(r: CasesConfig, now: float, type: CaseType = CaseType.COMPLAINT,
             case_id: str = "GD20261206-000001", **kw) -> Case:
    kw.setdefault("account", "1234567890")
    kw.setdefault("phone", "13800000000")
    return open_case(r, case_id=case_id, type=type, now=now, actor="1001", owner="1001",
                     responsible="lead1", call_id="1700000000.1", **kw)


def in_state(case: Case, state: CaseState) -> Case:
    """The case as if it had reached ``state`` (for table-wide tests)."""
    return replace(case, state=state)
