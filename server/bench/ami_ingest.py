"""AMI ingest throughput: recorded Asterisk bytes through the codec and the client.

The stream is the received side of ``06-load-50-calls.ami.gz`` (50 simultaneous
hotline calls), its body repeated after one banner until it holds the wanted
number of events.  It is cut into 64 KiB reads, the size a busy TCP socket
hands ``dataReceived``, and fed to a real :class:`AmiClientProtocol` on a
``StringTransport`` and a ``task.Clock``; the subscribers are the events a
hotline server acts on, and each reads ``Channel`` and ``Uniqueid`` so that
header decoding is paid for.  Rates are events per CPU second of this process
(wall seconds are reported beside them).
"""

from __future__ import annotations

import gzip
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from server.ami.codec import AmiParser
from server.ami.protocol import AmiClientProtocol
from server.ami.router import EventRouter
from server.bench.clock import reactor_time

TRACE = (
    Path(__file__).resolve().parents[2]
    / "tests"
    / "fixtures"
    / "ami-traces"
    / "06-load-50-calls.ami.gz"
)

#: The events the hotline server subscribes to.
HOTLINE_EVENTS = (
    "AsyncAGIStart",
    "AsyncAGIExec",
    "AsyncAGIEnd",
    "DialBegin",
    "DialEnd",
    "BridgeEnter",
    "BridgeLeave",
    "Hangup",
    "DeviceStateChange",
    "Hold",
    "Unhold",
    "DTMFEnd",
    "OriginateResponse",
)

#: Where real Asterisk 22 saturated towards one AMI client (06-load-stats.json).
ASTERISK_MAX_EVENTS_PER_S = 12_000

_PREFIX_LEN = 16  # "<<< " + "%011.6f" + " ", see the traces README


def received_events(path: Path = TRACE) -> tuple[bytes, list[bytes]]:
    """The banner line and each event Asterisk sent, as on the wire (CRLF).

    Responses are left out: they answer the recording session's actions, and
    fed to a client that never sent those actions they would only measure the
    logging of unmatched replies.
    """
    with gzip.open(path, "rb") as f:
        lines = [line[_PREFIX_LEN:] for line in f if line.startswith(b"<<<")]
    events, current = [], []
    for line in lines[1:]:
        current.append(line)
        if line == b"\r\n":
            if current[0].startswith(b"Event: "):
                events.append(b"".join(current))
            current = []
    return lines[0], events


def build_stream(n_events: int, path: Path = TRACE) -> tuple[bytes, int]:
    """``(stream, events)``: the banner, then the trace's events repeated to >= n_events."""
    banner, events = received_events(path)
    body = b"".join(events)
    copies = max(1, -(-n_events // len(events)))
    return banner + body * copies, len(events) * copies


def chunks(stream: bytes, size: int) -> list[bytes]:
    return [stream[i : i + size] for i in range(0, len(stream), size)]


def _client(subscribe: bool) -> tuple[AmiClientProtocol, list[int]]:
    router = EventRouter()
    seen = [0]
    if subscribe:

        def handler(message) -> None:
            if message.get("Channel") is not None and message.get("Uniqueid") is not None:
                seen[0] += 1

        for name in HOTLINE_EVENTS:
            router.subscribe(name, handler)
    proto = AmiClientProtocol(reactor_time(Clock()), router, max_message_bytes=1 << 20)
    proto.makeConnection(StringTransport())
    return proto, seen


def _time(fn) -> tuple[float, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall0, time.process_time() - cpu0


def _measure(reads: list[bytes], runs: int, mode: str) -> dict:
    walls, cpus, handled = [], [], 0
    for _ in range(runs):
        go: Callable[[], None]
        if mode == "parse":
            parser = AmiParser(expect_banner=True)

            def parse(parser: AmiParser = parser) -> None:
                for data in reads:
                    parser.feed(data)

            go = parse
        else:
            proto, seen = _client(subscribe=(mode == "dispatch"))

            def receive(proto: AmiClientProtocol = proto) -> None:
                for data in reads:
                    proto.dataReceived(data)

            go = receive

        wall, cpu = _time(go)
        walls.append(wall)
        cpus.append(cpu)
        if mode != "parse":
            handled = seen[0]
    return {"seconds": walls, "cpu_seconds": cpus, "handled": handled}


def run(n_events: int = 200_000, runs: int = 5, chunk: int = 64 * 1024) -> dict:
    """Measure; return the figures (see :func:`table`)."""
    stream, events = build_stream(n_events)
    reads = chunks(stream, chunk)
    out: dict = {
        "trace": TRACE.name,
        "events": events,
        "bytes": len(stream),
        "chunk_bytes": chunk,
        "runs": runs,
        "subscribed_events": list(HOTLINE_EVENTS),
        "asterisk_max_events_per_s": ASTERISK_MAX_EVENTS_PER_S,
    }
    for mode in ("parse", "no_subscribers", "dispatch"):
        m = _measure(reads, runs, mode)
        # Rates from process CPU time: on a shared machine wall time also
        # counts waiting for a core, and the question is CPU per event.
        rates = [events / s for s in m["cpu_seconds"]]
        median = statistics.median(rates)
        out[mode] = {
            "seconds_median": statistics.median(m["seconds"]),
            "cpu_seconds_median": statistics.median(m["cpu_seconds"]),
            "events_per_s_median": median,
            "events_per_s_min": min(rates),
            "events_per_s_max": max(rates),
            "cpu_fraction_at_asterisk_max": ASTERISK_MAX_EVENTS_PER_S / median,
            "handler_calls": m["handled"],
        }
    return out


def table(fig: dict) -> str:
    head = (
        f"AMI ingest: {fig['events']:,} events ({fig['bytes'] / 1e6:.1f} MB) from {fig['trace']}, "
        f"{fig['chunk_bytes'] // 1024} KiB reads, {fig['runs']} runs\n"
    )
    cols = f"{'mode':<16}{'events':>10}{'wall s':>8}{'CPU s':>8}"
    cols += f"{'ev/CPU-s med':>14}{'min':>10}{'max':>10}"
    cols += f"{'CPU @12k ev/s':>15}{'handled':>10}"
    rows = [head, cols]
    labels = {
        "parse": "codec only",
        "no_subscribers": "client, no subs",
        "dispatch": "client + hotline",
    }
    for mode, label in labels.items():
        r = fig[mode]
        rows.append(
            f"{label:<16}{fig['events']:>10,}{r['seconds_median']:>8.3f}"
            f"{r['cpu_seconds_median']:>8.3f}{r['events_per_s_median']:>14,.0f}"
            f"{r['events_per_s_min']:>10,.0f}{r['events_per_s_max']:>10,.0f}"
            f"{r['cpu_fraction_at_asterisk_max']:>14.1%}"
            f"{r['handler_calls']:>10,}"
        )
    return "\n".join(rows)
