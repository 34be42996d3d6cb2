"""AmiClientProtocol against recorded Asterisk bytes, on a Clock and a StringTransport.

Replies are the recorded ones with their ActionID rewritten to the one the
protocol chose, so the tests see exactly what Asterisk 22 sends.
"""

from __future__ import annotations

import hashlib

import pytest
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel, capturedLogs
from twisted.python.failure import Failure

from server.ami.codec import AmiParser, Message
from server.ami.protocol import (
    AmiActionError,
    AmiClientProtocol,
    AmiLoginError,
    AmiNotConnected,
    AmiTimeout,
    ListResult,
)
from server.ami.router import ALL, EventRouter
from tests.trace_util import header, reference, set_action_id, trace


class RecordingTransport(StringTransport):
    """A StringTransport that counts ``abortConnection`` calls."""

    aborts = 0

    def abortConnection(self) -> None:
        self.aborts += 1
        super().abortConnection()


class Conn:
    def __init__(self, **kw) -> None:
        self.clock = Clock()
        self.router = EventRouter()
        self.proto = AmiClientProtocol(self.clock, self.router, **kw)
        self.transport = RecordingTransport()
        self.proto.makeConnection(self.transport)

    def sent(self) -> list[Message]:
        """The actions written since the last call."""
        messages = AmiParser(expect_banner=False).feed(self.transport.value())
        self.transport.clear()
        return messages

    def receive(self, *raws: bytes) -> None:
        for raw in raws:
            self.proto.dataReceived(raw)

    def close(self) -> None:
        self.proto.connectionLost(Failure(ConnectionDone()))
        assert self.clock.getDelayedCalls() == []


@pytest.fixture
def conn():
    c = Conn()
    c.receive(BANNER)
    yield c
    c.close()


def outcome(d) -> list:
    """Fill a list with the Deferred's result or Failure (consuming the failure)."""
    box: list = []
    d.addBoth(box.append)
    return box


def received(name: str) -> list[tuple[list[tuple[str, str]], bytes]]:
    return reference(trace(name), "<<<")


def reply_to(name: str, recorded_id: str) -> list[bytes]:
    """The raw received messages carrying ``recorded_id``, in order."""
    return [raw for h, raw in received(name) if header(h, "ActionID") == recorded_id]


BANNER = received("01")[0][1]
PONG = reply_to("01", "a-0002")[0]


# -- login ----------------------------------------------------------------------


def test_login_waits_for_the_banner_then_sends_the_secret():
    c = Conn()
    d = outcome(c.proto.login("acd", "s3cret"))
    assert c.transport.value() == b"" and d == []
    c.receive(BANNER)
    assert c.proto.banner == BANNER.decode().strip()
    (login,) = c.sent()
    assert (login.name, login["Username"], login["Secret"], login["Events"]) == (
        "Login",
        "acd",
        "s3cret",
        "on",
    )
    c.receive(set_action_id(reply_to("01", "a-0001")[0], login.action_id))
    assert d[0]["Message"] == "Authentication accepted"
    assert c.proto.logged_in
    c.close()


def test_md5_login_answers_the_challenge_without_sending_the_secret(conn):
    d = outcome(conn.proto.login("acd", "s3cret", md5=True, events=False))
    (challenge,) = conn.sent()
    assert (challenge.name, challenge["AuthType"]) == ("Challenge", "md5")
    conn.receive(
        f"Response: Success\r\nActionID: {challenge.action_id}\r\n"
        "Challenge: 840415273\r\n\r\n".encode()
    )
    (login,) = conn.sent()
    assert login["Key"] == hashlib.md5(b"840415273" + b"s3cret").hexdigest()
    assert login["AuthType"] == "md5" and login["Events"] == "off"
    assert "Secret" not in login
    assert all("s3cret" not in v for _, v in login.headers)
    conn.receive(set_action_id(reply_to("01", "a-0001")[0], login.action_id))
    assert isinstance(d[0], Message) and conn.proto.logged_in


def test_refused_login_fails_with_amiloginerror(conn):
    d = outcome(conn.proto.login("acd", "wrong"))
    (login,) = conn.sent()
    (refusal,) = reply_to("01b", "a-0001")
    conn.receive(set_action_id(refusal, login.action_id))
    assert d[0].check(AmiLoginError)
    assert "Authentication failed" in str(d[0].value)
    assert not conn.proto.logged_in


# -- actions --------------------------------------------------------------------


