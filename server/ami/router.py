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
        # Handler lists are tuples, replaced (never mutated) on (un)subscribe:
        # dispatch iterates them without a per-event copy, and a handler that
        # unsubscribes during dispatch does not disturb the loop.
        self._handlers: dict[str, tuple[EventHandler, ...]] = {}
        self._all: tuple[EventHandler, ...] = ()
        self.counts: Counter[str] = Counter()

    def subscribe(self, name: str, handler: EventHandler) -> Callable[[], None]:
        """Call ``handler(message)`` for every event called ``name`` (or ``ALL``).

        Returns a function that undoes the subscription.
        """
        if name == ALL:
            self._all = (*self._all, handler)
        else:
            self._handlers[name] = (*self._handlers.get(name, ()), handler)

        def unsubscribe() -> None:
            if name == ALL:
                self._all = _without(self._all, handler)
            elif handler in self._handlers.get(name, ()):
                self._handlers[name] = _without(self._handlers[name], handler)

        return unsubscribe

    def wants(self, name: str) -> bool:
        return bool(self._all) or bool(self._handlers.get(name))

    def dispatch(self, message: Message) -> None:
        name = message.name
        counts = self.counts
        # dict.get rather than Counter's __getitem__/__missing__: once per event.
        counts[name] = counts.get(name, 0) + 1
        handlers = self._handlers.get(name)
        if handlers:
            for handler in handlers:
                try:
                    handler(message)
                except Exception:
                    self._failed(handler, message)
        for handler in self._all:
            try:
                handler(message)
            except Exception:
                self._failed(handler, message)

    def _failed(self, handler: EventHandler, message: Message) -> None:
        # Called from inside the except block, so log.failure sees the traceback.
        self.log.failure(
            "AMI event handler {handler!r} failed on {event} for {channel}",
            handler=handler,
            event=message.name,
            channel=message.get("Channel"),
        )


def _without(
    handlers: tuple[EventHandler, ...], handler: EventHandler
) -> tuple[EventHandler, ...]:
    """``handlers`` minus the first occurrence of ``handler``."""
    i = handlers.index(handler) if handler in handlers else -1
    return handlers if i < 0 else handlers[:i] + handlers[i + 1 :]
