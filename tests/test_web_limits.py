"""Input limits (issue 16 point 8): numbers, due times, bodies cut off early, SSE caps
and consumers that stop reading; over real sockets on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest
import pytest_twisted
import treq
from twisted.internet import defer, protocol, reactor, task, threads

from ivr.callback import usable_number
from queues.items import dialable
from server.web import WebOptions
from server.web.feed import FeedLimits
from tests.test_web_support import WebRig


@pytest.fixture
def make_rig(redis_server, tmp_path):
    rigs = []

    def make(**kw):
        r = WebRig(redis_server.url.rsplit("/", 1)[0] + "/8", tmp_path, **kw)
        rigs.append(r)
        return r
    yield make
    for r in rigs:
        pytest_twisted.blockon(defer.ensureDeferred(r.close()))


BAD_NUMBERS = ["１３９００００００００", "²³456", "1" * 5000, "12", "+", "++123", "1390000 0000",
               " 13900000000", "139-0000-0000", "123456789012345678901", "+1234567890123456789012",
               "٣٤٥٦٧"]


def test_dialable_numbers_are_ascii_digits_with_an_optional_plus():
    assert all(not dialable(n) for n in BAD_NUMBERS)
    assert all(dialable(n) for n in ("110", "13900000000", "+8613900000000", "1" * 20))
    assert not usable_number("１３９００００００００") and usable_number("13900000000")


@pytest_twisted.ensureDeferred
async def test_followup_number_and_due_at_are_checked(make_rig):
    rig = make_rig()
    t = await rig.login("1001")
    now = rig.clock.seconds()
    for number in BAD_NUMBERS:
        code, body, _ = await rig.request("POST", "/api/followups",
                                          {"queue": "general", "number": number}, token=t)
        assert code == 400 and "'number'" in body["error"], number
    for due in (1e308, -1e308, now + 2 * 366 * 86400, now - 2 * 86400, 0):
        code, body, _ = await rig.request("POST", "/api/followups",
                                          {"queue": "general", "number": "13900000000",
                                           "due_at": due}, token=t)
        assert code == 400 and "'due_at'" in body["error"], due
    for number, due in (("+8613900000000", now + 3600), ("110", now - 3600)):
        code, body, _ = await rig.request("POST", "/api/followups",
                                          {"queue": "general", "number": number,
                                           "due_at": due}, token=t)
        assert code == 201 and body["number"] == number and body["due_at"] == due
    with pytest.raises(ValueError):
        rig.calls.acd.add_follow_up("x", "general", "１２３４５", now)
    with pytest.raises(ValueError):
        rig.calls.acd.add_follow_up("y", "general", "12345", float("inf"))


@pytest_twisted.ensureDeferred
async def test_outage_times_and_codes_are_checked(make_rig):
    rig = make_rig()
    s = await rig.login("supervisor1")
    base = {"id": "o1", "start": 0, "restore": 4e9}
    for change, field in (({"start": -1e308}, "start"), ({"restore": 1e308}, "restore"),
                          ({"area_codes": ["０５３１"]}, "area_codes"),
                          ({"prefixes": ["1" * 21]}, "prefixes"),
                          ({"prefixes": ["1"] * 1001}, "prefixes")):
        code, body, _ = await rig.request("POST", "/api/outages", {**base, **change}, token=s)
        assert code == 400 and f"'{field}'" in body["error"], change
    code, _, _ = await rig.request("POST", "/api/outages", {**base, "area_codes": ["0531"]},
                                   token=s)
    assert code == 201


def _raw_exchange(port: int, head: bytes, body: bytes) -> tuple[bytes, bool]:
    """In a thread: send ``head + body`` (and nothing more), read until the server
    closes.  Returns (what was read, whether the server closed within 10 s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head + body)
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except TimeoutError:
            return got, False
        except ConnectionResetError:
            return got, True
        return got, True


