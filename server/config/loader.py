"""load_config: a config directory -> one frozen Config, or ConfigError with every problem.

Files, one concern each: server.yaml, ivr.yaml, queues.yaml, agents.yaml, cases.yaml.
Top-level keys starting with ``x-`` are ignored so files can hold YAML
anchors (``x-office-hours: &office ...``) for reuse, as docker-compose does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cases.rules import CasesConfig
from ivr.model import IvrConfig
from queues.appraisal import AppraisalConfig
from queues.model import AcdConfig, Queue
from queues.selection import step_in_force

from .acd_parse import parse_agents, parse_policy, parse_queues
from .appraisal_parse import parse_appraisal
from .cases_parse import CASES_KEYS, parse_cases
from .ivr_parse import parse_ivr
from .problems import ConfigError, Problem, Problems
from .secrets import read_secret
from .section import Section
from .settings import ServerSettings, User, parse_server
from .yamlio import read_mapping

__all__ = ["FILES", "Config", "load_config"]

FILES = ("server.yaml", "ivr.yaml", "queues.yaml", "agents.yaml", "cases.yaml")
_TOP_KEYS = {
    "server.yaml": ("ami", "redis", "http", "metrics", "logging", "recordings", "records",
                    "reports"),
    "ivr.yaml": ("languages", "prompts", "entry", "agent", "menus", "input", "account",
                 "bill_lookup", "survey", "outage"),
    "queues.yaml": ("policy", "queues", "appraisal"),
    "agents.yaml": ("skills", "tiers", "agents", "users", "teams"),
    "cases.yaml": CASES_KEYS,
}


@dataclass(frozen=True)
class Config:
    directory: str
    server: ServerSettings
    ivr: IvrConfig
    acd: AcdConfig
    cases: CasesConfig  # service cases (工单): grades, limits, 催办, 回访
    users: tuple[User, ...]  # supervisors and reviewers (agents sign in with their PIN)
    warnings: tuple[Problem, ...]  # things that do not stop a load but an admin should see
    appraisal: AppraisalConfig = AppraisalConfig()  # 绩效: per-tier weights (queues.yaml)


class _Anything:
    """Stands in for a name list whose file could not be read, so references
    into it are not reported as unknown on top of the real problem."""

    def __contains__(self, item: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _names(data: dict[str, Any] | None, key: str) -> Any:
    if data is None:
        return _Anything()
    value = data.get(key)
    if isinstance(value, dict):
        return [str(k) for k in value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str)]
    return []


def load_config(path: str | os.PathLike[str],
                environ: Mapping[str, str] | None = None) -> Config:
    """Load and check every file under ``path``; raise ConfigError listing all problems.

    The AMI secret is *not* required here (see AmiSettings.secret): when it
    cannot be read from ``environ`` (default ``os.environ``) a warning is added.
    """
    base = Path(path)
    problems = Problems()
    data: dict[str, dict[str, Any] | None] = {}
    tops: dict[str, Section] = {}
    for name in FILES:
        shown = str(base / name)
        raw = read_mapping(base / name, shown, problems)
        data[name] = raw
        body = {k: v for k, v in (raw or {}).items() if not str(k).startswith("x-")}
        # An unreadable file has been reported once; parsing its empty stand-in would
        # only add "missing key" noise, so its parse reports into a throwaway collector.
        sink = problems if raw is not None else Problems()
        tops[name] = Section(sink, shown, "", body, _TOP_KEYS[name] if raw else None)

    skills, tiers, agents, users, teams = parse_agents(tops["agents.yaml"])
    policy = parse_policy(tops["queues.yaml"])
    skill_names = _names(data["agents.yaml"], "skills")
    tier_names = _names(data["agents.yaml"], "tiers")
    tz = policy.timezone if policy else "Asia/Shanghai"
    queues = parse_queues(tops["queues.yaml"], skill_names, tier_names, tz)
    queue_names = _names(data["queues.yaml"], "queues")
    ivr = parse_ivr(tops["ivr.yaml"], queue_names, skill_names, base)
    server = parse_server(tops["server.yaml"])
    # The appraisal's AHT target defaults to the reports' (server.yaml): one target.
    aht_target = server.reports.targets.aht_s if server is not None else 300.0
    appraisal = parse_appraisal(tops["queues.yaml"], tier_names, aht_target)
    codes = [c.code for c in policy.dispositions] if policy else _names(None, "")
    cases = parse_cases(tops["cases.yaml"], codes, skill_names, queue_names)

    if server is not None:
        server = _resolve_secret(server, base, tops["server.yaml"],
                                 os.environ if environ is None else environ)
    acd = None
    if policy is not None:
        acd = AcdConfig(MappingProxyType(skills), tiers, MappingProxyType(queues),
                        MappingProxyType(agents), policy, teams)
        _check_staffing(acd, tops["queues.yaml"])
        _check_overflow_floors(acd, tops["queues.yaml"])
        _check_max_wait_grace(acd, tops["queues.yaml"])
    if ivr is not None and acd is not None:
        _check_intents(ivr, acd, tops["ivr.yaml"])
    if ivr is not None:
        _check_engine_prompts(ivr, tops["ivr.yaml"])
    if problems.errors or server is None or ivr is None or acd is None or cases is None:
        # file order, then the order found within each file
        order = {str(base / name): i for i, name in enumerate(FILES)}
        errors = sorted(problems.errors, key=lambda p: order.get(p.file, len(FILES)))
        raise ConfigError(errors or [Problem(str(base), "", "configuration unusable")])
    return Config(str(base), server, ivr, acd, cases, users, tuple(problems.warnings),
                  appraisal)


def _resolve_secret(server: ServerSettings, base: Path, top: Section,
                    environ: Mapping[str, str]) -> ServerSettings:
    redis = server.redis
    if redis.password_file is not None and not Path(redis.password_file).is_absolute():
        redis = replace(redis, password_file=str(base / redis.password_file))
    if ((redis.password_env or redis.password_file)
            and read_secret(redis.password_env, redis.password_file, dict(environ)) is None):
        source = (f"environment variable {redis.password_env} is not set" if redis.password_env
                  else f"file {redis.password_file} is missing, empty or unreadable")
        top.warn("redis", f"{source}; the server will refuse to start until it is")
    server = replace(server, redis=redis)
    ami = server.ami
    if ami.secret_file is not None and not Path(ami.secret_file).is_absolute():
        ami = replace(ami, secret_file=str(base / ami.secret_file))
    if read_secret(ami.secret_env, ami.secret_file, dict(environ)) is None:
        source = (f"environment variable {ami.secret_env} is not set" if ami.secret_env
                  else f"file {ami.secret_file} is missing, empty or unreadable")
        top.warn("ami", f"{source}; the server will refuse to start until it is")
    return replace(server, ami=ami)


def _check_staffing(acd: AcdConfig, top: Section) -> None:
    """Warn about queues no configured agent could ever answer."""
    for q in acd.queues.values():
        floor = acd.tier_rank(q.min_tier) if q.min_tier in {t.name for t in acd.tiers} else 0
        if not any(all(a.skills.get(r.skill, 0) >= r.min_level for r in q.skills)
                   and acd.tier_rank(a.tier) >= floor for a in acd.agents.values()):
            top.warn(f"queues.{q.name}", "no agent has the skills and tier this queue needs")


def _check_overflow_floors(acd: AcdConfig, top: Section) -> None:
    """Refuse an overflow step no configured agent may answer.

    A caller's tier floor travels with them through overflow (the stricter of every
    queue they passed), so an overflow into a queue where no agent at that floor has
    the skills (at the lowest level that queue ever accepts) takes the caller away
    from the only agents allowed to answer them: they, and a callback they take
    (which has no maximum wait), could only wait.  The queues contradict the agents,
    like an unknown overflow target, so it is an error, not a warning.
    """
    def answerable(q: Queue, floor: str | None) -> bool:
        levels = step_in_force(q, float("inf")).levels
        rank = acd.tier_rank(floor) if floor else -1
        return any(acd.tier_rank(a.tier) >= rank
                   and all(a.skills.get(s, 0) >= lvl for s, lvl in levels)
                   for a in acd.agents.values())

    reported: set[str] = set()

    def walk(q: Queue, floor: str | None, seen: tuple[str, ...]) -> None:
        for i, step in enumerate(q.escalation):
            target = acd.queues.get(step.overflow_to or "")
            if target is None or target.name in seen:
                continue
            to_floor = acd.stricter_tier(floor, target.min_tier)
            where = f"queues.{q.name}.escalation[{i}].overflow_to"
            if answerable(target, to_floor):
                walk(target, to_floor, (*seen, target.name))
            elif to_floor != target.min_tier and where not in reported:
                # (a target nobody could answer even at its own floor: _check_staffing)
                reported.add(where)
                top.error(where, f"no agent of tier {to_floor} or above has the skills of "
                          f"queue '{target.name}': a caller overflowed there along "
                          f"{' -> '.join((*seen, target.name))} keeps the tier floor "
                          f"{to_floor}, so nobody there could answer them (give such an "
                          "agent those skills, or remove the step)")

    tiers = {t.name for t in acd.tiers}
    for q in acd.queues.values():
        if q.min_tier is None or q.min_tier in tiers:
            walk(q, q.min_tier, (q.name,))


def _check_max_wait_grace(acd: AcdConfig, top: Section) -> None:
    """The keep-place callback is offered at the first announcement after max_wait_s:
    a grace shorter than the music chunk between announcements may end first."""
    grace = acd.policy.max_wait_grace_s
    short = [q.name for q in acd.queues.values() if 0 < grace < q.announce_interval_s]
    if short:
        top.warn("policy.max_wait_grace_s", f"{grace} s is shorter than the "
                 f"announce_interval_s of {', '.join(short)}: the goodbye may come before "
                 "the callback offer at the maximum wait")


def _check_engine_prompts(ivr: IvrConfig, top: Section) -> None:
    """The engine and the waiting loop play fixed prompt names: each must be configured."""
    from ivr.engine import EnginePrompts
    from ivr.hold import HoldPrompts

    needed = dict.fromkeys((*EnginePrompts().names(), *HoldPrompts().names()))
    for name in needed:
        if name not in ivr.prompts:
            top.error(f"prompts.{name}", "missing: the IVR plays this prompt "
                      "(add zh/en texts so deploy/prompts/synthesize.py can make it)")


def _check_intents(ivr: IvrConfig, acd: AcdConfig, top: Section) -> None:
    """Warn when a leaf's intent is not a skill its queue asks for: likely a typo'd route."""
    for menu in ivr.menus.values():
        for opt in menu.options.values():
            leaf = opt.leaf
            if leaf is None:  # a sub-menu, checked as its own menu
                continue
            queue = acd.queues.get(leaf.queue)
            if queue and leaf.intent not in {r.skill for r in queue.skills}:
                top.warn(f"menus.{menu.name}.options.{opt.key}.intent",
                         f"skill '{leaf.intent}' is not required by queue '{queue.name}'")
