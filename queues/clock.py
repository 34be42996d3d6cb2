"""The injected clock the pure core reads time from and sets its timers with.

``twisted.internet.task.Clock`` and the reactor satisfy ``Clock``.  Kept apart
from ``queues.ports`` so the agent state (which holds a wrap-up timer) can name
``DelayedCall`` without importing the ports, which import the agent state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Clock", "DelayedCall"]


class DelayedCall(Protocol):
    def cancel(self) -> None: ...
    def active(self) -> bool: ...


class Clock(Protocol):
    def seconds(self) -> float: ...
    def callLater(self, delay: float, f: Callable[..., Any], *args: Any) -> DelayedCall: ...