@pytest_twisted.ensureDeferred
async def test_a_declared_10mb_body_is_refused_before_it_is_sent(make_rig):
    rig = make_rig()
    port = rig.port.getHost().port
    head = (b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n")
    got, closed = await threads.deferToThread(_raw_exchange, port, head, b"{" + b" " * 1000)
    assert closed, "the server waited for the rest of the 10 MB"
    assert got.startswith(b"HTTP/1.1 413 ") and b"larger than 65536 bytes" in got


@pytest_twisted.ensureDeferred
async def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(make_rig):
    rig = make_rig()
    port = rig.port.getHost().port
    head = (b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"4000\r\n" + b" " * 0x4000 + b"\r\n"  # 16 KiB each; five pass 64 KiB
    got, closed = await threads.deferToThread(_raw_exchange, port, head, chunk * 5)
    assert closed, "the server kept waiting for the end of the chunked body"
    assert got.startswith(b"HTTP/1.1 413 ")


class _Collect(protocol.Protocol):
    def __init__(self) -> None:
        self.data = b""
        self.lost = defer.Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason=None) -> None:
        if not self.lost.called:
            self.lost.callback(None)


async def _stream(rig: WebRig, token: str):
    resp = await treq.get(rig.base + "/api/feed", headers={"Authorization": [f"Bearer {token}"]},
                          unbuffered=True, persistent=False)
    if resp.code != 200:
        return resp.code, await resp.json(), resp
    p = _Collect()
    resp.original.deliverBody(p)
    return 200, p, resp


@pytest_twisted.ensureDeferred
async def test_event_streams_are_capped_per_session_and_in_all(make_rig):
    rig = make_rig(options=WebOptions(feed=FeedLimits(per_session=3, total=4)))
    s1, s2 = await rig.login("supervisor1"), await rig.login("supervisor2")
    open_ = [await _stream(rig, s1) for _ in range(3)]
    assert [c for c, _, _ in open_] == [200, 200, 200]
    code, body, resp = await _stream(rig, s1)
    assert code == 429 and "at most 3 open event streams" in body["error"]
    assert resp.headers.getRawHeaders("retry-after") == ["15"]
    code, p, _ = await _stream(rig, s2)
    assert code == 200
    code, body, _ = await _stream(rig, s2)
    assert code == 503 and rig.web.feed.open == 4
    # a closed stream gives its place back
    open_[0][1].transport.stopProducing()
    await open_[0][1].lost
    while rig.web.feed.open == 4:  # the server sees the close on a later reactor turn
        await task.deferLater(reactor, 0, lambda: None)
    code, again, _ = await _stream(rig, s1)
    assert code == 200
    for stream in [o[1] for o in open_[1:]] + [p, again]:
        stream.transport.stopProducing()


@pytest_twisted.ensureDeferred
async def test_a_consumer_that_stops_reading_is_dropped_and_a_reader_is_not(make_rig):
    rig = make_rig(options=WebOptions(feed=FeedLimits(stall_s=30.0,
                                                      max_paused_bytes=64 << 20)))
    token = await rig.login("supervisor1")
    code, reader, _ = await _stream(rig, token)  # reads everything it is sent
    assert code == 200
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(("127.0.0.1", rig.port.getHost().port))
    stuck.sendall(f"GET /api/feed HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Authorization: Bearer {token}\r\n\r\n".encode())
    try:
        while rig.web.feed.open < 2:
            await task.deferLater(reactor, 0, lambda: None)
        payload = {"agent_id": "1001", "blob": "x" * 65536}
        for _ in range(600):  # bounded: ~38 MB at most
            rig.notifier.publish("agent", payload)
            rig.clock.advance(1)  # the stall timer runs on the injected clock
            await task.deferLater(reactor, 0, lambda: None)
            if rig.web.feed.open == 1:
                break
        assert rig.web.feed.dropped == 1 and rig.web.feed.open == 1
        assert len(reader.data) > 65536 * 30  # the reader kept receiving throughout
        assert not reader.lost.called
    finally:
        stuck.close()
        reader.transport.stopProducing()


@pytest_twisted.ensureDeferred
async def test_a_stream_ends_cleanly_with_its_session(make_rig):
    from twisted.logger import globalLogPublisher

    rig = make_rig()
    token = await rig.login("supervisor1")
    code, stream, _ = await _stream(rig, token)
    assert code == 200
    failures = []

    def observer(event) -> None:
        if "log_failure" in event:
            failures.append(event)
    globalLogPublisher.addObserver(observer)
    try:
        code, _, _ = await rig.request("POST", "/api/logout", token=token)
        assert code == 200
        rig.notifier.publish("agent", {"agent_id": "1001"})  # the next event ends it
        await stream.lost
        while rig.web.feed.open:
            await task.deferLater(reactor, 0, lambda: None)
    finally:
        globalLogPublisher.removeObserver(observer)
    assert not failures, [f["log_failure"] for f in failures]
