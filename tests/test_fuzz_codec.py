"""The AMI codec under hostile input: a short run of the mutation fuzzer, hypothesis on raw
bytes, endless lines and messages cut off at the limit, over a real socket too.

The long run is ``python -m server.bench.fuzz --inputs 1000000`` (see that module).
"""

from __future__ import annotations

import importlib.util

import pytest
import pytest_twisted
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet import defer, protocol, reactor

from server.ami.codec import AmiParser, FrameTooLarge
from server.ami.protocol import AmiClientProtocol
from server.bench import fuzz

LIMIT = 4096


def test_short_fuzz_run_finds_nothing():
    report = fuzz.run(20_000, seed=95598, limit=fuzz.DEFAULT_LIMIT, sample=500,
                      rss_growth_mb=32.0)
    assert report.failures == []
    assert report.inputs == 20_000
    # The mutations reach both sides of the limit and still yield messages.
    assert 0.01 < report.cut_off / report.inputs < 0.5
    assert report.messages > report.inputs
    assert report.rss_peak_kib - report.rss_first_kib < 32 * 1024


def test_fuzz_run_is_reproducible():
    a = fuzz.run(300, seed=7)
    b = fuzz.run(300, seed=7)
    assert (a.messages, a.cut_off, a.bytes_fed) == (b.messages, b.cut_off, b.bytes_fed)
    assert fuzz.run(300, seed=8).bytes_fed != a.bytes_fed


def test_the_fuzzer_would_catch_an_escaping_exception(monkeypatch):
    """The harness is not blind: a codec that raises is reported, with the input number."""
    real = fuzz.AmiParser.feed

    def feed(self, data):
        if b"\xff" in data:
            raise IndexError("boom")
        return real(self, data)

    monkeypatch.setattr(fuzz.AmiParser, "feed", feed)
    report = fuzz.run(2000, seed=1, max_failures=3)
    assert len(report.failures) == 3
    assert report.failures[0].startswith("input ") and "IndexError: boom" in report.failures[0]


def test_the_fuzzer_would_catch_unbounded_buffering(monkeypatch):
    monkeypatch.setattr(fuzz.AmiParser, "_check_size", lambda self, pending: None)
    report = fuzz.run(500, seed=2, max_failures=1)
    assert report.failures and "limit" in report.failures[0]


@settings(max_examples=400, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(banner=st.booleans(), data=st.binary(max_size=3 * LIMIT),
       cuts=st.lists(st.integers(min_value=0, max_value=3 * LIMIT), max_size=10))
def test_any_bytes_in_any_pieces(banner, data, cuts):
    bounds = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    pieces = [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)] or [data]
    fuzz.run_one(banner, data, pieces, LIMIT)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(st.sampled_from([b"Event: X\r\n", b"Response: Follows\r\n", b"A: b\r\n",
                                 b"\r\n", b"\n", b"\r", b"--END COMMAND--\r\n", b":", b" ",
                                 b"\xff", b"Action: Ping\r\n", b"Output: o\r\n"]),
                max_size=200),
       st.integers(min_value=1, max_value=64))
def test_framing_tokens_in_any_order(tokens, step):
    data = b"".join(tokens)
    pieces = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
    fuzz.run_one(False, data, pieces, 256)


@pytest.mark.parametrize("stream", [
    pytest.param(lambda i: b"x" * 1000, id="endless-banner"),
    pytest.param(lambda i: (b"Asterisk Call Manager/11.0.0\r\nEvent: X\r\nData: " if i == 0
                            else b"y" * 1000), id="endless-header-line"),
    pytest.param(lambda i: (b"Asterisk Call Manager/11.0.0\r\n" if i == 0
                            else b"Header%d: value\r\n" % i), id="no-blank-line"),
    pytest.param(lambda i: (b"Asterisk Call Manager/11.0.0\r\nResponse: Follows\r\n" if i == 0
                            else b"line\r\n\r\n"), id="follows-without-end"),
])
def test_endless_input_is_cut_off_at_the_limit(stream):
    parser = AmiParser(expect_banner=True, max_message_bytes=LIMIT)
    fed = 0
    with pytest.raises(FrameTooLarge):
        for i in range(10_000):
            chunk = stream(i)
            parser.feed(chunk)
            fed += len(chunk)
            assert parser.buffered <= LIMIT
    # Cut off by the read that passes the limit, not much later (the limit counts bytes
    # after CRLF -> LF, so short CRLF lines get somewhat past it on the wire).
    assert LIMIT - 1100 < fed <= LIMIT * 3 // 2
    assert parser.buffered == 0


def test_follows_limit_does_not_depend_on_segmentation():
    data = (b"Response: Follows\r\nPrivilege: Command\r\n" + (b"x" * 1000 + b"\r\n\r\n") * 6
            + b"--END COMMAND--\r\n\r\n")
    assert len(data) > LIMIT

    def outcome(pieces):
        parser = AmiParser(expect_banner=False, max_message_bytes=LIMIT)
        try:
            return [m.name for p in pieces for m in parser.feed(p)]
        except FrameTooLarge:
            return "too large"

    assert outcome([data]) == outcome([data[i : i + 500] for i in range(0, len(data), 500)])


# -- over a real socket -------------------------------------------------------------


class _Flood(protocol.Protocol):
    """An 'Asterisk' that sends its banner and then one message that never ends."""

    payload = b""

    def connectionMade(self):
        self.transport.write(b"Asterisk Call Manager/11.0.0\r\n" + self.payload)


class _CountingClient(AmiClientProtocol):
    received = 0
    max_buffered = 0

    def dataReceived(self, data):
        self.received += len(data)
        super().dataReceived(data)
        self.max_buffered = max(self.max_buffered, self._parser.buffered)


@pytest.mark.parametrize("payload", [
    pytest.param(b"Event: Flood\r\nData: " + b"z" * (4 << 20), id="endless-line"),
    pytest.param(b"Event: Flood\r\n" + b"Key: value\r\n" * (400_000), id="no-blank-line"),
])
@pytest_twisted.ensureDeferred
async def test_client_drops_a_flooding_peer(payload):
    limit = 64 * 1024
    factory = protocol.Factory.forProtocol(_Flood)
    factory.protocol = type("Flood", (_Flood,), {"payload": payload})
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    lost: defer.Deferred = defer.Deferred()
    client = _CountingClient(reactor, max_message_bytes=limit,
                             on_lost=lambda proto, up, reason: lost.callback(up))
    try:
        endpoint = protocol.ClientCreator(reactor, lambda: client)
        await endpoint.connectTCP("127.0.0.1", port.getHost().port)
        was_logged_in = await lost
    finally:
        await port.stopListening()
    assert client.banner == "Asterisk Call Manager/11.0.0" and not was_logged_in
    assert client.max_buffered <= limit
    # Dropped once the limit was passed: far less than the 4 MiB+ the peer wrote.
    assert limit < client.received < len(payload) // 4


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
def test_atheris_smoke(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "server.bench.fuzz", "--atheris",
                           "-runs=1000", "-seed=1", f"-artifact_prefix={tmp_path}/"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DONE" in proc.stderr and "cov:" in proc.stderr
