"""The sans-IO AMI codec: framing, headers, classification, limits, AGI payloads."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.ami.asyncagi import decode_env, parse_agi_result, percent_decode, percent_encode
from server.ami.codec import (
    ACTION,
    BANNER,
    EVENT,
    RESPONSE,
    UNKNOWN,
    AmiParser,
    FrameTooLarge,
    Message,
    encode_action,
    encode_message,
)
from tests.trace_util import ALL_TRACES, SMALL_TRACES, header, reference, trace, wire_bytes

BANNER_LINE = b"Asterisk Call Manager/11.0.0\r\n"


def shape(messages: list[Message]) -> list[tuple[str, str, list[tuple[str, str]]]]:
    return [(m.kind, m.name, m.headers) for m in messages]


def feed_pieces(pieces, expect_banner=True, **kw) -> list[Message]:
    parser = AmiParser(expect_banner=expect_banner, **kw)
    out: list[Message] = []
    for piece in pieces:
        out += parser.feed(piece)
    return out


def one_byte_at_a_time(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


# -- framing ------------------------------------------------------------------


def test_banner_is_a_message_of_its_own_without_a_blank_line():
    event = b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"
    banner, booted = AmiParser().feed(BANNER_LINE + event)
    assert (banner.kind, banner.name) == (BANNER, BANNER_LINE.decode().strip())
    assert (booted.kind, booted.name) == (EVENT, "FullyBooted")
    assert booted["Status"] == "Fully Booted"


def test_banner_waits_for_its_line_end():
    parser = AmiParser()
    assert parser.feed(BANNER_LINE[:-2]) == []
    assert parser.feed(BANNER_LINE[-2:-1]) == []  # the CR alone
    (banner,) = parser.feed(BANNER_LINE[-1:])
    assert banner.name == BANNER_LINE.decode().strip()


def test_without_expect_banner_the_first_line_is_a_header():
    (action,) = AmiParser(expect_banner=False).feed(b"Action: Ping\r\nActionID: 7\r\n\r\n")
    assert (action.kind, action.name, action.action_id) == (ACTION, "Ping", "7")


HEADERS = [("Response", "Success"), ("ActionID", "a-1"), ("Message", "Pong")]


def test_crlf_framing_ends_a_message_at_the_empty_line():
    wire = encode_message(HEADERS)
    assert wire.endswith(b"\r\n\r\n")
    parser = AmiParser(expect_banner=False)
    assert parser.feed(wire[:-2]) == []  # no empty line yet
    (message,) = parser.feed(wire[-2:])
    assert message.headers == HEADERS
    assert message.kind == RESPONSE


def test_lf_only_input_parses_like_crlf():
    crlf = encode_message(HEADERS) * 2
    lf = crlf.replace(b"\r\n", b"\n")
    assert b"\r" not in lf
    assert shape(AmiParser(False).feed(lf)) == shape(AmiParser(False).feed(crlf))
    assert len(AmiParser(False).feed(lf)) == 2


@pytest.mark.parametrize("direction,expect_banner", [("<<<", True), (">>>", False)])
@pytest.mark.parametrize("path", ALL_TRACES, ids=[p.name for p in ALL_TRACES])
def test_trace_fed_one_byte_at_a_time_gives_the_same_messages(path, direction, expect_banner):
    data = wire_bytes(path, direction)
    whole = AmiParser(expect_banner).feed(data)
    bytewise = feed_pieces(one_byte_at_a_time(data), expect_banner)
    assert len(whole) == len(reference(path, direction))
    assert shape(bytewise) == shape(whole)
    assert [m.raw for m in bytewise] == [m.raw for m in whole]


_STREAM = wire_bytes(trace("02"), "<<<")[:40_000]  # banner + AGI + Dial events


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.integers(min_value=0, max_value=len(_STREAM)), max_size=40))
def test_any_split_of_the_stream_gives_the_same_messages(cuts):
    bounds = [0, *sorted(cuts), len(_STREAM)]
    pieces = [_STREAM[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    assert shape(feed_pieces(pieces)) == shape(AmiParser().feed(_STREAM))


def test_stray_blank_lines_between_messages_are_skipped():
    wire = b"\r\n\r\n" + encode_message(HEADERS) + b"\r\n\r\n\r\n" + encode_message(HEADERS)
    assert shape(AmiParser(False).feed(wire)) == [(RESPONSE, "Success", HEADERS)] * 2


# -- headers ------------------------------------------------------------------


def test_repeated_headers_are_kept_in_wire_order():
    variables = [("ChanVariable", f"V{i}=value {i}") for i in range(3)]
    outputs = [("Output", line) for line in ("Channel  Location", "", "1 active channel")]
    event = encode_message([("Event", "Newchannel"), *variables, ("Channel", "Local/1")])
    response = encode_message([("Response", "Success"), ("ActionID", "c"), *outputs])
    ev, resp = AmiParser(False).feed(event + response)
    assert ev.getall("chanvariable") == [v for _, v in variables]
    assert ev["ChanVariable"] == variables[0][1]  # single lookup: the first one
    assert resp.getall("Output") == [v for _, v in outputs]


def test_repeated_headers_of_a_recorded_status_event():
    path = trace("05a")
    ref = [h for h, _ in reference(path, "<<<")]
    (wanted,) = [h for h in ref if [k for k, _ in h].count("Variable") > 1]
    messages = AmiParser().feed(wire_bytes(path, "<<<"))
    (status,) = [m for m in messages if m.headers == wanted]
    assert status.getall("Variable") == [v for k, v in wanted if k == "Variable"]


def test_pre_14_command_output_with_a_blank_line_inside():
    body = ["Asterisk 1.8.32", "", "Channel  Location", "--END COMMAND--"]
    wire = (
        "Response: Follows\r\nPrivilege: Command\r\nActionID: c-1\r\n"
        + "".join(line + "\r\n" for line in body)
        + "\r\n"
    ).encode()
    after = encode_message([("Event", "FullyBooted")])
    for pieces in ([wire + after], one_byte_at_a_time(wire + after)):
        follows, booted = feed_pieces(pieces, expect_banner=False)
        assert (follows.kind, follows.name, follows.action_id) == (RESPONSE, "Follows", "c-1")
        assert follows.getall("Output") == body[:-1]
        assert booted.name == "FullyBooted"


def test_header_value_containing_colon_space():
    wire = b"Event: UserEvent\r\nData: a: b: c\r\nURI: sip:1@h:5060\r\n\r\n"
    (msg,) = AmiParser(False).feed(wire)
    assert msg["Data"] == "a: b: c"
    assert msg["URI"] == "sip:1@h:5060"


@pytest.mark.parametrize("last", [b"Value: ", b"Value:"])
def test_empty_last_value(last):
    (msg,) = AmiParser(False).feed(b"Response: Success\r\nVariable: X\r\n" + last + b"\r\n\r\n")
    assert msg.headers[-1] == ("Value", "")
    assert msg["Value"] == ""
    assert "Value" in msg
    assert msg.get("Missing", "default") == "default"


def test_lookups_ignore_case_and_match_the_decoded_headers():
    (msg,) = AmiParser(False).feed(
        b"Event: Newchannel\r\nChannel: Local/1\r\nDestChannel: Local/2\r\nCHANNEL: dup\r\n\r\n"
    )
    assert msg.get("channel") == msg.get("CHANNEL") == "Local/1"  # first one wins
    assert msg["DestChannel"] == "Local/2"
    assert "Nope" not in msg
    with pytest.raises(KeyError):
        msg["Nope"]
    assert msg.as_dict() == {
        "Event": "Newchannel",
        "Channel": "Local/1",
        "DestChannel": "Local/2",
        "CHANNEL": "dup",
    }


def test_chinese_caller_name_split_at_every_byte_offset():
    name = "国家电网客户张三"
    wire = BANNER_LINE + encode_message(
        [("Event", "Newchannel"), ("CallerIDName", name), ("Channel", "Local/1")]
    )
    start = wire.index(name.encode())
    for offset in range(start, start + len(name.encode()) + 1):
        _banner, msg = feed_pieces([wire[:offset], wire[offset:]])
        assert msg["CallerIDName"] == name, offset
        assert msg.headers[1] == ("CallerIDName", name)


# -- classification -----------------------------------------------------------


def test_originate_response_is_an_event_although_it_carries_response():
    path = trace("02")
    messages = AmiParser().feed(wire_bytes(path, "<<<"))
    (orig,) = [m for m in messages if m.name == "OriginateResponse"]
    assert orig.kind == EVENT
    assert "Response" in orig  # the header is there, and still not a response


def test_block_without_event_response_or_action_is_unknown():
    (msg,) = AmiParser(False).feed(b"Channel: Local/1\r\nFoo: bar\r\n\r\n")
    assert (msg.kind, msg.name) == (UNKNOWN, "")
    assert msg["Foo"] == "bar"


def test_identifying_header_need_not_be_first_and_any_case():
    a, b = AmiParser(False).feed(b"ActionID: 1\r\naction: ping\r\n\r\nevent: Hangup\r\n\r\n")
    assert (a.kind, a.name, b.kind, b.name) == (ACTION, "ping", EVENT, "Hangup")


def test_header_lines_without_colon_are_ignored():
    (msg,) = AmiParser(False).feed(b"Action: Ping\r\nthis line has no colon\r\nActionID: x\r\n\r\n")
    assert msg.headers == [("Action", "Ping"), ("ActionID", "x")]


# -- limits ---------------------------------------------------------------------


def test_frame_too_large_for_an_endless_header_line():
    parser = AmiParser(expect_banner=False, max_message_bytes=4096)
    parser.feed(b"Event: X\r\nData: ")
    with pytest.raises(FrameTooLarge):
        for _ in range(100):
            parser.feed(b"A" * 100)


def test_frame_too_large_when_the_blank_line_never_comes():
    parser = AmiParser(expect_banner=True, max_message_bytes=4096)
    parser.feed(BANNER_LINE)
    with pytest.raises(FrameTooLarge):
        for i in range(1000):
            parser.feed(f"Header{i}: value\r\n".encode())


def test_frame_too_large_for_an_endless_banner():
    parser = AmiParser(expect_banner=True, max_message_bytes=1024)
    with pytest.raises(FrameTooLarge):
        parser.feed(b"A" * 2048)


def test_the_limit_does_not_refuse_many_small_messages_in_one_read():
    wire = encode_message(HEADERS) * 1000
    assert len(AmiParser(False, max_message_bytes=1024).feed(wire)) == 1000


# -- encoding -------------------------------------------------------------------


def test_encode_action_round_trips():
    wire = encode_action("Setvar", [("Variable", "A=1"), ("Variable", "B=2")], action_id="x-1")
    (msg,) = AmiParser(False).feed(wire)
    assert msg.headers == [
        ("Action", "Setvar"),
        ("ActionID", "x-1"),
        ("Variable", "A=1"),
        ("Variable", "B=2"),
    ]
    assert encode_action("Ping", {"Skip": None}) == b"Action: Ping\r\n\r\n"


@pytest.mark.parametrize("bad", ["x\r\nAction: Hangup", "x\nAction: Hangup", "x\r", "\n"])
def test_encode_action_rejects_cr_lf_header_injection(bad):
    with pytest.raises(ValueError):
        encode_action("Setvar", [("Value", bad)])
    with pytest.raises(ValueError):
        encode_action("Setvar", [(bad, "v")])
    with pytest.raises(ValueError):
        encode_action("Ping", action_id=bad)


# -- AsyncAGI payloads ------------------------------------------------------------


def _recorded(key: str) -> list[str]:
    values = set()
    for path in SMALL_TRACES:
        for headers, _ in reference(path, "<<<"):
            value = header(headers, key)
            if value is not None and header(headers, "Event") in ("AsyncAGIStart", "AsyncAGIExec"):
                values.add(value)
    return sorted(values)


RECORDED_ENVS = _recorded("Env")
RECORDED_RESULTS = _recorded("Result")


def test_percent_round_trip_against_recorded_env_and_result_values():
    assert len(RECORDED_ENVS) > 10 and len(RECORDED_RESULTS) > 10
    for value in RECORDED_ENVS + RECORDED_RESULTS:
        decoded = percent_decode(value)
        assert decoded == unquote(value)
        assert percent_encode(decoded) == value  # byte-for-byte what Asterisk sent


def test_percent_encode_utf8_round_trip():
    text = "agi_calleridname: 张三 (VIP)\n"
    assert percent_decode(percent_encode(text)) == text
    assert "%E5%BC%A0" in percent_encode(text)


# The Result forms listed in the traces README, with what they mean.
AGI_RESULTS = {
    "200 result=0": (200, "0", ""),
    "200 result=0 endpos=15233": (200, "0", "endpos=15233"),
    "200 result= (timeout)": (200, "", "(timeout)"),
    "510 Invalid or unknown command": (510, "", "Invalid or unknown command"),
    "200 result=1 (hello world; a=b&c)": (200, "1", "(hello world; a=b&c)"),
    "200 result=-1 endpos=0": (200, "-1", "endpos=0"),
    "200 result=-1 endpos=24160": (200, "-1", "endpos=24160"),
    "200 result=1 (NOANSWER)": (200, "1", "(NOANSWER)"),
    "200 result=1 (Sim Caller)": (200, "1", "(Sim Caller)"),
    "200 result=49 endpos=18240": (200, "49", "endpos=18240"),
    "200 result=50": (200, "50", ""),
    "200 result=6": (200, "6", ""),
    "200 result=-2": (200, "-2", ""),
}


@pytest.mark.parametrize("line", sorted(AGI_RESULTS))
def test_parse_agi_result(line):
    wire = percent_encode(line + "\n")
    assert wire in RECORDED_RESULTS, "the form was seen on the wire"
    assert parse_agi_result(wire) == AGI_RESULTS[line]
    assert parse_agi_result(line) == AGI_RESULTS[line]  # already decoded


def test_every_recorded_result_parses_to_a_status_code():
    for value in RECORDED_RESULTS:
        code, result, data = parse_agi_result(value)
        line = percent_decode(value).strip("\n")
        assert code in (200, 510)
        assert line.startswith(str(code))
        assert result in line and data in line


def test_decode_env_of_a_recorded_async_agi_start():
    path = trace("02")
    messages = AmiParser().feed(wire_bytes(path, "<<<"))
    start = next(m for m in messages if m.name == "AsyncAGIStart")
    env = decode_env(start["Env"])
    expected = dict(line.split(": ", 1) for line in unquote(start["Env"]).split("\n") if line)
    assert env == expected
    assert env["agi_request"] == "async"
    assert env["agi_channel"] == start["Channel"]
    assert env["agi_uniqueid"] == start["Uniqueid"]
    assert list(env)[:2] == ["agi_request", "agi_channel"]
    assert list(env)[-1] == "agi_threadid"


def test_the_limit_does_not_depend_on_how_the_bytes_arrive():
    limit = 256
    for size in range(limit - 8, limit + 8):
        wire = b"Event: X\r\nData: " + b"d" * (size - 16) + b"\r\n\r\n"
        outcomes = []
        for pieces in ([wire], one_byte_at_a_time(wire), [wire[:100], wire[100:]]):
            try:
                outcomes.append(
                    len(feed_pieces(pieces, expect_banner=False, max_message_bytes=limit))
                )
            except FrameTooLarge:
                outcomes.append("too large")
        assert outcomes[0] == outcomes[1] == outcomes[2], (size, outcomes)
        text = wire.replace(b"\r\n", b"\n")[:-1]  # the message, up to its last LF
        assert outcomes[0] == (1 if len(text) <= limit else "too large"), size
