"""The simulator over real TCP on the real reactor (for the demo and the client)."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

from server.sim import CallerScript, Simulator
from tests.sim_support import Client


class WaitingClient(Client):
    def __init__(self) -> None:
        super().__init__()
        self.waiters: list[tuple[str, defer.Deferred]] = []

    def dataReceived(self, data: bytes) -> None:
        super().dataReceived(data)
        for name, d in list(self.waiters):
            if any(m.name == name for m in self.messages):
                self.waiters.remove((name, d))
                d.callback(None)

    def wait_for(self, name: str) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()
        if any(m.name == name for m in self.messages):
            d.callback(None)
        else:
            self.waiters.append((name, d))
        return d.addTimeout(5, reactor)


@pytest_twisted.inlineCallbacks
def test_listen_serves_ami_over_tcp_in_real_time() -> None:
    sim = Simulator(reactor, agi_delay=0.0).without_safety_net()
    port = sim.listen(reactor, port=0)
    try:
        client = WaitingClient()
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
        yield connectProtocol(endpoint, client)
        yield client.wait_for("Asterisk Call Manager/11.0.0")
        client.send("Login", {"Username": "acd", "Secret": "secret"}, "a1")
        yield client.wait_for("FullyBooted")
        sim.add_caller(CallerScript("13800001", "王五", arrive_at=0.0))
        yield client.wait_for("AsyncAGIStart")
        chan = client.events("AsyncAGIStart")[0]["Channel"]
        client.send("AGI", {"Channel": chan, "Command": "HANGUP", "CommandID": "h"}, "a2")
        yield client.wait_for("Hangup")
        assert client.events("AsyncAGIStart")[0]["CallerIDName"] == "王五"
        client.send("Logoff", {}, "a3")
        yield client.wait_for("Goodbye")
        assert sim.summary().calls_started == 1
    finally:
        yield port.stopListening()
