"""cases.yaml -> cases.rules values: grades, limits, reminders, 催办, 回访, auto-open.

Dispositions (queues.yaml) and intents (the skills in agents.yaml) are checked
against the other files, so a typo'd auto-open rule is reported, not silently
never matched.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from types import MappingProxyType

from cases.model import GRADED, CaseType
from cases.rules import AutoOpen, CasesConfig, Grade, Limit, Limits, TypeRules
from queues.model import WEEKDAYS, BusinessHours

from .acd_parse import _hours, _known, _timezone
from .section import Section, describe, suggest

__all__ = ["CASES_KEYS", "parse_cases"]

CASES_KEYS = ("timezone", "spool", "business_hours", "reminder_share", "escalation",
              "return_visit", "repeat_contact_days", "auto_open", "types")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(m|h|d|bh)$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400, "bh": 3600}
_PHASES = ("accept", "handle", "visit")
_TYPES = tuple(t.value for t in CaseType)


def _duration(sec: Section, key: str, *, business: bool = True) -> Limit | None:
    raw = sec.data.get(key)
    if raw is None:
        sec.error(key, 'missing required key (a duration like "2h", "3d" or "8bh")')
        return None
    m = _DURATION.match(raw.strip()) if isinstance(raw, str) else None
    if m is None or float(m.group(1)) <= 0:
        sec.error(key, f'bad duration {describe(raw)}: expected a positive number and a unit, '
                       'm, h or d (calendar) or bh (business hours), e.g. "2h" or "8bh"')
        return None
    if m.group(2) == "bh" and not business:
        sec.error(key, f"{raw!r}: business hours are not allowed here; use m, h or d")
        return None
    return Limit(float(m.group(1)) * _UNIT_S[m.group(2)], m.group(2) == "bh")


def _limits(sec: Section) -> Limits | None:
    accept, handle, visit = (_duration(sec, p) for p in _PHASES)
    if accept is None or handle is None or visit is None:
        return None
    return Limits(accept, handle, visit)


def _grades(sec: Section) -> tuple[Grade, ...]:
    grades: list[Grade] = []
    raises: list[tuple[Section, str, int]] = []
    names: list[str] = []
    for _, g in sec.entries("grades", ("name", "label", *_PHASES, "raise_to")):
        name, label, limits = g.get("name", str), g.get("label", str), _limits(g)
        if name in names:
            g.error("name", f"grade '{name}' is listed twice")
            continue
        if name is not None:
            names.append(name)
        target = g.get("raise_to", str, None)
        if target is not None and name is not None:
            raises.append((g, target, len(names)))
        if name is not None and label is not None and limits is not None:
            grades.append(Grade(name, label, limits, target))
    if not names and "grades" in sec.data:
        sec.error("grades", "needs at least one grade")
    for g, target, i in raises:
        # Only upwards, so repeated escalations end at the top grade instead of cycling.
        if target not in names[i:]:
            g.error("raise_to", f"'{target}' is not a higher grade{suggest(target, names)}: "
                                f"list grades lowest first (known: {', '.join(names)})")
    return tuple(grades)


def _types(top: Section) -> dict[CaseType, TypeRules]:
    types: dict[CaseType, TypeRules] = {}
    for name, value in top.items("types"):
        if name not in _TYPES:
            top.error(f"types.{name}", f"unknown case type{suggest(name, _TYPES)} "
                                       f"(known: {', '.join(_TYPES)})")
            continue
        ctype = CaseType(name)
        sec = top.child(f"types.{name}", value, ("label", "limits", "grades"))
        if sec is None:
            continue
        label = sec.get("label", str)
        if ctype in GRADED:
            if "limits" in sec.data:
                sec.error("limits", f"{name} cases are graded: give limits per grade in 'grades'")
            grades, limits = _grades(sec), None
            ok = bool(grades)
        else:
            if "grades" in sec.data:
                sec.error("grades", f"only complaints and reports are graded, not {name}")
            lsec = sec.sub("limits", _PHASES)
            grades, limits = (), _limits(lsec) if lsec is not None else None
            ok = limits is not None
        if ok and label is not None:
            types[ctype] = TypeRules(ctype, label, limits, grades)
    given = top.data.get("types")
    if isinstance(given, dict):
        for name in _TYPES:
            if name not in given:
                top.error(f"types.{name}", "missing: every case type needs its time limits")
    return types


def _auto_open(top: Section, types: dict[CaseType, TypeRules], dispositions: Collection[str],
               intents: Collection[str]) -> tuple[AutoOpen, ...]:
    rules: list[AutoOpen] = []
    for _, sec in top.entries("auto_open", ("disposition", "intent", "type", "grade"),
                              required=False):
        disposition = sec.get("disposition", str)
        _known(sec, "disposition", disposition, "disposition", dispositions)
        intent = sec.get("intent", str, None)
        if intent is not None:
            _known(sec, "intent", intent, "intent", intents)
        ctype = sec.choice("type", _TYPES)
        grade = sec.get("grade", str, None)
        trules = types.get(CaseType(ctype)) if ctype else None
        if grade is not None and trules is not None:
            if not trules.grades:
                sec.error("grade", f"{ctype} cases have no grade")
            else:
                _known(sec, "grade", grade, "grade", [g.name for g in trules.grades])
        if disposition is not None and ctype is not None:
            rules.append(AutoOpen(disposition, intent, CaseType(ctype), grade))
    return tuple(rules)


def parse_cases(top: Section, dispositions: Collection[str],
                intents: Collection[str], queues: Collection[str] = ()) -> CasesConfig | None:
    """The checked rules, or None after reporting what is wrong.  ``queues``: the
    names in queues.yaml (``return_visit.queue`` must be one)."""
    tz = _timezone(top, "timezone", "Asia/Shanghai")
    hours_sec = top.sub("business_hours", (*WEEKDAYS, "holidays", "timezone"), required=False)
    hours = _hours(hours_sec, tz or "Asia/Shanghai")
    esc = top.sub("escalation", ("repeat_every",))
    visit = top.sub("return_visit", ("max_attempts", "retry_after", "queue"))
    visit_queue = None
    if visit is not None:
        visit_queue = visit.get("queue", str, None)
        if visit_queue is not None and queues and not _known(visit, "queue", visit_queue,
                                                             "queue", queues):
            visit_queue = None
    every = _duration(esc, "repeat_every", business=False) if esc is not None else None
    retry = _duration(visit, "retry_after", business=False) if visit is not None else None
    types = _types(top)
    if hours is not None and not any(hours.weekly.values()) and any(
            lim.business for t in types.values()
            for lims in ([t.limits] if t.limits else [g.limits for g in t.grades])
            for lim in (lims.accept, lims.handle, lims.visit)):
        top.error("business_hours", "no open time in the week, but a limit is in business "
                                    "hours (bh)")
        hours = None
    share = top.number("reminder_share", float, lo=0.05, hi=0.95)
    attempts = visit.number("max_attempts", int, lo=1, hi=10) if visit is not None else None
    days = top.number("repeat_contact_days", int, lo=1, hi=366)
    auto = _auto_open(top, types, dispositions, intents)
    if (tz is None or hours is None or share is None or every is None or attempts is None
            or retry is None or days is None or len(types) != len(_TYPES)):
        return None
    return CasesConfig(tz, hours or BusinessHours(tz, MappingProxyType({})), share,
                       every.seconds, attempts, retry.seconds, days, auto,
                       MappingProxyType(types), top.get("spool", str, "cases.spool"),
                       visit_queue)
