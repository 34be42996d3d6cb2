"""Value types for the ACD: skills, tiers, queues, agents and centre policy.

Frozen dataclasses built by ``server.config`` and read by the router.  Times
of day are ``datetime.time`` in the queue's own timezone; durations are
seconds.  No behaviour lives here beyond tiny pure helpers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "WEEKDAYS",
    "AcdConfig",
    "AcdPolicy",
    "Agent",
    "BusinessHours",
    "Code",
    "EscalationStep",
    "Queue",
    "ServiceLevel",
    "SkillRequirement",
    "Strategy",
    "Tier",
    "TimeRange",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index == date.weekday()


class Strategy(StrEnum):
    LONGEST_IDLE = "longest-idle"
    LEAST_OCCUPIED = "least-occupied"
    ROUND_ROBIN = "round-robin"
    SKILL_LEVEL_FIRST = "skill-level-first"


@dataclass(frozen=True)
class Tier:
    name: str
    rank: int  # 0 = most junior; order comes from the list order in agents.yaml


@dataclass(frozen=True)
class Team:
    """A team (班组) under a lead; teams mix tiers.  Reports and appraisal group by it."""

    id: str
    name: str
    lead: str  # an agent id (usually of the team_lead tier)
    members: tuple[str, ...]  # agent ids, the lead included; an agent is in one team


@dataclass(frozen=True)
class SkillRequirement:
    skill: str
    min_level: int  # 1-5


@dataclass(frozen=True)
class ServiceLevel:
    target: float  # fraction, e.g. 0.8
    threshold_s: int  # answered within this many seconds


@dataclass(frozen=True)
class TimeRange:
    """[start, end) in local time; end <= start means the range crosses midnight."""

    start: dt.time
    end: dt.time

    def contains(self, t: dt.time) -> bool:
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


@dataclass(frozen=True)
class BusinessHours:
    timezone: str  # IANA name, e.g. "Asia/Shanghai"
    weekly: Mapping[str, tuple[TimeRange, ...]]  # WEEKDAYS key -> open ranges; empty = closed
    holidays: tuple[dt.date, ...] = ()  # closed all day


@dataclass(frozen=True)
class EscalationStep:
    """After ``after_s`` of waiting, widen the search.

    Exactly one of: ``min_level`` (accept agents at or above this skill level),
    ``any_level`` (any agent with the skill), ``overflow_to`` (another queue).
    """

    after_s: int
    min_level: int | None = None
    any_level: bool = False
    overflow_to: str | None = None


@dataclass(frozen=True)
class Queue:
    name: str
    skills: tuple[SkillRequirement, ...]
    priority: int
    service_level: ServiceLevel
    max_wait_s: int
    hours: BusinessHours
    escalation: tuple[EscalationStep, ...]  # strictly increasing after_s
    announce_interval_s: int
    strategy: Strategy
    min_tier: str | None = None
    callback_offer_after_s: int | None = None  # None: never offer a callback
    closed_queue: str | None = None  # where calls go out of hours; None: closed message


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    pin_hash: str  # see server.config.secrets for the format
    interface: str  # e.g. "PJSIP/1001"
    skills: Mapping[str, int]  # skill -> level 1-5
    tier: str
    capacity: int  # simultaneous interactions


@dataclass(frozen=True)
class Code:
    """A pause reason or wrap-up disposition: stable code plus a label for people."""

    code: str
    label: str


@dataclass(frozen=True)
class AcdPolicy:
    wrapup_default_s: int
    missed_calls_before_pause: int
    short_abandon_s: int  # abandons quicker than this leave the SL denominator
    quiet_hours: TimeRange  # no callbacks or follow-ups (DL/T 2046: none at night)
    timezone: str
    pause_reasons: tuple[Code, ...]
    dispositions: tuple[Code, ...]
    # pause code -> seconds after which the desk and the wallboard raise an alarm
    pause_limits_s: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    # A caller with an open case waits this long for its owner (logged in, not paused)
    # before the queue's own rule applies; 0: no preference.
    case_owner_first_s: int = 0
    # A caller who reaches a queue's max_wait_s is offered a callback that keeps their
    # place, and keeps waiting this much longer if they decline; 0: the goodbye at once.
    max_wait_grace_s: int = 0


@dataclass(frozen=True)
class AcdConfig:
    skills: Mapping[str, str]  # name -> description
    tiers: tuple[Tier, ...]  # junior first
    queues: Mapping[str, Queue]
    agents: Mapping[str, Agent]
    policy: AcdPolicy
    teams: tuple[Team, ...] = ()

    def team_of(self, agent_id: str) -> Team | None:
        """The agent's team, or None (an agent outside every team)."""
        return next((t for t in self.teams if agent_id in t.members), None)

    def tier_rank(self, name: str) -> int:
        return next(t.rank for t in self.tiers if t.name == name)

    def stricter_tier(self, a: str | None, b: str | None) -> str | None:
        """The higher of two tier floors (None: no floor)."""
        if a is None or b is None:
            return a if b is None else b
        return a if self.tier_rank(a) >= self.tier_rank(b) else b
