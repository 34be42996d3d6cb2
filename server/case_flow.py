"""Calls into service cases (issue 14): customer history, auto-opened cases, the tick.

The glue between the call side and ``CaseService`` (server/cases/), built by the
composition root.  It reads only what the call side publishes on the notifier: a
final call record (or its revision with a disposition set after the call) goes into
its customer's history (by account and by phone), and
a wrap-up disposition that ``cases.yaml`` lists under ``auto_open`` opens its case,
owned by the agent who took the call (idempotent per call).  Every ``tick_s`` it
runs the case tick and publishes each reminder or escalation as a ``case`` event
(the pages show them) and in the log.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict
from typing import Any

from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from cases.due import Escalation, Reminder
from cases.history import CallSummary
from server.cases.service import CaseService
from server.notify import Notifier

#: the survey's labels as the case history's 1-3
SATISFACTION = {"dissatisfied": 1, "fairly_satisfied": 2, "satisfied": 3}


def summary_of(record: dict[str, Any]) -> CallSummary:
    """A final call record (``CallRecord.to_dict()``) as the customer history keeps it."""
    timeline = record.get("timeline") or []
    started = float(timeline[0][0]) if timeline else 0.0
    return CallSummary(
        call_id=str(record.get("call_id", "")), at=started,
        account=str(record.get("account") or ""), phone=str(record.get("caller") or ""),
        intent=str(record.get("intent") or ""),
        outcome=str(record.get("disposition") or record.get("outcome") or ""),
        satisfaction=SATISFACTION.get(str(record.get("satisfaction") or "")))


class CaseFlow(Service):
    """Subscribes to the notifier when started; ticks every ``tick_s``."""

    log = Logger()

    def __init__(self, clock: Any, cases: CaseService, notifier: Notifier,
                 tick_s: float = 30.0) -> None:
        self.clock, self.cases, self.notifier, self.tick_s = clock, cases, notifier, tick_s
        self._unsubscribe: Any = None
        self._loop: LoopingCall | None = None
        # auto_open is idempotent per call, and a final record may be published again
        # (a disposition set after the call): announce each case once.
        self._announced: OrderedDict[str, None] = OrderedDict()

    def startService(self) -> None:
        super().startService()
        self._unsubscribe = self.notifier.subscribe(self.on_publish)
        self._loop = LoopingCall(self.tick)
        self._loop.clock = self.clock
        self._loop.start(self.tick_s, now=False)

    def stopService(self) -> defer.Deferred | None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        return super().stopService()

    def on_publish(self, topic: str, payload: dict[str, Any]) -> None:
        # record_revised: a final record given its disposition after the call (the desk's
        # late wrap-up, server/web/api.py); both writes are idempotent per call.
        if topic not in ("record", "record_revised") or not payload.get("final") \
                or payload.get("kind") != "inbound":
            return
        summary = summary_of(payload)
        self.cases.record_call(summary).addErrback(self._failed, "history", summary.call_id)
        disposition = payload.get("disposition")
        if disposition and payload.get("agent_id"):
            d = self.cases.auto_open(
                disposition=str(disposition), intent=summary.intent, call_id=summary.call_id,
                account=summary.account, phone=summary.phone,
                owner=str(payload["agent_id"]), summary=str(payload.get("notes") or ""))
            d.addCallback(self._opened, summary.call_id)
            d.addErrback(self._failed, "auto-open", summary.call_id)

    def _opened(self, case: Any, call_id: str) -> None:
        if case is not None and case.id not in self._announced:
            self._announced[case.id] = None
            while len(self._announced) > 10_000:
                self._announced.popitem(last=False)
            self.log.info("Call {call} opened case {case}", call=call_id, case=case.id)
            self.notifier.publish("case", {"kind": "opened", "case_id": case.id,
                                           "call_id": call_id, "owner": case.owner})

    def tick(self) -> defer.Deferred:
        """Deliver the reminders and escalations now due.  A Redis failure is logged;
        the next tick retries (the due set is Redis's, nothing is lost)."""
        d = self.cases.tick()
        d.addCallback(self._deliver)
        d.addErrback(self._failed, "tick", "")
        return d

    def _deliver(self, notices: list[Reminder | Escalation]) -> None:
        for notice in notices:
            kind = "reminder" if isinstance(notice, Reminder) else "escalation"
            payload = {"kind": kind, **{k: (str(v) if k == "phase" else v)
                                        for k, v in asdict(notice).items()}}
            self.log.info("Case {case}: {kind}", case=notice.case_id, kind=kind)
            self.notifier.publish("case", payload)

    def _failed(self, failure: Failure, what: str, call_id: str) -> None:
        self.log.warn("Cases: {what} failed for {call}: {e}", what=what, call=call_id or "-",
                      e=failure.getErrorMessage())
