"""agents.yaml and queues.yaml -> queues.model values (and desk users).

Agents are parsed first because queues name their skills and tiers.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Literal

from queues.model import (
    WEEKDAYS,
    AcdPolicy,
    Agent,
    BusinessHours,
    Code,
    EscalationStep,
    Queue,
    ServiceLevel,
    SkillRequirement,
    Strategy,
    Team,
    Tier,
    TimeRange,
)

from .secrets import is_hash
from .section import Section, describe, parse_time, suggest
from .settings import User

__all__ = ["parse_agents", "parse_policy", "parse_queues"]

# A supervisor's phone: a SIP/IAX device, never a Local channel into the dialplan
# (that would dial out, e.g. Local/00861...@outbound) and nothing with options.
SUPERVISOR_DEVICE = re.compile(r"^(PJSIP|SIP|IAX2)/[A-Za-z0-9_.-]{1,64}$")
_HASH_HINT = "expected a hash like pbkdf2_sha256$600000$<salt>$<hash> (see hash_secret)"


def _known(sec: Section, key: str, value: object, kind: str, known: Collection[str]) -> bool:
    if value is None or value in known:
        return value is not None
    sec.error(key, f"unknown {kind} '{value}'{suggest(str(value), known)} "
                   f"(known: {', '.join(known)})")
    return False


def _levels(sec: Section, key: str, skills: Collection[str]) -> dict[str, int]:
    levels: dict[str, int] = {}
    for name, level in sec.items(key):
        path = f"{key}.{name}"
        if not _known(sec, path, name, "skill", skills):
            continue
        if isinstance(level, bool) or not isinstance(level, int):
            sec.error(path, f"expected a skill level 1-5, got {describe(level)}")
        elif not 1 <= level <= 5:
            sec.error(path, f"skill level {level} is out of range 1-5")
        else:
            levels[name] = level
    return levels


def parse_agents(top: Section) -> tuple[dict[str, str], tuple[Tier, ...], dict[str, Agent],
                                        tuple[User, ...], tuple[Team, ...]]:
    skills = {name: str(desc) for name, desc in top.items("skills")}
    raw_tiers = top.get("tiers", list) or []
    tiers = tuple(Tier(str(name), i) for i, name in enumerate(raw_tiers))
    tier_names = [t.name for t in tiers]
    if len(set(tier_names)) != len(tier_names):
        top.error("tiers", "a tier is listed twice")
    agents: dict[str, Agent] = {}
    devices: dict[str, str] = {}
    keys = ("id", "name", "pin_hash", "interface", "skills", "tier", "capacity")
    for _, sec in top.entries("agents", keys):
        aid = sec.get("id", str)
        iface = sec.get("interface", str)
        pin = sec.get("pin_hash", str)
        if pin is not None and not is_hash(pin):
            sec.error("pin_hash", f"not a valid hash; {_HASH_HINT}")
        tier = sec.get("tier", str)
        _known(sec, "tier", tier, "tier", tier_names)
        if iface is not None and "/" not in iface:
            sec.error("interface", f"'{iface}' is not a device interface like PJSIP/1001")
        if aid is not None and aid in agents:
            sec.error("id", f"duplicate agent id '{aid}'")
            aid = None
        if iface is not None and iface in devices:
            sec.error("interface", f"device {iface} is already used by agent {devices[iface]}")
        elif iface is not None and aid is not None:
            devices[iface] = aid
        values = (aid, sec.get("name", str), pin, iface,
                  MappingProxyType(_levels(sec, "skills", skills)), tier,
                  sec.number("capacity", int, 1, lo=1, hi=10))
        if None not in values and tier in tier_names:
            agents[aid] = Agent(*values)
    users: list[User] = []
    for _, sec in top.entries("users", ("name", "role", "password_hash", "device"),
                              required=False):
        name, pw = sec.get("name", str), sec.get("password_hash", str)
        role = sec.choice("role", ("supervisor", "reviewer"))
        if pw is not None and not is_hash(pw):
            sec.error("password_hash", f"not a valid hash; {_HASH_HINT}")
        device = _user_device(sec, role, users, devices)
        if name in {u.name for u in users}:
            sec.error("name", f"duplicate user '{name}'")
        elif None not in (name, role, pw) and device is not False:
            users.append(User(name, role, pw, device))
    return skills, tiers, agents, tuple(users), _teams(top, agents)


def _teams(top: Section, agents: Mapping[str, Agent]) -> tuple[Team, ...]:
    """``teams``: optional; each with a lead and members who are agents, an agent in
    one team at most (a report's team figures must add up to the centre's)."""
    teams: list[Team] = []
    team_of: dict[str, str] = {}
    for _, sec in top.entries("teams", ("id", "name", "lead", "members"), required=False):
        tid, name, lead = sec.get("id", str), sec.get("name", str), sec.get("lead", str)
        members = [str(m) for m in (sec.get("members", list) or [])]
        if tid is not None and tid in {t.id for t in teams}:
            sec.error("id", f"duplicate team id '{tid}'")
            tid = None
        if lead is not None and lead not in agents:
            sec.error("lead", f"unknown agent '{lead}'; the lead is an agent id")
        if not members:
            sec.error("members", "a team needs at least one member (agent ids)")
        for member in members:
            if member not in agents:
                sec.error("members", f"unknown agent '{member}'")
            elif member in team_of and tid is not None:
                sec.error("members", f"agent {member} is already in team '{team_of[member]}'")
            elif tid is not None:
                team_of[member] = tid
        if lead is not None and members and lead not in members:
            sec.error("lead", f"the lead {lead} must be one of the team's members")
        if None not in (tid, name, lead) and members:
            teams.append(Team(tid, name, lead, tuple(members)))
    return tuple(teams)


def _user_device(sec: Section, role: str | None, users: list[User],
                 agent_devices: dict[str, str]) -> str | None | Literal[False]:
    """The user's ``device`` (None when absent); False when it is unusable (reported)."""
    device = sec.get("device", str, "")
    if device is None:
        return False
    if not device:
        return None
    if role != "supervisor":
        sec.error("device", "only supervisors have a device (it is rung to listen, "
                            "whisper or barge)")
        return False
    if not SUPERVISOR_DEVICE.match(device):
        sec.error("device", f"'{device}' is not a phone like PJSIP/2001 (PJSIP, SIP or IAX2 "
                            "and a name; no Local channels, no dial strings)")
        return False
    other = next((u.name for u in users if u.device == device), None)
    if other is not None:
        sec.error("device", f"device {device} is already the phone of user {other}")
        return False
    if device in agent_devices:
        sec.warn("device", f"{device} is agent {agent_devices[device]}'s phone: right for a "
                           "team lead who supervises from their own desk, otherwise a mistake")
    return device


