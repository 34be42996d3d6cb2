"""Scorecards from finished records: per agent, per team, per queue per interval.

Pure. Durations come from durations.py; the queue figures (offered, SL, ASA, AHT,
abandons) are computed by feeding each record's facts into the ACD's own
``queues.stats.AcdStats``, so a scorecard and the live wallboard share one
definition of every KPI (GUIDE §4).

Counting rules:
- A call belongs to the interval (and the period) in which it was first enqueued;
  intervals are aligned on the epoch (whole for UTC+8 and any whole-hour offset).
- Only inbound calls are offered/answered/abandoned; callbacks and follow-ups are
  outbound work and count in ``handled`` and AHT only.
- A call is handled when its after-call work ended (wrap_up_end), as in AcdStats;
  it counts for the agent who answered it. Missed offers are offers to that agent
  with outcome no_answer or rejected.
- Satisfaction rate = (satisfied + fairly_satisfied) / surveyed with an answer.
- QA: ``qa_score`` is the mean of the latest QA total (0-100, config/qa.yaml) of each
  reviewed call the agent answered in the period; ``qa_reviewed`` how many those are.
- ``complaint_calls_handled``: complaint calls (投诉) the agent handled, not
  complaints made against the agent.
- Which calls are handled, answered and surveyed is decided by
  ``server.reports.kpi.call_facts``, as in the period reports.
- A call the dialplan's safety net took to Asterisk's fallback queue (timeline
  ``fallback``) moves, in the queue figures, from the server's queue it waited in
  (counted there as overflowed) to that queue, offered there, and is answered or
  abandoned there.  An agent who answered it there gets it in
  ``fallback_answered`` and ``fallback_talk_s``, apart from ``handled`` and AHT:
  the server saw no after-call work for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from queues.stats import AcdStats, QueueKpis
from server.records.durations import compute_durations
from server.records.model import CallRecord
from server.reports.kpi import call_facts

SATISFIED = frozenset({"satisfied", "fairly_satisfied"})


def is_complaint(record: CallRecord) -> bool:
    intent = record.intent or ""
    return intent == "complaint" or intent.startswith("complaint.") or \
        "complaint" in record.queues


@dataclass(frozen=True)
class AgentScorecard:
    agent_id: str
    handled: int
    talk_s: float
    hold_s: float
    acw_s: float
    aht_s: float | None
    hold_ratio: float | None  # hold / (talk + hold)
    offers: int
    missed_offers: int
    surveyed: int
    satisfaction_rate: float | None
    complaint_calls_handled: int  # complaint calls handled, not complaints about them
    asa_s: float | None  # ASA of the queues this agent answered in, whole period
    fallback_answered: int = 0  # answered in the dialplan's fallback queue
    fallback_talk_s: float = 0.0
    qa_reviewed: int = 0  # the period's calls this agent answered that have a QA score
    qa_score: float | None = None  # their mean QA total, 0-100


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


@dataclass
class _Tally:
    handled: int = 0
    talk_s: float = 0.0
    hold_s: float = 0.0
    acw_s: float = 0.0
    offers: int = 0
    missed: int = 0
    surveyed: int = 0
    satisfied: int = 0
    complaint_calls: int = 0
    fallback: int = 0
    fallback_talk_s: float = 0.0
    qa_n: int = 0
    qa_sum: float = 0.0

    def card(self, agent_id: str, asa_s: float | None) -> AgentScorecard:
        return AgentScorecard(
            agent_id=agent_id, handled=self.handled,
            talk_s=round(self.talk_s, 3), hold_s=round(self.hold_s, 3),
            acw_s=round(self.acw_s, 3),
            aht_s=_ratio(self.talk_s + self.hold_s + self.acw_s, self.handled),
            hold_ratio=_ratio(self.hold_s, self.talk_s + self.hold_s),
            offers=self.offers, missed_offers=self.missed, surveyed=self.surveyed,
            satisfaction_rate=_ratio(self.satisfied, self.surveyed),
            complaint_calls_handled=self.complaint_calls, asa_s=asa_s,
            fallback_answered=self.fallback, fallback_talk_s=round(self.fallback_talk_s, 3),
            qa_reviewed=self.qa_n,
            qa_score=None if not self.qa_n else round(self.qa_sum / self.qa_n, 2))


class AgentScorecards:
    """Scorecards fed one final record at a time (:meth:`add`), so a period of any
    length is read in bounded memory: one tally per agent (or team) and per queue.

    Which calls count is ``server.reports.kpi.call_facts``, the reports' own rule,
    so a scorecard and a period report agree: handled = answered, wrapped up, not
    answered in the fallback queue (inbound or outbound); a survey answer counts
    for the agent who answered.
    """

    def __init__(self, team_of: Mapping[str, str] | None = None,
                 complaint: Callable[[CallRecord], bool] = is_complaint) -> None:
        self.team_of, self.complaint = team_of, complaint
        self.tallies: dict[str, _Tally] = {}
        self.queues_of: dict[str, set[str]] = {}
        self.queue_wait: dict[str, list[float]] = {}  # queue -> [answered wait sum, answered]
        self.records = 0

    def _key(self, agent: str) -> str:
        return self.team_of.get(agent, "(no team)") if self.team_of is not None else agent

    def add(self, record: CallRecord, qa_total: float | None = None) -> None:
        """``qa_total``: the call's latest QA total (0-100) if it was reviewed."""
        self.records += 1
        f = call_facts(record)
        for agent, missed in f.offers:
            t = self.tallies.setdefault(self._key(agent), _Tally())
            t.offers += 1
            t.missed += missed
        if f.agent is None:
            return
        k = self._key(f.agent)
        if f.queue is not None:
            self.queues_of.setdefault(k, set()).add(f.queue)
            if f.inbound:
                w = self.queue_wait.setdefault(f.queue, [0.0, 0])
                w[0] += f.wait_s
                w[1] += 1
        t = self.tallies.setdefault(k, _Tally())
        if qa_total is not None:
            t.qa_n += 1
            t.qa_sum += qa_total
        if record.outcome == "fallback_answered":
            t.fallback += 1
            t.fallback_talk_s += f.talk_s
        if f.rating is not None:
            t.surveyed += 1
            t.satisfied += f.rating in SATISFIED
        if f.handled:
            t.handled += 1
            t.talk_s += f.talk_s
            t.hold_s += f.hold_s
            t.acw_s += f.acw_s
            t.complaint_calls += self.complaint(record)

    def _asa(self, k: str) -> float | None:
        waits = [self.queue_wait[q] for q in self.queues_of.get(k, ()) if q in self.queue_wait]
        return _ratio(sum(w[0] for w in waits), sum(w[1] for w in waits))

    def cards(self) -> dict[str, AgentScorecard]:
        return {k: t.card(k, self._asa(k)) for k, t in sorted(self.tallies.items())}


