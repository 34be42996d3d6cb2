"""Every recorded transcript, both directions, through the codec.

The reference is ``ami_trace.read_messages``, an independent line-based reader
shipped with the recordings.  The one known difference is normalised: it keeps
a header line without ``": "`` as ``("", line)``, where the codec splits at the
first colon and drops lines with no colon at all (as Asterisk does).
"""

from __future__ import annotations

import pytest

from server.ami.codec import BANNER, EVENT, AmiParser
from tests.trace_util import ALL_TRACES, header, reference, wire_bytes

DIRECTIONS = [("<<<", True), (">>>", False)]


def _normalise(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for key, value in headers:
        if key == "" and ":" in value:
            key, _, value = value.partition(":")
            value = value[1:] if value.startswith(" ") else value
        elif key == "":
            continue  # no colon: ignored, like Asterisk does
        out.append((key, value))
    return out


@pytest.mark.parametrize("direction,expect_banner", DIRECTIONS, ids=["received", "sent"])
@pytest.mark.parametrize("path", ALL_TRACES, ids=[p.name for p in ALL_TRACES])
def test_trace_replays_like_the_reference_reader(path, direction, expect_banner):
    data = wire_bytes(path, direction)
    ref = reference(path, direction)
    parser = AmiParser(expect_banner=expect_banner, max_message_bytes=len(data) + 1)
    messages = parser.feed(data)

    assert len(messages) == len(ref) > 0
    assert parser.buffered == 0, "a message was left unfinished"

    if expect_banner:
        (banner_headers, _raw), *ref = ref
        banner, *messages = messages
        assert banner.kind == BANNER
        assert banner.name == banner_headers[0][1]
        assert banner.name.startswith("Asterisk Call Manager/")
    else:
        assert all(m.kind != BANNER for m in messages)

    ref_events = [header(h, "Event") for h, _ in ref if header(h, "Event") is not None]
    assert [m.name for m in messages if m.kind == EVENT] == ref_events
    assert [m.action_id for m in messages] == [header(h, "ActionID") for h, _ in ref]
    for message, (ref_headers, ref_raw) in zip(messages, ref, strict=True):
        assert message.headers == _normalise(ref_headers), ref_raw
        assert message.raw == ref_raw.replace(b"\r\n", b"\n").rstrip(b"\n")


@pytest.mark.parametrize("path", ALL_TRACES, ids=[p.name for p in ALL_TRACES])
def test_header_lookup_before_decoding_matches_the_reference(path):
    """``get`` reads undecoded messages straight from the bytes: same answers."""
    data = wire_bytes(path, "<<<")
    ref = reference(path, "<<<")[1:]
    fresh = AmiParser(max_message_bytes=len(data) + 1).feed(data)[1:]
    for message, (ref_headers, _raw) in zip(fresh, ref, strict=True):
        headers = _normalise(ref_headers)
        for key in {k for k, _ in headers} | {"Channel", "Uniqueid", "Nope"}:
            first = next((v for k, v in headers if k.lower() == key.lower()), None)
            assert message.get(key.upper()) == first, (key, _raw)
            assert (key in message) == (first is not None)
