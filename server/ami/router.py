"""Event subscription by name, shared by every connection of one AMI service."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from twisted.logger import Logger

from .codec import Message

EventHandler = Callable[[Message], object]

#: Subscribe to this name to see every event (the demo's traffic printer).
ALL = "*"


class EventRouter:
    """Calls the handlers subscribed to an event's name, in subscription order.

    A handler that raises is logged with the event's name and channel, and the
    next handler still runs: one broken consumer must not starve the others.
    Counts of events by type are kept for metrics and the demo summary.
    """

    log = Logger()

    def __init__(self) -> None:
        self._handlers: dict[str, list[EventHandler]] = {}
        self._all: list[EventHandler] = []
        self.counts: Counter[str] = Counter()

    def subscribe(self, name: str, handler: EventHandler) -> Callable[[], None]:
        """Call ``handler(message)`` for every event called ``name`` (or ``ALL``).

        Returns a function that undoes the subscription.
        """
        bucket = self._all if name == ALL else self._handlers.setdefault(name, [])
        bucket.append(handler)

        def unsubscribe() -> None:
            if handler in bucket:
                bucket.remove(handler)

        return unsubscribe

    def wants(self, name: str) -> bool:
        return bool(self._all) or bool(self._handlers.get(name))

    def dispatch(self, message: Message) -> None:
        name = message.name
        self.counts[name] += 1
        handlers = self._handlers.get(name)
        if handlers:
            for handler in tuple(handlers):
                self._call(handler, message)
        if self._all:
            for handler in tuple(self._all):
                self._call(handler, message)

    def _call(self, handler: EventHandler, message: Message) -> None:
        try:
            handler(message)
        except Exception:
            self.log.failure(
                "AMI event handler {handler!r} failed on {event} for {channel}",
                handler=handler,
                event=message.name,
                channel=message.get("Channel"),
            )