def _timezone(sec: Section, key: str, default: str | None = None) -> str | None:
    name = sec.get(key, str, default) if default else sec.get(key, str)
    if name is None:
        return None
    try:
        zoneinfo.ZoneInfo(name)
        return name
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        sec.error(key, f"unknown timezone '{name}' (use an IANA name like Asia/Shanghai)")
        return None


def _range(sec: Section, key: str, raw: object) -> TimeRange | None:
    parts = raw.split("-") if isinstance(raw, str) else []
    times = [parse_time(p.strip()) for p in parts]
    start, end = times if len(times) == 2 else (None, None)
    if start is None or end is None:
        sec.error(key, f'bad time range {raw!r}: expected "HH:MM-HH:MM" '
                       '("00:00-00:00" is the whole day)')
        return None
    return TimeRange(start, end)


def _hours(sec: Section, tz_default: str) -> BusinessHours | None:
    tz = _timezone(sec, "timezone", tz_default)
    weekly: dict[str, tuple[TimeRange, ...]] = {}
    for day in WEEKDAYS:
        ranges = sec.get(day, list, [])
        weekly[day] = tuple(r for i, raw in enumerate(ranges or [])
                            if (r := _range(sec, f"{day}[{i}]", raw)))
    holidays: list[dt.date] = []
    for i, raw in enumerate(sec.get("holidays", list, [])):
        try:
            holidays.append(raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw)))
        except ValueError:
            sec.error(f"holidays[{i}]", f"bad date {raw!r}: expected YYYY-MM-DD")
    return None if tz is None else BusinessHours(tz, MappingProxyType(weekly), tuple(holidays))


def _escalation(sec: Section, queue: str, queues: Collection[str]) -> tuple[EscalationStep, ...]:
    steps: list[EscalationStep] = []
    keys = ("after_s", "min_level", "any_level", "overflow_to")
    for _, step in sec.entries("escalation", keys, required=False):
        after = step.number("after_s", int, lo=1)
        level = step.number("min_level", int, None, lo=1, hi=5)
        any_level = step.get("any_level", bool, False)
        target = step.get("overflow_to", str, None)
        if sum((level is not None, any_level, target is not None)) != 1:
            step.error("", "set exactly one of min_level, any_level: true, overflow_to")
            continue
        if target == queue:
            step.error("overflow_to", "a queue cannot overflow to itself")
        elif target is not None:
            _known(step, "overflow_to", target, "queue", queues)
        if after is not None and steps and after <= steps[-1].after_s:
            step.error("after_s", f"{after} s is not after the previous step "
                                  f"({steps[-1].after_s} s); steps must increase in time")
        if after is not None:
            steps.append(EscalationStep(after, level, any_level, target))
    return tuple(steps)


