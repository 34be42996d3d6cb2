"""Compact builders for AcdConfig values, for the routing benchmark and the tests.

Production configs come from ``server.config``; these only save typing.  They
lived in ``queues/sample.py`` until the package kept only what it ships.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from queues.model import (
    WEEKDAYS,
    AcdConfig,
    AcdPolicy,
    Agent,
    BusinessHours,
    Code,
    EscalationStep,
    Queue,
    ServiceLevel,
    SkillRequirement,
    Strategy,
    Tier,
    TimeRange,
)

__all__ = ["TIERS", "make_agent", "make_config", "make_policy", "make_queue"]

TZ = "Asia/Shanghai"
TIERS = (Tier("trainee", 0), Tier("agent", 1), Tier("senior", 2), Tier("lead", 3))
_ALWAYS = BusinessHours(TZ, {d: (TimeRange(dt.time(0), dt.time(0)),) for d in WEEKDAYS})


def make_policy(
    wrapup_s: int = 30, misses: int = 2, short_abandon_s: int = 5, quiet: str = "21:00-08:00"
) -> AcdPolicy:
    a, b = (dt.time.fromisoformat(x) for x in quiet.split("-"))
    reasons = tuple(Code(c, c) for c in ("break", "meal", "training", "meeting"))
    return AcdPolicy(wrapup_s, misses, short_abandon_s, TimeRange(a, b), TZ, reasons, ())


def make_queue(
    name: str,
    skills: Mapping[str, int] | None = None,
    *,
    priority: int = 1,
    strategy: Strategy = Strategy.LONGEST_IDLE,
    escalation: Iterable[EscalationStep] = (),
    min_tier: str | None = None,
    max_wait_s: int = 3600,
    sl: tuple[float, int] = (0.8, 20),
    callback_offer_after_s: int | None = None,
) -> Queue:
    skills = {name: 1} if skills is None else skills
    return Queue(
        name=name,
        skills=tuple(SkillRequirement(s, lvl) for s, lvl in skills.items()),
        priority=priority,
        service_level=ServiceLevel(*sl),
        max_wait_s=max_wait_s,
        hours=_ALWAYS,
        escalation=tuple(escalation),
        announce_interval_s=30,
        strategy=strategy,
        min_tier=min_tier,
        callback_offer_after_s=callback_offer_after_s,
    )


def make_agent(agent_id: str, skills: Mapping[str, int], tier: str = "agent") -> Agent:
    return Agent(agent_id, agent_id, "", f"PJSIP/{agent_id}", dict(skills), tier, 1)


def make_config(
    queues: Iterable[Queue], agents: Iterable[Agent], policy: AcdPolicy | None = None
) -> AcdConfig:
    qs = {q.name: q for q in queues}
    ags = {a.id: a for a in agents}
    skills: dict[str, str] = {}
    for a in ags.values():
        skills.update({s: s for s in a.skills})
    return AcdConfig(skills, TIERS, qs, ags, policy or make_policy())
