"""The dispatch pass: which ready agent gets which waiting item, and why.

``Dispatcher.plan`` walks the waiting list in global order and yields one
``Offer`` (item, winning agent, the ``Decision`` that explains it) at a time.  It
changes nothing itself: the router applies each offer before asking for the
next, so the walk always sees the agent just reserved as no longer ready.  The
same rules answer the opposite question, why an item is still waiting
(``explain_wait``), and the rough wait announced to callers.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from queues.agents import AgentRuntime, AgentState, Device
from queues.items import Decision, Kind, WaitExplanation
from queues.model import AcdConfig, Queue
from queues.ports import Clock
from queues.quiet import QuietHours
from queues.roster import BUSY_STATES, Roster
from queues.selection import Step, rank, step_in_force
from queues.stats import AcdStats
from queues.waiting import OrderKey, WaitingItem, WaitingList

__all__ = ["OWNER_STEP", "Dispatcher", "Offer", "QuietWait"]

S = AgentState
#: the Decision step of an offer to the caller's case owner
OWNER_STEP = "case owner first"
# The owner is worth waiting for while logged in and not paused: ready now, or
# busy with a call that will end.  Logged out, paused or with a pause asked for
# after this call: the queue's rule at once.
_OWNER_AROUND = (S.READY, S.RESERVED, S.ON_CALL, S.WRAP_UP)


@dataclass(frozen=True)
class Offer:
    """Ring ``agent`` for ``item``: the pass's answer for one item."""

    item: WaitingItem
    agent: AgentRuntime
    decision: Decision


@dataclass(frozen=True)
class QuietWait:
    """An outbound item (callback, follow-up) the walk reached during quiet hours."""

    item: WaitingItem


