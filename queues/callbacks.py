"""Outbound work: callbacks a waiting caller asked for, and 回访 follow-ups.

Both wait in the waiting list like calls and are dispatched by the same pass,
but ring the agent first (``AcdOutput.place_callback``) and keep their own
rules: one pending callback per number (a second request merges into it), a
retry after ``retry_delay_s`` when the customer does not answer, and giving up
after ``retries`` such retries.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from queues.agents import AgentEvent
from queues.escalation import Escalation
from queues.items import Kind, WorkItem, dialable
from queues.model import AcdConfig
from queues.ports import AcdOutput
from queues.roster import Roster
from queues.stats import AcdStats
from queues.waiting import WaitingItem, WaitingList

__all__ = ["Callbacks"]


class Callbacks:
    def __init__(
        self,
        output: AcdOutput,
        stats: AcdStats,
        waiting: WaitingList,
        roster: Roster,
        escalation: Escalation,
        dispatch: Callable[[], None],
        *,
        retries: int,
        retry_delay_s: float,
    ) -> None:
        self.output = output
        self.stats = stats
        self.waiting = waiting
        self.roster = roster
        self.escalation = escalation
        self._dispatch = dispatch
        self.retries = retries
        self.retry_delay_s = retry_delay_s
        self._numbers: dict[str, str] = {}  # number -> pending callback id

    def note(self, it: WaitingItem) -> None:
        """``it`` is now the pending callback for its number."""
        if it.number is not None:
            self._numbers[it.number] = it.id

    def answered(self, it: WaitingItem) -> None:
        """Whatever callback was pending for the number, none is now."""
        if it.kind is Kind.CALLBACK and it.number is not None:
            self._numbers.pop(it.number, None)

    def _drop(self, it: WaitingItem) -> None:
        if it.number is not None and self._numbers.get(it.number) == it.id:
            del self._numbers[it.number]

    def request(self, call_id: str, number: str) -> WorkItem | None:
        """The waiting caller chose a callback; it keeps the caller's place.

        Returns the pending callback (an existing one if the number already has one),
        or None if the call is no longer waiting (already ringing an agent).
        """
        it = self.waiting.get(call_id)
        if it is None or it.kind is not Kind.CALL or it.offered_to is not None:
            return None
        self.escalation.withdraw(it)
        self.stats.callback(it.queue)
        existing = self._numbers.get(number)
        if existing is not None:
            self.output.callback_requested(it.view(), None)
            return self.waiting[existing].view()
        # Its place (enqueue time, sequence, priority), escalation clock, tier floor
        # and case owner are the caller's: it is served when the caller would have been.
        cb = WaitingItem(
            f"{call_id}:cb", Kind.CALLBACK, it.queue, it.enqueued_at, it.seq, it.priority,
            it.queue_entered_at, it.intent, number, min_tier=it.min_tier,
            preferred=it.preferred, prefer_until=it.prefer_until, owner_case=it.owner_case,
        )  # fmt: skip
        self._numbers[number] = cb.id
        self.escalation.admit(cb)
        self.output.callback_requested(it.view(), cb.view())
        self._dispatch()
        return cb.view()

    def add_follow_up(
        self, config: AcdConfig, item_id: str, queue: str, number: str, due_at: float,
        note: str = "", case_id: str | None = None,
    ) -> WorkItem:
        """A 回访 return visit: routed like a call from ``due_at``, outside quiet hours.

        With ``case_id`` the item is one attempt of that case's return visit: the
        case's rules (cases.yaml ``return_visit``) book the next, not ``retries``.
        Raises ValueError for a number that is not ``dialable``, a ``due_at`` that
        is not a finite time, or an id already waiting (the callers check first;
        this keeps the core safe).
        """
        if not dialable(number):
            raise ValueError(f"follow-up number {str(number)[:40]!r} is not 3-20 ASCII digits")
        if not math.isfinite(due_at):
            raise ValueError(f"follow-up due_at {due_at!r} is not a time")
        if self.waiting.get(item_id) is not None:
            raise ValueError(f"follow-up {item_id[:60]!r} is already waiting")
        q = config.queues[queue]
        seq = self.waiting.next_seq()
        it = WaitingItem(item_id, Kind.FOLLOW_UP, queue, due_at, seq, q.priority, due_at,
                         None, number, due_at, note, not_before=due_at,
                         min_tier=q.min_tier, case_id=case_id)  # fmt: skip
        self.escalation.admit(it)
        self._dispatch()
        return it.view()

    def cancel(self, item_id: str, reason: str) -> bool:
        """Drop a callback or follow-up that is not ringing."""
        it = self.waiting.get(item_id)
        if it is None or it.kind is Kind.CALL or it.offered_to is not None:
            return False
        self.escalation.withdraw(it)
        self._drop(it)
        self.output.work_item_failed(it.view(), reason)
        return True

    def customer_missed(self, it: WaitingItem, now: float) -> None:
        """The agent did their part; the customer did not pick up: retry later."""
        agent = self.roster.clear_offer(it)
        assert agent is not None  # offer_result checked that it was ringing
        self.roster.settle(agent, AgentEvent.CANCEL_OFFER, f"customer did not answer {it.id}")
        it.attempt += 1
        # A case's return visit is one attempt per item: the case books the next.
        if it.attempt > (0 if it.case_id is not None else self.retries):
            self.escalation.withdraw(it)
            self._drop(it)
            self.output.work_item_failed(it.view(), f"no answer after {it.attempt} attempts")
        else:
            it.not_before = now + self.retry_delay_s
            self.escalation.arm(it)
