"""The ACD router: the one object the adapter talks to about routing.

Inputs are plain method calls from the adapter (AMI events, feature codes, HTTP);
outputs go to an ``AcdOutput``; time comes from the injected clock.  After every
input the router runs one dispatch pass.  The work is done by six parts, each
owning its own state (see docs/architecture.md, "The router's parts"):

- ``WaitingList`` (``queues.waiting``): waiting and ringing items in one global
  order, sorted by (-priority, enqueue time, sequence) across all queues.  A
  requeued item (no answer, restart) keeps its key, so it is back at the head.
- ``Roster`` (``queues.roster``): agents' runtimes and state machine, the
  ready-by-skill index, answered work until wrap-up ends, agent inputs.
- ``Escalation`` (``queues.escalation``): one timer per waiting item for its
  next step, overflow, maximum wait or due time; the quiet-hours wake-up.
- ``Callbacks`` (``queues.callbacks``): outbound work, one pending callback per
  number, retries when the customer does not answer.
- ``Dispatcher`` (``queues.dispatch``): the pure pass that says which agent gets
  which item and why.
- ``Offers`` (``queues.offers``): a ringing offer from the moment the pass makes
  it until it is answered, missed or withdrawn; offers Asterisk was found making.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from queues import snapshot as _snap
from queues.agents import (
    AgentEvent,
    AgentRuntime,
    AgentState,
    AgentView,
    InvalidTransition,
    SavedAgent,
)
from queues.callbacks import Callbacks
from queues.dispatch import Dispatcher, Offer
from queues.escalation import Escalation
from queues.items import Decision, Kind, Outcome, WaitExplanation, WorkItem
from queues.model import AcdConfig
from queues.offers import Offers
from queues.ports import AcdOutput, Clock
from queues.quiet import QuietHours
from queues.roster import Roster
from queues.stats import AcdStats, QueueKpis
from queues.waiting import WaitingItem, WaitingList

__all__ = ["Router"]

S, E = AgentState, AgentEvent


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
        self._config = config
        self.clock = clock
        self.output = output
        self.policy = config.policy
        self.stats = stats or AcdStats(
            {n: q.service_level.threshold_s for n, q in config.queues.items()},
            config.policy.short_abandon_s,
        )
        self.quiet = QuietHours(config.policy.quiet_hours, config.policy.timezone)
        self._waiting = WaitingList()
        self._roster = Roster(config, clock, output, self.stats, self.dispatch)
        self._escalation = Escalation(
            config, clock, output, self.stats, self._waiting, self.quiet, self.dispatch
        )
        self._dispatcher = Dispatcher(
            config, clock, self.stats, self._waiting, self._roster, self.quiet
        )
        self._callbacks = Callbacks(
            output, self.stats, self._waiting, self._roster, self._escalation, self.dispatch,
            retries=callback_retries, retry_delay_s=callback_retry_delay_s,
        )
        self._offers = Offers(
            clock, output, self.stats, self.policy, self._waiting, self._roster,
            self._escalation, self._callbacks, self.dispatch,
        )
        self._dispatching = False
        self._again = False

    @property
    def config(self) -> AcdConfig:
        return self._config

    def reconfigure(self, config: AcdConfig) -> None:
        """Take new queue parameters (wait limits, callback offer, ...), read at each use.

        Agents, tiers and the policy stay as built: they are read once.
        """
        self._config = config
        self._escalation.reconfigure(config)
        self._dispatcher.reconfigure(config)

    # ---------------------------------------------------------------- queries
    def agent(self, agent_id: str) -> AgentView:
        return self._roster[agent_id].view()

    def _work(self, item_id: str) -> WaitingItem | None:
        return self._waiting.get(item_id) or self._roster.active(item_id)

    def item(self, item_id: str) -> WorkItem | None:
        it = self._work(item_id)
        return it.view() if it else None

    def is_waiting(self, item_id: str) -> bool:
        """Waiting or ringing (not yet answered, not gone)."""
        return item_id in self._waiting

    def waiting(self) -> list[WorkItem]:
        """Waiting and ringing items in the global routing order."""
        return [it.view() for it in self._waiting.in_order()]

    def decision(self, item_id: str) -> Decision | None:
        it = self._work(item_id)
        return it.decision if it else None

    def position(self, item_id: str) -> int:
        return self._waiting.position(item_id)

    def estimated_wait(self, item_id: str, default_aht_s: float = 180.0) -> float:
        """Position x AHT / staffed qualified agents: a rough figure to announce."""
        return self._dispatcher.estimated_wait(item_id, default_aht_s)

    def max_wait_callback(self, item_id: str) -> bool:
        """The caller reached ``max_wait_s``: offer the callback that keeps their place
        (not while ringing, nor in quiet hours: they wait out the grace instead)."""
        it = self._waiting.get(item_id)
        return (it is not None and it.kind is Kind.CALL and it.past_max_wait
                and it.offered_to is None and not self.quiet.active(self.clock.seconds()))

    def queue_kpis(self, queue: str) -> QueueKpis:
        now = self.clock.seconds()
        waits = [now - i.enqueued_at for i in self._waiting.items()
                 if i.queue == queue and i.kind is Kind.CALL]  # fmt: skip
        return self.stats.kpis(queue, len(waits), max(waits, default=0.0))

    def explain_wait(self, item_id: str) -> WaitExplanation:
        return self._dispatcher.explain_wait(item_id)

    # ----------------------------------------------------------- call inputs
    def enqueue(
        self, call_id: str, queue: str, *, intent: str | None = None, number: str | None = None,
        priority: int | None = None, since: float | None = None,
        preferred: str | None = None, case_id: str | None = None,
    ) -> WorkItem:
        """A caller enters a queue from the IVR.

        ``priority`` is the IVR leaf's (complaints above billing, say); without
        it the queue's own priority applies.  ``since`` is for a caller who was
        already waiting when a restarted server found the router's snapshot
        without them: they keep their original enqueue time, hence their place.
        ``preferred``: the owner of the caller's open case ``case_id``, tried
        first (see ``prefer``).
        """
        if call_id in self._waiting or self._roster.active(call_id) is not None:
            raise ValueError(f"{call_id} already routed")
        q = self.config.queues[queue]
        now = self.clock.seconds()
        at = now if since is None else min(since, now)
        prio = q.priority if priority is None else priority
        seq = self._waiting.next_seq()
        it = WaitingItem(call_id, Kind.CALL, queue, at, seq, prio, at, intent, number,
                         min_tier=q.min_tier)
        if since is None:
            self.stats.offered(queue)  # a re-entry was counted when it first came
        self._escalation.admit(it)
        if preferred is not None and self._roster.get(preferred) is not None:
            self._escalation.prefer(it, preferred, case_id)
        self.dispatch()
        return it.view()

    def prefer(self, item_id: str, agent_id: str, case_id: str | None = None) -> bool:
        """Offer the waiting ``item_id`` to ``agent_id`` (its case owner) first, for
        ``policy.case_owner_first_s`` from its enqueue (``Dispatcher.owner_for`` says
        when the owner counts).  False, changing nothing, if the item is not waiting
        or rings, the agent is unknown, or that time is over."""
        it = self._waiting.get(item_id)
        if (it is None or self._roster.get(agent_id) is None
                or not self._escalation.prefer(it, agent_id, case_id)):
            return False
        self.dispatch()
        return True

    def abandon(self, call_id: str) -> bool:
        """The caller hung up before being connected; False if not waiting."""
        it = self._waiting.get(call_id)
        if it is None or it.kind is not Kind.CALL:
            return False
        self._roster.release_offer(it, "caller hung up")
        self._escalation.withdraw(it)
        short = self.stats.abandoned(it.queue, self.clock.seconds() - it.enqueued_at)
        self.output.call_abandoned(it.view(), short)
        self.dispatch()
        return True

    def offer_result(self, item_id: str, outcome: Outcome) -> None:
        """The adapter's verdict on an offer: DialStatus, or the callback legs."""
        self._offers.result(item_id, outcome)
        self.dispatch()

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
        return self._offers.adopt(item_id, agent_id)

    def forget(self, item_id: str) -> bool:
        """Drop a waiting call that is past the queue already: a restored snapshot,
        older than the call's own state, still had it waiting.  No statistics,
        no outputs (it was neither abandoned nor served here)."""
        it = self._waiting.get(item_id)
        if it is None or it.kind is not Kind.CALL:
            return False
        if it.offered_to is not None:
            self._roster.release_offer(it, "call is past the queue")
        self._escalation.withdraw(it)
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
            self.dispatch()

    def hold(self, item_id: str, on: bool) -> None:
        self._roster.hold(item_id, on)

    def call_ended(self, item_id: str) -> None:
        """The connected call hung up: the agent goes to after-call work."""
        self._roster.call_ended(item_id)

    def request_callback(self, call_id: str, number: str) -> WorkItem | None:
        """The waiting caller chose a callback; it keeps the caller's place.

        Returns the pending callback (an existing one if the number already has one),
        or None if the call is no longer waiting (already ringing an agent).
        """
        return self._callbacks.request(call_id, number)

    def add_follow_up(
        self, item_id: str, queue: str, number: str, due_at: float, note: str = "",
        case_id: str | None = None,
    ) -> WorkItem:
        """A 回访 return visit: routed like a call from ``due_at``, outside quiet hours.

        ``case_id``: one attempt of that service case's return visit (no retries of
        its own).  Raises ValueError for a number that is not ``dialable``, a
        ``due_at`` that is not a finite time or an id already waiting (the callers
        check first; this keeps the core safe).
        """
        return self._callbacks.add_follow_up(
            self.config, item_id, queue, number, due_at, note, case_id
        )

    def cancel_item(self, item_id: str, reason: str = "cancelled") -> bool:
        """Drop a callback or follow-up that is not ringing."""
        return self._callbacks.cancel(item_id, reason)

    # ---------------------------------------------------------- agent inputs
    def login(self, agent_id: str) -> AgentView:
        """Feature code *11 (the adapter checks the PIN) or the desk."""
        return self._roster.login(agent_id)

    def logout(self, agent_id: str) -> AgentView:
        """Feature code *12.  Refused on a live call; a ringing offer is withdrawn."""
        a = self._roster[agent_id]
        if a.state is S.LOGGED_OUT:
            return a.view()
        if a.state is S.ON_CALL:
            raise InvalidTransition(agent_id, a.state, E.LOGOUT)
        if a.state is S.RESERVED:
            self._roster.release_offer(self._waiting[a.item_id or ""], "agent logged out")
        self._roster.logout(a)
        self.dispatch()
        return a.view()

    def pause(self, agent_id: str, reason: str) -> AgentView:
        """Pause now, or after the current call and its wrap-up if busy."""
        view = self._roster.pause(agent_id, reason)
        self.dispatch()  # callers waiting for this agent as their case owner go on
        return view

    def unpause(self, agent_id: str) -> AgentView:
        return self._roster.unpause(agent_id)

    def toggle_pause(self, agent_id: str, reason: str = "break") -> AgentView:
        """Feature code *13."""
        a = self._roster[agent_id]
        if a.state is S.PAUSED or a.pending_pause is not None:
            return self.unpause(agent_id)
        return self.pause(agent_id, reason)

    def end_wrap_up(self, agent_id: str) -> AgentView:
        return self._roster.end_wrap_up(agent_id)

    def extend_wrap_up(self, agent_id: str, seconds: float) -> AgentView:
        return self._roster.extend_wrap_up(agent_id, seconds)

    def device_state(self, interface: str, ami_state: str) -> None:
        """AMI DeviceStateChange for an agent's phone (e.g. PJSIP/1001, UNAVAILABLE)."""
        self._roster.device_state(interface, ami_state)

    # --------------------------------------------------------------- dispatch
    def dispatch(self) -> None:
        """Run the dispatch pass now (after a restore), or after the current batch."""
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
                now = self.clock.seconds()
                for step in self._dispatcher.plan(now):
                    if isinstance(step, Offer):
                        self._offers.make(step)
                    else:
                        self._escalation.arm_quiet(now)
        finally:
            self._dispatching = False

    # ------------------------------------------------------- snapshot/restore
    def snapshot(self) -> dict[str, Any]:
        """Live state as plain JSON-able dicts: see ``queues.snapshot``."""
        return _snap.snapshot(self)

    @classmethod
    def restore(
        cls, config: AcdConfig, clock: Clock, output: AcdOutput, data: dict[str, Any], **kw: Any
    ) -> Router:
        """Rebuild after a restart from ``snapshot()`` output: see ``queues.snapshot``."""
        return _snap.restore(cls(config, clock, output, **kw), data)

    # What queues.snapshot reads and writes.  The items and runtimes handed out
    # are the router's own: read them, do not change them.
    def waiting_items(self) -> list[WaitingItem]:
        """Waiting and ringing items in routing order."""
        return list(self._waiting.in_order())

    def answered_items(self) -> list[WaitingItem]:
        """Answered items whose agent's wrap-up has not ended."""
        return list(self._roster.active_items())

    def agent_runtimes(self) -> list[AgentRuntime]:
        return list(self._roster.runtimes())

    def round_robin(self) -> dict[str, str]:
        """Queue -> the agent it last offered to (a copy)."""
        return self._dispatcher.round_robin()

    def restore_waiting(self, it: WaitingItem) -> None:
        """Put a waiting item back at its place (its timer armed); no dispatch."""
        self._escalation.admit(it)
        if it.kind is Kind.CALLBACK and it.number:
            self._callbacks.note(it)

    def restore_answered(self, it: WaitingItem) -> None:
        self._roster.restore_answered(it)

    def restore_agent(self, saved: SavedAgent) -> bool:
        """False if the agent is no longer configured."""
        return self._roster.restore_agent(saved)

    def restore_round_robin(self, last: Mapping[str, str]) -> None:
        self._dispatcher.restore_round_robin(last)

    def continue_sequence_after(self, seq: int) -> None:
        """New items get sequence numbers above ``seq``."""
        self._waiting.continue_after(seq)