class Dispatcher:
    def __init__(
        self,
        config: AcdConfig,
        clock: Clock,
        stats: AcdStats,
        waiting: WaitingList,
        roster: Roster,
        quiet: QuietHours,
    ) -> None:
        self.config = config
        self.clock = clock
        self.stats = stats
        self.waiting = waiting
        self.roster = roster
        self.quiet = quiet
        self._rr_last: dict[str, str] = {}  # queue -> agent it last offered (round robin)

    def reconfigure(self, config: AcdConfig) -> None:
        """New queue parameters (``Router.reconfigure``), read at each use."""
        self.config = config

    def plan(self, now: float) -> Iterator[Offer | QuietWait]:
        """Walk the waiting work in global order, offering while ready agents remain.

        The global order is a merge of the per-queue orders (a heap of queue heads),
        so a queue found dead is dropped from the walk instead of being stepped over
        item by item.  Steps only widen with waiting time, so when an item finds no
        agent, every item of its queue that entered the queue no earlier is dead for
        this pass too.  Applying an offer does not change the orders.
        """
        if not self.roster.any_ready():
            return
        quiet = self.quiet.active(now)
        # A ready case owner takes their own caller before anyone earlier in line
        # takes them: the point of the preference (一通就服务到底).
        for pref in self.waiting.preferring():
            owner = self.owner_for(pref, now)
            if (owner is not None and owner.offerable() and pref.offered_to is None
                    and pref.not_before <= now and (pref.kind is Kind.CALL or not quiet)):
                yield self._owner_offer(pref, owner, now)
                if not self.roster.any_ready():
                    return
        qorder = self.waiting.queue_orders()
        dead_from: dict[str, float] = {}
        heads: list[tuple[OrderKey, str, int]] = [
            (lst[0], qn, 0) for qn, lst in qorder.items() if lst
        ]
        heapq.heapify(heads)
        while heads:
            key, qn, idx = heapq.heappop(heads)
            lst = qorder[qn]
            it = self.waiting.get(key[3])
            go_on = True  # keep walking this queue after this item
            if it is None:
                pass  # removed by a re-entrant output; the pass after this one sees it
            elif it.offered_to is not None or it.not_before > now:
                pass
            elif self.owner_for(it, now) is not None:
                pass  # waits for its case owner (offered above once they are ready)
            elif (th := dead_from.get(qn)) is not None and it.queue_entered_at >= th:
                pass
            elif it.kind is not Kind.CALL and quiet:
                yield QuietWait(it)  # callbacks and follow-ups wait for the morning
            else:
                q = self.config.queues[qn]
                step = step_in_force(q, now - it.queue_entered_at)
                cands = self.roster.candidates(q, step, it.min_tier)
                if cands:
                    yield self._decide(it, q, step, cands, now)
                    if not self.roster.any_ready():
                        return
                elif self.roster.floor_rank(q, it.min_tier) > self.roster.floor_rank(q):
                    pass  # a floor stricter than the queue's (overflowed in): only this one
                else:
                    dead_from[qn] = it.queue_entered_at
                    # Without overflowed-in items a queue's order is its entry order, so
                    # this death kills the rest; otherwise go on if someone entered earlier.
                    go_on = bool(self.waiting.moved_in(qn)) and it.queue_entered_at > (
                        self.waiting.first_entered(qn)
                    )
            if go_on and idx + 1 < len(lst):
                heapq.heappush(heads, (lst[idx + 1], qn, idx + 1))

    def owner_for(self, it: WaitingItem, now: float) -> AgentRuntime | None:
        """The case owner ``it`` waits for now, if its turn runs and the owner is
        around (logged in, not paused), has not missed it, and meets the tier floor.

        The owner followed this case, so their skills do not matter; the tier floor
        does (docs/architecture.md, "Case owner first").
        """
        if it.preferred is None or now >= it.prefer_until or it.preferred in it.missed_by:
            return None
        owner = self.roster.get(it.preferred)
        if owner is None or owner.state not in _OWNER_AROUND or owner.pending_pause:
            return None
        q = self.config.queues[it.queue]
        if not self.roster.tier_ok(owner, self.roster.floor_rank(q, it.min_tier)):
            return None
        return owner

    def _owner_offer(self, it: WaitingItem, owner: AgentRuntime, now: float) -> Offer:
        case = f" of case {it.owner_case}" if it.owner_case else ""
        d = Decision(it.id, owner.spec.id, it.queue, now - it.enqueued_at, OWNER_STEP, (), 1,
                     "case-owner", f"owner{case}, tried first for "
                     f"{max(0.0, it.prefer_until - now):.0f}s more")
        return Offer(it, owner, d)

    def _decide(
        self, it: WaitingItem, q: Queue, step: Step, cands: list[AgentRuntime], now: float
    ) -> Offer:
        win, why = rank(
            q.strategy, cands, step, it.intent, it.missed_by, now, self._rr_last.get(q.name)
        )
        d = Decision(
            it.id, win.spec.id, q.name, now - it.enqueued_at, step.label, step.levels,
            len(cands), str(q.strategy), why,
        )  # fmt: skip
        self._rr_last[q.name] = win.spec.id
        return Offer(it, win, d)

    def round_robin(self) -> dict[str, str]:
        """Queue -> the agent it last offered to (a copy)."""
        return dict(self._rr_last)

    def restore_round_robin(self, last: Mapping[str, str]) -> None:
        self._rr_last.update(last)

    # ------------------------------------------------------------ explanations
    def _waited(self, it: WaitingItem) -> float:
        return max(0.0, self.clock.seconds() - it.queue_entered_at)

    def estimated_wait(self, item_id: str, default_aht_s: float = 180.0) -> float:
        """Position x AHT / staffed qualified agents: a rough figure to announce."""
        it = self.waiting[item_id]
        aht = self.stats.kpis(it.queue).aht_s or default_aht_s
        q = self.config.queues[it.queue]
        step = step_in_force(q, self._waited(it))
        staffed = sum(
            1
            for a in self.roster.runtimes()
            if a.state not in (S.LOGGED_OUT, S.PAUSED)
            and self.roster.qualifies(a, q, step, it.min_tier)
        )
        return self.waiting.position(item_id) * aht / max(1, staffed)

    def explain_wait(self, item_id: str) -> WaitExplanation:
        it = self.waiting[item_id]
        now = self.clock.seconds()
        q = self.config.queues[it.queue]
        step = step_in_force(q, self._waited(it))
        qual = [a for a in self.roster.runtimes()
                if a.state is not S.LOGGED_OUT
                and self.roster.qualifies(a, q, step, it.min_tier)]  # fmt: skip
        ready = sum(1 for a in qual if a.offerable())
        busy = sum(1 for a in qual if a.state in BUSY_STATES or a.device is not Device.FREE)
        paused = sum(1 for a in qual if a.state is S.PAUSED)
        need = ", ".join(f"{s} >= {lvl}" for s, lvl in step.levels) or "any skill"
        floor = self.config.stricter_tier(q.min_tier, it.min_tier)
        if floor:
            need += f", tier {floor}+"
        pos = self.waiting.position(item_id)
        owner = self.owner_for(it, now)
        if it.offered_to:
            text = f"ringing agent {it.offered_to}"
        elif owner is not None:
            text = (f"waiting {it.prefer_until - now:.0f}s more for case owner "
                    f"{owner.spec.id} ({owner.state})")
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
