"""Typed handles on Twisted's clocks: a ``task.Clock`` as an ``IReactorTime``,
the reactor as a :class:`Loop`."""

from __future__ import annotations

from typing import Protocol, cast

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Clock


def reactor_time(clock: Clock) -> IReactorTime:
    """``clock`` itself, typed as the ``IReactorTime`` it provides.

    ``task.Clock`` declares the interface with zope's ``@implementer``, which mypy
    cannot see without the mypy-zope plugin; the check here is zope's own.
    Raises ``TypeError`` if ``clock`` does not provide the interface.
    """
    if not IReactorTime.providedBy(clock):
        raise TypeError(f"{clock!r} does not provide IReactorTime")
    return cast(IReactorTime, clock)


class Loop(Protocol):
    """The real reactor as a benchmark's entry point drives it.  (Its zope
    interfaces declare methods without ``self``, so mypy, without the mypy-zope
    plugin, cannot call them; a structural type checks the same methods.)"""

    def run(self) -> None: ...

    def stop(self) -> None: ...

    def seconds(self) -> float: ...
