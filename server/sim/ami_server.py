"""The AMI server side: one :class:`AmiSession` per TCP (or in-memory) connection.

Session states: ``login`` (only Login, Challenge, Logoff, Ping-denied),
``ready``, ``closed``.  ``AmiServerProtocol`` is thin: bytes go to the codec,
messages to the session.  Responses: ``Response`` first, ``ActionID`` second
(absent when the action had none), then the action's own headers (traces 01, 05b).
"""

from __future__ import annotations

import hashlib
import logging
import typing
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet.protocol import Factory, Protocol

from server.ami.codec import AmiParser, FrameTooLarge, Message, encode_message
from server.ami.privileges import allowed, manager_conf_write
from server.sim.events import Event, EventFilter, event

if TYPE_CHECKING:
    from server.sim.simulator import Simulator

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
#: deploy/asterisk/manager.conf: the AMI user the hotline server logs in as
SHIPPED_MANAGER_CONF = Path(__file__).resolve().parents[2] / "deploy" / "asterisk" / "manager.conf"
#: the include list the shipped manager.conf gives the hotline user
SHIPPED_MANAGER_FILTER = EventFilter.from_manager_conf(SHIPPED_MANAGER_CONF.read_text(),
                                                       "hotline")
AUTH_FAIL_DELAY = 1.0  # Asterisk answers a wrong secret after ~1 s (trace 01b)


@dataclass(frozen=True)
class AmiUser:
    username: str
    secret: str
    #: manager.conf eventfilter; default: the include list deploy/asterisk/manager.conf
    #: ships for the hotline user, so CI sees what a real Asterisk with it sends
    event_filter: EventFilter = field(default_factory=lambda: SHIPPED_MANAGER_FILTER)
    #: manager.conf ``write`` classes; default ``all``, as the lab's user had
    #: (server/ami/privileges.py says which action needs which)
    write: frozenset[str] = frozenset({"all"})


Pairs = list[tuple[str, Any]]


def shipped_user(username: str, secret: str) -> AmiUser:
    """The server's AMI user with the rights deploy/asterisk/manager.conf gives
    ``[hotline]``: the simulator then refuses what a real Asterisk would refuse."""
    return AmiUser(username, secret, write=manager_conf_write(SHIPPED_MANAGER_CONF, "hotline"))


