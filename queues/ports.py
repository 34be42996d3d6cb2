"""The narrow collaborators the router talks to: a clock in, an output sink out.

``twisted.internet.task.Clock`` and the reactor satisfy ``Clock`` (defined in
``queues.clock``, named here too); the adapter in
``server/`` implements ``AcdOutput`` by turning each call into AMI actions and Redis
writes.  Output methods must not call back into the router synchronously: the router
is in the middle of a decision when it calls them.
"""

from __future__ import annotations

from typing import Protocol

from queues.agents import AgentState
from queues.clock import Clock, DelayedCall
from queues.items import Decision, WorkItem

__all__ = ["AcdOutput", "Clock", "DelayedCall"]


class AcdOutput(Protocol):
    def offer(self, item: WorkItem, agent_id: str, decision: Decision) -> None:
        """Connect a waiting caller to the agent (Setvar AGENT_IFACE + Redirect)."""

    def place_callback(self, item: WorkItem, agent_id: str, decision: Decision) -> None:
        """Originate the agent first, then the dialplan dials ``item.number``."""

    def cancel_offer(self, item: WorkItem, agent_id: str, reason: str) -> None:
        """Stop ringing the agent (the caller hung up or the agent logged out)."""

    def agent_state_changed(
        self, agent_id: str, old: AgentState, new: AgentState, reason: str
    ) -> None: ...

    def call_abandoned(self, item: WorkItem, short: bool) -> None: ...

    def call_overflowed(self, item: WorkItem, from_queue: str, to_queue: str | None) -> None:
        """``to_queue`` None: maximum wait reached with nowhere to go; the call leaves."""

    def callback_requested(self, call: WorkItem, callback: WorkItem | None) -> None:
        """The caller left the line for a callback; ``callback`` None: merged into an
        already pending callback for the same number."""

    def work_item_failed(self, item: WorkItem, reason: str) -> None:
        """A callback or follow-up gave up (retries exhausted) or was cancelled."""
