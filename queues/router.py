"""The ACD router: waiting work in one global order, agents, and every decision.

Inputs are plain method calls from the adapter (AMI events, feature codes, HTTP);
outputs go to an ``AcdOutput``; time comes from the injected clock.  After every input
the router runs one dispatch pass:

- Waiting items are kept in one list sorted by (-priority, enqueue time, sequence)
  across all queues, so queues that share agents never race: the highest priority,
  longest waiting item that some ready agent qualifies for goes first.
- A requeued item (no answer, restart) keeps its key, so it is back at the head.
- An item being offered stays in the list (with ``offered_to`` set) until answered;
  that is what guarantees one ringing agent per call and one call per agent.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from queues.agents import (
    DEVICE_OFFLINE,
    MISSED_CALL,
    AgentEvent,
    AgentRuntime,
    AgentState,
    AgentView,
    Device,
    InvalidTransition,
    device_from_ami,
)
from queues.items import Decision, Kind, Outcome, WaitExplanation, WorkItem, dialable
from queues.model import AcdConfig, Queue
from queues.ports import AcdOutput, Clock
from queues.quiet import QuietHours
from queues.selection import Step, next_boundary, overflow_due, rank, step_in_force
from queues.stats import AcdStats, QueueKpis

__all__ = ["Router"]

S, E = AgentState, AgentEvent
_EMPTY: frozenset[str] = frozenset()
_BUSY = (S.RESERVED, S.ON_CALL, S.WRAP_UP)


@dataclass(eq=False)
class _Item:
    id: str
    kind: Kind
    queue: str
    enqueued_at: float
    seq: int
    priority: int
    queue_entered_at: float  # escalation clock; restarts on overflow
    intent: str | None = None
    number: str | None = None
    due_at: float | None = None
    note: str = ""
    attempt: int = 0
    not_before: float = 0.0  # follow-up due time, callback retry time
    offered_to: str | None = None
    missed_by: set[str] = field(default_factory=set)
    timer: Any = None
    decision: Decision | None = None
    agent_id: str | None = None  # once answered
    answered_at: float = 0.0
    ended_at: float | None = None
    hold_s: float = 0.0
    hold_since: float | None = None

    def key(self) -> tuple[int, float, int, str]:
        return (-self.priority, self.enqueued_at, self.seq, self.id)

    def view(self) -> WorkItem:
        return WorkItem(
            self.id, self.kind, self.queue, self.enqueued_at, self.intent,
            self.number, self.due_at, self.attempt, self.note,
        )  # fmt: skip


class Router:
    def __init__(
        self,
        config: AcdConfig,
        clock: Clock,
        output: AcdOutput,
        *,
        stats: AcdStats | None = None,
        callback_retries: int = 2,
        callback_retry_delay_s: float = 300.0,
    ) -> None:
        for q in config.queues.values():
            for st in q.escalation:
                if st.overflow_to is not None and st.overflow_to not in config.queues:
                    raise ValueError(f"queue {q.name}: overflow to unknown {st.overflow_to}")
        self.config = config
        self.clock = clock
        self.output = output
        self.policy = config.policy
        self.stats = stats or AcdStats(
            {n: q.service_level.threshold_s for n, q in config.queues.items()},
            config.policy.short_abandon_s,
        )
        self.callback_retries = callback_retries
        self.callback_retry_delay_s = callback_retry_delay_s
        self.quiet = QuietHours(config.policy.quiet_hours, config.policy.timezone)
        self._tier_rank = {t.name: t.rank for t in config.tiers}
        self._agents = {a.id: AgentRuntime(a) for a in config.agents.values()}
        self._by_iface = {a.interface: a.id for a in config.agents.values()}
        self._items: dict[str, _Item] = {}  # waiting or ringing
        self._order: list[tuple[int, float, int, str]] = []
        # queue -> sorted queue_entered_at of its items: the first one has the widest
        # escalation step, which tells a dispatch pass when a whole queue is dead.
        self._qorder: dict[str, list[tuple[int, float, int, str]]] = {}  # same, per queue
        self._entered: dict[str, list[float]] = {}
        self._moved_in: dict[str, int] = {}  # items overflowed in: entered != enqueued
        self._offered_n: dict[str, int] = {}  # items ringing an agent, per queue
        self._active: dict[str, _Item] = {}  # answered, until wrap-up ends
        self._callback_numbers: dict[str, str] = {}  # number -> pending callback id
        self._ready: dict[str, set[str]] = {}  # skill -> offerable agent ids
        self._ready_ids: set[str] = set()
        self._rr_last: dict[str, str] = {}
        self._seq = itertools.count()
        self._quiet_timer: Any = None
        self._dispatching = False
        self._again = False

    # ---------------------------------------------------------------- queries
    def agent(self, agent_id: str) -> AgentView:
        return self._agents[agent_id].view()

    def item(self, item_id: str) -> WorkItem | None:
        it = self._items.get(item_id) or self._active.get(item_id)
        return it.view() if it else None

    def is_waiting(self, item_id: str) -> bool:
        """Waiting or ringing (not yet answered, not gone)."""
        return item_id in self._items

    def waiting(self) -> list[WorkItem]:
        """Waiting and ringing items in the global routing order."""
        return [self._items[k[3]].view() for k in self._order]

    def decision(self, item_id: str) -> Decision | None:
        it = self._items.get(item_id) or self._active.get(item_id)
        return it.decision if it else None

    def position(self, item_id: str) -> int:
        it = self._items[item_id]
        k = it.key()
        return 1 + sum(1 for o in self._order if o < k and self._items[o[3]].queue == it.queue)

    def estimated_wait(self, item_id: str, default_aht_s: float = 180.0) -> float:
        """Position x AHT / staffed qualified agents: a rough figure to announce."""
        it = self._items[item_id]
        aht = self.stats.kpis(it.queue).aht_s or default_aht_s
        step = step_in_force(self.config.queues[it.queue], self._waited(it))
        staffed = sum(
            1
            for a in self._agents.values()
            if a.state not in (S.LOGGED_OUT, S.PAUSED) and self._qualifies(a, it, step)
        )
        return self.position(item_id) * aht / max(1, staffed)

    def should_offer_callback(self, item_id: str) -> bool:
        """True when the IVR should offer this caller a callback (press 1): the queue
        offers callbacks and the estimated wait has passed its threshold."""
        it = self._items.get(item_id)
        if it is None or it.kind is not Kind.CALL or it.offered_to is not None:
            return False
        limit = self.config.queues[it.queue].callback_offer_after_s
        return limit is not None and self.estimated_wait(item_id) >= limit

    def queue_kpis(self, queue: str) -> QueueKpis:
        now = self.clock.seconds()
        waits = [now - i.enqueued_at for i in self._items.values()
                 if i.queue == queue and i.kind is Kind.CALL]  # fmt: skip
        return self.stats.kpis(queue, len(waits), max(waits, default=0.0))

    def explain_wait(self, item_id: str) -> WaitExplanation:
        it = self._items[item_id]
        now = self.clock.seconds()
        q = self.config.queues[it.queue]
        step = step_in_force(q, self._waited(it))
        qual = [a for a in self._agents.values()
                if a.state is not S.LOGGED_OUT and self._qualifies(a, it, step)]  # fmt: skip
        ready = sum(1 for a in qual if a.offerable())
        busy = sum(1 for a in qual if a.state in _BUSY or a.device is not Device.FREE)
        paused = sum(1 for a in qual if a.state is S.PAUSED)
        need = ", ".join(f"{s} >= {lvl}" for s, lvl in step.levels) or "any skill"
        if q.min_tier:
            need += f", tier {q.min_tier}+"
        pos = self.position(item_id)
        if it.offered_to:
            text = f"ringing agent {it.offered_to}"
        elif it.not_before > now:
            text = f"not before {it.not_before - now:.0f}s from now ({it.kind} due/retry time)"
        elif it.kind is not Kind.CALL and self.quiet.active(now):
            text = f"quiet hours: no outbound calls for {self.quiet.ends_after(now) - now:.0f}s"
        elif not qual:
            text = f"no logged-in agent with {need}"
        elif ready == 0:
            text = (
                f"no ready agent with {need}; {len(qual)} agents have the skill: "
                f"{busy} busy (ringing, on call, wrap-up or phone in use), {paused} paused"
            )
        else:
            text = f"{ready} ready agents with {need}; {pos - 1} calls ahead in this queue"
        return WaitExplanation(
            it.id, it.queue, self._waited(it), step.label, pos, len(qual), ready, busy, paused, text
        )

    # ----------------------------------------------------------- call inputs
    def enqueue(
        self, call_id: str, queue: str, *, intent: str | None = None, number: str | None = None,
        priority: int | None = None, since: float | None = None,
    ) -> WorkItem:
        """A caller enters a queue from the IVR.

        ``priority`` is the IVR leaf's (complaints above billing, say); without
        it the queue's own priority applies.  ``since`` is for a caller who was
        already waiting when a restarted server found the router's snapshot
        without them: they keep their original enqueue time, hence their place.
        """
        if call_id in self._items or call_id in self._active:
            raise ValueError(f"{call_id} already routed")
        q = self.config.queues[queue]
        now = self.clock.seconds()
        at = now if since is None else min(since, now)
        prio = q.priority if priority is None else priority
        it = _Item(call_id, Kind.CALL, queue, at, next(self._seq), prio, at, intent, number)
        if since is None:
            self.stats.offered(queue)  # a re-entry was counted when it first came
        self._insert(it)
        self._dispatch()
        return it.view()

    def abandon(self, call_id: str) -> bool:
        """The caller hung up before being connected; False if not waiting."""
        it = self._items.get(call_id)
        if it is None or it.kind is not Kind.CALL:
            return False
        self._release_offer(it, "caller hung up")
        self._remove(it)
        short = self.stats.abandoned(it.queue, self.clock.seconds() - it.enqueued_at)
        self.output.call_abandoned(it.view(), short)
        self._dispatch()
        return True

    def offer_result(self, item_id: str, outcome: Outcome) -> None:
        """The adapter's verdict on an offer: DialStatus, or the callback legs."""
        it = self._items[item_id]
        if it.offered_to is None:
            raise ValueError(f"{item_id} is not being offered")
        agent = self._agents[it.offered_to]
        now = self.clock.seconds()
        if outcome is Outcome.ANSWERED:
            self._remove(it)
            it.offered_to, it.agent_id, it.answered_at = None, agent.spec.id, now
            self._active[it.id] = it
            agent.misses = 0
            self._go(agent, E.ANSWER, f"answered {it.id}")
            if it.kind is Kind.CALL:
                self.stats.answered(it.queue, now - it.enqueued_at)
            if it.kind is Kind.CALLBACK and it.number is not None:
                self._callback_numbers.pop(it.number, None)
        elif outcome in (Outcome.CUSTOMER_NO_ANSWER, Outcome.CUSTOMER_BUSY):
            # The agent did their part; the customer did not pick up: retry later.
            self._clear_offer(it)
            agent.item_id = None
            self._settle(agent, E.CANCEL_OFFER, f"customer did not answer {it.id}")
            it.attempt += 1
            if it.attempt > self.callback_retries:
                self._remove(it)
                if it.number is not None and self._callback_numbers.get(it.number) == it.id:
                    del self._callback_numbers[it.number]
                self.output.work_item_failed(it.view(), f"no answer after {it.attempt} attempts")
            else:
                it.not_before = now + self.callback_retry_delay_s
                self._arm(it)
        else:
            # RONA: the item keeps its key, so it is at the head of its queue again.
            self._clear_offer(it)
            agent.item_id = None
            it.missed_by.add(agent.spec.id)
            agent.misses += 1
            if agent.misses >= self.policy.missed_calls_before_pause:
                self._go(agent, E.PAUSE, f"{outcome} on {it.id}", MISSED_CALL)
            else:
                self._settle(agent, E.MISS, f"{outcome} on {it.id}")
            self._expire(it)
        self._dispatch()

    def adopt_offer(self, item_id: str, agent_id: str) -> bool:
        """Asterisk is already ringing (or has connected) ``agent_id`` for this
        waiting call: make the router agree, as if it had made that offer.

        A restarted server finds this in the channel list, because a snapshot
        forgets offers in flight.  Whatever else either of them was offered
        meanwhile (by a dispatch that could not know) is withdrawn, without a
        miss; a pause the agent was restored into becomes the pause they take
        after this call.  The adapter then reports the Dial's outcome with
        ``offer_result`` like any other.  False if the call is not waiting here
        or the agent cannot hold it (logged out, or on other answered work).
        """
        it = self._items.get(item_id)
        a = self._agents.get(agent_id)
        if it is None or a is None or it.kind is not Kind.CALL:
            return False
        if it.offered_to == agent_id:
            return True
        if a.state in (S.LOGGED_OUT, S.ON_CALL, S.WRAP_UP):
            return False
        if a.state is S.RESERVED:
            other = self._items.get(a.item_id or "")
            if other is not None:
                self._release_offer(other, f"{agent_id} was found ringing for {item_id}")
        self._release_offer(it, f"found ringing {agent_id}")
        pause = None
        if a.state is S.PAUSED:  # restored (or settled) into the pause: it waits
            pause = a.pause_reason if a.pause_reason != DEVICE_OFFLINE else None
            self._go(a, E.UNPAUSE, f"found ringing for {item_id}")
        it.offered_to, a.item_id = agent_id, it.id
        self._offered_n[it.queue] = self._offered_n.get(it.queue, 0) + 1
        self._go(a, E.OFFER, f"found ringing for {it.id}")
        a.pending_pause = pause or a.pending_pause
        self._dispatch()  # whoever was let go may be offered elsewhere
        return True

    def forget(self, item_id: str) -> bool:
        """Drop a waiting call that is past the queue already: a restored snapshot,
        older than the call's own state, still had it waiting.  No statistics,
        no outputs (it was neither abandoned nor served here)."""
        it = self._items.get(item_id)
        if it is None or it.kind is not Kind.CALL:
            return False
        if it.offered_to is not None:
            self._release_offer(it, "call is past the queue")
        self._remove(it)
        return True

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Inputs inside run without offering anything; one dispatch at the end.

        For inputs that only make sense together: a restore and its fix-ups, a
        re-enqueue and the adoption of the offer Asterisk is already making."""
        if self._dispatching:
            yield
            return
        self._dispatching = True
        try:
            yield
        finally:
            self._dispatching = False
            self._dispatch()

    def hold(self, item_id: str, on: bool) -> None:
        it = self._active.get(item_id)
        if it is None or it.ended_at is not None:
            return
        now = self.clock.seconds()
        if on and it.hold_since is None:
            it.hold_since = now
        elif not on and it.hold_since is not None:
            it.hold_s += now - it.hold_since
            it.hold_since = None

    def call_ended(self, item_id: str) -> None:
        """The connected call hung up: the agent goes to after-call work."""
        it = self._active.get(item_id)
        if it is None or it.ended_at is not None:
            return
        self.hold(item_id, False)
        now = self.clock.seconds()
        it.ended_at = now
        agent = self._agents[it.agent_id or ""]
        self._go(agent, E.HANGUP, f"{it.id} ended")
        wrap = self.policy.wrapup_default_s
        if wrap <= 0:
            self._end_wrap(agent)
            self._settle(agent, E.WRAP_DONE, "no after-call work")
            self._dispatch()
            return
        agent.wrap_ends_at = now + wrap
        agent.wrap_timer = self.clock.callLater(wrap, self._wrap_timeout, agent.spec.id)

    def request_callback(self, call_id: str, number: str) -> WorkItem | None:
        """The waiting caller chose a callback; it keeps the caller's place.

        Returns the pending callback (an existing one if the number already has one),
        or None if the call is no longer waiting (already ringing an agent).
        """
        it = self._items.get(call_id)
        if it is None or it.kind is not Kind.CALL or it.offered_to is not None:
            return None
        self._remove(it)
        self.stats.callback(it.queue)
        existing = self._callback_numbers.get(number)
        if existing is not None:
            self.output.callback_requested(it.view(), None)
            return self._items[existing].view()
        cb = _Item(
            f"{call_id}:cb", Kind.CALLBACK, it.queue, it.enqueued_at, it.seq, it.priority,
            it.queue_entered_at, it.intent, number,
        )  # fmt: skip
        self._callback_numbers[number] = cb.id
        self._insert(cb)
        self.output.callback_requested(it.view(), cb.view())
        self._dispatch()
        return cb.view()

    def add_follow_up(
        self, item_id: str, queue: str, number: str, due_at: float, note: str = ""
    ) -> WorkItem:
        """A 回访 return visit: routed like a call from ``due_at``, outside quiet hours.

        Raises ValueError for a number that is not ``dialable`` or a ``due_at`` that
        is not a finite time (the API checks first; this keeps the core safe).
        """
        if not dialable(number):
            raise ValueError(f"follow-up number {str(number)[:40]!r} is not 3-20 ASCII digits")
        if not math.isfinite(due_at):
            raise ValueError(f"follow-up due_at {due_at!r} is not a time")
        q = self.config.queues[queue]
        it = _Item(item_id, Kind.FOLLOW_UP, queue, due_at, next(self._seq), q.priority, due_at,
                   None, number, due_at, note, not_before=due_at)  # fmt: skip
        self._insert(it)
        self._dispatch()
        return it.view()

    def cancel_item(self, item_id: str, reason: str = "cancelled") -> bool:
        """Drop a callback or follow-up that is not ringing."""
        it = self._items.get(item_id)
        if it is None or it.kind is Kind.CALL or it.offered_to is not None:
            return False
        self._remove(it)
        if it.number is not None and self._callback_numbers.get(it.number) == it.id:
            del self._callback_numbers[it.number]
        self.output.work_item_failed(it.view(), reason)
        return True

    # ---------------------------------------------------------- agent inputs
    def login(self, agent_id: str) -> AgentView:
        """Feature code *11 (the adapter checks the PIN) or the desk."""
        a = self._agents[agent_id]
        if a.state is S.LOGGED_OUT:
            a.misses, a.pending_pause, a.resume_reason = 0, None, None
            self._settle(a, E.LOGIN, "login")
            self._dispatch()
        return a.view()

    def logout(self, agent_id: str) -> AgentView:
        """Feature code *12.  Refused on a live call; a ringing offer is withdrawn."""
        a = self._agents[agent_id]
        if a.state is S.LOGGED_OUT:
            return a.view()
        if a.state is S.ON_CALL:
            raise InvalidTransition(agent_id, a.state, E.LOGOUT)
        if a.state is S.RESERVED:
            it = self._items[a.item_id or ""]
            self._release_offer(it, "agent logged out")
        if a.state is S.WRAP_UP:
            self._end_wrap(a)
        a.pending_pause = None
        self._go(a, E.LOGOUT, "logout")
        self._dispatch()
        return a.view()

    def pause(self, agent_id: str, reason: str) -> AgentView:
        """Pause now, or after the current call and its wrap-up if busy."""
        a = self._agents[agent_id]
        if a.state in (S.READY, S.PAUSED):
            if a.pause_reason == DEVICE_OFFLINE and a.device is Device.OFFLINE:
                a.resume_reason = reason  # stays offline; remember the wish
            else:
                self._go(a, E.PAUSE, "agent paused", reason)
        elif a.state in _BUSY:
            a.pending_pause = reason
        else:
            raise InvalidTransition(agent_id, a.state, E.PAUSE)
        return a.view()

    def unpause(self, agent_id: str) -> AgentView:
        a = self._agents[agent_id]
        a.pending_pause = None
        if a.state is S.PAUSED:
            if a.device is Device.OFFLINE:
                a.resume_reason = None
            else:
                self._settle(a, E.UNPAUSE, "agent unpaused")
                self._dispatch()
        return a.view()

    def toggle_pause(self, agent_id: str, reason: str = "break") -> AgentView:
        """Feature code *13."""
        a = self._agents[agent_id]
        if a.state is S.PAUSED or a.pending_pause is not None:
            return self.unpause(agent_id)
        return self.pause(agent_id, reason)

    def end_wrap_up(self, agent_id: str) -> AgentView:
        a = self._agents[agent_id]
        if a.state is S.WRAP_UP:
            self._end_wrap(a)
            self._settle(a, E.WRAP_DONE, "wrap-up ended by agent")
            self._dispatch()
        return a.view()

    def extend_wrap_up(self, agent_id: str, seconds: float) -> AgentView:
        a = self._agents[agent_id]
        if a.state is S.WRAP_UP and a.wrap_ends_at is not None:
            if a.wrap_timer is not None and a.wrap_timer.active():
                a.wrap_timer.cancel()
            a.wrap_ends_at += seconds
            delay = max(0.0, a.wrap_ends_at - self.clock.seconds())
            a.wrap_timer = self.clock.callLater(delay, self._wrap_timeout, agent_id)
        return a.view()

    def device_state(self, interface: str, ami_state: str) -> None:
        """AMI DeviceStateChange for an agent's phone (e.g. PJSIP/1001, UNAVAILABLE)."""
        agent_id = self._by_iface.get(interface)
        if agent_id is None:
            return
        a = self._agents[agent_id]
        new, old = device_from_ami(ami_state), a.device
        if new is old:
            return
        a.device = new
        if new is Device.OFFLINE and a.state in (S.READY, S.WRAP_UP, S.PAUSED):
            if a.state is S.PAUSED:
                a.resume_reason = a.pause_reason
            else:
                a.resume_reason = a.pending_pause
                a.pending_pause = None
                if a.state is S.WRAP_UP:
                    self._end_wrap(a)
            self._go(a, E.PAUSE, f"device {ami_state}", DEVICE_OFFLINE)
        elif old is Device.OFFLINE and a.state is S.PAUSED and a.pause_reason == DEVICE_OFFLINE:
            back, a.resume_reason = a.resume_reason, None
            if back is None:
                self._go(a, E.UNPAUSE, f"device {ami_state}")
            else:
                self._go(a, E.PAUSE, f"device {ami_state}", back)
        self._reindex(a)
        self._dispatch()

    # --------------------------------------------------------------- internals
    def _waited(self, it: _Item) -> float:
        return max(0.0, self.clock.seconds() - it.queue_entered_at)

    def _qualifies(self, a: AgentRuntime, it: _Item, step: Step) -> bool:
        q = self.config.queues[it.queue]
        if q.min_tier and self._tier_rank[a.spec.tier] < self._tier_rank[q.min_tier]:
            return False
        return all(a.spec.skills.get(s, 0) >= lvl for s, lvl in step.levels)

    def _insert(self, it: _Item) -> None:
        self._items[it.id] = it
        bisect.insort(self._order, it.key())
        bisect.insort(self._qorder.setdefault(it.queue, []), it.key())
        bisect.insort(self._entered.setdefault(it.queue, []), it.queue_entered_at)
        if it.queue_entered_at != it.enqueued_at:
            self._moved_in[it.queue] = self._moved_in.get(it.queue, 0) + 1
        self._arm(it)

    def _remove(self, it: _Item) -> None:
        del self._items[it.id]
        k = it.key()
        del self._order[bisect.bisect_left(self._order, k)]
        qorder = self._qorder[it.queue]
        del qorder[bisect.bisect_left(qorder, k)]
        entered = self._entered[it.queue]
        del entered[bisect.bisect_left(entered, it.queue_entered_at)]
        if it.queue_entered_at != it.enqueued_at:
            self._moved_in[it.queue] -= 1
        if it.offered_to is not None:
            self._offered_n[it.queue] -= 1
        if it.timer is not None and it.timer.active():
            it.timer.cancel()
        it.timer = None

    def _clear_offer(self, it: _Item) -> None:
        if it.offered_to is not None:
            it.offered_to = None
            self._offered_n[it.queue] -= 1

    def _release_offer(self, it: _Item, reason: str) -> None:
        """Withdraw a ringing offer; the agent goes back to ready (or pending pause)."""
        if it.offered_to is None:
            return
        a = self._agents[it.offered_to]
        self._clear_offer(it)
        a.item_id = None
        self.output.cancel_offer(it.view(), a.spec.id, reason)
        if reason == "agent logged out":
            return  # the caller moves the agent to logged_out itself
        self._settle(a, E.CANCEL_OFFER, reason)

    def _go(self, a: AgentRuntime, ev: AgentEvent, reason: str, pause: str | None = None) -> None:
        old, new = a.state, a.apply(ev)
        now = self.clock.seconds()
        if old in (S.READY, S.ON_CALL, S.WRAP_UP) and now > a.since:
            busy = old is not S.READY
            a.spans.append((a.since, now, busy))
            self.stats.agent_span(a.spec.id, now - a.since, busy)
        a.state, a.since = new, now
        a.pause_reason = pause if new is S.PAUSED else None
        if new is S.READY:
            a.idle_since = now
        self._reindex(a)
        self.output.agent_state_changed(a.spec.id, old, new, pause or reason)

    def _settle(self, a: AgentRuntime, ev: AgentEvent, reason: str) -> None:
        """Apply an event whose normal target is ready, unless the phone is offline or
        the agent asked for a pause meanwhile: then pause instead."""
        if a.device is Device.OFFLINE:
            a.resume_reason, a.pending_pause = a.pending_pause, None
            self._go(a, E.PAUSE, reason, DEVICE_OFFLINE)
        elif a.pending_pause is not None:
            p, a.pending_pause = a.pending_pause, None
            self._go(a, E.PAUSE, reason, p)
        else:
            self._go(a, ev, reason)

    def _reindex(self, a: AgentRuntime) -> None:
        aid = a.spec.id
        if a.offerable():
            if aid not in self._ready_ids:
                self._ready_ids.add(aid)
                for s in a.spec.skills:
                    self._ready.setdefault(s, set()).add(aid)
        elif aid in self._ready_ids:
            self._ready_ids.discard(aid)
            for s in a.spec.skills:
                self._ready[s].discard(aid)

    def _end_wrap(self, a: AgentRuntime) -> None:
        """Close the item's books: talk + hold + after-call work into AHT."""
        if a.wrap_timer is not None and a.wrap_timer.active():
            a.wrap_timer.cancel()
        a.wrap_timer, a.wrap_ends_at = None, None
        it = self._active.pop(a.item_id or "", None)
        a.item_id = None
        if it is None or it.ended_at is None:
            return
        now = self.clock.seconds()
        talk = it.ended_at - it.answered_at - it.hold_s
        self.stats.handled(it.queue, talk, it.hold_s, now - it.ended_at)

    def _wrap_timeout(self, agent_id: str) -> None:
        a = self._agents[agent_id]
        a.wrap_timer = None
        if a.state is S.WRAP_UP:
            self._end_wrap(a)
            self._settle(a, E.WRAP_DONE, "wrap-up time over")
            self._dispatch()

    def _arm(self, it: _Item) -> None:
        """One timer per waiting item: its next escalation step, max wait or due time."""
        if it.timer is not None and it.timer.active():
            it.timer.cancel()
        it.timer = None
        now = self.clock.seconds()
        if it.not_before > now:
            at = it.not_before
        else:
            q = self.config.queues[it.queue]
            b = next_boundary(q, now - it.queue_entered_at, it.kind is Kind.CALL)
            if b is None:
                return
            at = it.queue_entered_at + b
        it.timer = self.clock.callLater(max(0.0, at - now), self._on_timer, it.id)

    def _on_timer(self, item_id: str) -> None:
        it = self._items.get(item_id)
        if it is None:
            return
        it.timer = None
        self._expire(it)
        self._dispatch()

    def _expire(self, it: _Item) -> bool:
        """Overflow or max wait, if due and the item is not ringing; True if it left.

        Also re-arms the item's timer when it stays.
        """
        if it.offered_to is not None:
            self._arm(it)
            return False
        q = self.config.queues[it.queue]
        waited = self._waited(it)
        target = overflow_due(q, waited)
        if target is not None and it.not_before <= self.clock.seconds():
            src = it.queue
            self._remove(it)
            it.queue, it.priority = target, self.config.queues[target].priority
            it.queue_entered_at = self.clock.seconds()
            self.stats.overflowed(src, target)
            self.output.call_overflowed(it.view(), src, target)
            self._insert(it)
            return False
        if it.kind is Kind.CALL and waited >= q.max_wait_s:
            self._remove(it)
            self.stats.overflowed(it.queue, None)
            self.output.call_overflowed(it.view(), it.queue, None)
            return True
        self._arm(it)
        return False

    def _arm_quiet(self, now: float) -> None:
        if self._quiet_timer is None or not self._quiet_timer.active():
            delay = self.quiet.ends_after(now) - now
            self._quiet_timer = self.clock.callLater(delay, self._dispatch)

    def _dispatch(self) -> None:
        # Outputs must not re-enter, but if one does, finish this pass and go again
        # rather than interleave two passes over the same order.
        if self._dispatching:
            self._again = True
            return
        self._dispatching = True
        try:
            self._again = True
            while self._again:
                self._again = False
                self._dispatch_pass()
        finally:
            self._dispatching = False

    def _dispatch_pass(self) -> None:
        """Walk the waiting work in global order, offering while ready agents remain.

        The global order is a merge of the per-queue orders (a heap of queue heads),
        so a queue found dead is dropped from the walk instead of being stepped over
        item by item.  Steps only widen with waiting time, so when an item finds no
        agent, every item of its queue that entered the queue no earlier is dead for
        this pass too.  Offers do not change the orders, and outputs do not re-enter.
        """
        if not self._ready_ids:
            return
        now = self.clock.seconds()
        quiet = self.quiet.active(now)
        dead_from: dict[str, float] = {}
        heads = [(lst[0], qn, 0) for qn, lst in self._qorder.items() if lst]
        heapq.heapify(heads)
        while heads:
            key, qn, idx = heapq.heappop(heads)
            lst = self._qorder[qn]
            it = self._items.get(key[3])
            go_on = True  # keep walking this queue after this item
            if it is None:
                pass  # removed by a re-entrant output; the pass after this one sees it
            elif it.offered_to is not None or it.not_before > now:
                pass
            elif (th := dead_from.get(qn)) is not None and it.queue_entered_at >= th:
                pass
            elif it.kind is not Kind.CALL and quiet:
                self._arm_quiet(now)  # callbacks and follow-ups wait for the morning
            else:
                q = self.config.queues[qn]
                step = step_in_force(q, now - it.queue_entered_at)
                cands = self._candidates(q, step)
                if cands:
                    self._offer(it, q, step, cands, now)
                    if not self._ready_ids:
                        return
                else:
                    dead_from[qn] = it.queue_entered_at
                    # Without overflowed-in items a queue's order is its entry order, so
                    # this death kills the rest; otherwise go on if someone entered earlier.
                    go_on = bool(self._moved_in.get(qn)) and it.queue_entered_at > (
                        self._entered[qn][0]
                    )
            if go_on and idx + 1 < len(lst):
                heapq.heappush(heads, (lst[idx + 1], qn, idx + 1))

    def _candidates(self, q: Queue, step: Step) -> list[AgentRuntime]:
        pools = [self._ready.get(s, _EMPTY) for s, _ in step.levels]
        pool = min(pools, key=len) if pools else self._ready_ids
        min_rank = self._tier_rank[q.min_tier] if q.min_tier else -1
        out = []
        for aid in pool:
            a = self._agents[aid]
            if self._tier_rank[a.spec.tier] < min_rank:
                continue
            if all(a.spec.skills.get(s, 0) >= lvl for s, lvl in step.levels):
                out.append(a)
        return out

    def _offer(
        self, it: _Item, q: Queue, step: Step, cands: list[AgentRuntime], now: float
    ) -> None:
        win, why = rank(
            q.strategy, cands, step, it.intent, it.missed_by, now, self._rr_last.get(q.name)
        )
        d = Decision(
            it.id, win.spec.id, q.name, now - it.enqueued_at, step.label, step.levels,
            len(cands), str(q.strategy), why,
        )  # fmt: skip
        it.decision, it.offered_to, win.item_id = d, win.spec.id, it.id
        self._offered_n[it.queue] = self._offered_n.get(it.queue, 0) + 1
        self._rr_last[q.name] = win.spec.id
        self._go(win, E.OFFER, f"offered {it.id}")
        if it.kind is Kind.CALL:
            self.output.offer(it.view(), win.spec.id, d)
        else:
            self.output.place_callback(it.view(), win.spec.id, d)

    # ------------------------------------------------------- snapshot/restore
    def snapshot(self) -> dict[str, Any]:
        """Live state as plain JSON-able dicts: see ``queues.snapshot``."""
        from queues.snapshot import snapshot

        return snapshot(self)

    @classmethod
    def restore(
        cls, config: AcdConfig, clock: Clock, output: AcdOutput, data: dict[str, Any], **kw: Any
    ) -> Router:
        """Rebuild after a restart from ``snapshot()`` output: see ``queues.snapshot``."""
        from queues.snapshot import restore

        return restore(cls(config, clock, output, **kw), data)
