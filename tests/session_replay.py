"""Replay a recorded AMI session of this server on a real Asterisk (traces 13b, 15b).

The recording holds what Asterisk sent and what the recorded daemon sent.  Here
the received bytes go, message by message and at their recorded times (on a
``task.Clock``), through a real ``AmiClientProtocol`` into the real adapter
(``CallCenter``, ``Resync``, ``SafetyNet``).  Every action our server sends is
answered with the recorded answer to the same action (name, channel, variable;
for AGI the next recorded command on that channel), its ActionID rewritten; a
recorded AGI result reaches us with its CommandId rewritten to ours.

Where our server decides differently from the recorded daemon (the fixes of
issue 12 make it do so on purpose), its command has no recorded result: the
replay notes the divergence and that channel's later recorded results arrive
as stale ones.  A channel-language ``SET VARIABLE`` the recorded daemon did not
send is answered at once with ``200 result=1`` (what Asterisk answers).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from server.ami.codec import AmiParser, Message
from server.ami.protocol import AmiClientProtocol
from server.ami.router import EventRouter
from tests.trace_util import ami_trace, header, set_action_id

CRLF = b"\r\n"
LANGUAGE_SET = re.compile(r"^SET VARIABLE CHANNEL\(language\) \S+$")


_MINIMAL_EXEC = (b"Event: AsyncAGIExec" + CRLF + b"Privilege: agi,all" + CRLF + b"Channel: -" + CRLF
                 + b"CommandId: -" + CRLF + b"Result: -" + CRLF + CRLF)


def same_command(recorded: str, ours: str) -> bool:
    """Equal, or the same playback (STREAM FILE, SAY NUMBER, ...) differing only in
    the keys it accepts, its last argument: ours takes type-ahead where the recorded
    daemon's did not (issue 12, point 5), and the recorded result, with no key, is
    what Asterisk answered to both."""
    if recorded == ours:
        return True
    r, o = recorded.split(" "), ours.split(" ")
    return (len(r) == len(o) >= 3 and r[0] in ("STREAM", "SAY") and r[:-1] == o[:-1]
            and r[-1] == '""' and o[-1].startswith('"'))


@dataclass
class Recorded:
    t: float
    headers: list[tuple[str, str]]
    raw: bytes  # complete wire bytes, blank line included

    def get(self, key: str) -> str | None:
        return header(self.headers, key)


def _messages(path: Path, direction: str) -> list[Recorded]:
    out = []
    for d, t, headers, raw in ami_trace.read_messages(str(path)):
        if d == direction:
            out.append(Recorded(t, headers, raw.rstrip(CRLF) + CRLF + CRLF))
    return out


def _key(action: str, fields: dict[str, str]) -> tuple[str, str, str]:
    return (action.lower(), fields.get("Channel", ""), fields.get("Variable", ""))


class ReplayAmi:
    """What the adapter sees as its AMI service (``AmiService``'s narrow interface)."""

    def __init__(self, replay: SessionReplay) -> None:
        self._replay = replay
        self.router = replay.router
        self.actions: list[tuple[str, dict[str, str]]] = []
        self._state: list[Callable[[bool], object]] = []
        self._connect: list[Callable[[AmiClientProtocol], object]] = []

    def sendAction(self, action, fields=(), timeout=None) -> defer.Deferred:
        pairs = [(k, str(v)) for k, v in fields]
        self.actions.append((action, dict(pairs)))
        d = self._replay.proto.sendAction(action, pairs, timeout)
        self._replay.answer_sent()
        return d

    @property
    def connected(self) -> bool:
        return self._replay.proto.logged_in

    def on_state(self, listener) -> None:
        self._state.append(listener)

    def on_connect(self, hook) -> None:
        self._connect.append(hook)

    def logged_in(self) -> None:
        for listener in self._state:
            listener(True)
        for hook in self._connect:
            hook(self._replay.proto)


class SessionReplay:
    """One recorded server session, replayed against our client and adapter."""

    def __init__(self, path: Path) -> None:
        sent = _messages(path, ">>>")
        received = _messages(path, "<<<")
        self.banner = received[0]
        ours = {m.get("ActionID") for m in sent}
        self._answers: dict[str, list[Recorded]] = defaultdict(list)
        self.stream: list[Recorded] = []  # what Asterisk sent unasked, in order
        self._next = 0  # the first message of the stream not fed yet
        for m in received[1:]:
            aid = m.get("ActionID")
            if aid in ours:
                self._answers[aid].append(m)
            else:
                self.stream.append(m)
        self._sent = sent
        self._unused = list(sent)
        epoch = next(m for m in received if m.get("Variable") == "EPOCH")
        self.base = float(epoch.get("Value") or 0) - epoch.t
        self.clock = Clock()
        self.clock.advance(self.base)
        self.router = EventRouter()
        self.proto = AmiClientProtocol(self.clock, self.router)
        self.transport = StringTransport()
        self.ami = ReplayAmi(self)
        self._cids: dict[str, str] = {}  # recorded CommandId -> ours
        self._queued: list[bytes] = []
        self._delivering = False
        self.divergences: dict[str, tuple[str, str]] = {}  # channel -> (recorded, ours)
        # A real AsyncAGIExec of this session shapes the results we make up.
        self._exec_template = next((m.raw for m in self.stream
                                    if m.get("Event") == "AsyncAGIExec"), _MINIMAL_EXEC)

    def answers_of(self, action: str) -> list[Recorded]:
        """The recorded answers (response, then list events) to the first recorded
        ``action``: e.g. the channel list Asterisk gave at the login."""
        rec = next(m for m in self._sent if m.get("Action") == action)
        return [m for m in self._answers[rec.get("ActionID") or ""] if m.get("Event")]

    def sent(self) -> list[Recorded]:
        """What the recorded daemon sent, in order."""
        return list(self._sent)

    # -- the connection -------------------------------------------------------
    def connect(self, username: str = "hotline", secret: str = "replayed") -> None:
        self.proto.makeConnection(self.transport)
        self._feed(self.banner.raw)
        done: list = []
        self.proto.login(username, secret).addBoth(done.append)
        self.answer_sent()
        self._flush()
        assert self.proto.logged_in, done
        self.ami.logged_in()
        self._flush()

    def answer_sent(self) -> None:
        """Answer every action written since the last call (delivered once the
        current message is handled: Asterisk never answers inside our send)."""
        for action in AmiParser(expect_banner=False).feed(self.transport.value()):
            self._queued.extend(self._answer(action))
        self.transport.clear()
        if not self._delivering:
            self.clock.callLater(0, self._flush)

    def _answer(self, action: Message) -> list[bytes]:
        name = action.name
        fields = dict(action.headers)
        aid = action.action_id or ""
        if name.lower() == "agi":
            return self._answer_agi(fields, aid)
        key = _key(name, fields)
        for i, rec in enumerate(self._unused):
            if _key(rec.get("Action") or "", dict(rec.headers)) == key:
                del self._unused[i]
                return [set_action_id(m.raw, aid) for m in self._answers[rec.get("ActionID")]]
        extra = b""
        if name.lower() == "getvar" and fields.get("Variable") == "EPOCH":
            # More heartbeats than the recorded daemon sent: Asterisk's own clock.
            extra = (b"Variable: EPOCH" + CRLF + b"Value: "
                     + str(int(self.clock.seconds())).encode() + CRLF)
        return [b"Response: Success" + CRLF + b"ActionID: " + aid.encode() + CRLF + extra + CRLF]

    def _answer_agi(self, fields: dict[str, str], aid: str) -> list[bytes]:
        channel, command, cid = fields["Channel"], fields["Command"], fields["CommandID"]
        ok = (b"Response: Success" + CRLF + b"ActionID: " + aid.encode() + CRLF
              + b"Message: Added AGI command to queue" + CRLF + CRLF)
        nxt = self._next_agi(channel)
        while (nxt is not None and not LANGUAGE_SET.match(command)
               and LANGUAGE_SET.match(self._unused[nxt].get("Command") or "")):
            # The recorded daemon set the language again after the caller chose the
            # one already set; ours does not: that recorded command has no match.
            del self._unused[nxt]
            nxt = self._next_agi(channel)
        if channel not in self.divergences and nxt is not None:
            rec = self._unused[nxt]
            if same_command(rec.get("Command") or "", command):
                del self._unused[nxt]
                self._cids[rec.get("CommandID") or ""] = cid
                return [ok]
        if LANGUAGE_SET.match(command):
            return [ok, self._exec(channel, cid, "200 result=1\n")]
        if channel not in self.divergences:
            recorded = self._unused[nxt].get("Command") if nxt is not None else "(nothing)"
            self.divergences[channel] = (recorded or "", command)
        return [ok]

    def _next_agi(self, channel: str) -> int | None:
        return next((i for i, r in enumerate(self._unused)
                     if r.get("Action") == "AGI" and r.get("Channel") == channel), None)

    def _exec(self, channel: str, cid: str, result: str) -> bytes:
        raw = self._exec_template
        raw = re.sub(rb"(?m)^Channel: [^\r\n]*", b"Channel: " + channel.encode(), raw)
        raw = re.sub(rb"(?m)^CommandId: [^\r\n]*", b"CommandId: " + cid.encode(), raw)
        quoted = result.replace(" ", "%20").replace("=", "%3D").replace("\n", "%0A")
        return re.sub(rb"(?m)^Result: [^\r\n]*", b"Result: " + quoted.encode(), raw)

    def _flush(self) -> None:
        self._delivering = True
        try:
            while self._queued:
                self._feed(self._queued.pop(0))
        finally:
            self._delivering = False

    def _feed(self, raw: bytes) -> None:
        self.proto.dataReceived(raw)
        if self.transport.value():
            self.answer_sent()

    # -- the recorded stream -----------------------------------------------------
    def run(self, until: float | None = None, tail: float = 5.0) -> None:
        """Feed the stream up to recorded time ``until`` (all of it by default)."""
        while self._next < len(self.stream):
            m = self.stream[self._next]
            if until is not None and m.t > until:
                break
            self._next += 1
            self._advance_to(self.base + m.t)
            raw = m.raw
            if m.get("Event") == "AsyncAGIExec":
                ours = self._cids.get(m.get("CommandId") or "")
                if ours is not None:
                    raw = re.sub(rb"(?m)^CommandId: [^\r\n]*", b"CommandId: " + ours.encode(),
                                 raw)
            self._feed(raw)
            self._flush()
        self._advance_to(self.clock.seconds() + tail)

    def _advance_to(self, when: float) -> None:
        while True:
            due = [c.getTime() for c in self.clock.getDelayedCalls() if c.getTime() <= when]
            if not due:
                break
            self.clock.advance(max(0.0, min(due) - self.clock.seconds()))
            self._flush()
        self.clock.advance(max(0.0, when - self.clock.seconds()))
        self._flush()
