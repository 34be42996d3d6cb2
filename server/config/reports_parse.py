"""server.yaml ``reports:`` -> ReportSettings: targets, timezone, how late a record may be.

Optional: every key has a default (the 95598 targets of issue 15). The
short-abandon threshold is not repeated here: reports use queues.yaml's
``policy.short_abandon_s``, the same value the live ACD counts with.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field

from .section import Section

__all__ = ["REPORT_KEYS", "ReportSettings", "ReportTargets", "parse_reports"]

REPORT_KEYS = ("timezone", "max_record_lag_s", "clock_slack_s", "targets")
_RATE_TARGETS = ("connection_rate", "service_level", "satisfaction_rate", "return_visit_rate",
                 "abandon_rate")


@dataclass(frozen=True)
class ReportTargets:
    connection_rate: float = 0.95  # 一拨就通
    service_level: float = 0.80
    satisfaction_rate: float = 0.98  # 满意率
    return_visit_rate: float = 1.0  # 回访率
    abandon_rate: float = 0.05  # at most
    aht_s: float = 300.0  # at most


@dataclass(frozen=True)
class ReportSettings:
    timezone: str = "Asia/Shanghai"  # days and hours of the reports
    max_record_lag_s: float = 6 * 3600.0  # call length + spool replay delay read past `to`
    clock_slack_s: float = 60.0  # Redis' clock behind the server's, read before `from`
    targets: ReportTargets = field(default_factory=ReportTargets)


def parse_reports(top: Section) -> ReportSettings | None:
    """The optional ``reports:`` section; None when it is unusable (problems recorded)."""
    sec = top.sub("reports", REPORT_KEYS, required=False)
    d = ReportSettings()
    tz = sec.get("timezone", str, d.timezone)
    if tz is not None:
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            sec.error("timezone", f"unknown timezone '{tz}' (use an IANA name like Asia/Shanghai)")
            tz = None
    lag = sec.number("max_record_lag_s", float, d.max_record_lag_s, lo=0, hi=31 * 86400)
    slack = sec.number("clock_slack_s", float, d.clock_slack_s, lo=0, hi=86400)
    tsec = sec.sub("targets", (*_RATE_TARGETS, "aht_s"), required=False)
    dt = ReportTargets()
    rates = {k: tsec.number(k, float, getattr(dt, k), lo=0, hi=1) for k in _RATE_TARGETS}
    aht = tsec.number("aht_s", float, dt.aht_s, lo=1)
    if tz is None or lag is None or slack is None or aht is None or None in rates.values():
        return None
    return ReportSettings(tz, lag, slack, ReportTargets(**rates, aht_s=aht))
