"""The client side of one AMI connection: framing, login, ActionID correlation.

The protocol is thin on purpose: ``dataReceived`` hands bytes to the sans-IO
:class:`~server.ami.codec.AmiParser` and each message to either the pending
action it answers or the :class:`~server.ami.router.EventRouter`.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from twisted.internet import defer
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IDelayedCall, IReactorTime, ITCPTransport
from twisted.internet.protocol import Protocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from .codec import BANNER, EVENT, RESPONSE, AmiParser, FrameTooLarge, Message, encode_action
from .router import EventRouter

DEFAULT_ACTION_TIMEOUT = 10.0

Fields = Iterable[tuple[str, object]] | dict[str, object]


class AmiError(Exception):
    """Base class of the failures an action's Deferred can fail with."""


class AmiActionError(AmiError):
    """Asterisk answered ``Response: Error``; ``.response`` is the message."""

    def __init__(self, action: str, response: Message) -> None:
        self.action = action
        self.response = response
        super().__init__(f"{action}: {response.get('Message', 'error')}")


class AmiLoginError(AmiError):
    """Login was refused (wrong user or secret)."""


class AmiTimeout(AmiError):
    """No reply within the action's timeout."""


class AmiNotConnected(AmiError):
    """There is no logged-in AMI connection to send the action on.

    Actions are never queued for a later connection: a Redirect or Originate
    replayed after a reconnect could act twice on a live call.
    """


@dataclass
class ListResult:
    """A list action's reply: the ``EventList: start`` response and its events."""

    response: Message
    events: list[Message] = field(default_factory=list)


@dataclass
class _Pending:
    action: str
    deferred: defer.Deferred[Message | ListResult]
    timer: IDelayedCall | None
    want_list: bool
    result: ListResult | None = None


