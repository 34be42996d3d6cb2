"""server/bench/clock.py: the typed handles on Twisted's clocks."""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from server.bench.clock import reactor_time


def test_reactor_time_is_the_clock_itself() -> None:
    clock = Clock()
    timer = reactor_time(clock).callLater(2.0, lambda: None)
    clock.advance(2.0)
    assert reactor_time(clock) is clock and not timer.active()


def test_reactor_time_refuses_what_does_not_provide_the_interface() -> None:
    with pytest.raises(TypeError, match="does not provide IReactorTime"):
        reactor_time(object())  # type: ignore[arg-type]  # the refusal is what is tested
