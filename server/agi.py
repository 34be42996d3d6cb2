"""AsyncAGI over AMI: one command at a time per channel, results by CommandID.

Asterisk answers ``Action: AGI`` at once ("Added AGI command to queue") and
reports the command's end later in an ``AsyncAGIExec`` event carrying our
``CommandID`` (as ``CommandId``).  This module owns that correlation and the
rules the traces taught us:

* a channel's AGI session starts with ``AsyncAGIStart`` and ends with
  ``AsyncAGIEnd`` (after ASYNCAGI BREAK, HANGUP, a -1 result, or a Redirect),
  or silently when the AMI ``Bridge`` action takes the channel (trace 11);
* a Redirect keeps a command that was queued but not started; it then runs
  first when the channel next enters AGI(agi:async), reporting our old
  CommandID (trace 08).  Such a command is *stale*: its result is dropped;
* a hangup drops queued commands silently, so a pending command must be
  failed on ``Hangup``, not waited for;
* the result of a command sent by a process that has since died (``kill -9``),
  or before a link loss, is delivered to the next AMI session (GUIDE §2.10).
  A CommandID is ``<run prefix>-<n>``, and ``.<tag>`` when the IVR tagged the
  command (ivr/steps.py): such a result goes to ``on_orphan``, which may use
  the caller's keys instead of asking again.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from twisted.internet import defer
from twisted.logger import Logger

from ivr.commands import AgiResult

from .ami.asyncagi import decode_env, parse_agi_result
from .ami.codec import Message


class AgiSessionEnded(Exception):
    """The channel left AsyncAGI (or hung up) before the command reported."""


class AgiLinkLost(Exception):
    """The AMI link dropped with the command in flight: its result is lost."""


@dataclass
class AgiSession:
    channel: str
    uniqueid: str
    linkedid: str
    env: dict[str, str]
    # CommandID -> (Deferred, command text) of the one command in flight.
    pending: dict[str, tuple[defer.Deferred, str]] = field(default_factory=dict)
    active: bool = True


StartHandler = Callable[[AgiSession, Message], object]
EndHandler = Callable[[AgiSession, Message], object]
OrphanHandler = Callable[[str, str, AgiResult], object]  # (channel, tag, result)

#: a CommandID of ours, of this run or an earlier one: prefix, number, optional tag
_COMMAND_ID = re.compile(r"h[0-9a-f]{6}-[0-9]+(?:\.(?P<tag>.+))?")


def tag_of(command_id: str) -> str | None:
    """The IVR's tag in one of our CommandIDs, or None."""
    match = _COMMAND_ID.fullmatch(command_id)
    return match.group("tag") if match else None


