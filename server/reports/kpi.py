"""Every figure of the period reports, defined once (issue 15, GUIDE §4). Pure: no I/O.

A final call record becomes one :class:`CallFacts` (what happened to the call, in
the terms the KPIs count); facts are added into :class:`Tally` values, which only
ever sum, so tallies of hours add up to a day and tallies of agents to a team;
:func:`figures` derives the rates from a tally. The call-level counters and their
formulas (SL, ASA, AHT, abandon rate) are ``queues.stats.QueueCounters``, the same
object the live ACD counts with, so the wallboard and a report cannot disagree.

Counting rules (the README's "Reports and KPIs" says the same for people):

- A call belongs to the period, hour and day of its *arrival* (first timeline entry).
- ``calls``: inbound calls. Callbacks and follow-ups are outbound work: they count in
  ``handled``/AHT only, never in offered, answered or the rates.
- ``offered``: inbound calls that entered an agents' queue (the dialplan's fallback
  queue included), once per call, in the queue where they were answered or
  abandoned (after any overflow). ``overflowed``: offered calls that moved queue
  at least once (an overflow, or the safety net's fallback).
- ``answered``: an agent picked it up (also in the fallback queue: outcome
  ``fallback_answered``). ``abandoned``: the caller hung up while queued (also
  ``fallback_abandoned``); ``short_abandoned`` is the part under the policy's
  ``short_abandon_s`` (queue wait), and is included in ``abandoned``.
- ``self_service``: served by the IVR (outcome ``self_service``); ``deflected``:
  hung up after an outage notice (outcome ``deflected``).
- ``wanted`` (callers who wanted service) = calls − short abandons − deflections.
- connection rate 一拨就通 = (answered + self_service) / wanted.
- service level = answered within the queue's T / (answered + abandoned − short).
- ASA = queue wait of answered calls / answered; abandon rate = abandoned / offered.
- ``handled``: calls whose after-call work ended (wrap-up), inbound or outbound, for
  the agent who answered; AHT = (talk + hold + ACW) / handled. A fallback-answered
  call is answered but not handled: the server saw no after-call work for it (as in
  the scorecards).
- occupancy = handling / (handling + ready idle); ready idle comes from the
  agent-state log (:meth:`Tally.add_agent_time`); without it occupancy is null.
- ``surveyed``: the survey was asked; ``rated``: an answer was given;
  satisfaction rate = (satisfied + fairly satisfied) / rated;
  survey response rate = rated / surveyed.
- ``repeat_contacts``: inbound calls from a caller who called with the same intent
  within ``repeat_contact_days`` before (see :class:`RepeatWindow`);
  repeat-contact rate = repeat_contacts / calls with a caller and an intent.
- ``missed_offers``: offers an agent let ring out or rejected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cases.model import Case, CaseState, Phase
from cases.rules import CasesConfig
from cases.worktime import deadline
from queues.stats import DEFAULT_THRESHOLD_S, QueueCounters, ratio
from server.records.durations import compute_durations
from server.records.model import CallRecord

__all__ = ["FIGURES", "SATISFIED", "CallFacts", "CaseTally", "Policy", "RepeatWindow", "Tally",
           "call_facts", "case_tally", "figures", "grade_at", "total"]

FIGURES = ("offered", "answered", "abandoned", "short_abandoned", "self_service", "deflected",
           "callbacks", "overflowed", "handled", "connection_rate", "service_level", "asa_s",
           "abandon_rate", "aht_s", "occupancy", "surveyed", "rated", "satisfied",
           "satisfaction_rate", "survey_response_rate", "repeat_contacts",
           "repeat_contact_rate", "missed_offers")
SATISFIED = frozenset({"satisfied", "fairly_satisfied"})


@dataclass(frozen=True)
class Policy:
    """What the counting rules take from config: queues.yaml's short-abandon threshold,
    each queue's SL threshold T, cases.yaml's repeat-contact window."""

    short_abandon_s: float = 5.0
    threshold_s: Mapping[str, int] = field(default_factory=dict)
    repeat_contact_days: int = 30

    def threshold(self, queue: str | None) -> int:
        return self.threshold_s.get(queue or "", DEFAULT_THRESHOLD_S)


@dataclass(frozen=True)
class CallFacts:
    """One final record, in the terms the KPIs count."""

    call_id: str
    arrived: float
    inbound: bool
    caller: str
    intent: str | None
    queue: str | None  # where answered or abandoned (after overflow); None: never queued
    agent: str | None  # who answered
    tier: str | None  # the answering agent's tier at the time
    offered: bool = False
    overflowed: bool = False
    answered: bool = False
    wait_s: float = 0.0
    abandoned: bool = False
    self_service: bool = False
    deflected: bool = False
    callback: bool = False
    handled: bool = False
    talk_s: float = 0.0
    hold_s: float = 0.0
    acw_s: float = 0.0
    surveyed: bool = False
    rating: str | None = None  # satisfied | fairly_satisfied | dissatisfied | None
    reason: str | None = None
    offers: tuple[tuple[str, bool], ...] = ()  # (agent, missed) per offer


def call_facts(record: CallRecord) -> CallFacts:
    """The facts of one final record (durations from durations.py, the one place)."""
    d = compute_durations(record.timeline)
    queue: str | None = None
    moved = answered = abandoned = surveyed = callback = wrapped = False
    offers: list[tuple[str, bool]] = []
    for event in record.timeline:
        kind = event.kind
        if kind == "enqueued":
            queue = event.details["queue"]
        elif kind == "fallback":
            moved = moved or queue is not None
            queue = event.details["queue"]
        elif kind == "overflow":
            moved = True
            queue = event.details["to_queue"]
        elif kind == "answered":
            answered = True
        elif kind == "abandoned":
            abandoned = queue is not None and not answered
        elif kind == "callback_requested":
            callback = True
        elif kind == "survey":
            surveyed = True
        elif kind == "wrap_up_end":
            wrapped = True
        elif kind == "offer":
            offers.append((str(event.details["agent"]), event.details.get("outcome") != "answered"))
    inbound = record.kind == "inbound"
    outcome = record.outcome or ""
    answered = answered and record.agent_id is not None
    handled = answered and wrapped and outcome != "fallback_answered"
    return CallFacts(
        call_id=record.call_id, arrived=record.timeline[0].t if record.timeline else 0.0,
        inbound=inbound, caller=record.caller, intent=record.intent, queue=queue,
        agent=record.agent_id if answered else None,
        tier=record.agent_tier if answered else None,
        offered=inbound and queue is not None, overflowed=inbound and moved,
        answered=inbound and answered,
        wait_s=d.queue_wait_s,
        abandoned=inbound and (abandoned or outcome == "fallback_abandoned") and not answered,
        self_service=inbound and outcome == "self_service",
        deflected=inbound and outcome == "deflected", callback=inbound and callback,
        handled=handled, talk_s=d.talk_s, hold_s=d.hold_s, acw_s=d.acw_s,
        surveyed=surveyed, rating=record.satisfaction, reason=record.satisfaction_reason,
        offers=tuple(offers))


class RepeatWindow:
    """Same caller, same intent within ``days``: is this call a repeat contact?

    Bounded memory: one entry per (caller, intent) seen in the last ``days`` (by
    arrival), pruned as the reading moves on, whatever the period's length. Only
    calls inside the read range are known, so the first call of a period is never
    a repeat of one before it. Records come in stream order (when they ended), not
    strictly by arrival: of two overlapping calls, the one read second is the
    repeat, so the count per pair is right even when the order is not.
    """

    PRUNE_EVERY = 50_000

    def __init__(self, days: int) -> None:
        self.window_s = days * 86400.0
        # keyed by the pair's hash, not the pair: a month of a busy centre keeps about a
        # million pairs, and an int key is a third of the memory of two strings
        self._last: dict[int, float] = {}
        self._newest = float("-inf")
        self._since_prune = 0

    def __len__(self) -> int:
        return len(self._last)

    def seen(self, caller: str, intent: str | None, at: float) -> bool | None:
        """True: a repeat; False: not; None: not countable (no caller or intent)."""
        if not caller or not intent:
            return None
        key = hash((caller, intent))
        before = self._last.get(key)
        self._last[key] = at if before is None else max(before, at)
        self._newest = max(self._newest, at)
        self._since_prune += 1
        if self._since_prune >= self.PRUNE_EVERY:
            self._prune()
        return before is not None and abs(at - before) <= self.window_s

    def _prune(self) -> None:
        self._since_prune = 0
        horizon = self._newest - self.window_s
        self._last = {k: t for k, t in self._last.items() if t >= horizon}


@dataclass
class Tally:
    """Additive counters for one group (a queue, an agent, an hour, the centre)."""

    calls: QueueCounters = field(default_factory=QueueCounters)  # the ACD's counters
    inbound: int = 0
    wanted: int = 0
    self_service: int = 0
    deflected: int = 0
    surveyed: int = 0
    rated: int = 0
    ratings: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    identified: int = 0  # calls with a caller and an intent (repeat-contact base)
    repeat_contacts: int = 0
    offers: int = 0
    missed_offers: int = 0
    ready_idle_s: float = 0.0
    idle_known: bool = False  # an agent-state log fed ready time

    def add_call(self, f: CallFacts, policy: Policy, repeat: bool | None) -> None:
        """Count one call (its offers go through :meth:`add_offers`, which a grouping
        may send to the offered agent's group instead)."""
        c = self.calls
        if f.handled:
            c.count_handled(f.talk_s, f.hold_s, f.acw_s)
        if not f.inbound:
            return
        self.inbound += 1
        c.offered += f.offered
        c.overflowed += f.overflowed
        c.callbacks += f.callback
        short = False
        if f.answered:
            c.count_answered(f.wait_s, policy.threshold(f.queue))
        elif f.abandoned:
            short = c.count_abandoned(f.wait_s, policy.short_abandon_s)
        self.self_service += f.self_service
        self.deflected += f.deflected
        self.wanted += not (short or f.deflected)
        if f.surveyed:
            self.surveyed += 1
            if f.rating is not None:
                self.rated += 1
                self.ratings[f.rating] = self.ratings.get(f.rating, 0) + 1
                if f.rating == "dissatisfied" and f.reason:
                    self.reasons[f.reason] = self.reasons.get(f.reason, 0) + 1
        if repeat is not None:
            self.identified += 1
            self.repeat_contacts += repeat

    def add_offers(self, n: int, missed: int) -> None:
        self.offers += n
        self.missed_offers += missed

    def add_agent_time(self, ready_idle_s: float) -> None:
        """Ready-and-idle seconds from the agent-state log (occupancy's other term)."""
        self.ready_idle_s += ready_idle_s
        self.idle_known = True

    def add(self, other: Tally) -> None:
        self.calls.add(other.calls)
        for name in ("inbound", "wanted", "self_service", "deflected", "surveyed", "rated",
                     "identified", "repeat_contacts", "offers", "missed_offers",
                     "ready_idle_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.ratings, other.ratings), (self.reasons, other.reasons)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v
        self.idle_known = self.idle_known or other.idle_known

    @property
    def satisfied(self) -> int:
        return sum(self.ratings.get(r, 0) for r in SATISFIED)


def figures(t: Tally) -> dict[str, Any]:
    """The FIGURES of report-shape.md, in that order, then ``calls`` and ``wanted``
    (the connection rate's base). Rates are 0..1 or None (empty denominator)."""
    c = t.calls
    handling = c.talk_s + c.hold_s + c.acw_s
    return {
        "offered": c.offered, "answered": c.answered, "abandoned": c.abandoned,
        "short_abandoned": c.short_abandoned, "self_service": t.self_service,
        "deflected": t.deflected, "callbacks": c.callbacks, "overflowed": c.overflowed,
        "handled": c.handled,
        "connection_rate": ratio(c.answered + t.self_service, t.wanted),
        "service_level": c.service_level(), "asa_s": _round(c.asa_s),
        "abandon_rate": c.abandon_rate, "aht_s": _round(c.aht_s),
        "occupancy": ratio(handling, handling + t.ready_idle_s) if t.idle_known else None,
        "surveyed": t.surveyed, "rated": t.rated, "satisfied": t.satisfied,
        "satisfaction_rate": ratio(t.satisfied, t.rated),
        "survey_response_rate": ratio(t.rated, t.surveyed),
        "repeat_contacts": t.repeat_contacts,
        "repeat_contact_rate": ratio(t.repeat_contacts, t.identified),
        "missed_offers": t.missed_offers,
        "calls": t.inbound, "wanted": t.wanted,
    }


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def total(tallies: Iterable[Tally]) -> Tally:
    out = Tally()
    for t in tallies:
        out.add(t)
    return out


# --- cases (工单) -------------------------------------------------------------------
# A case belongs to the period of its creation; its figures describe it as it stands
# when the report is made (``now``): an old case closed since counts as closed.


@dataclass
class CaseTally:
    """Additive counters over cases (one per (type, grade) row, and the whole)."""

    opened: int = 0
    closed: int = 0
    overdue: int = 0
    visit_due: int = 0  # cases that require a return visit: resolved at least once
    visited: int = 0  # ... whose return visit was made (reached, or the attempts used up)
    accept_due: int = 0  # accepted, or past the acceptance limit unaccepted
    accepted_on_time: int = 0
    handle_due: int = 0  # resolved, or past the handling limit unresolved
    resolved_on_time: int = 0

    def add(self, other: CaseTally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def figures(self) -> dict[str, Any]:
        return {"opened": self.opened, "closed": self.closed, "overdue": self.overdue,
                "return_visit_rate": ratio(self.visited, self.visit_due),
                "on_time_acceptance_rate": ratio(self.accepted_on_time, self.accept_due),
                "on_time_closure_rate": ratio(self.resolved_on_time, self.handle_due)}


def grade_at(case: Case, at: float) -> str | None:
    """The grade the case had at ``at``: escalation may have raised it since (its audit
    note says "grade <old> -> <new>"). A limit runs with the grade of the moment its
    phase began, as the case machine sets it."""
    grade = case.grade
    for entry in reversed(case.audit):
        if entry.input == "escalate" and entry.note.startswith("grade ") and entry.at > at:
            grade = entry.note.split(" ", 2)[1]
    return grade


def case_tally(case: Case, rules: CasesConfig, now: float) -> CaseTally:
    """One case's counts.

    - overdue: open and past its running limit's due time (the overdue view's rule);
    - on-time acceptance: first ``accept`` by created_at + the acceptance limit; a case
      not yet accepted counts (as late) once that limit has passed;
    - on-time closure (办结及时): first ``resolve`` by accepted_at + the handling limit
      (business-hour limits counted in business hours, as the case itself does; the
      grade of that moment); a case not yet resolved counts (as late) once that limit
      has passed (from the acceptance due time if it was never accepted);
    - return visit (回访率): required once the case was resolved; made when a visit
      reached the customer, or when the configured attempts were all made.
    """
    t = CaseTally(opened=1, closed=case.state is CaseState.CLOSED)
    t.overdue = case.is_open and case.deadline is not None and case.deadline.overdue(now)
    first: dict[str, float] = {}
    for entry in case.audit:
        first.setdefault(entry.input, entry.at)
    accept_by = deadline(rules.hours, case.created_at,
                         rules.limit(case.type, grade_at(case, case.created_at), Phase.ACCEPT))
    accepted = first.get("accept")
    if accepted is not None or now >= accept_by:
        t.accept_due = 1
        t.accepted_on_time = accepted is not None and accepted <= accept_by
    handle_from = accepted if accepted is not None else accept_by
    resolve_by = deadline(rules.hours, handle_from,
                          rules.limit(case.type, grade_at(case, handle_from), Phase.HANDLE))
    resolved = first.get("resolve")
    if resolved is not None or now >= resolve_by:
        t.handle_due = 1
        t.resolved_on_time = resolved is not None and resolved <= resolve_by
    if resolved is not None:
        t.visit_due = 1
        t.visited = any(v.reached for v in case.visits) or "visit_gave_up" in first
    return t
