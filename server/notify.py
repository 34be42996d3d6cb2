"""In-process change notifications: the adapter publishes, the web and metrics listen.

The live feed (SSE), the wallboard and the Prometheus histograms all react to
the same few facts; publishing them here keeps the adapter ignorant of who
listens.  Topics:

* ``agent``: ``{"agent_id", "old", "new", "reason", "at"}`` on every state change;
* ``call``: ``{"call_id", "phase", "queue", "agent_id", "caller", "at"}`` when a
  call changes phase (entered, queued, offered, talking, survey, ended);
* ``offer``: ``{"call_id", "agent_id", "decision", "screen": {...}}`` when a call
  is offered to an agent (the desk's screen-pop);
* ``record``: the final record dict when a call's record is complete.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.logger import Logger

Listener = Callable[[str, dict[str, Any]], object]


class Notifier:
    log = Logger()

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """``listener(topic, payload)`` for every publication; returns an unsubscribe."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(topic, payload)
            except Exception:
                self.log.failure("Listener {l!r} failed on {topic}", l=listener, topic=topic)
