"""An AcdOutput that records what the router says, for the router's tests."""

from __future__ import annotations

__all__ = ["RecordingOutput"]


class RecordingOutput:
    """An AcdOutput that records every call as (method, *args) in order."""

    def __init__(self) -> None:
        self.log: list[tuple] = []

    def offer(self, item, agent_id, decision):  # type: ignore[no-untyped-def]
        self.log.append(("offer", item.id, agent_id, decision))

    def place_callback(self, item, agent_id, decision):  # type: ignore[no-untyped-def]
        self.log.append(("place_callback", item.id, agent_id, decision))

    def cancel_offer(self, item, agent_id, reason):  # type: ignore[no-untyped-def]
        self.log.append(("cancel_offer", item.id, agent_id, reason))

    def agent_state_changed(self, agent_id, old, new, reason):  # type: ignore[no-untyped-def]
        self.log.append(("agent", agent_id, str(old), str(new), reason))

    def call_abandoned(self, item, short):  # type: ignore[no-untyped-def]
        self.log.append(("abandoned", item.id, short))

    def call_overflowed(self, item, from_queue, to_queue):  # type: ignore[no-untyped-def]
        self.log.append(("overflowed", item.id, from_queue, to_queue))

    def callback_requested(self, call, callback):  # type: ignore[no-untyped-def]
        self.log.append(("callback_requested", call.id, callback.id if callback else None))

    def work_item_failed(self, item, reason):  # type: ignore[no-untyped-def]
        self.log.append(("failed", item.id, reason))

    def take(self, *kinds: str) -> list[tuple]:
        """Return and clear the log, keeping only the given kinds if any are named."""
        out = [e for e in self.log if not kinds or e[0] in kinds]
        self.log.clear()
        return out
