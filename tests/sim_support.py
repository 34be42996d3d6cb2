"""Helpers for the simulator tests: an in-memory AMI client and trace reading.

Traces come from tests/fixtures/ami-traces (byte-exact Asterisk 22 recordings).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock

from server.ami.codec import EVENT, AmiParser, Message, encode_action, encode_message, iter_blocks
from server.sim import Simulator, advance, connect_in_memory
from server.sim.events import Event, EventFilter

TRACES = Path(__file__).resolve().parent / "fixtures" / "ami-traces"


class Client(Protocol):
    """Records every message from the simulator; sends actions."""

    def __init__(self) -> None:
        self.parser = AmiParser(expect_banner=True)
        self.messages: list[Message] = []
        self.closed = False

    def dataReceived(self, data: bytes) -> None:
        self.messages.extend(self.parser.feed(data))

    def connectionLost(self, reason: object = None) -> None:
        self.closed = True

    def send(self, action: str, fields: dict[str, str] | None = None,
             action_id: str | None = None) -> None:
        self.transport.write(encode_action(action, fields or {}, action_id))

    def events(self, name: str | None = None) -> list[Message]:
        return [m for m in self.messages if m.kind == EVENT and (name is None or m.name == name)]

    def responses(self) -> list[Message]:
        return [m for m in self.messages if m.kind == "response"]


class Harness:
    """A simulator on a ``task.Clock`` with one logged-in in-memory client."""

    def __init__(self, sim: Simulator | None = None, clock: Clock | None = None,
                 login: bool = True, **kwargs: object) -> None:
        self.clock = clock or Clock()
        self.sim = sim or Simulator(self.clock, **kwargs).without_safety_net()  # type: ignore[arg-type]
        self.client = Client()
        self.server, self.pump = connect_in_memory(self.sim, self.client)
        if login:
            self.client.send("Login", {"Username": "acd", "Secret": "secret"}, "a-0001")
            self.pump.flush()

    def run(self, seconds: float) -> None:
        advance(self.clock, self.pump, seconds)

    def send(self, action: str, fields: dict[str, str] | None = None,
             action_id: str | None = None) -> None:
        self.client.send(action, fields, action_id)
        self.pump.flush()

    def agi(self, chan: str, command: str, cid: str | None, wait: float = 30.0) -> Message:
        """Send an AGI command and run until its AsyncAGIExec (by client id) arrives."""
        before = len(self.client.events("AsyncAGIExec"))
        fields = {"Channel": chan, "Command": command}
        if cid is not None:
            fields["CommandID"] = cid
        self.send("AGI", fields, f"agi-{cid}")
        waited = 0.0
        while waited < wait:
            execs = self.client.events("AsyncAGIExec")
            if len(execs) > before:
                return execs[before]
            self.run(0.01)
            waited += 0.01
        raise AssertionError(f"no AsyncAGIExec for {command!r} within {wait}s")

    def pending_calls(self) -> int:
        return len(self.clock.getDelayedCalls())


# -- traces ------------------------------------------------------------------

def trace_lines(name: str) -> list[tuple[str, float, bytes]]:
    out = []
    for line in (TRACES / name).read_bytes().split(b"\n"):
        if line[:3] in (b"<<<", b">>>"):
            out.append((line[:3].decode(), float(line[4:15]), line[16:] + b"\n"))
    return out


def trace_received(name: str) -> list[Message]:
    data = b"".join(raw for d, _, raw in trace_lines(name) if d == "<<<")
    return [m for m in iter_blocks(data) if m.kind != "banner"]


def trace_sent(name: str) -> list[tuple[float, Message]]:
    """Client actions with the time their first line was sent."""
    out: list[tuple[float, Message]] = []
    buf, start = b"", None
    for d, t, raw in trace_lines(name):
        if d != ">>>":
            continue
        if start is None:
            start = t
        buf += raw
        if raw in (b"\r\n", b"\n"):
            out.append((start, next(iter_blocks(buf, expect_banner=False))))
            buf, start = b"", None
    return out


#: Events the simulator does not model (app_queue, RTCP, CDR, dialplan steps).
NOT_MODELLED = {"Newexten", "Cdr", "QueueMemberStatus", "RTCPSent", "RTCPReceived"}
#: Events whose order the traces README says varies: compared as a multiset.
#: OriginateResponse came before or after the Newstate/DialEnd of the Local
#: pair (04 shows both).
UNORDERED = {"OriginateResponse", "DeviceStateChange", "ExtensionStatus", "PeerStatus",
             "ContactStatus", "ChallengeSent", "SuccessfulAuth", "RequestBadFormat",
             "BridgeDestroy",
             "MixMonitorStop"}
#: Runs of these may come in any order: README (BridgeLeave/Hangup differed
#: between recordings) and the Local pair teardown, which is SoftHangupRequest
#: ;2, Hangup ;2, Hangup ;1 in 02 but Hangup ;1, SoftHangupRequest ;2, Hangup ;2
#: in 03 and 07 for the same dialplan step (two channel threads racing).
RUN_SORTED = {"BridgeLeave", "Hangup", "SoftHangupRequest"}


def floating(m: Message) -> bool:
    """Single events whose position the recordings show varying, compared as a multiset.

    * the dialled Local agent's ``;1`` Hangup: README ("the relative order of
      the last three differed"); in 12 it even came after the caller's next
      AsyncAGIStart;
    * a PJSIP channel's ``Newstate Ringing``: before DialBegin in 09, after
      DialState in 10 (the 180 races the Dial bookkeeping).
    """
    chan = m.get("Channel") or ""
    if m.name == "Hangup" and "@sim-agents-" in chan and chan.endswith(";1"):
        return True
    return m.name == "Newstate" and chan.startswith("PJSIP/") and m.get(
        "ChannelStateDesc") == "Ringing"


def unsolicited(messages: Iterable[Message], filt: EventFilter) -> list[Message]:
    out = []
    for m in messages:
        if m.kind != EVENT or "ActionID" in m and m.get("Privilege") is None:
            continue  # list events answer an action
        if m.name in NOT_MODELLED or (m.name == "DeviceStateChange"
                                      and (m.get("Device") or "").startswith("Queue:")):
            continue
        if not filt.allows(Event(m.name, tuple(m.headers[1:]))):
            continue
        out.append(m)
    return out


def shape(messages: Iterable[Message], filt: EventFilter | None = None
          ) -> tuple[list[tuple[str, tuple[str, ...]]], Counter]:
    """(ordered shapes, multiset of unordered shapes) for comparing event flows."""
    filt = filt or EventFilter.shipped()
    ordered: list[tuple[str, tuple[str, ...]]] = []
    loose: Counter = Counter()
    for m in unsolicited(messages, filt):
        names = tuple(k for k, _ in m.headers)
        if m.name in UNORDERED or floating(m):
            loose[(m.name, names, _state_of(m))] += 1
        else:
            ordered.append((m.name, names))
    # sort runs of RUN_SORTED
    out, run = [], []
    for item in ordered + [("", ())]:
        if item[0] in RUN_SORTED:
            run.append(item)
            continue
        out.extend(sorted(run))
        run = []
        out.append(item)
    return out[:-1], loose


def _state_of(m: Message) -> str:
    for key in ("State", "PeerStatus", "ContactStatus", "StatusText", "Service"):
        if key in m:
            return f"{key}={m[key]}"
    return ""


def local_names(messages: Iterable[Message]) -> list[str]:
    names: list[str] = []
    for m in messages:
        if m.kind == EVENT and m.name == "Newchannel" and m["Channel"] not in names:
            names.append(m["Channel"])
    return names


_CHAN = re.compile(r"(Local/\S+?-[0-9a-f]{8};[12]|PJSIP/\d+-[0-9a-f]{8})")


def replay(h: Harness, trace: str, skip: Iterable[str] = (), tail: float = 2.0,
           include_login: bool = False) -> None:
    """Send the trace's client actions at their recorded times (channel names mapped).

    Raw: each action is re-encoded from its parsed headers (lowercase names and
    empty values survive; header lines without a colon are dropped).
    """
    recorded = local_names(trace_received(trace))
    for t, msg in trace_sent(trace):
        if (msg.name.lower() == "login" and not include_login) or msg.name in skip:
            continue
        now = h.clock.seconds()
        if t > now:
            h.run(t - now)
        mapping = dict(zip(recorded, local_names(h.client.messages), strict=False))
        pairs = [(k, _map_channels(v, mapping)) for k, v in msg.headers]
        h.client.transport.write(encode_message(pairs))
        h.pump.flush()
    h.run(tail)


def _map_channels(text: str, mapping: dict[str, str]) -> str:
    return _CHAN.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)


_SEQ = re.compile(r"-[0-9a-f]{8}(?=;|$)")


def varsets(messages: Iterable[Message]) -> list[tuple[str, str]]:
    """(channel without its sequence number, variable) of every VarSet, in order.

    The shipped dialplan's own bookkeeping (``HOTLINE_*``: the conversation's end,
    the hangup handler's facts) was not in the lab's dialplan that recorded the
    traces, so it is left out of the comparison."""
    return [(_SEQ.sub("", m["Channel"]), m["Variable"]) for m in messages
            if m.kind == EVENT and m.name == "VarSet"
            and not m["Variable"].startswith("HOTLINE_")]