class AgiDriver:
    """Tracks AsyncAGI sessions and runs commands on them.

    :param ami: anything with ``sendAction(action, fields) -> Deferred``
        (``AmiService``) and a ``router`` to subscribe to.
    :param on_start: called with the session and the ``AsyncAGIStart`` event
        each time a channel enters ``AGI(agi:async)`` (again after a Dial).
    :param on_end: called when a session ends (``AsyncAGIEnd`` or hangup).
    :param on_orphan: called with ``(channel, tag, result)`` for the result of a
        tagged command nothing waits for any more (an earlier process's, or one
        in flight when the link dropped).
    """

    log = Logger()

    def __init__(self, ami, on_start: StartHandler, on_end: EndHandler | None = None,
                 on_orphan: OrphanHandler | None = None) -> None:
        self.ami = ami
        self.sessions: dict[str, AgiSession] = {}
        self._on_start = on_start
        self._on_end = on_end
        self._on_orphan = on_orphan
        # A fresh prefix per daemon run: a stale command left queued by a
        # previous run can never be mistaken for one of ours.
        self._prefix = "h" + secrets.token_hex(3)
        self._ids = itertools.count(1)
        self._stale: dict[str, str] = {}  # CommandID -> channel

    # -- events ----------------------------------------------------------------

    def async_agi_start(self, event: Message) -> None:
        channel = event["Channel"]
        old = self.sessions.get(channel)
        if old is not None:
            # New AsyncAGIStart with no AsyncAGIEnd before it: the channel was
            # taken by a Bridge action and came back (trace 11).
            self._close(old, "left AsyncAGI without AsyncAGIEnd")
        session = AgiSession(
            channel=channel,
            uniqueid=event.get("Uniqueid", ""),
            linkedid=event.get("Linkedid", ""),
            env=decode_env(event.get("Env", "")),
        )
        self.sessions[channel] = session
        self._on_start(session, event)

    def async_agi_exec(self, event: Message) -> None:
        command_id = event.get("CommandId")
        if command_id is None:
            return  # not one of ours: we always send a CommandID
        channel = event.get("Channel", "")
        session = self.sessions.get(channel)
        entry = session.pending.pop(command_id, None) if session else None
        if entry is None:
            # Stale: left queued by a Redirect, in flight at a link loss, or sent
            # by a process that died.  Its result may still hold the caller's keys.
            self._stale.pop(command_id, None)
            tag = tag_of(command_id)
            if tag is not None and self._on_orphan is not None:
                self._on_orphan(channel, tag, AgiResult(
                    *parse_agi_result(event.get("Result", ""))))
            else:
                self.log.debug("Dropped stale AGI result {cid}", cid=command_id)
            return
        code, result, data = parse_agi_result(event.get("Result", ""))
        entry[0].callback(AgiResult(code, result, data))

    def async_agi_end(self, event: Message) -> None:
        session = self.sessions.get(event.get("Channel", ""))
        if session is not None:
            self._close(session, "AsyncAGIEnd", event)

    def hangup(self, event: Message) -> None:
        channel = event.get("Channel", "")
        if self._stale:
            # A hangup drops queued commands without a report (trace 04).
            for command_id in [c for c, ch in self._stale.items() if ch == channel]:
                del self._stale[command_id]
        session = self.sessions.get(channel)
        if session is not None:
            self._close(session, "hangup", event, stale=False)

    def _close(self, session: AgiSession, why: str, event: Message | None = None,
               stale: bool = True) -> None:
        if self.sessions.get(session.channel) is session:
            del self.sessions[session.channel]
        session.active = False
        pending, session.pending = session.pending, {}
        for command_id, (d, command) in pending.items():
            if stale:
                # Still queued in Asterisk: it will run (and report) when the
                # channel next enters AsyncAGI.  Ignore that report.
                self._stale[command_id] = session.channel
            d.errback(AgiSessionEnded(f"{session.channel}: {why} during {command}"))
        if self._on_end is not None and event is not None:
            self._on_end(session, event)

    # -- link loss and resync ----------------------------------------------------

    def link_lost(self) -> None:
        """Fail every command in flight; a result that arrives later is stale.

        The channels stay in AsyncAGI in Asterisk (it never times out), so the
        sessions are kept for the resync to reuse or forget.
        """
        for session in self.sessions.values():
            pending, session.pending = session.pending, {}
            for command_id, (d, command) in pending.items():
                self._stale[command_id] = session.channel
                d.errback(AgiLinkLost(f"{session.channel}: AMI link lost during {command}"))

    def adopt(self, channel: str, uniqueid: str, linkedid: str,
              env: dict[str, str]) -> AgiSession:
        """A session for a channel found in AsyncAGI by a channel listing."""
        session = AgiSession(channel, uniqueid, linkedid, dict(env))
        self.sessions[channel] = session
        return session

    def forget_missing(self, live_channels: set[str]) -> None:
        """Drop sessions (and stale ids) of channels that no longer exist."""
        for channel in [c for c in self.sessions if c not in live_channels]:
            self.sessions.pop(channel).active = False
        for command_id in [c for c, ch in self._stale.items() if ch not in live_channels]:
            del self._stale[command_id]

    # -- commands -----------------------------------------------------------------

    def run(self, session: AgiSession, command: str, tag: str | None = None) -> defer.Deferred:
        """Send one AGI command; fires with its :class:`AgiResult`.

        ``tag`` (``<kind>.<step>``, ivr/steps.py) goes into the CommandID, so a
        later process can tell what the result answers (see ``on_orphan``).

        Fails with :class:`AgiSessionEnded` if the session ends first, or with
        the AMI error (e.g. the channel no longer exists).
        """
        if not session.active:
            return defer.fail(AgiSessionEnded(f"{session.channel}: not in AsyncAGI"))
        if session.pending:
            # Asterisk would queue it; we refuse, because the engine must see
            # each result before it decides the next command.
            return defer.fail(RuntimeError(f"{session.channel}: an AGI command is in flight"))
        command_id = f"{self._prefix}-{next(self._ids)}" + (f".{tag}" if tag else "")
        d: defer.Deferred = defer.Deferred()
        session.pending[command_id] = (d, command)
        sent = self.ami.sendAction(
            "AGI", [("Channel", session.channel), ("Command", command), ("CommandID", command_id)]
        )

        def refused(failure):
            entry = session.pending.pop(command_id, None)
            if entry is not None:
                entry[0].errback(failure)

        sent.addErrback(refused)
        return d
