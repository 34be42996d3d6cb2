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
from server.sim.events import dial_event
from server.sim.keypad import Keypad
from server.sim.scripts import CallerScript

log = logging.getLogger(__name__)


class CallerActor:
    """Drives one caller's ``;2`` channel; ``one`` is the hotline leg."""

    def __init__(self, core: Core, script: CallerScript) -> None:
        self.core = core
        self.script = script
        self.one: Channel | None = None
        self.two: Channel | None = None
        self.timers: list[Any] = []
        self.keypad = Keypad(core, script.presses, self.timers)
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
        self.keypad.start(one)  # the caller's keys reach the hotline leg
        if s.patience is not None:
            self._later(s.patience, self.hang_up)
        return one, two

    def run_hotline(self) -> None:
        assert self.one is not None
        self.core.calls_started += 1
        self.core.start_pbx(self.one, "hotline", self.script.dialled)

    def _later(self, delay: float, fn: Any, *args: Any) -> None:
        self.timers.append(self.core.clock.callLater(delay, fn, *args))

    def hang_up(self) -> None:
        """The caller's patience ran out."""
        if self.two is not None and not self.two.hungup:
            self.core.hangup_by_actor(self.two, 16)

    def stop(self) -> None:
        if self.done:
            return
        self.done = True
        self.keypad.stop()  # and every timer of this call
