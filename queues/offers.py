"""Ringing offers: one waiting item, one reserved agent, until the verdict.

An offer is made when the dispatch pass picks an agent (``make``) and ends with
the adapter's verdict (``result``): answered (the item becomes the agent's work),
missed by the agent (RONA: the item keeps its place and the agent goes last for
it, or pauses after too many misses), or missed by the customer of a callback
(a retry later).  ``adopt`` is the restart case: Asterisk was found ringing an
agent for a waiting call, and the router is made to agree.
"""

from __future__ import annotations

from collections.abc import Callable

from queues.agents import DEVICE_OFFLINE, MISSED_CALL, AgentEvent, AgentState
from queues.callbacks import Callbacks
from queues.dispatch import Offer
from queues.escalation import Escalation
from queues.items import Kind, Outcome
from queues.model import AcdPolicy
from queues.ports import AcdOutput, Clock
from queues.roster import Roster
from queues.stats import AcdStats
from queues.waiting import WaitingItem, WaitingList

__all__ = ["Offers"]

S, E = AgentState, AgentEvent


class Offers:
    def __init__(
        self,
        clock: Clock,
        output: AcdOutput,
        stats: AcdStats,
        policy: AcdPolicy,
        waiting: WaitingList,
        roster: Roster,
        escalation: Escalation,
        callbacks: Callbacks,
        dispatch: Callable[[], None],
    ) -> None:
        self.clock = clock
        self.output = output
        self.stats = stats
        self.policy = policy
        self.waiting = waiting
        self.roster = roster
        self.escalation = escalation
        self.callbacks = callbacks
        self._dispatch = dispatch

    def make(self, offer: Offer) -> None:
        """Reserve the agent and ring them (a call) or place the callback."""
        it, win, d = offer.item, offer.agent, offer.decision
        it.decision = d
        self.roster.reserve(win, it, f"offered {it.id}")
        if it.kind is Kind.CALL:
            self.output.offer(it.view(), win.spec.id, d)
        else:
            self.output.place_callback(it.view(), win.spec.id, d)

    def result(self, item_id: str, outcome: Outcome) -> None:
        """The adapter's verdict on an offer (the caller runs the dispatch after)."""
        it = self.waiting[item_id]
        if it.offered_to is None:
            raise ValueError(f"{item_id} is not being offered")
        now = self.clock.seconds()
        if outcome is Outcome.ANSWERED:
            self.escalation.withdraw(it)
            self.roster.answer(it, now)
            if it.kind is Kind.CALL:
                self.stats.answered(it.queue, now - it.enqueued_at)
            self.callbacks.answered(it)
        elif outcome in (Outcome.CUSTOMER_NO_ANSWER, Outcome.CUSTOMER_BUSY):
            self.callbacks.customer_missed(it, now)
        else:
            self._agent_missed(it, outcome)

    def _agent_missed(self, it: WaitingItem, outcome: Outcome) -> None:
        """RONA: the item keeps its key, so it is at the head of its queue again."""
        agent = self.roster.clear_offer(it)
        assert agent is not None  # result() checked that it was ringing
        it.missed_by.add(agent.spec.id)
        if it.preferred == agent.spec.id:
            self.waiting.clear_preference(it)  # the case owner let it ring: the queue's rule
        agent.misses += 1
        if agent.misses >= self.policy.missed_calls_before_pause:
            self.roster.go(agent, E.PAUSE, f"{outcome} on {it.id}", MISSED_CALL)
        else:
            self.roster.settle(agent, E.MISS, f"{outcome} on {it.id}")
        self.escalation.expire(it)

    def adopt(self, item_id: str, agent_id: str) -> bool:
        """Make ``agent_id`` ring for the waiting call ``item_id``: see ``Router.adopt_offer``."""
        it = self.waiting.get(item_id)
        a = self.roster.get(agent_id)
        if it is None or a is None or it.kind is not Kind.CALL:
            return False
        if it.offered_to == agent_id:
            return True
        if a.state in (S.LOGGED_OUT, S.ON_CALL, S.WRAP_UP):
            return False
        if a.state is S.RESERVED:
            other = self.waiting.get(a.item_id or "")
            if other is not None:
                self.roster.release_offer(other, f"{agent_id} was found ringing for {item_id}")
        self.roster.release_offer(it, f"found ringing {agent_id}")
        pause = None
        if a.state is S.PAUSED:  # restored (or settled) into the pause: it waits
            pause = a.pause_reason if a.pause_reason != DEVICE_OFFLINE else None
            self.roster.go(a, E.UNPAUSE, f"found ringing for {item_id}")
        self.roster.reserve(a, it, f"found ringing for {it.id}")
        a.pending_pause = pause or a.pending_pause
        self._dispatch()  # whoever was let go may be offered elsewhere
        return True
