"""The waiting list: every routable item not yet answered, in one global order.

Items are kept sorted by (-priority, enqueue time, sequence, id) across all queues,
so queues that share agents never race: the dispatch pass walks this order.  An
item being offered stays here (with ``offered_to`` set) until it is answered; that
is what guarantees one ringing agent per call and one call per agent.

Besides the global order the list keeps, per queue, the same order (the dispatch
pass merges the queue heads) and the sorted queue-entry times (the first one has
the widest escalation step, which tells a dispatch pass when a whole queue is
dead).  Timers are not kept here: ``queues.escalation`` arms one per item.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from queues.items import Decision, Kind, WorkItem
from queues.ports import DelayedCall

__all__ = ["OrderKey", "WaitingItem", "WaitingList"]

OrderKey = tuple[int, float, int, str]


@dataclass(eq=False)
class WaitingItem:
    """The router's mutable record of one item, from enqueue until its wrap-up ends.

    Outputs never see it: they get the frozen ``WorkItem`` from ``view()``.
    """

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
    timer: DelayedCall | None = None  # owned by queues.escalation
    decision: Decision | None = None
    agent_id: str | None = None  # once answered
    answered_at: float = 0.0
    ended_at: float | None = None
    hold_s: float = 0.0
    hold_since: float | None = None
    # The tier floor of the queue the caller first entered; overflow keeps the
    # stricter of it and the new queue's (docs/architecture.md, "Tiers and overflow").
    min_tier: str | None = None
    # The owner of the caller's open case, tried first until prefer_until.
    preferred: str | None = None
    prefer_until: float = 0.0
    owner_case: str | None = None  # the case whose owner is tried first
    past_max_wait: bool = False  # reached max_wait_s: offer the callback that keeps the place
    case_id: str | None = None  # a 回访 follow-up's service case: one attempt per item

    def key(self) -> OrderKey:
        return (-self.priority, self.enqueued_at, self.seq, self.id)

    def view(self) -> WorkItem:
        return WorkItem(
            self.id, self.kind, self.queue, self.enqueued_at, self.intent,
            self.number, self.due_at, self.attempt, self.note, self.case_id,
        )  # fmt: skip


class WaitingList:
    """Waiting and ringing items and their orders."""

    def __init__(self) -> None:
        self._items: dict[str, WaitingItem] = {}
        self._order: list[OrderKey] = []
        self._qorder: dict[str, list[OrderKey]] = {}  # the same order, per queue
        # queue -> sorted queue_entered_at of its items
        self._entered: dict[str, list[float]] = {}
        self._moved_in: dict[str, int] = {}  # items overflowed in: entered != enqueued
        self._preferring: dict[str, WaitingItem] = {}  # items waiting for a preferred agent
        self._seq = itertools.count()

    # ------------------------------------------------------------- reading
    def get(self, item_id: str) -> WaitingItem | None:
        return self._items.get(item_id)

    def __getitem__(self, item_id: str) -> WaitingItem:
        return self._items[item_id]

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def by_id(self) -> Mapping[str, WaitingItem]:
        """Read-only: item id -> item (the mapping itself, not a copy)."""
        return self._items

    def in_order(self) -> Iterator[WaitingItem]:
        """Every item in the global routing order."""
        return (self._items[k[3]] for k in self._order)

    def items(self) -> Iterator[WaitingItem]:
        """Every item, in no particular order."""
        return iter(self._items.values())

    def queue_orders(self) -> Mapping[str, list[OrderKey]]:
        """Queue -> its items' keys in routing order (read only; for the dispatch walk)."""
        return self._qorder

    def preferring(self) -> list[WaitingItem]:
        """Items with a preferred agent, in routing order (few: the case owners')."""
        return sorted(self._preferring.values(), key=WaitingItem.key)

    def moved_in(self, queue: str) -> int:
        """How many of the queue's items overflowed in from another queue."""
        return self._moved_in.get(queue, 0)

    def first_entered(self, queue: str) -> float:
        """The earliest queue-entry time among the queue's items (it must have one)."""
        return self._entered[queue][0]

    def position(self, item_id: str) -> int:
        """1 = next in its own queue."""
        it = self._items[item_id]
        k = it.key()
        return 1 + sum(1 for o in self._order if o < k and self._items[o[3]].queue == it.queue)

    # ------------------------------------------------------------- writing
    def next_seq(self) -> int:
        return next(self._seq)

    def continue_after(self, seq: int) -> None:
        """New items get sequence numbers above ``seq`` (after a restore)."""
        self._seq = itertools.count(seq + 1)

    def prefer(self, it: WaitingItem, agent_id: str, until: float, case_id: str | None) -> None:
        """``it`` (waiting here) is offered to ``agent_id`` first until ``until``."""
        it.preferred, it.prefer_until, it.owner_case = agent_id, until, case_id
        self._preferring[it.id] = it

    def clear_preference(self, it: WaitingItem) -> None:
        it.preferred, it.prefer_until = None, 0.0
        self._preferring.pop(it.id, None)

    def insert(self, it: WaitingItem) -> None:
        self._items[it.id] = it
        if it.preferred is not None:
            self._preferring[it.id] = it
        bisect.insort(self._order, it.key())
        bisect.insort(self._qorder.setdefault(it.queue, []), it.key())
        bisect.insort(self._entered.setdefault(it.queue, []), it.queue_entered_at)
        if it.queue_entered_at != it.enqueued_at:
            self._moved_in[it.queue] = self._moved_in.get(it.queue, 0) + 1

    def remove(self, it: WaitingItem) -> None:
        del self._items[it.id]
        self._preferring.pop(it.id, None)
        k = it.key()
        del self._order[bisect.bisect_left(self._order, k)]
        qorder = self._qorder[it.queue]
        del qorder[bisect.bisect_left(qorder, k)]
        entered = self._entered[it.queue]
        del entered[bisect.bisect_left(entered, it.queue_entered_at)]
        if it.queue_entered_at != it.enqueued_at:
            self._moved_in[it.queue] -= 1
