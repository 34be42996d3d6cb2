"""Grouping: records and cases fed one at a time into tallies, then the report dict
(the JSON shape of docs/reports.md, shared with the HTML page and the wallboard).

Pure: no I/O, no clock (``generated_at``/``now`` are given). Memory is one tally per
group value and per hour of the period, plus the repeat-contact window: it does not
grow with the number of records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from cases.model import Case
from cases.rules import CasesConfig
from server.config.reports_parse import ReportTargets
from server.records.model import CallRecord

from .kpi import (
    CallFacts,
    CaseTally,
    Policy,
    RepeatWindow,
    Tally,
    call_facts,
    case_tally,
    figures,
)

__all__ = ["BY", "NO_AGENT", "NO_QUEUE", "NO_TEAM", "Directory", "ReportBuilder",
           "Targets", "local_day", "local_hour"]

BY = ("centre", "queue", "tier", "team", "agent", "day", "hour")
NO_AGENT = "(no agent)"  # a call no agent answered (tier, team, agent groupings)
NO_TEAM = "(no team)"  # an agent outside every team
NO_QUEUE = "(no queue)"  # a call that never reached an agents' queue (IVR only, outbound)
_PERSON = ("tier", "team", "agent")


@dataclass(frozen=True)
class Directory:
    """Who is who, from agents.yaml: tier and team per agent, team names and leads."""

    tier_of: Mapping[str, str] = field(default_factory=dict)
    team_of: Mapping[str, str] = field(default_factory=dict)  # agent -> team id
    teams: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # id -> (name, lead)
    agent_names: Mapping[str, str] = field(default_factory=dict)
    queue_labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_acd(cls, acd: Any) -> Directory:
        """From a ``queues.model.AcdConfig`` (``cfg.acd``)."""
        return cls(
            tier_of={a.id: a.tier for a in acd.agents.values()},
            team_of={m: t.id for t in acd.teams for m in t.members},
            teams={t.id: (t.name, t.lead) for t in acd.teams},
            agent_names={a.id: a.name for a in acd.agents.values()},
        )


# The targets are server.yaml's reports.targets, one dataclass for the config and
# the reports (its defaults are the 95598 ones).
Targets = ReportTargets


def local_hour(t: float, tz: ZoneInfo) -> tuple[float, str]:
    """(start of the local hour holding ``t`` as epoch seconds, "YYYY-MM-DD HH:00")."""
    local = dt.datetime.fromtimestamp(t, tz).replace(minute=0, second=0, microsecond=0)
    return local.timestamp(), local.strftime("%Y-%m-%d %H:00")


def local_day(t: float, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d")


class ReportBuilder:
    """Feed final records (:meth:`add_record`) and cases (:meth:`add_case`) of one
    period, then :meth:`report`. ``by`` is one of :data:`BY`."""

    def __init__(self, *, start: float, end: float, by: str, policy: Policy,
                 directory: Directory, timezone: str, targets: Targets,
                 cases_rules: CasesConfig | None = None) -> None:
        if by not in BY:
            raise ValueError(f"unknown grouping '{by}' (known: {', '.join(BY)})")
        self.start, self.end, self.by = start, end, by
        self.policy, self.directory, self.targets = policy, directory, targets
        self.timezone, self._tz = timezone, ZoneInfo(timezone)
        self.cases_rules = cases_rules
        self.repeats = RepeatWindow(policy.repeat_contact_days)
        self.total = Tally()
        self.groups: dict[str, Tally] = {}
        self.tiers: dict[str, Tally] = {}
        self.teams: dict[str, Tally] = {}
        self.hours: dict[float, Tally] = {}
        self.hour_labels: dict[float, str] = {}
        self.cases = CaseTally()
        self.case_types: dict[str, int] = {}
        self.case_grades: dict[tuple[str, str], CaseTally] = {}
        self.records = 0

    # --- feeding -------------------------------------------------------------------
    def add_record(self, record: CallRecord) -> None:
        """Count one final record (the caller filters by period; see reader.py)."""
        self.add_facts(call_facts(record))

    def add_facts(self, f: CallFacts) -> None:
        self.records += 1
        repeat = self.repeats.seen(f.caller, f.intent, f.arrived) if f.inbound else None
        hour_start, hour_label = local_hour(f.arrived, self._tz)
        self.hour_labels[hour_start] = hour_label
        keyed = [(self.total, None), (self._tally(self.hours, hour_start), None),
                 (self._tally(self.tiers, self._key("tier", f, hour_label)), "tier"),
                 (self._tally(self.teams, self._key("team", f, hour_label)), "team"),
                 (self._tally(self.groups, self._key(self.by, f, hour_label)), self.by)]
        for tally, by in keyed:
            tally.add_call(f, self.policy, repeat)
            if by in _PERSON:
                continue  # offers go to the offered agent's group below
            tally.add_offers(len(f.offers), sum(missed for _, missed in f.offers))
        for agent, missed in f.offers:
            for groups, by in ((self.tiers, "tier"), (self.teams, "team"),
                               (self.groups, self.by)):
                if by in _PERSON:
                    self._tally(groups, self._person(by, agent)).add_offers(1, missed)

    def add_agent_time(self, agent: str, ready_idle_s: float) -> None:
        """Ready idle seconds of ``agent`` in the period (from the agent-state log)."""
        self.total.add_agent_time(ready_idle_s)
        for groups, by in ((self.tiers, "tier"), (self.teams, "team"), (self.groups, self.by)):
            if by in _PERSON:
                self._tally(groups, self._person(by, agent)).add_agent_time(ready_idle_s)
            elif by == "centre":
                self._tally(groups, "centre").add_agent_time(ready_idle_s)

    def add_case(self, case: Case, now: float) -> None:
        """Count one case created in the period, as it stands at ``now``."""
        if self.cases_rules is None:
            raise ValueError("add_case needs the cases rules (cases.yaml)")
        t = case_tally(case, self.cases_rules, now)
        self.cases.add(t)
        kind = case.type.value
        self.case_types[kind] = self.case_types.get(kind, 0) + 1
        row = (kind, case.grade or "-")  # the grade it has now (escalation may raise it)
        self.case_grades.setdefault(row, CaseTally()).add(t)

    # --- keys ------------------------------------------------------------------------
    @staticmethod
    def _tally(groups: dict[Any, Tally], key: Any) -> Tally:
        t = groups.get(key)
        if t is None:
            t = groups[key] = Tally()
        return t

    def _person(self, by: str, agent: str | None, tier: str | None = None) -> str:
        if agent is None:
            return NO_AGENT
        if by == "agent":
            return agent
        if by == "tier":
            return tier or self.directory.tier_of.get(agent) or "(unknown tier)"
        return self.directory.team_of.get(agent, NO_TEAM)

    def _key(self, by: str, f: CallFacts, hour_label: str) -> str:
        if by == "centre":
            return "centre"
        if by == "queue":
            return f.queue or NO_QUEUE
        if by == "day":
            return hour_label[:10]
        if by == "hour":
            return hour_label
        return self._person(by, f.agent, f.tier)

    # --- output ----------------------------------------------------------------------
    def _label(self, by: str, key: str) -> str:
        if by == "team" and key in self.directory.teams:
            return self.directory.teams[key][0]
        if by == "agent":
            return self.directory.agent_names.get(key, key)
        if by == "queue":
            return self.directory.queue_labels.get(key, key)
        return key

    def _rows(self, groups: dict[str, Tally], by: str,
              comparison: bool = False) -> list[dict[str, Any]]:
        """One row per key, sorted. ``comparison`` (the always-present tier and team
        lists): agents only, without the calls no agent answered; no teams configured,
        no rows."""
        if comparison and by == "team" and not self.directory.teams:
            return []
        rows = []
        for key in sorted(groups):
            if comparison and key == NO_AGENT:
                continue
            row: dict[str, Any] = {"key": key, "label": self._label(by, key)}
            if by == "team":
                row["lead"] = self.directory.teams.get(key, ("", None))[1]
            rows.append({**row, **figures(groups[key])})
        return rows

    def _hourly(self) -> list[dict[str, Any]]:
        """Every local hour of the period (empty ones too, for the chart), in order."""
        out = []
        start, label = local_hour(self.start, self._tz)
        while start < self.end:
            t = self.hours.get(start, Tally())
            c = t.calls
            out.append({"start": start, "label": label, "offered": c.offered,
                        "answered": c.answered, "service_level": c.service_level(),
                        "abandoned": c.abandoned})
            start, label = local_hour(start + 3600, self._tz)
        return out

    def _local(self, t: float) -> str:
        return dt.datetime.fromtimestamp(t, self._tz).isoformat()

    def report(self, generated_at: float) -> dict[str, Any]:
        """The report dict (report-shape.md); JSON-safe."""
        ratings = self.total.ratings
        grades = [{"type": k[0], "grade": k[1], **{n: v for n, v in t.figures().items()
                   if n in ("opened", "closed", "on_time_closure_rate", "overdue")}}
                  for k, t in sorted(self.case_grades.items())]
        return {
            "from": self.start, "to": self.end,
            "from_local": self._local(self.start), "to_local": self._local(self.end),
            "timezone": self.timezone, "by": self.by, "generated_at": generated_at,
            "targets": dict(vars(self.targets)),
            "total": figures(self.total),
            "groups": self._rows(self.groups, self.by),
            "hourly": self._hourly(),
            "tiers": self._rows(self.tiers, "tier", comparison=True),
            "teams": self._rows(self.teams, "team", comparison=True),
            "satisfaction": {
                "satisfied": ratings.get("satisfied", 0),
                "fairly_satisfied": ratings.get("fairly_satisfied", 0),
                "dissatisfied": ratings.get("dissatisfied", 0),
                "no_answer": self.total.surveyed - self.total.rated,
                "reasons": dict(sorted(self.total.reasons.items()))},
            "cases": {**self.cases.figures(), "by_type": dict(sorted(self.case_types.items())),
                      "by_grade": grades},
            "records": self.records,
        }
