"""Return visits (回访) of service cases, placed through the follow-up machinery.

The case decides *when* (``cases.machine``: ``schedule_visit`` books the first
call, an unreached call books the next ``return_visit.retry_after`` later, the
``max_attempts``-th unreached one closes the case); the router and the outbound
placer decide *how* (queues/callbacks.py and server/outbound.py: the agent's
phone first, a whisper, then the customer; never in quiet hours).  This module
joins the two, reading only what they publish on the notifier:

* ``case`` ``changed`` to ``resolved``: the return visit is booked at once
  (``schedule_visit`` by ``system``: the visit limit starts now);
* ``case`` ``changed`` in ``return_visit`` with a ``visit_at``: one follow-up
  item for this attempt, ``rv-<case id>-<n>`` (n = the attempt's number), which
  carries the case id (kept in the router snapshot, so a restart keeps it);
* ``followup_ended`` of such an item: the customer not reached (no answer,
  busy, no number) is an unreached attempt, recorded by ``system``; reached,
  the call is linked to the case and the agent records the outcome on the desk
  (``POST /api/cases/{id}/visit``).  An agent's own miss is not an attempt: the
  router offers the item to another agent.

``reconcile`` (after the router is restored at start-up) books or places what a
crash between a case write and its follow-up left out.
"""

from __future__ import annotations

from typing import Any, Protocol

from twisted.application.service import Service
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from cases.machine import CaseInput
from cases.model import Case, CaseState, CaseType
from queues.items import WorkItem, dialable
from queues.model import AcdConfig
from server.cases.service import CaseService
from server.notify import Notifier

__all__ = ["CUSTOMER_MISSES", "FollowUps", "ReturnVisits", "visit_item_id", "visit_queue"]

SYSTEM = "system"
# server/outbound.py's final outcomes that mean the customer was not reached.
CUSTOMER_MISSES = frozenset({"customer_no_answer", "customer_busy", "no_number"})
# The skill a case type's return visit needs when the case has no IVR intent.
TYPE_SKILL = {CaseType.COMPLAINT: "complaint", CaseType.REPORT: "complaint",
              CaseType.FAULT_REPAIR: "fault", CaseType.SERVICE_APPLICATION: "service",
              CaseType.SUGGESTION: "suggestion", CaseType.ENQUIRY: "general"}

# The states whose changes may book, place or cancel a return-visit call.
_FOLLOWED = frozenset({CaseState.RESOLVED, CaseState.RETURN_VISIT, CaseState.REOPENED,
                       CaseState.CLOSED})


class FollowUps(Protocol):
    """What this module needs of the router, through the adapter's front
    (``CallCenter``: it also saves the router's snapshot after a change)."""

    @property
    def acd_config(self) -> AcdConfig: ...
    def item(self, item_id: str) -> WorkItem | None: ...
    def add_follow_up(self, item_id: str, queue: str, number: str, due_at: float,
                      note: str = "", case_id: str | None = None) -> WorkItem: ...
    def cancel_item(self, item_id: str, reason: str = "cancelled") -> bool: ...


def visit_item_id(case: Case) -> str:
    """The follow-up item of the case's next return-visit attempt."""
    return f"rv-{case.id}-{len(case.visits) + 1}"


def visit_queue(case: Case, acd: AcdConfig, configured: str | None = None) -> str:
    """The queue whose agents make the return visit: cases.yaml's
    ``return_visit.queue`` when set, else the one serving the case's intent (or its
    type's usual skill), else ``general``, else the first queue."""
    if configured is not None and configured in acd.queues:
        return configured
    skill = case.intent or TYPE_SKILL.get(case.type, "general")
    for name, q in acd.queues.items():
        if any(r.skill == skill for r in q.skills):
            return name
    return "general" if "general" in acd.queues else next(iter(acd.queues))


