"""Connect a client protocol to the simulator in memory, for deterministic tests.

Uses ``twisted.test.iosim``: two ``FakeTransport``s and an ``IOPump``.  Call
``pump.flush()`` (or :func:`advance`) after each step; nothing touches a socket.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IProtocol
from twisted.test.iosim import IOPump, connect, makeFakeClient, makeFakeServer

from server.sim.ami_server import AmiServerProtocol
from server.sim.simulator import Simulator


def connect_in_memory(sim: Simulator, client: IProtocol, greet: bool = True
                      ) -> tuple[AmiServerProtocol, IOPump]:
    """Wire ``client`` to a new server protocol; returns ``(server, pump)``.

    The banner is delivered by the first flush (done here when ``greet``).
    """
    server = sim.factory().buildProtocol(None)
    pump = connect(server, makeFakeServer(server), client, makeFakeClient(client), greet=greet)
    return server, pump


def advance(clock: Any, pump: IOPump, seconds: float, step: float = 0.01) -> None:
    """Advance ``clock`` by ``seconds`` in ``step``s, flushing the pump after each."""
    remaining = seconds
    pump.flush()
    while remaining > 1e-9:
        dt = min(step, remaining)
        clock.advance(dt)
        pump.flush()
        remaining -= dt