def test_overlapping_actions_answered_out_of_order(conn):
    first = outcome(conn.proto.sendAction("Getvar", [("Variable", "A")]))
    second = outcome(conn.proto.sendAction("Getvar", [("Variable", "B")]))
    a, b = conn.sent()
    assert a.action_id != b.action_id
    (reply_a,) = reply_to("05a", "a-0006")
    (reply_b,) = reply_to("05a", "a-0007")
    conn.receive(set_action_id(reply_b, b.action_id))
    assert first == [] and len(second) == 1
    conn.receive(set_action_id(reply_a, a.action_id))
    expect_a = AmiParser(False).feed(reply_a)[0]
    expect_b = AmiParser(False).feed(reply_b)[0]
    assert first[0].get("Value") == expect_a.get("Value")
    assert second[0].get("Value") == expect_b.get("Value")
    assert first[0].action_id == a.action_id and second[0].action_id == b.action_id


def test_response_error_fails_with_amiactionerror(conn):
    d = outcome(conn.proto.sendAction("FooBarBaz"))
    (action,) = conn.sent()
    (error,) = reply_to("05b", "a-0003")
    conn.receive(set_action_id(error, action.action_id))
    assert d[0].check(AmiActionError)
    assert d[0].value.response.name == "Error"
    assert d[0].value.response["Message"] == AmiParser(False).feed(error)[0]["Message"]


def test_timeout_fails_with_amitimeout_and_a_late_reply_is_ignored(conn):
    d = outcome(conn.proto.sendAction("Ping", timeout=5))
    (ping,) = conn.sent()
    conn.clock.advance(4.9)
    assert d == []
    conn.clock.advance(0.1)
    assert d[0].check(AmiTimeout)
    assert conn.clock.getDelayedCalls() == []
    conn.receive(set_action_id(PONG, ping.action_id))  # too late: dropped
    assert len(d) == 1


def test_header_injection_is_refused_before_anything_is_written(conn):
    d = outcome(conn.proto.sendAction("Setvar", [("Value", "x\r\nAction: Hangup")]))
    assert d[0].check(ValueError)
    assert conn.transport.value() == b""
    assert conn.clock.getDelayedCalls() == []


LISTS = [
    ("05a", "a-0003", "CoreShowChannels"),
    ("05a", "a-0004", "Status"),  # its list events carry ActionID as the LAST header
    ("09", "a-0002", "PJSIPShowEndpoints"),
    ("09", "a-0003", "PJSIPShowEndpoints"),
]


@pytest.mark.parametrize("name,recorded_id,action", LISTS)
def test_list_action_collects_events_until_eventlist_complete(conn, name, recorded_id, action):
    msgs = received(name)
    mine = [i for i, (h, _) in enumerate(msgs) if header(h, "ActionID") == recorded_id]
    window = msgs[mine[0] : mine[-1] + 1]  # with unrelated events in between
    list_events = [h for h, _ in window if header(h, "ActionID") == recorded_id][1:-1]
    others = [h for h, _ in window if header(h, "ActionID") != recorded_id]
    assert list_events, "the recording has list events"
    if action == "Status":
        assert any(h[-1][0] == "ActionID" for h in list_events)

    everything = []
    conn.router.subscribe(ALL, everything.append)
    d = outcome(conn.proto.sendListAction(action))
    (sent,) = conn.sent()
    raws = [
        set_action_id(raw, sent.action_id) if header(h, "ActionID") == recorded_id else raw
        for h, raw in window
    ]
    conn.receive(*raws[:-1])
    assert d == [], "completes only on EventList: Complete"
    conn.receive(raws[-1])

    (result,) = d
    assert isinstance(result, ListResult)
    assert result.response["EventList"] == "start"
    assert [m.headers for m in result.events] == [
        [(k, sent.action_id if k == "ActionID" else v) for k, v in h] for h in list_events
    ]
    complete = window[-1][0]
    assert header(complete, "EventList") == "Complete"
    assert int(header(complete, "ListItems")) == len(result.events)
    assert [m.headers for m in everything] == others


def test_originate_response_of_a_finished_action_goes_to_subscribers(conn):
    msgs = received("02")
    (response, originate_response) = reply_to("02", "a-0002")
    assert header(msgs[[r for _, r in msgs].index(originate_response)][0], "Event") == (
        "OriginateResponse"
    )
    seen = []
    conn.router.subscribe("OriginateResponse", seen.append)
    d = outcome(conn.proto.sendAction("Originate", [("Channel", "Local/1@sim-callers")]))
    (sent,) = conn.sent()
    conn.receive(set_action_id(response, sent.action_id))
    assert d[0].name == "Success"
    conn.receive(set_action_id(originate_response, sent.action_id))
    assert [(m.name, m.action_id) for m in seen] == [("OriginateResponse", sent.action_id)]
    assert seen[0]["Response"] == "Success"