def agent_scorecards(records: Iterable[CallRecord],
                     team_of: Mapping[str, str] | None = None,
                     complaint: Callable[[CallRecord], bool] = is_complaint,
                     qa: Mapping[str, float] | None = None,
                     ) -> dict[str, AgentScorecard]:
    """Scorecards keyed by agent id, or by team when ``team_of`` (agent → team) is
    given. ``records`` are the period's final records; ``qa`` maps a call id to its
    latest QA total (calls never reviewed are absent)."""
    cards = AgentScorecards(team_of, complaint)
    for record in records:
        cards.add(record, (qa or {}).get(record.call_id))
    return cards.cards()


def queue_intervals(records: Iterable[CallRecord], sl_threshold_s: Mapping[str, int],
                    short_abandon_s: float = 5.0, interval_s: int = 900,
                    ) -> dict[tuple[float, str], QueueKpis]:
    """KPIs per (interval start, queue), e.g. 15-minute intervals for the daily report."""
    stats: dict[float, AcdStats] = {}
    for record in records:
        first = next((e for e in record.timeline if e.kind in ("enqueued", "fallback")), None)
        if first is None:
            continue
        start = first.t - first.t % interval_s
        acd = stats.setdefault(start, AcdStats(dict(sl_threshold_s), short_abandon_s))
        _feed(acd, record)
    return {(start, queue): acd.kpis(queue)
            for start, acd in sorted(stats.items()) for queue in sorted(acd.queues)}


def _feed(acd: AcdStats, record: CallRecord) -> None:
    d = compute_durations(record.timeline)
    inbound = record.kind == "inbound"
    entered: set[str] = set()
    current: str | None = None
    for event in record.timeline:
        kind = event.kind
        if kind == "enqueued":
            current = event.details["queue"]
            # A requeue after a missed offer re-enters the same queue: one offer.
            if inbound and current not in entered:
                acd.offered(current)
            entered.add(current)
        elif kind == "fallback":
            to_queue = event.details["queue"]
            if inbound and current is not None:
                acd.overflowed(current, to_queue)
            elif inbound:
                acd.offered(to_queue)
            entered.add(to_queue)
            current = to_queue
        elif kind == "overflow" and current is not None:
            to_queue = event.details["to_queue"]
            if inbound:
                acd.overflowed(current, to_queue)
            entered.add(to_queue)
            current = to_queue
        elif kind == "answered" and inbound and current is not None:
            acd.answered(current, d.queue_wait_s)
        elif kind == "abandoned" and inbound and current is not None:
            acd.abandoned(current, d.queue_wait_s)
        elif kind == "callback_requested" and inbound and current is not None:
            acd.callback(current)
        elif kind == "wrap_up_end" and current is not None:
            acd.handled(current, d.talk_s, d.hold_s, d.acw_s)
