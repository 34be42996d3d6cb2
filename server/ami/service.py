"""The long-lived AMI connection: ClientService with login, backoff and resync hooks."""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, cast

from twisted.application.internet import ClientService, backoffPolicy
from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.interfaces import IAddress, IProtocol, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from .codec import Message
from .protocol import (
    DEFAULT_ACTION_TIMEOUT,
    AmiClientProtocol,
    AmiNotConnected,
    Fields,
    ListResult,
)
from .router import EventRouter

ConnectHook = Callable[[AmiClientProtocol], object]


@dataclass(frozen=True)
class AmiOptions:
    username: str
    secret: str
    md5: bool = True
    keepalive_interval: float = 10.0
    keepalive_timeout: float = 5.0
    action_timeout: float = DEFAULT_ACTION_TIMEOUT
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_message_bytes: int = 1 << 20

    def __repr__(self) -> str:  # the secret must never reach a log line
        return f"AmiOptions(username={self.username!r}, secret='***', md5={self.md5})"


class _Factory(Factory):
    def __init__(self, make: Callable[[], AmiClientProtocol]) -> None:
        self._make = make

    def buildProtocol(self, addr: IAddress | None) -> AmiClientProtocol:
        return self._make()


class AmiService(Service):
    """Keeps one logged-in AMI connection up for as long as the service runs.

    * Reconnects with exponential backoff and jitter (``ClientService``).
    * Logs in inside ``prepareConnection``: the connection only counts as up
      once Asterisk has accepted us, so nobody sends actions on a half-open
      session.
    * Runs every ``on_connect`` hook after each login so that later layers can
      resync (device states, live channels).  A failing hook is logged.
    * ``sendAction`` never queues: while disconnected it fails at once with
      :class:`AmiNotConnected`, so a non-idempotent action (Originate,
      Redirect) is never replayed on a later connection.
    """

    log = Logger()

    def __init__(
        self,
        reactor: IReactorTime,
        endpoint: IStreamClientEndpoint,
        settings: AmiOptions,
        router: EventRouter | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.reactor = reactor
        self.settings = settings
        self.router = router if router is not None else EventRouter()
        self.protocol: AmiClientProtocol | None = None
        self.reconnects = 0
        self.logins = 0
        self._hooks: list[ConnectHook] = []
        self._state_listeners: list[Callable[[bool], object]] = []
        jitter_rng = rng if rng is not None else random.Random()
        self._client = ClientService(
            endpoint,
            _Factory(self._build),
            retryPolicy=backoffPolicy(
                initialDelay=settings.backoff_initial,
                maxDelay=settings.backoff_max,
                factor=2.0,
                jitter=lambda: jitter_rng.uniform(0, settings.backoff_initial),
            ),
            clock=reactor,
            prepareConnection=self._prepare,
        )

    # -- wiring ----------------------------------------------------------------

    def on_connect(self, hook: ConnectHook) -> None:
        """Run ``hook(protocol)`` after every successful (re)login."""
        self._hooks.append(hook)

    def on_state(self, listener: Callable[[bool], object]) -> None:
        """Call ``listener(True/False)`` when the logged-in link comes up or goes down."""
        self._state_listeners.append(listener)

    @property
    def connected(self) -> bool:
        return self.protocol is not None and self.protocol.logged_in

    # -- Service ---------------------------------------------------------------

    # Service's own methods carry no annotations, and mypy's untyped_calls_exclude
    # does not reach a call through super(): hence the two ignores.
    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self._client.startService()

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        return self._client.stopService()

    # -- connection life cycle ----------------------------------------------------

    def _build(self) -> AmiClientProtocol:
        proto = AmiClientProtocol(
            self.reactor,
            self.router,
            action_timeout=self.settings.action_timeout,
            max_message_bytes=self.settings.max_message_bytes,
            on_lost=self._lost,
        )
        return proto

    def _lost(self, proto: AmiClientProtocol, was_up: bool, reason: Failure | None) -> None:
        if self.protocol is proto:
            self.protocol = None
        if was_up:
            self.log.warn("AMI link down: {reason}", reason=getattr(reason, "value", reason))
            self._tell_state(False)

    @defer.inlineCallbacks
    def _prepare(self, connected: IProtocol) -> Generator[Any, Any, None]:
        """Log in, then run the hooks (a hook may return a Deferred or a plain value,
        hence ``Any`` for what is yielded)."""
        proto = cast(AmiClientProtocol, connected)  # _Factory builds nothing else
        s = self.settings
        try:
            yield proto.login(s.username, s.secret, md5=s.md5)
        except Exception as exc:
            self.log.error("AMI login failed: {exc}", exc=exc)
            raise
        if self.logins:
            self.reconnects += 1
        self.logins += 1
        self.protocol = proto
        proto.start_keepalive(s.keepalive_interval, s.keepalive_timeout)
        self.log.info("AMI logged in as {user} ({banner})", user=s.username, banner=proto.banner)
        self._tell_state(True)
        for hook in list(self._hooks):
            try:
                yield hook(proto)
            except Exception:
                self.log.failure("AMI on-connect hook {hook!r} failed", hook=hook)

    def _tell_state(self, up: bool) -> None:
        for listener in list(self._state_listeners):
            try:
                listener(up)
            except Exception:
                self.log.failure("AMI state listener {l!r} failed", l=listener)

    # -- actions -----------------------------------------------------------------

    def sendAction(
        self, action: str, fields: Fields = (), timeout: float | None = None
    ) -> defer.Deferred[Message]:
        """Send on the current connection; see :meth:`AmiClientProtocol.sendAction`.

        Fails at once with :class:`AmiNotConnected` when no logged-in link exists.
        """
        proto = self.protocol
        if proto is None or not proto.logged_in:
            return defer.fail(AmiNotConnected(f"AMI link down, {action} not sent"))
        return proto.sendAction(action, fields, timeout)

    def sendListAction(
        self, action: str, fields: Fields = (), timeout: float | None = None
    ) -> defer.Deferred[ListResult]:
        """Like :meth:`sendAction` for list actions; fires with a ``ListResult``."""
        proto = self.protocol
        if proto is None or not proto.logged_in:
            return defer.fail(AmiNotConnected(f"AMI link down, {action} not sent"))
        return proto.sendListAction(action, fields, timeout)