class AmiClientProtocol(Protocol):
    """One AMI connection.  Create with the clock and the service's router.

    :param clock: the reactor's time interface (``task.Clock`` in tests).
    :param router: receives every unsolicited event.
    :param action_timeout: default seconds before an action's Deferred fails
        with :class:`AmiTimeout`.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        router: EventRouter | None = None,
        action_timeout: float = DEFAULT_ACTION_TIMEOUT,
        max_message_bytes: int = 1 << 20,
        on_lost: Callable[[AmiClientProtocol, bool, Failure | None], object] | None = None,
    ) -> None:
        self.clock = clock
        self._on_lost = on_lost
        self.router = router if router is not None else EventRouter()
        self.action_timeout = action_timeout
        self._parser = AmiParser(expect_banner=True, max_message_bytes=max_message_bytes)
        self._pending: dict[str, _Pending] = {}
        self._open_lists = 0  # list actions whose EventList has started
        self._ids = itertools.count(1)
        # A fresh prefix per connection: a late reply from an old connection
        # can never be taken for the answer to a new action.
        self._id_prefix = secrets.token_hex(3)
        self.banner: str | None = None
        self._banner_waiters: list[defer.Deferred[str]] = []
        self._keepalive: LoopingCall | None = None
        self.connected_ok = False
        self.logged_in = False
        self.username: str | None = None  # once logged in

    # -- Twisted Protocol ---------------------------------------------------

    def connectionMade(self) -> None:
        self.connected_ok = True

    def dataReceived(self, data: bytes) -> None:
        try:
            messages = self._parser.feed(data)
        except FrameTooLarge as exc:
            self.log.error("AMI peer misbehaves, dropping the connection: {exc}", exc=exc)
            self._abort()
            return
        for message in messages:
            self._handle(message)

    def _abort(self) -> None:
        """Drop the connection at once, unsent data and all."""
        if self.transport is not None:
            # Every transport this runs on (TCP, and StringTransport in tests) can
            # abort; the attribute is only typed as the ITransport that cannot.
            cast(ITCPTransport, self.transport).abortConnection()

    def connectionLost(self, reason: Failure | None = None) -> None:
        was_up = self.logged_in
        self.connected_ok = False
        self.logged_in = False
        self.stop_keepalive()
        pending, self._pending = self._pending, {}
        self._open_lists = 0
        for entry in pending.values():
            if entry.timer is not None and entry.timer.active():
                entry.timer.cancel()
            entry.deferred.errback(ConnectionLost(f"AMI connection lost during {entry.action}"))
        waiters, self._banner_waiters = self._banner_waiters, []
        for waiter in waiters:
            waiter.errback(ConnectionLost("AMI connection lost before the banner"))
        if self._on_lost is not None:
            self._on_lost(self, was_up, reason)

    # -- dispatch -------------------------------------------------------------

    def _handle(self, message: Message) -> None:
        kind = message.kind
        if kind == EVENT:
            if self._open_lists and self._collect_list_event(message):
                return
            self.router.dispatch(message)
        elif kind == RESPONSE:
            self._on_response(message)
        elif kind == BANNER:
            self.banner = message.name
            if not message.name.startswith("Asterisk Call Manager/"):
                self.log.warn("Unexpected AMI banner {banner!r}", banner=message.name)
            waiters, self._banner_waiters = self._banner_waiters, []
            for waiter in waiters:
                waiter.callback(message.name)
        else:
            self.log.warn(
                "Skipping malformed AMI message ({size} bytes): {head!r}",
                size=len(message.raw),
                head=message.raw[:120],
            )

    def _on_response(self, message: Message) -> None:
        action_id = message.action_id
        entry = self._pending.get(action_id) if action_id is not None else None
        if entry is None or action_id is None:
            self.log.debug(
                "AMI response for no pending action: {aid} {name}", aid=action_id, name=message.name
            )
            return
        if message.name == "Error":
            self._finish(action_id, failure=AmiActionError(entry.action, message))
        elif (message.get("EventList") or "").lower() == "start":
            entry.result = ListResult(message)
            self._open_lists += 1
        else:
            self._finish(action_id, result=message)

    def _collect_list_event(self, message: Message) -> bool:
        if b"ActionID:" not in message.raw and message.raw:
            return False  # cheap test before decoding the headers
        action_id = message.get("ActionID")
        if action_id is None:
            return False
        entry = self._pending.get(action_id)
        if entry is None or entry.result is None:
            return False  # e.g. OriginateResponse: an event for everybody
        if (message.get("EventList") or "").lower() == "complete":
            result = entry.result
            self._finish(action_id, result=result if entry.want_list else result.response)
        else:
            entry.result.events.append(message)
        return True

    def _finish(
        self,
        action_id: str,
        result: Message | ListResult | None = None,
        failure: Exception | None = None,
    ) -> None:
        entry = self._pending.pop(action_id)
        if entry.result is not None:
            self._open_lists -= 1
        if entry.timer is not None and entry.timer.active():
            entry.timer.cancel()
        if failure is not None:
            entry.deferred.errback(failure)
        else:
            assert result is not None  # every caller passes one or the other
            entry.deferred.callback(result)

    # -- actions ----------------------------------------------------------------

    def sendAction(
        self, action: str, fields: Fields = (), timeout: float | None = None
    ) -> defer.Deferred[Message]:
        """Send one action.

        The Deferred fires with the response :class:`Message` (for a list
        action, once its ``...Complete`` event arrives).  It fails with
        :class:`AmiActionError` on ``Response: Error``, :class:`AmiTimeout`
        after ``timeout`` seconds, ``ConnectionLost`` if the connection drops
        first, or ``ValueError`` if a field contains CR/LF.
        """
        # Without want_list every path fires with the Message itself.
        return cast("defer.Deferred[Message]", self._send(action, fields, timeout, False))

    def sendListAction(
        self, action: str, fields: Fields = (), timeout: float | None = None
    ) -> defer.Deferred[ListResult]:
        """Like :meth:`sendAction`, but fires with a :class:`ListResult`.

        It completes on the event carrying ``EventList: Complete``, never on
        message text.  A list action whose response is not ``EventList:
        start`` (e.g. ``Status`` of one missing channel) fires with an empty
        ``ListResult``.
        """
        d = self._send(action, fields, timeout, want_list=True)
        return d.addCallback(_as_list)

    def _send(
        self, action: str, fields: Fields, timeout: float | None, want_list: bool
    ) -> defer.Deferred[Message | ListResult]:
        if self.transport is None or not self.connected_ok:
            return defer.fail(AmiNotConnected(f"not connected, {action} not sent"))
        action_id = f"{self._id_prefix}-{next(self._ids)}"
        try:
            data = encode_action(action, fields, action_id)
        except ValueError as exc:
            return defer.fail(exc)
        d: defer.Deferred[Message | ListResult] = defer.Deferred()
        secs = self.action_timeout if timeout is None else timeout
        timer = self.clock.callLater(secs, self._timed_out, action_id) if secs else None
        self._pending[action_id] = _Pending(action, d, timer, want_list)
        self.transport.write(data)
        return d

    def _timed_out(self, action_id: str) -> None:
        entry = self._pending.get(action_id)
        if entry is None:
            return
        entry.timer = None
        self._finish(action_id, failure=AmiTimeout(f"{entry.action}: no reply from Asterisk"))

    # -- login ------------------------------------------------------------------

    def waitForBanner(self) -> defer.Deferred[str]:
        """Fires with the banner text once it has arrived."""
        if self.banner is not None:
            return defer.succeed(self.banner)
        d: defer.Deferred[str] = defer.Deferred()
        self._banner_waiters.append(d)
        return d

    @defer.inlineCallbacks
    def login(
        self, username: str, secret: str, md5: bool = False, events: bool = True
    ) -> Generator[defer.Deferred[Any], Any, Message]:
        """Log in; fires with the success response, fails with :class:`AmiLoginError`.

        With ``md5`` the secret never crosses the wire: Asterisk sends a
        challenge and we answer with ``md5(challenge + secret)``.
        """
        yield self.waitForBanner()
        fields: list[tuple[str, object]] = [("Username", username)]
        if md5:
            challenge = yield self.sendAction("Challenge", [("AuthType", "md5")])
            key = hashlib.md5((challenge.get("Challenge", "") + secret).encode()).hexdigest()
            fields += [("AuthType", "md5"), ("Key", key)]
        else:
            fields.append(("Secret", secret))
        fields.append(("Events", "on" if events else "off"))
        try:
            response: Message = yield self.sendAction("Login", fields)
        except AmiActionError as exc:
            raise AmiLoginError(
                f"AMI login as {username!r} refused: {exc.response.get('Message')}"
            ) from None
        self.logged_in = True
        self.username = username
        return response

    # -- keepalive --------------------------------------------------------------

    def start_keepalive(self, interval: float, timeout: float) -> None:
        """Ping every ``interval`` s; no Pong within ``timeout`` s drops the link.

        A quiet PBX may send nothing for hours: silence is not death, but an
        unanswered Ping is (a half-open TCP connection never says so itself).
        """
        self.stop_keepalive()

        def ping() -> None:
            d = self.sendAction("Ping", timeout=timeout)
            d.addErrback(self._ping_failed)

        self._keepalive = LoopingCall(ping)
        self._keepalive.clock = self.clock
        self._keepalive.start(interval, now=False)

    def _ping_failed(self, failure: Failure) -> None:
        if isinstance(failure.value, AmiTimeout):
            self.log.error("AMI peer did not answer Ping: dropping the connection")
            self._abort()
        elif not isinstance(failure.value, ConnectionLost | AmiNotConnected):
            self.log.failure("AMI Ping failed", failure)

    def stop_keepalive(self) -> None:
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        self._keepalive = None


def _as_list(r: Message | ListResult) -> ListResult:
    """A list action answered without ``EventList: start`` has no events."""
    return r if isinstance(r, ListResult) else ListResult(r)