def test_every_pending_deferred_fails_on_disconnect():
    c = Conn()
    c.receive(BANNER)
    plain = outcome(c.proto.sendAction("Ping"))
    listing = outcome(c.proto.sendListAction("CoreShowChannels"))
    _, core = c.sent()
    c.receive(set_action_id(reply_to("05a", "a-0003")[0], core.action_id))  # list started
    assert plain == [] and listing == []
    c.close()
    assert plain[0].check(ConnectionLost) and listing[0].check(ConnectionLost)


def test_sending_while_disconnected_fails_and_writes_nothing():
    never = AmiClientProtocol(Clock(), EventRouter())
    assert outcome(never.sendAction("Ping"))[0].check(AmiNotConnected)
    c = Conn()
    c.receive(BANNER)
    c.close()
    c.transport.clear()
    assert outcome(c.proto.sendAction("Ping"))[0].check(AmiNotConnected)
    assert c.transport.value() == b""
    assert c.clock.getDelayedCalls() == []


# -- keepalive --------------------------------------------------------------------


def test_unanswered_ping_aborts_the_connection(conn):
    conn.proto.start_keepalive(interval=20, timeout=5)
    conn.clock.advance(19.9)
    assert conn.sent() == []
    conn.clock.advance(0.1)
    assert [m.name for m in conn.sent()] == ["Ping"]
    conn.clock.advance(4.9)
    assert conn.transport.aborts == 0
    with capturedLogs() as logs:
        conn.clock.advance(0.1)
    assert conn.transport.aborts == 1
    assert any(e["log_level"] == LogLevel.error for e in logs)


def test_hours_of_silence_with_pongs_keep_the_connection(conn):
    conn.proto.start_keepalive(interval=20, timeout=5)
    pings = 0
    conn.clock.advance(20)
    for _ in range(6 * 3600 // 20):
        (ping,) = conn.sent()
        assert ping.name == "Ping"
        conn.clock.advance(0.5)  # the Pong takes a while; exact in binary floats
        conn.receive(set_action_id(PONG, ping.action_id))
        pings += 1
        conn.clock.advance(19.5)
    assert pings == 1080
    assert conn.transport.aborts == 0 and not conn.transport.disconnecting
    conn.proto.stop_keepalive()


# -- robustness ---------------------------------------------------------------------


def _hangup_event() -> bytes:
    return next(raw for h, raw in received("02") if header(h, "Event") == "Hangup")


def test_malformed_message_is_skipped_and_the_next_one_dispatched(conn):
    seen = []
    conn.router.subscribe("Hangup", seen.append)
    with capturedLogs() as logs:
        conn.receive(b"Foo: bar\r\nthis is junk\r\n\r\n" + _hangup_event())
    assert [m.name for m in seen] == ["Hangup"]
    assert any(e["log_level"] == LogLevel.warn and b"Foo" in e.get("head", b"") for e in logs)


def test_a_raising_handler_does_not_stop_the_next_one(conn):
    seen = []

    def broken(message):
        raise RuntimeError("consumer bug")

    conn.router.subscribe("Hangup", broken)
    conn.router.subscribe("Hangup", seen.append)
    with capturedLogs() as logs:
        conn.receive(_hangup_event(), _hangup_event())
    assert len(seen) == 2
    failures = [e for e in logs if "log_failure" in e]
    assert len(failures) == 2
    assert all(f["log_failure"].check(RuntimeError) for f in failures)
    assert failures[0]["event"] == "Hangup"
    assert failures[0]["channel"] == seen[0]["Channel"]


def test_unsubscribe_stops_delivery(conn):
    seen = []
    undo = conn.router.subscribe("Hangup", seen.append)
    conn.receive(_hangup_event())
    undo()
    conn.receive(_hangup_event())
    assert len(seen) == 1
    assert conn.router.counts["Hangup"] == 2


def test_frame_too_large_drops_the_connection():
    c = Conn(max_message_bytes=4096)
    c.receive(BANNER)
    with capturedLogs() as logs:
        c.receive(b"Event: Flood\r\nData: " + b"x" * 5000)
    assert c.transport.aborts == 1
    assert any(e["log_level"] == LogLevel.error for e in logs)
    c.close()
