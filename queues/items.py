"""Values the router hands out: work items, offer outcomes, decisions and their reasons."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Decision", "Kind", "Outcome", "WaitExplanation", "WorkItem", "dialable"]

# What a callback or follow-up may dial: ASCII digits (str.isdigit() also takes
# full-width digits and superscripts), an optional leading +, 3 to 20 digits.
_DIALABLE = re.compile(r"\+?[0-9]{3,20}")


def dialable(number: object) -> bool:
    return isinstance(number, str) and _DIALABLE.fullmatch(number) is not None


class Kind(StrEnum):
    CALL = "call"  # an inbound caller on the line, waiting in AsyncAGI
    CALLBACK = "callback"  # the caller asked to be called back and hung up
    FOLLOW_UP = "follow_up"  # 回访: outbound return visit after a complaint or repair


class Outcome(StrEnum):
    """What the adapter reports after an offer (DialStatus, or the callback Originate)."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"  # agent leg: ring no answer (RONA)
    BUSY = "busy"
    FAILED = "failed"  # CHANUNAVAIL, congestion
    # Callbacks and follow-ups ring the agent first, then the customer.  These two say
    # the agent was connected but the customer did not pick up: a retry, not a miss.
    CUSTOMER_NO_ANSWER = "customer_no_answer"
    CUSTOMER_BUSY = "customer_busy"


@dataclass(frozen=True)
class WorkItem:
    """One routable piece of work, as the outputs see it."""

    id: str
    kind: Kind
    queue: str
    enqueued_at: float  # original place in line; kept over requeues and overflow
    intent: str | None = None  # skill naming the caller's business, for best fit
    number: str | None = None  # callback / follow-up number
    due_at: float | None = None  # follow-ups: not before this time
    attempt: int = 0  # callback / follow-up dial attempts so far
    note: str = ""
    case_id: str | None = None  # a 回访 follow-up's service case (工单)


@dataclass(frozen=True)
class Decision:
    """Why this item went to this agent: kept with the call record and logged."""

    item_id: str
    agent_id: str
    queue: str
    waited_s: float
    step: str  # escalation step in force, e.g. "base", "after 30s: level>=2"
    min_levels: tuple[tuple[str, int], ...]  # effective (skill, level) requirements
    eligible: int  # ready agents that qualified
    strategy: str
    reason: str  # why the winner beat the others

    def text(self) -> str:
        return (
            f"{self.item_id} -> {self.agent_id} in {self.queue} after {self.waited_s:.0f}s; "
            f"step {self.step}; {self.eligible} eligible; {self.reason}"
        )


@dataclass(frozen=True)
class WaitExplanation:
    """Why an item is still waiting."""

    item_id: str
    queue: str
    waited_s: float
    step: str
    position: int  # 1 = next in its queue
    with_skill: int  # logged-in agents meeting skill, level and tier
    ready: int  # of those, ready with a free device (0 unless the item is blocked)
    busy: int  # on call, ringing or in wrap-up
    paused: int
    text: str
