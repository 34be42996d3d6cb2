"""Scripted callers: the ``;2`` half of a ``Local/<n>@sim-callers`` pair.

Like the lab (traces 02-04), a caller is a Local pair: ``;1`` runs the hotline
dialplan, ``;2`` is this script, which answers at once, types digits (DTMF
arrives on ``;1`` with ``Direction: Received``) and hangs up when its
patience runs out.  A caller arriving by itself produces the same events as
the lab's ``Originate`` of ``Local/<n>@sim-callers`` (DialBegin/DialEnd
without a caller block) except ``OriginateResponse``, which only an AMI
Originate gets.
"""

from __future__ import annotations

import logging
from typing import Any

from server.sim.channel import UP, Channel
from server.sim.core import Core
from server.sim.events import Event, dial_event
from server.sim.scripts import ARRIVAL, COMMAND, CallerScript, Press

log = logging.getLogger(__name__)


class CallerActor:
    """Drives one caller's ``;2`` channel; ``one`` is the hotline leg."""

    def __init__(self, core: Core, script: CallerScript) -> None:
        self.core = core
        self.script = script
        self.one: Channel | None = None
        self.two: Channel | None = None
        self.timers: list[Any] = []
        self._armed: list[Press] = [p for p in script.presses if p.after == COMMAND]
        self.done = False

    def enter(self) -> tuple[Channel, Channel]:
        """Create the Local pair and answer (the caller is connected to ``;1``)."""
        s = self.script
        one, two = self.core.local_pair(s.local_exten, "sim-callers", (s.number, s.name))
        self.one, self.two = one, two
        self.core.on_gone[two.name] = self.stop
        self.core.publish(dial_event("DialBegin", None, one,
                                     ("DialString", f"{s.local_exten}@sim-callers")))
        self.core.set_state(two, UP)
        self.core.set_state(one, UP)
        self.core.publish(dial_event("DialEnd", None, one, ("DialStatus", "ANSWER")))
        for press in s.presses:
            if press.after == ARRIVAL:
                self._type(press)
        if s.patience is not None:
            self._later(s.patience, self.hang_up)
        if self._armed:
            self.core.subscribe(self._on_event)
        return one, two

    def run_hotline(self) -> None:
        assert self.one is not None
        self.core.calls_started += 1
        self.core.start_pbx(self.one, "hotline", self.script.dialled)

    def _later(self, delay: float, fn: Any, *args: Any) -> None:
        self.timers.append(self.core.clock.callLater(delay, fn, *args))

    def _type(self, press: Press) -> None:
        for i, digit in enumerate(press.digits):
            self._later(press.delay + i * press.gap, self._digit, digit)

    def _digit(self, digit: str) -> None:
        if self.one is not None and not self.one.hungup:
            self.core.dtmf(self.one, digit)

    def _on_event(self, ev: Event) -> None:
        if ev.name != "AGIExecStart" or self.one is None or ev.get("Channel") != self.one.name:
            return
        if self._armed and (ev.get("Command") or "").upper().startswith(
                self._armed[0].command.upper()):
            self._type(self._armed.pop(0))
            if not self._armed:
                self.core.unsubscribe(self._on_event)

    def hang_up(self) -> None:
        """The caller's patience ran out."""
        if self.two is not None and not self.two.hungup:
            self.core.hangup_by_actor(self.two, 16)

    def stop(self) -> None:
        if self.done:
            return
        self.done = True
        for t in self.timers:
            if t.active():
                t.cancel()
        self.timers = []
        self.core.unsubscribe(self._on_event)