class AmiSession:
    def __init__(self, sim: Simulator, write: Callable[[bytes], None],
                 close: Callable[[], None], peer: str = "127.0.0.1/50000") -> None:
        self.sim = sim
        self._write = write
        self._close = close
        self.peer = peer
        self.state = "login"
        self.user: AmiUser | None = None
        self.challenge: str | None = None
        self.event_classes: frozenset[str] | None = None  # None: all classes
        self.events_sent: Counter[str] = Counter()  # by event name, after the filter

    # -- output ------------------------------------------------------------
    def send(self, pairs: Pairs) -> None:
        if self.state == "closed":
            return
        self._write(encode_message(pairs))

    def respond(self, msg: Message, status: str, *pairs: tuple[str, Any]) -> None:
        head: Pairs = [("Response", status)]
        if msg.action_id:  # Asterisk omits an empty ActionID too (astman_send_response)
            head.append(("ActionID", msg.action_id))
        self.send(head + list(pairs))

    def error(self, msg: Message, text: str) -> None:
        self.respond(msg, "Error", ("Message", text))

    def on_event(self, ev: Event) -> None:
        """Core events: sent when logged in, events are on and the filter allows."""
        if self.state != "ready" or self.user is None:
            return
        if self.event_classes is not None:
            klass = (ev.get("Privilege") or "").split(",")[0]
            if klass not in self.event_classes:
                return
        if not self.user.event_filter.allows(ev):
            return
        self.events_sent[ev.name] += 1
        self.send(ev.pairs())

    def send_list_event(self, name: str, msg: Message, pairs: Pairs, id_last: bool = False
                        ) -> None:
        """List events: ActionID 2nd (or last for Status), no Privilege (trace 05a)."""
        aid = [("ActionID", msg.action_id)] if msg.action_id else []
        body = list(pairs) + aid if id_last else aid + list(pairs)
        self.send([("Event", name), *body])

    # -- input -------------------------------------------------------------
    def handle(self, msg: Message) -> None:
        name = (msg.get("Action") or "").strip()
        if not name:
            self.error(msg, "Missing action in request")
            self._bad_format(msg, "")
            return
        lname = name.lower()
        if self.state == "login" and lname not in ("login", "challenge", "logoff"):
            self.error(msg, "Permission denied")
            return
        handler = self.sim.actions.get(lname)
        if handler is None:
            self.error(msg, f"Invalid/unknown command: {name}. "
                            "Use Action: ListCommands to show available commands.")
            self._bad_format(msg, f"Action: {name}")
            return
        if self.user is not None and not allowed(lname, self.user.write):
            # manager.c process_message: RequestNotAllowed, then the error (05b's text)
            self._security("RequestNotAllowed", msg, f"Action: {name}")
            self.error(msg, "Permission denied")
            return
        try:
            handler(self, msg)
        except Exception:
            log.exception("AMI action %s failed (ActionID %s)", name, msg.action_id)
            self.error(msg, "Internal error in the simulator")

    def _bad_format(self, msg: Message, request_type: str) -> None:
        self._security("RequestBadFormat", msg, request_type)

    def _security(self, name: str, msg: Message, request_type: str) -> None:
        self.sim.core.publish(event(name, "security", [
            ("EventTV", "1970-01-01T00:00:00.000+0000"), ("Severity", "Error"), ("Service", "AMI"),
            ("EventVersion", "1"), ("SessionID", f"0x{id(self):x}"),
            ("LocalAddress", "IPV4/TCP/127.0.0.1/5038"), ("RemoteAddress", f"IPV4/TCP/{self.peer}"),
            ("RequestType", request_type), ("SessionTV", "1970-01-01T00:00:00.000+0000"),
            ("AccountID", self.user.username if self.user else "")]))

    # -- login -------------------------------------------------------------
    def login(self, msg: Message) -> None:
        user = self.sim.users.get(msg.get("Username") or "")
        if user is None:
            ok = False
        elif (msg.get("AuthType") or "").lower() == "md5":
            expected = hashlib.md5(((self.challenge or "") + user.secret).encode()).hexdigest()
            ok = self.challenge is not None and (msg.get("Key") or "").lower() == expected
        else:
            ok = msg.get("Secret") == user.secret
        if user is None or not ok:
            self.sim.clock.callLater(AUTH_FAIL_DELAY, self._auth_failed, msg)
            return
        self.user = user
        self.state = "ready"
        events = (msg.get("Events") or "on").strip().lower()
        self.set_events(events)
        self.respond(msg, "Success", ("Message", "Authentication accepted"))
        self.on_event(event("FullyBooted", "system", [
            ("Uptime", str(int(self.sim.uptime()))), ("LastReload", str(int(self.sim.uptime()))),
            ("Status", "Fully Booted")]))
        self.sim.core.publish(event("SuccessfulAuth", "security", [
            ("EventTV", "1970-01-01T00:00:00.000+0000"), ("Severity", "Informational"),
            ("Service", "AMI"), ("EventVersion", "1"), ("AccountID", user.username),
            ("SessionID", f"0x{id(self):x}"), ("LocalAddress", "IPV4/TCP/127.0.0.1/5038"),
            ("RemoteAddress", f"IPV4/TCP/{self.peer}"), ("UsingPassword", "0"),
            ("SessionTV", "1970-01-01T00:00:00.000+0000")]))

    def _auth_failed(self, msg: Message) -> None:
        self.error(msg, "Authentication failed")
        self.close()

    def set_events(self, mask: str) -> None:
        if mask in ("off", "no", "false", "0"):
            self.event_classes = frozenset()
        elif mask in ("on", "yes", "true", "1", "all", ""):
            self.event_classes = None
        else:
            self.event_classes = frozenset(c.strip() for c in mask.split(","))

    def close(self) -> None:
        if self.state != "closed":
            self.state = "closed"
            self.sim.core.unsubscribe(self.on_event)
            self._close()


class _Stream(typing.Protocol):
    """What the AMI server uses of its transport (a TCP connection, a StringTransport)."""

    def write(self, data: bytes) -> None: ...

    def loseConnection(self) -> None: ...

    def getPeer(self) -> object: ...


class AmiServerProtocol(Protocol):
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.parser = AmiParser(expect_banner=False)
        self.session: AmiSession | None = None

    def _stream(self) -> _Stream:
        """The connected transport; only called once Twisted has connected it."""
        if self.transport is None:
            raise RuntimeError("AMI server protocol used before connectionMade")
        # ITransport declares its methods zope-style, without ``self``, so mypy
        # (without the mypy-zope plugin) reads ``write(data)`` as taking no
        # argument and cannot see that every ITransport is a _Stream.
        return typing.cast(_Stream, self.transport)

    def connectionMade(self) -> None:
        stream = self._stream()
        peer = stream.getPeer()
        where = f"{getattr(peer, 'host', '127.0.0.1')}/{getattr(peer, 'port', 0)}"
        self.session = AmiSession(self.sim, stream.write, stream.loseConnection, where)
        self.sim.sessions.append(self.session)
        self.sim.core.subscribe(self.session.on_event)
        stream.write(BANNER)

    def dataReceived(self, data: bytes) -> None:
        try:
            messages = self.parser.feed(data)
        except FrameTooLarge:
            log.warning("AMI client sent an oversized message; closing")
            self._stream().loseConnection()
            return
        for msg in messages:
            assert self.session is not None
            self.session.handle(msg)

    def connectionLost(self, reason: Any = None) -> None:
        if self.session is not None:
            self.session.state = "closed"
            self.sim.core.unsubscribe(self.session.on_event)
            if self.session in self.sim.sessions:
                self.sim.sessions.remove(self.session)


class AmiServerFactory(Factory):
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def buildProtocol(self, addr: Any) -> AmiServerProtocol:
        return AmiServerProtocol(self.sim)
