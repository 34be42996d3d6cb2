"""The composition root: the one place that builds the object graph.

Everything long-lived hangs under one ``MultiService``; nothing registers
itself in a module global, and no part is handed its collaborators later.
"""

from __future__ import annotations

from twisted.application.service import MultiService
from twisted.internet.endpoints import clientFromString
from twisted.internet.interfaces import IStreamClientEndpoint

from server.agi import AgiDriver
from server.ami.router import EventRouter
from server.ami.service import AmiOptions, AmiService
from server.config import Config


class Hotline:
    """The running server: AMI link, AsyncAGI driver and the call handling on top."""

    def __init__(self, reactor, cfg: Config, ami_endpoint: IStreamClientEndpoint,
                 ami_options: AmiOptions) -> None:
        self.reactor = reactor
        self.cfg = cfg
        self.services = MultiService()
        self.events = EventRouter()
        self.ami = AmiService(reactor, ami_endpoint, ami_options, self.events)
        self.ami.setServiceParent(self.services)
        self.agi = AgiDriver(self.ami, on_start=self._agi_started)

    @classmethod
    def from_config(cls, reactor, cfg: Config, secret: str,
                    ami_endpoint: str | None = None) -> Hotline:
        a = cfg.server.ami
        options = AmiOptions(
            username=a.username,
            secret=secret,
            keepalive_interval=a.keepalive_interval_s,
            keepalive_timeout=a.keepalive_timeout_s,
            action_timeout=a.action_timeout_s,
            backoff_initial=a.reconnect_initial_s,
            backoff_max=a.reconnect_max_s,
        )
        endpoint = clientFromString(reactor, ami_endpoint or a.endpoint)
        return cls(reactor, cfg, endpoint, options)

    def _agi_started(self, session, event) -> None:
        """Placeholder until the call adapter lands: park the call politely."""
