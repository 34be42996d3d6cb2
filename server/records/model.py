"""The call record: a frozen value, and the mutable builder the adapter feeds.

Pure: no Twisted, no Redis, no wall clock. Every timestamp is the ``now`` the caller
passes in (from the injected clock), so records built under ``task.Clock`` are exact.

Every change bumps ``version``. The store is idempotent on (call_id, version): a
replayed snapshot never produces a second copy, and an older snapshot never
overwrites a newer one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

Kind = Literal["inbound", "callback", "followup"]
KINDS: frozenset[str] = frozenset({"inbound", "callback", "followup"})

# Outcomes are open-ended on purpose (the adapter may add more); these are the
# ones the KPIs know about.
OUTCOMES: frozenset[str] = frozenset({
    "answered", "abandoned", "deflected", "self_service", "callback",
    "overflowed", "system_failure", "ivr_hangup",
    # The dialplan's safety net took the caller to Asterisk's own fallback queue
    # (server/safety.py): a phone answered there, or the caller hung up there.
    "fallback_answered", "fallback_abandoned",
})
OFFER_OUTCOMES: frozenset[str] = frozenset({"answered", "no_answer", "rejected"})
HUNG_UP_BY: frozenset[str] = frozenset({"caller", "agent", "system"})

# Timeline kinds. durations.py reads these names; keep them in one place.
ARRIVED = "arrived"
IVR_END = "ivr_end"
ENQUEUED = "enqueued"
OFFER = "offer"
ANSWERED = "answered"
HOLD_START = "hold_start"
HOLD_END = "hold_end"
BRIDGE_END = "bridge_end"
WRAP_UP_END = "wrap_up_end"
SURVEY = "survey"
ABANDONED = "abandoned"
OVERFLOW = "overflow"
CALLBACK_REQUESTED = "callback_requested"
CASE_OWNER = "case_owner"  # the caller's open case: its owner is tried first
FALLBACK = "fallback"  # left the server for the dialplan's fallback queue
ENDED = "ended"


@dataclass(frozen=True)
class TimelineEvent:
    t: float
    kind: str
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_list(self) -> list[Any]:
        return [self.t, self.kind, dict(self.details)]

    @classmethod
    def from_list(cls, raw: list[Any]) -> TimelineEvent:
        t, kind, details = raw
        return cls(float(t), str(kind), MappingProxyType(dict(details)))


@dataclass(frozen=True)
class CallRecord:
    call_id: str
    version: int
    kind: str
    caller: str
    dialled: str
    language: str | None = None
    ivr_path: tuple[tuple[str, str], ...] = ()
    account: str | None = None
    intent: str | None = None
    queues: tuple[str, ...] = ()
    priority: int | None = None
    agent_id: str | None = None
    agent_tier: str | None = None
    disposition: str | None = None
    notes: str | None = None
    # The survey answer as config/ivr.yaml names it: "satisfied",
    # "fairly_satisfied" or "dissatisfied"; None if not surveyed or no answer.
    satisfaction: str | None = None
    satisfaction_reason: str | None = None
    recording: str | None = None
    outage_notice: str | None = None
    outcome: str | None = None
    # final: the call has ended; the store moves it from the live hash to the stream.
    final: bool = False
    timeline: tuple[TimelineEvent, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict (lists, not tuples), the form stored and spooled."""
        return {
            "call_id": self.call_id,
            "version": self.version,
            "kind": self.kind,
            "caller": self.caller,
            "dialled": self.dialled,
            "language": self.language,
            "ivr_path": [list(step) for step in self.ivr_path],
            "account": self.account,
            "intent": self.intent,
            "queues": list(self.queues),
            "priority": self.priority,
            "agent_id": self.agent_id,
            "agent_tier": self.agent_tier,
            "disposition": self.disposition,
            "notes": self.notes,
            "satisfaction": self.satisfaction,
            "satisfaction_reason": self.satisfaction_reason,
            "recording": self.recording,
            "outage_notice": self.outage_notice,
            "outcome": self.outcome,
            "final": self.final,
            "timeline": [event.to_list() for event in self.timeline],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CallRecord:
        """Inverse of :meth:`to_dict`; keys it does not know (an export's
        ``durations``, ``stream_id``) are ignored."""
        return cls(
            call_id=str(raw["call_id"]),
            version=int(raw["version"]),
            kind=str(raw["kind"]),
            caller=str(raw["caller"]),
            dialled=str(raw["dialled"]),
            language=raw.get("language"),
            ivr_path=tuple((str(m), str(k)) for m, k in raw.get("ivr_path", ())),
            account=raw.get("account"),
            intent=raw.get("intent"),
            queues=tuple(raw.get("queues", ())),
            priority=raw.get("priority"),
            agent_id=raw.get("agent_id"),
            agent_tier=raw.get("agent_tier"),
            disposition=raw.get("disposition"),
            notes=raw.get("notes"),
            satisfaction=raw.get("satisfaction"),
            satisfaction_reason=raw.get("satisfaction_reason"),
            recording=raw.get("recording"),
            outage_notice=raw.get("outage_notice"),
            outcome=raw.get("outcome"),
            final=bool(raw.get("final", False)),
            timeline=tuple(TimelineEvent.from_list(e) for e in raw.get("timeline", ())),
        )


class CallRecorder:
    """Builds one call's record from the facts the adapter observes.

    Each method records one fact and bumps the version; :meth:`snapshot` returns the
    frozen record for storage. Facts arrive in the order they happened, so the
    timeline is append-only. After :meth:`finish` further facts (a late wrap-up) are
    still accepted: they produce a newer final version, which supersedes the old one.
    """

    def __init__(self, call_id: str, now: float, caller: str, dialled: str,
                 kind: Kind = "inbound") -> None:
        if kind not in KINDS:
            raise ValueError(f"call {call_id}: unknown record kind {kind!r}")
        self._record = CallRecord(call_id=call_id, version=0, kind=kind,
                                  caller=caller, dialled=dialled)
        self._timeline: list[TimelineEvent] = []
        self._event(now, ARRIVED)

    @classmethod
    def resume(cls, record: CallRecord) -> CallRecorder:
        """Carry on a live record loaded after a restart (version and timeline kept)."""
        self = cls.__new__(cls)
        self._record = replace(record, timeline=())
        self._timeline = list(record.timeline)
        return self

    @property
    def call_id(self) -> str:
        return self._record.call_id

    @property
    def version(self) -> int:
        return self._record.version

    def snapshot(self) -> CallRecord:
        return replace(self._record, timeline=tuple(self._timeline))

    def to_dict(self) -> dict[str, Any]:
        return self.snapshot().to_dict()

    # --- attributes (no timeline entry) -----------------------------------------

    def update(self, **fields: Any) -> None:
        """Set plain attributes: language, account, intent, priority, recording,
        outage_notice, agent_id, agent_tier, notes. Unknown names are a bug."""
        allowed = {"language", "account", "intent", "priority", "recording",
                   "outage_notice", "agent_id", "agent_tier", "disposition", "notes"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"call {self.call_id}: not settable: {sorted(unknown)}")
        self._bump(**fields)

    def ivr_key(self, menu: str, key: str) -> None:
        self._bump(ivr_path=(*self._record.ivr_path, (menu, key)))

    # --- timeline facts -----------------------------------------------------------

    def ivr_end(self, now: float) -> None:
        self._event(now, IVR_END)

    def enqueued(self, now: float, queue: str, priority: int | None = None) -> None:
        self._add_queue(queue)
        if priority is not None:
            self._bump(priority=priority)
        self._event(now, ENQUEUED, queue=queue)

    def overflow(self, now: float, from_queue: str, to_queue: str) -> None:
        self._add_queue(to_queue)
        self._event(now, OVERFLOW, from_queue=from_queue, to_queue=to_queue)

    def offer(self, now: float, agent: str, ring_start: float, outcome: str,
              case_owner: bool = False) -> None:
        """One offer, recorded when its outcome is known (``now`` ends the ringing);
        ``case_owner``: it went to the owner of the caller's open case, first."""
        if outcome not in OFFER_OUTCOMES:
            raise ValueError(f"call {self.call_id}: unknown offer outcome {outcome!r}")
        extra = {"case_owner": True} if case_owner else {}
        self._event(now, OFFER, agent=agent, ring_start=ring_start, outcome=outcome, **extra)

    def case_owner(self, now: float, case_id: str, agent: str, until: float) -> None:
        """The caller has open case ``case_id``: ``agent``, its owner, is tried first
        until ``until`` (the router's ``policy.case_owner_first_s``)."""
        self._event(now, CASE_OWNER, case=case_id, agent=agent, until=until)

    def answered(self, now: float, agent: str, tier: str | None = None) -> None:
        self._bump(agent_id=agent, agent_tier=tier)
        self._event(now, ANSWERED, agent=agent)

    def hold_start(self, now: float) -> None:
        self._event(now, HOLD_START)

    def hold_end(self, now: float) -> None:
        self._event(now, HOLD_END)

    def bridge_end(self, now: float, hung_up_by: str) -> None:
        if hung_up_by not in HUNG_UP_BY:
            raise ValueError(f"call {self.call_id}: unknown hung_up_by {hung_up_by!r}")
        self._event(now, BRIDGE_END, hung_up_by=hung_up_by)

    def wrap_up_end(self, now: float, disposition: str, notes: str | None = None) -> None:
        self._bump(disposition=disposition, notes=notes)
        self._event(now, WRAP_UP_END, disposition=disposition)

    def survey(self, now: float, answer: str | None, reason: str | None = None) -> None:
        """``answer`` is the survey label; None: asked, but the caller gave none."""
        self._bump(satisfaction=answer, satisfaction_reason=reason)
        self._event(now, SURVEY, answer=answer)

    def fallback(self, now: float, reason: str, queue: str) -> None:
        """The dialplan's safety net took the caller to Asterisk's ``queue`` (for
        ``reason``: watchdog, server-down, agi-failure).  Durations count the wait
        there like a queue's; scorecards count the call in that queue."""
        self._add_queue(queue)
        self._event(now, FALLBACK, reason=reason, queue=queue)

    def abandoned(self, now: float, position: int | None = None) -> None:
        self._event(now, ABANDONED, position=position)

    def callback_requested(self, now: float, number: str) -> None:
        self._event(now, CALLBACK_REQUESTED, number=number)

    def finish(self, now: float, outcome: str) -> None:
        """The call is over: the next snapshot is final and goes to the stream."""
        self._bump(outcome=outcome, final=True)
        self._event(now, ENDED, outcome=outcome)

    # --- internals ----------------------------------------------------------------

    def _add_queue(self, queue: str) -> None:
        if queue not in self._record.queues:
            self._bump(queues=(*self._record.queues, queue))

    def _event(self, now: float, kind: str, **details: Any) -> None:
        self._timeline.append(TimelineEvent(float(now), kind, MappingProxyType(details)))
        self._bump()

    def _bump(self, **fields: Any) -> None:
        # One version per fact is enough: the store only compares versions, and a
        # gap in the numbers is harmless.
        self._record = replace(self._record, version=self._record.version + 1, **fields)