def parse_queues(top: Section, skills: Collection[str], tiers: Collection[str],
                 tz_default: str) -> dict[str, Queue]:
    raw = top.data.get("queues")
    names = [str(n) for n in raw] if isinstance(raw, dict) else []
    queues: dict[str, Queue] = {}
    keys = ("skills", "priority", "service_level", "max_wait_s", "hours", "escalation",
            "announce_interval_s", "strategy", "min_tier", "callback_offer_after_s",
            "closed_queue")
    for name, value in top.items("queues"):
        sec = top.child(f"queues.{name}", value, keys)
        if sec is None:
            continue
        reqs = tuple(SkillRequirement(s, lv) for s, lv in _levels(sec, "skills", skills).items())
        if not reqs and sec.data.get("skills") is not None:
            sec.error("skills", "a queue needs at least one skill")
        sl = sec.sub("service_level", ("target", "within_s"))
        hours_sec = sec.sub("hours", ("timezone", *WEEKDAYS, "holidays"))
        min_tier = sec.get("min_tier", str, None)
        _known(sec, "min_tier", min_tier, "tier", tiers)
        closed = sec.get("closed_queue", str, None)
        _known(sec, "closed_queue", closed, "queue", names)
        strategy = sec.choice("strategy", [s.value for s in Strategy])
        priority = sec.number("priority", int, lo=0, hi=100)
        level = (ServiceLevel(sl.number("target", float, lo=0, hi=1),
                              sl.number("within_s", int, lo=1)) if sl is not None else None)
        max_wait = sec.number("max_wait_s", int, lo=1)
        hours = _hours(hours_sec, tz_default) if hours_sec is not None else None
        escalation = _escalation(sec, name, names)
        announce = sec.number("announce_interval_s", int, 60, lo=10)
        callback = sec.number("callback_offer_after_s", int, None, lo=0)
        for i, step in enumerate(escalation):
            if step.min_level is not None and reqs and step.min_level >= min(
                    r.min_level for r in reqs):
                sec.warn(f"escalation[{i}].min_level", f"level {step.min_level} does not widen "
                         "the search: the queue already accepts that level")
        if (priority is not None and level is not None and max_wait is not None
                and hours is not None and announce is not None and strategy is not None and reqs):
            queues[name] = Queue(name, reqs, priority, level, max_wait, hours, escalation,
                                 announce, Strategy(strategy), min_tier, callback, closed)
    return queues


def parse_policy(top: Section) -> AcdPolicy | None:
    sec = top.sub("policy", ("timezone", "wrapup_default_s", "missed_calls_before_pause",
                             "short_abandon_s", "quiet_hours", "pause_reasons", "dispositions",
                             "pause_limits_s", "case_owner_first_s", "max_wait_grace_s"))
    if sec is None:
        return None
    quiet = sec.sub("quiet_hours", ("start", "end"))
    start, end = (quiet.time("start"), quiet.time("end")) if quiet else (None, None)
    codes = {}
    for key in ("pause_reasons", "dispositions"):
        codes[key] = tuple(Code(str(c), str(label)) for c, label in sec.items(key))
        if not codes[key] and key in sec.data:
            sec.error(key, "needs at least one code")
    pause_codes = {c.code for c in codes["pause_reasons"]}
    limits: dict[str, int] = {}
    for c, v in sec.items("pause_limits_s", required=False):
        if isinstance(v, bool) or not isinstance(v, int) or not 60 <= v <= 86400:
            sec.error(f"pause_limits_s.{c}", "must be whole seconds between 60 and 86400")
        elif c not in pause_codes:
            sec.error(f"pause_limits_s.{c}", f"no pause reason {c!r} in pause_reasons")
        else:
            limits[c] = v
    wrap = sec.number("wrapup_default_s", int, 30, lo=0, hi=600)
    missed = sec.number("missed_calls_before_pause", int, 2, lo=1)
    short = sec.number("short_abandon_s", int, 5, lo=0, hi=60)
    tz = _timezone(sec, "timezone", "Asia/Shanghai")
    # A short turn for the case owner: the caller must not wait long for one person.
    owner_first = sec.number("case_owner_first_s", int, 0, lo=0, hi=120)
    grace = sec.number("max_wait_grace_s", int, 0, lo=0, hi=3600)
    if (wrap is None or missed is None or short is None or start is None or end is None
            or tz is None or owner_first is None or grace is None):
        return None
    quiet_range = TimeRange(start, end)
    return AcdPolicy(wrap, missed, short, quiet_range, tz, codes["pause_reasons"],
                     codes["dispositions"], MappingProxyType(limits), owner_first, grace)
