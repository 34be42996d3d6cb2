"""The report's words: each figure, group kind, code and status in Chinese with English
second, and how each figure is formatted.  Used by the HTML report (html.py); the
page (server/web/static/reports.js) keeps the same words for the browser."""

from __future__ import annotations

from collections.abc import Mapping

from .kpi import FIGURES

__all__ = ["BY", "CODES", "FIGURES", "FIGURE_WORDS", "fmt", "words"]

# FIGURES: the report's JSON shape and the CSV's column order, defined with the KPIs.

FIGURE_WORDS: Mapping[str, tuple[str, str]] = {
    "offered": ("呼入量", "Offered"), "answered": ("接通量", "Answered"),
    "abandoned": ("放弃", "Abandoned"), "short_abandoned": ("短时放弃", "Short abandons"),
    "self_service": ("自助服务", "Self-service"), "deflected": ("停电公告分流", "Deflected"),
    "callbacks": ("回电", "Callbacks"), "overflowed": ("溢出", "Overflowed"),
    "handled": ("处理量", "Handled"), "connection_rate": ("一拨就通率", "Connection rate"),
    "service_level": ("服务水平", "Service level"), "asa_s": ("平均应答时长", "ASA"),
    "abandon_rate": ("放弃率", "Abandon rate"), "aht_s": ("平均处理时长", "AHT"),
    "occupancy": ("占用率", "Occupancy"), "surveyed": ("邀评数", "Surveyed"),
    "rated": ("参评数", "Rated"), "satisfied": ("满意数", "Satisfied"),
    "satisfaction_rate": ("满意率", "Satisfaction rate"),
    "survey_response_rate": ("参评率", "Survey response rate"),
    "repeat_contacts": ("重复来电", "Repeat contacts"),
    "repeat_contact_rate": ("重复来电率", "Repeat-contact rate"),
    "missed_offers": ("未接分配", "Missed offers"),
    "return_visit_rate": ("回访率", "Return-visit rate"),
    "on_time_acceptance_rate": ("按时受理率", "On-time acceptance"),
    "on_time_closure_rate": ("按时办结率", "On-time closure"),
    "opened": ("新建工单", "Opened"), "closed": ("办结工单", "Closed"),
    "overdue": ("超时工单", "Overdue"),
}

BY: Mapping[str, tuple[str, str]] = {
    "centre": ("全中心", "centre"), "queue": ("队列", "queue"), "tier": ("层级", "tier"),
    "team": ("班组", "team"), "agent": ("坐席", "agent"), "day": ("日", "day"),
    "hour": ("小时", "hour"),
}

CODES: Mapping[str, Mapping[str, str]] = {
    "tier": {"trainee": "见习坐席", "agent": "坐席", "senior": "资深坐席", "team_lead": "班长"},
    "case_type": {"complaint": "投诉", "report": "举报", "fault_repair": "故障报修",
                  "service_application": "业务办理", "enquiry": "咨询",
                  "suggestion": "意见建议/表扬"},
    "grade": {"general": "一般", "important": "重要", "major": "重大"},
    "reason": {"attitude": "服务态度", "not_resolved": "问题未解决", "long_wait": "等待时间长",
               "other": "其他"},
    "satisfaction": {"satisfied": "满意", "fairly_satisfied": "较满意",
                     "dissatisfied": "不满意", "no_answer": "未评价"},
}


def words(kind: str, code: object) -> str:
    """A code in Chinese, or the code itself when it is not a known one."""
    text = str(code)
    return CODES.get(kind, {}).get(text, text)


def fmt(name: str, value: object) -> str:
    """A figure as printed: rates as % with one decimal, durations as m:ss, counts with
    thousands separators; "–" for no data (None: a rate whose denominator is 0)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "–"
    if name.endswith("_rate") or name in ("service_level", "occupancy"):
        return f"{value * 100:.1f}%"
    if name.endswith("_s"):
        seconds = round(value)
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