class ReturnVisits(Service):
    log = Logger()

    def __init__(self, cases: CaseService, follow_ups: FollowUps, notifier: Notifier,
                 queue: str | None = None) -> None:
        """``queue``: cases.yaml ``return_visit.queue`` (None: by the case's intent)."""
        self.cases, self.follow_ups, self.notifier = cases, follow_ups, notifier
        self.queue = queue
        self._unsubscribe: Any = None

    def startService(self) -> None:
        super().startService()
        self._unsubscribe = self.notifier.subscribe(self.on_publish)

    def stopService(self) -> defer.Deferred | None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        return super().stopService()

    def on_publish(self, topic: str, payload: dict[str, Any]) -> None:
        if topic == "case" and payload.get("kind") == "changed":
            if payload.get("state") in _FOLLOWED:
                self.follow(str(payload["case_id"]))
        elif topic == "followup_ended" and payload.get("case_id"):
            self.ended(payload)

    def follow(self, case_id: str) -> defer.Deferred:
        """Bring the router in line with the case.  Fires with the item placed (or None)."""
        d = self.cases.get(case_id)
        d.addCallback(self._follow)
        d.addErrback(self._failed, "follow", case_id)
        return d

    def _follow(self, case: Case | None) -> defer.Deferred | WorkItem | None:
        if case is None:
            return None
        if case.state is CaseState.RESOLVED:
            return self.cases.transition(case.id, CaseInput.SCHEDULE_VISIT, actor=SYSTEM,
                                         note="return visit booked on resolve")
        item_id = visit_item_id(case)
        if case.state is not CaseState.RETURN_VISIT or case.visit_at is None:
            # Closed or reopened meanwhile: a call not yet ringing is not wanted now.
            if self.follow_ups.item(item_id) is not None:
                self.follow_ups.cancel_item(item_id, f"case {case.id} is {case.state}")
            return None
        if self.follow_ups.item(item_id) is not None or any(
                c.startswith(f"{item_id}#") for c in case.call_ids):
            return None  # this attempt is waiting, ringing, or was answered already
        if not dialable(case.phone):
            self.log.warn("Case {case}: no phone to call for the return visit; the owner "
                          "records it", case=case.id)
            return None
        queue = visit_queue(case, self.follow_ups.acd_config, self.queue)
        item = self.follow_ups.add_follow_up(item_id, queue, case.phone, case.visit_at,
                                             f"回访 {case.id}", case.id)
        self.log.info("Case {case}: return-visit call {item} due at {at:.0f} in {queue}",
                      case=case.id, item=item_id, at=case.visit_at, queue=queue)
        return item

    def ended(self, payload: dict[str, Any]) -> defer.Deferred:
        """A return-visit call ended.  Fires with the case after it is recorded (or None
        for an agent's miss, which is not an attempt)."""
        case_id, call_id = str(payload["case_id"]), str(payload.get("call_id") or "")
        outcome = str(payload.get("outcome") or "")
        if outcome in CUSTOMER_MISSES:
            d = self.cases.record_visit(case_id, actor=SYSTEM, reached=False,
                                        reason=outcome, call_id=call_id)
        elif outcome == "answered":
            d = self.cases.transition(case_id, CaseInput.LINK_CALL,
                                      actor=str(payload.get("agent_id") or SYSTEM),
                                      call_id=call_id, note="return-visit call")
        else:
            return defer.succeed(None)
        d.addErrback(self._failed, f"recording {outcome} of {call_id}", case_id)
        return d

    def reconcile(self) -> defer.Deferred:
        """Book and place what the cases in ``resolved`` and ``return_visit`` still need
        (after a restart: the router snapshot may predate the last case write).  Fires
        with the number of cases looked at; a Redis failure is logged."""
        async def run() -> int:
            n = 0
            for state in (CaseState.RESOLVED, CaseState.RETURN_VISIT):
                for case in await self.cases.find(state=state.value, limit=100_000):
                    n += 1
                    try:
                        await defer.maybeDeferred(self._follow, case)
                    except Exception as e:  # one bad case must not stop the others
                        self.log.warn("Case {case}: reconcile failed: {e}", case=case.id, e=e)
            return n
        d = defer.ensureDeferred(run())
        d.addErrback(self._failed, "reconcile", "-")
        return d

    def _failed(self, failure: Failure, what: str, case_id: str) -> None:
        self.log.warn("Return visits: {what} failed for case {case}: {e}", what=what,
                      case=case_id, e=failure.getErrorMessage())
