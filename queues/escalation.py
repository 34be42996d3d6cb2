"""Escalation and overflow timers: one timer per waiting item, and the quiet-hours wake-up.

Each waiting item has at most one timer, armed for whichever comes first: its
due or retry time (``not_before``), its queue's next escalation step, the end of
its case owner's turn, or (for a call) the queue's maximum wait and the grace after
it.  When it fires the item may overflow to another
queue (it keeps its place in the global order; its escalation clock restarts)
or leave at the maximum wait; either way a dispatch pass follows, because a
widened step may have found an agent.

Every entry into and exit from the waiting list goes through ``admit`` and
``withdraw`` here, so no timer outlives its item.
"""

from __future__ import annotations

from collections.abc import Callable

from queues.items import Kind
from queues.model import AcdConfig
from queues.ports import AcdOutput, Clock, DelayedCall
from queues.quiet import QuietHours
from queues.selection import next_boundary, overflow_due
from queues.stats import AcdStats
from queues.waiting import WaitingItem, WaitingList

__all__ = ["Escalation"]


class Escalation:
    def __init__(
        self,
        config: AcdConfig,
        clock: Clock,
        output: AcdOutput,
        stats: AcdStats,
        waiting: WaitingList,
        quiet: QuietHours,
        dispatch: Callable[[], None],
    ) -> None:
        self.config = config
        self.clock = clock
        self.output = output
        self.stats = stats
        self.waiting = waiting
        self.quiet = quiet
        self._dispatch = dispatch
        self._quiet_timer: DelayedCall | None = None

    def reconfigure(self, config: AcdConfig) -> None:
        """New queue parameters (``Router.reconfigure``), read at each use."""
        self.config = config

    def admit(self, it: WaitingItem) -> None:
        """Into the waiting list, with its timer."""
        self.waiting.insert(it)
        self.arm(it)

    def withdraw(self, it: WaitingItem) -> None:
        """Out of the waiting list; its timer is cancelled."""
        self.waiting.remove(it)
        if it.timer is not None and it.timer.active():
            it.timer.cancel()
        it.timer = None

    def waited(self, it: WaitingItem) -> float:
        """Seconds in its present queue: the escalation clock."""
        return max(0.0, self.clock.seconds() - it.queue_entered_at)

    def arm(self, it: WaitingItem) -> None:
        """One timer per waiting item: its next escalation step, max wait (and the grace
        after it), the end of its case owner's turn, or its due time."""
        if it.timer is not None and it.timer.active():
            it.timer.cancel()
        it.timer = None
        now = self.clock.seconds()
        if it.not_before > now:
            at = it.not_before
        else:
            q = self.config.queues[it.queue]
            waited = now - it.queue_entered_at
            call = it.kind is Kind.CALL
            ahead = [next_boundary(q, waited, call)]
            hard = q.max_wait_s + self.config.policy.max_wait_grace_s
            if call and hard > waited:
                # (a restored caller already past max_wait_s without the mark: now)
                ahead.append(hard if it.past_max_wait or q.max_wait_s > waited else waited)
            times = [it.queue_entered_at + b for b in ahead if b is not None]
            if it.preferred is not None and it.prefer_until > now:
                times.append(it.prefer_until)
            if not times:
                return
            at = min(times)
        it.timer = self.clock.callLater(max(0.0, at - now), self._on_timer, it.id)

    def prefer(self, it: WaitingItem, agent_id: str, case_id: str | None) -> bool:
        """Its case owner first, until ``policy.case_owner_first_s`` after its enqueue
        (one more time on its timer); False if it rings or that time is over."""
        until = it.enqueued_at + self.config.policy.case_owner_first_s
        if it.offered_to is not None or until <= self.clock.seconds():
            return False
        self.waiting.prefer(it, agent_id, until, case_id)
        self.arm(it)
        return True

    def _on_timer(self, item_id: str) -> None:
        it = self.waiting.get(item_id)
        if it is None:
            return
        it.timer = None
        self.expire(it)
        self._dispatch()

    def expire(self, it: WaitingItem) -> bool:
        """Overflow or max wait, if due and the item is not ringing; True if it left.

        Also ends a case owner's turn that is over, and re-arms the item's timer when
        it stays.  At ``max_wait_s`` a call is marked ``past_max_wait`` (the waiting
        loop offers the callback that keeps its place) and leaves only
        ``policy.max_wait_grace_s`` later.
        """
        now = self.clock.seconds()
        if it.preferred is not None and now >= it.prefer_until:
            self.waiting.clear_preference(it)
        if it.offered_to is not None:
            self.arm(it)
            return False
        q = self.config.queues[it.queue]
        waited = self.waited(it)
        target = overflow_due(q, waited)
        if target is not None and it.not_before <= now:
            src = it.queue
            self.withdraw(it)
            # The floor travels with the caller: the stricter of where they came from
            # and where they go (a complaint never reaches a trainee through overflow).
            to = self.config.queues[target]
            it.min_tier = self.config.stricter_tier(it.min_tier, to.min_tier)
            it.queue, it.priority = target, to.priority
            it.queue_entered_at = now
            it.past_max_wait = False  # a new queue, a new maximum wait
            self.stats.overflowed(src, target)
            self.output.call_overflowed(it.view(), src, target)
            self.admit(it)
            return False
        if it.kind is Kind.CALL and waited >= q.max_wait_s:
            if waited < q.max_wait_s + self.config.policy.max_wait_grace_s:
                it.past_max_wait = True
                self.arm(it)
                return False
            self.withdraw(it)
            self.stats.overflowed(it.queue, None)
            self.output.call_overflowed(it.view(), it.queue, None)
            return True
        self.arm(it)
        return False

    def arm_quiet(self, now: float) -> None:
        """Wake the dispatch when quiet hours end (callbacks and follow-ups wait)."""
        if self._quiet_timer is None or not self._quiet_timer.active():
            delay = self.quiet.ends_after(now) - now
            self._quiet_timer = self.clock.callLater(delay, self._dispatch)
