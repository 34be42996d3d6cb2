"""Scripted key presses on one channel: the same for a caller and for an agent's phone."""

from __future__ import annotations

from typing import Any

from server.sim.channel import Channel
from server.sim.events import Event
from server.sim.scripts import ARRIVAL, COMMAND, Press


class Keypad:
    """Types ``presses`` on ``chan``: ``ARRIVAL`` ones at once (after their delay),
    ``COMMAND`` ones when the next ``AGIExecStart`` on the channel whose command
    starts with ``press.command`` begins; each press is used once, in order.

    ``timers`` is shared with the owner; :meth:`stop` cancels them all (the call ended).
    """

    def __init__(self, core: Any, presses: tuple[Press, ...], timers: list[Any]) -> None:
        self.core = core
        self.presses = presses
        self.timers = timers
        self.chan: Channel | None = None
        self._armed = [p for p in presses if p.after == COMMAND]

    def start(self, chan: Channel) -> None:
        self.chan = chan
        for press in self.presses:
            if press.after == ARRIVAL:
                self.type(press)
        if self._armed:
            self.core.subscribe(self._on_event)

    def stop(self) -> None:
        for timer in self.timers:
            if timer.active():
                timer.cancel()
        self.timers.clear()
        self.core.unsubscribe(self._on_event)

    def type(self, press: Press) -> None:
        for i, digit in enumerate(press.digits):
            self.timers.append(self.core.clock.callLater(
                press.delay + i * press.gap, self._digit, digit))

    def _digit(self, digit: str) -> None:
        if self.chan is not None and not self.chan.hungup:
            self.core.dtmf(self.chan, digit)

    def _on_event(self, ev: Event) -> None:
        if ev.name != "AGIExecStart" or self.chan is None or ev.get("Channel") != self.chan.name:
            return
        if self._armed and (ev.get("Command") or "").upper().startswith(
                self._armed[0].command.upper()):
            self.type(self._armed.pop(0))
            if not self._armed:
                self.core.unsubscribe(self._on_event)
