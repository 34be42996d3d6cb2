"""The AMI session of the simulator: banner, login, errors (traces 01, 01b, 01c, 05b)."""

from __future__ import annotations

import hashlib

from twisted.internet.task import Clock

from server.sim import AmiUser, CallerScript, EventFilter, Simulator
from tests.sim_support import Harness, replay, shape, trace_received

#: the lab's AMI user the traces were recorded with (trace 12's filter)
LAB_USER = AmiUser("acd", "********", EventFilter.shipped())


def test_banner_and_ping_bytes_exactly_as_asterisk() -> None:
    h = Harness(login=False)
    raw: list[bytes] = []
    h.server.session._write = lambda data: raw.append(data) or h.server.transport.write(data)
    assert h.client.messages[0].kind == "banner"
    assert h.client.messages[0].name == "Asterisk Call Manager/11.0.0"
    h.send("Login", {"Username": "acd", "Secret": "secret"}, "a-0001")
    h.clock.advance(1795807133.693431)
    h.send("Ping", {}, "a-0002")
    h.send("Ping")
    assert raw[0] == (b"Response: Success\r\nActionID: a-0001\r\n"
                      b"Message: Authentication accepted\r\n\r\n")
    assert raw[1].startswith(b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: ")
    assert raw[-2] == (b"Response: Success\r\nActionID: a-0002\r\nPing: Pong\r\n"
                       b"Timestamp: 1795807133.693431\r\n\r\n")
    assert raw[-1] == b"Response: Success\r\nPing: Pong\r\nTimestamp: 1795807133.693431\r\n\r\n"


def _responses(messages):
    return [(m.name, [k for k, _ in m.headers], m.get("Message"))
            for m in messages if m.kind == "response"]


def test_01_login_ping_logoff_matches_trace() -> None:
    clock = Clock()
    h = Harness(Simulator(clock, users=[LAB_USER]), clock, login=False)
    replay(h, "01-login-ping-logoff.ami", skip=set(), include_login=True)
    want = trace_received("01-login-ping-logoff.ami")
    got = _responses(h.client.messages)
    exp = _responses(want)
    # Command output text differs (simulated version string); the shape does not.
    assert [r[:2] for r in got] == [r[:2] for r in exp]
    assert shape(h.client.messages) == shape(want)
    assert h.client.closed


def test_01b_wrong_secret_fails_after_one_second_and_closes() -> None:
    h = Harness(login=False)
    h.send("Login", {"Username": "acd", "Secret": "wrong"}, "a-0001")
    h.run(0.99)
    assert _responses(h.client.messages) == []
    h.run(0.02)
    assert _responses(h.client.messages) == [
        ("Error", ["Response", "ActionID", "Message"], "Authentication failed")]
    assert h.client.closed


def test_01c_events_off_at_login_then_on() -> None:
    clock = Clock()
    sim = Simulator(clock, users=[LAB_USER])
    sim.add_originate_caller("3", CallerScript("13800003"))
    h = Harness(sim, clock, login=False)
    replay(h, "01c-login-events-off.ami", include_login=True)
    assert _responses(h.client.messages) == _responses(trace_received("01c-login-events-off.ami"))
    assert h.client.events() == []  # Events: off at login: not even FullyBooted


def test_events_off_silences_call_events() -> None:
    h = Harness()
    h.send("Events", {"EventMask": "off"}, "e1")
    h.sim.add_originate_caller("3", CallerScript("13800003"))
    before = len(h.client.events())
    h.send("Originate", {"Channel": "Local/3@sim-callers", "Context": "hotline",
                         "Exten": "95598", "Async": "true"}, "o1")
    h.run(1)
    assert h.client.responses()[-1]["Message"] == "Originate successfully queued"
    assert len(h.client.events()) == before
    h.send("Events", {"EventMask": "on"}, "e2")
    assert h.client.responses()[-1].get("Events") == "On"


def test_05b_errors_match_trace() -> None:
    clock = Clock()
    h = Harness(Simulator(clock, users=[LAB_USER]), clock, login=False)
    replay(h, "05b-actions-errors.ami", include_login=True)
    want = trace_received("05b-actions-errors.ami")
    assert _responses(h.client.messages) == _responses(want)
    assert shape(h.client.messages) == shape(want)


def test_md5_challenge_login() -> None:
    h = Harness(login=False)
    h.send("Challenge", {"AuthType": "md5"}, "c1")
    challenge = h.client.responses()[-1]["Challenge"]
    key = hashlib.md5((challenge + "secret").encode()).hexdigest()
    h.send("Login", {"Username": "acd", "AuthType": "md5", "Key": key}, "l1")
    assert h.client.responses()[-1]["Message"] == "Authentication accepted"
    assert [m.name for m in h.client.events()][:1] == ["FullyBooted"]


def test_md5_login_with_wrong_key_fails() -> None:
    h = Harness(login=False)
    h.send("Challenge", {"AuthType": "md5"}, "c1")
    h.send("Login", {"Username": "acd", "AuthType": "md5", "Key": "0" * 32}, "l1")
    h.run(1.01)
    assert h.client.responses()[-1]["Message"] == "Authentication failed"
    assert h.client.closed


def test_byte_at_a_time_actions_are_understood() -> None:
    h = Harness()
    for byte in b"action: ping\nactionid: x-1\n\n":
        h.client.transport.write(bytes([byte]))
        h.pump.flush()
    assert h.client.responses()[-1].headers[:3] == [
        ("Response", "Success"), ("ActionID", "x-1"), ("Ping", "Pong")]


def test_empty_action_id_is_omitted_like_a_missing_one() -> None:
    h = Harness()
    h.client.transport.write(b"Action: Ping\r\nActionID: \r\n\r\n")
    h.pump.flush()
    assert [k for k, _ in h.client.responses()[-1].headers] == ["Response", "Ping", "Timestamp"]
