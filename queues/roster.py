"""The roster: every agent's runtime, the ready-by-skill index, and answered work.

It applies the agent state machine (``queues.agents``) and reports each change to
the output; it keeps the index of offerable agents per skill that the dispatch
pass draws candidates from; and it holds each answered item until its agent's
after-call work ends, when the item's talk, hold and wrap-up go into AHT.

Agent inputs (login, pause, wrap-up, device state) live here.  Each one that may
make an agent offerable asks for a dispatch pass through the injected
``dispatch`` callable, exactly where the router would have run one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from queues.agents import (
    DEVICE_OFFLINE,
    AgentEvent,
    AgentRuntime,
    AgentState,
    AgentView,
    Device,
    InvalidTransition,
    SavedAgent,
    device_from_ami,
)
from queues.model import AcdConfig, AcdPolicy, Queue
from queues.ports import AcdOutput, Clock
from queues.selection import Step
from queues.stats import AcdStats
from queues.waiting import WaitingItem

__all__ = ["BUSY_STATES", "Roster"]

S, E = AgentState, AgentEvent
_EMPTY: frozenset[str] = frozenset()
BUSY_STATES = (S.RESERVED, S.ON_CALL, S.WRAP_UP)


class Roster:
    def __init__(
        self,
        config: AcdConfig,
        clock: Clock,
        output: AcdOutput,
        stats: AcdStats,
        dispatch: Callable[[], None],
    ) -> None:
        self.clock = clock
        self.output = output
        self.stats = stats
        self.policy: AcdPolicy = config.policy
        self._dispatch = dispatch
        self._tier_rank = {t.name: t.rank for t in config.tiers}
        self._agents = {a.id: AgentRuntime(a) for a in config.agents.values()}
        self._by_iface = {a.interface: a.id for a in config.agents.values()}
        self._ready: dict[str, set[str]] = {}  # skill -> offerable agent ids
        self._ready_ids: set[str] = set()
        self._active: dict[str, WaitingItem] = {}  # answered, until wrap-up ends

    # ------------------------------------------------------------- reading
    def __getitem__(self, agent_id: str) -> AgentRuntime:
        return self._agents[agent_id]

    def get(self, agent_id: str) -> AgentRuntime | None:
        return self._agents.get(agent_id)

    def runtimes(self) -> Iterator[AgentRuntime]:
        """Every agent's runtime, in configuration order (read only)."""
        return iter(self._agents.values())

    def any_ready(self) -> bool:
        """Is any agent offerable (ready, phone free)?"""
        return bool(self._ready_ids)

    def active(self, item_id: str) -> WaitingItem | None:
        """An answered item whose agent's wrap-up has not ended."""
        return self._active.get(item_id)

    def active_items(self) -> Iterator[WaitingItem]:
        return iter(self._active.values())

    def floor_rank(self, q: Queue, floor: str | None = None) -> int:
        """The lowest tier rank that may answer: the stricter of the queue's
        ``min_tier`` and the item's own ``floor`` (kept through overflow); -1: none."""
        return max(self._tier_rank[q.min_tier] if q.min_tier else -1,
                   self._tier_rank[floor] if floor else -1)

    def tier_ok(self, a: AgentRuntime, min_rank: int) -> bool:
        return self._tier_rank[a.spec.tier] >= min_rank

    def qualifies(self, a: AgentRuntime, q: Queue, step: Step, floor: str | None = None) -> bool:
        """Skill levels of the step in force, and the tier floor (queue's or item's)."""
        if not self.tier_ok(a, self.floor_rank(q, floor)):
            return False
        return all(a.spec.skills.get(s, 0) >= lvl for s, lvl in step.levels)

    def candidates(self, q: Queue, step: Step, floor: str | None = None) -> list[AgentRuntime]:
        """Offerable agents who qualify, drawn from the smallest skill pool."""
        pools = [self._ready.get(s, _EMPTY) for s, _ in step.levels]
        pool = min(pools, key=len) if pools else self._ready_ids
        min_rank = self.floor_rank(q, floor)
        out = []
        for aid in pool:
            a = self._agents[aid]
            if self._tier_rank[a.spec.tier] < min_rank:
                continue
            if all(a.spec.skills.get(s, 0) >= lvl for s, lvl in step.levels):
                out.append(a)
        return out

    # ----------------------------------------------------- state machine
    def go(self, a: AgentRuntime, ev: AgentEvent, reason: str, pause: str | None = None) -> None:
        """Apply one transition: occupancy spans, the index, and the output."""
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
        self.reindex(a)
        self.output.agent_state_changed(a.spec.id, old, new, pause or reason)

    def settle(self, a: AgentRuntime, ev: AgentEvent, reason: str) -> None:
        """Apply an event whose normal target is ready, unless the phone is offline or
        the agent asked for a pause meanwhile: then pause instead."""
        if a.device is Device.OFFLINE:
            a.resume_reason, a.pending_pause = a.pending_pause, None
            self.go(a, E.PAUSE, reason, DEVICE_OFFLINE)
        elif a.pending_pause is not None:
            p, a.pending_pause = a.pending_pause, None
            self.go(a, E.PAUSE, reason, p)
        else:
            self.go(a, ev, reason)

    def reindex(self, a: AgentRuntime) -> None:
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

    # ---------------------------------------------------------- offers
    def reserve(self, a: AgentRuntime, it: WaitingItem, reason: str) -> None:
        """``a`` rings for ``it``: the one place an item and an agent are paired."""
        it.offered_to, a.item_id = a.spec.id, it.id
        self.go(a, E.OFFER, reason)

    def clear_offer(self, it: WaitingItem) -> AgentRuntime | None:
        """Unpair a ringing item from its agent (no transition); the agent, if any."""
        if it.offered_to is None:
            return None
        a = self._agents[it.offered_to]
        it.offered_to, a.item_id = None, None
        return a

    def release_offer(self, it: WaitingItem, reason: str) -> None:
        """Withdraw a ringing offer; the agent goes back to ready (or pending pause)."""
        a = self.clear_offer(it)
        if a is None:
            return
        self.output.cancel_offer(it.view(), a.spec.id, reason)
        if reason == "agent logged out":
            return  # the caller moves the agent to logged_out itself
        self.settle(a, E.CANCEL_OFFER, reason)

    def answer(self, it: WaitingItem, now: float) -> AgentRuntime:
        """The ringing agent answered: ``it`` is their work until wrap-up ends."""
        agent = self._agents[it.offered_to or ""]
        it.offered_to, it.agent_id, it.answered_at = None, agent.spec.id, now
        self._active[it.id] = it
        agent.misses = 0
        self.go(agent, E.ANSWER, f"answered {it.id}")
        return agent

    # --------------------------------------------------- answered work
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
        self.go(agent, E.HANGUP, f"{it.id} ended")
        wrap = self.policy.wrapup_default_s
        if wrap <= 0:
            self.end_wrap(agent)
            self.settle(agent, E.WRAP_DONE, "no after-call work")
            self._dispatch()
            return
        agent.wrap_ends_at = now + wrap
        agent.wrap_timer = self.clock.callLater(wrap, self._wrap_timeout, agent.spec.id)

    def end_wrap(self, a: AgentRuntime) -> None:
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
            self.end_wrap(a)
            self.settle(a, E.WRAP_DONE, "wrap-up time over")
            self._dispatch()

    # --------------------------------------------------------- restore
    def restore_answered(self, it: WaitingItem) -> None:
        """An answered item from a snapshot: its agent's work until wrap-up ends."""
        self._active[it.id] = it

    def restore_agent(self, saved: SavedAgent) -> bool:
        """Load an agent's state from a snapshot; False if no such agent is configured."""
        a = self._agents.get(saved.id)
        if a is None:
            return False
        a.state, a.since, a.pause_reason = saved.state, saved.since, saved.pause_reason
        a.pending_pause, a.resume_reason = saved.pending_pause, saved.resume_reason
        a.device, a.misses, a.idle_since = saved.device, saved.misses, saved.idle_since
        a.item_id = saved.item_id
        if saved.wrap_ends_at is not None:
            a.wrap_ends_at = saved.wrap_ends_at
            delay = max(0.0, a.wrap_ends_at - self.clock.seconds())
            a.wrap_timer = self.clock.callLater(delay, self._wrap_timeout, a.spec.id)
        self.reindex(a)
        return True

    # ---------------------------------------------------- agent inputs
    def login(self, agent_id: str) -> AgentView:
        a = self._agents[agent_id]
        if a.state is S.LOGGED_OUT:
            a.misses, a.pending_pause, a.resume_reason = 0, None, None
            self.settle(a, E.LOGIN, "login")
            self._dispatch()
        return a.view()

    def logout(self, a: AgentRuntime) -> None:
        """The rest of a logout once any ringing offer is withdrawn (no dispatch)."""
        if a.state is S.WRAP_UP:
            self.end_wrap(a)
        a.pending_pause = None
        self.go(a, E.LOGOUT, "logout")

    def pause(self, agent_id: str, reason: str) -> AgentView:
        a = self._agents[agent_id]
        if a.state in (S.READY, S.PAUSED):
            if a.pause_reason == DEVICE_OFFLINE and a.device is Device.OFFLINE:
                a.resume_reason = reason  # stays offline; remember the wish
            else:
                self.go(a, E.PAUSE, "agent paused", reason)
        elif a.state in BUSY_STATES:
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
                self.settle(a, E.UNPAUSE, "agent unpaused")
                self._dispatch()
        return a.view()

    def end_wrap_up(self, agent_id: str) -> AgentView:
        a = self._agents[agent_id]
        if a.state is S.WRAP_UP:
            self.end_wrap(a)
            self.settle(a, E.WRAP_DONE, "wrap-up ended by agent")
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
                    self.end_wrap(a)
            self.go(a, E.PAUSE, f"device {ami_state}", DEVICE_OFFLINE)
        elif old is Device.OFFLINE and a.state is S.PAUSED and a.pause_reason == DEVICE_OFFLINE:
            back, a.resume_reason = a.resume_reason, None
            if back is None:
                self.go(a, E.UNPAUSE, f"device {ami_state}")
            else:
                self.go(a, E.PAUSE, f"device {ami_state}", back)
        self.reindex(a)
        self._dispatch()
