"""Period reports and the KPIs a 95598 centre is judged by (issue 15).

- ``kpi``: every figure's definition, from tallies fed record by record (pure);
- ``build``: grouping (centre, queue, tier, team, agent, day, hour) into the report dict (pure);
- ``reader``: the period's records and cases from Redis, in bounded memory (the edge);
- ``cli``/``api``: ``python -m server report`` and ``GET /api/reports``;
- ``html``/``svg``: the printable page (helper html).
"""

from __future__ import annotations

from typing import Any

from .build import Directory, ReportBuilder
from .kpi import Policy

__all__ = ["HEADLINE", "builder_for", "headline"]

# The centre-wide figures a summary shows (the demo's --summary, the wallboard).
HEADLINE = ("offered", "answered", "abandoned", "connection_rate", "service_level",
            "abandon_rate", "asa_s", "aht_s", "satisfaction_rate", "repeat_contact_rate")


def builder_for(cfg: Any, start: float, end: float, by: str = "centre") -> ReportBuilder:
    """A ReportBuilder from a loaded ``server.config.Config``: the policy of queues.yaml
    (short abandons, each queue's T), cases.yaml (repeat window, limits), agents.yaml
    (tiers, teams) and server.yaml ``reports:`` (timezone, targets)."""
    rs = cfg.server.reports
    policy = Policy(short_abandon_s=cfg.acd.policy.short_abandon_s,
                    threshold_s={n: q.service_level.threshold_s
                                 for n, q in cfg.acd.queues.items()},
                    repeat_contact_days=cfg.cases.repeat_contact_days)
    return ReportBuilder(start=start, end=end, by=by, policy=policy,
                         directory=Directory.from_acd(cfg.acd), timezone=rs.timezone,
                         targets=rs.targets, cases_rules=cfg.cases)


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The period, the HEADLINE figures of the total, and the case figures."""
    cases = {k: v for k, v in report["cases"].items() if k != "by_grade"}
    return {"from": report["from"], "to": report["to"], "records": report["records"],
            **{k: report["total"][k] for k in HEADLINE}, "cases": cases}
