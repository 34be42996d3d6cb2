"""Re-adoption after a restart: restore N live calls and reconcile them with Asterisk.

What a restarted daemon does between its AMI login and serving every caller
again: rebuild the calls and the router from the live state in Redis
(``CallCenter.restore``) and match them with the ``CoreShowChannel`` list
(``reconcile``), sending each caller's resume command.  The Redis read and the
AMI list are I/O and measured apart (a 1,000-channel CoreShowChannels parses in
milliseconds: see the ingest figures); this times the server's own work.
Target (issue 7): under 3 s for 1,000 live calls.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from twisted.internet import defer
from twisted.internet.task import Clock

from server.ami.codec import Message
from server.ami.router import EventRouter
from server.call.center import CallCenter
from server.config import load_config
from server.records.model import CallRecorder

ROOT = Path(__file__).resolve().parents[2]


class _Ami:
    def __init__(self) -> None:
        self.router = EventRouter()
        self.sent = 0
        self.connected = True

    def sendAction(self, action, fields=(), timeout=None):
        self.sent += 1
        return defer.succeed(Message.from_headers([("Response", "Success")]))


class _Live:
    def __init__(self) -> None:
        self.data: dict = {}

    def put(self, kind, id, state):
        self.data.setdefault(kind, {})[id] = state
        return defer.succeed(None)

    def delete(self, kind, id):
        return defer.succeed(self.data.get(kind, {}).pop(id, None) is not None)


def _world(cfg, n: int, clock: Clock):
    """Live state, live records and the channel list for ``n`` calls mid-flight."""
    live = _Live()
    cc = CallCenter(clock, cfg, _Ami(), save=lambda r: None, bills=None, live=live)
    queues = [q for q in cfg.acd.queues]
    records, channels = {}, []
    for i in range(n):
        call_id = f"1795800000.{i}"
        channel = f"Local/{13800000000 + i}@sim-callers-{i:08x};1"
        phase = "queued" if i % 2 else "ivr"
        rec = CallRecorder(call_id, clock.seconds(), str(13800000000 + i), "95598")
        queue = queues[i % len(queues)]
        if phase == "queued":
            rec.ivr_end(clock.seconds())
            rec.enqueued(clock.seconds(), queue)
            cc.acd.enqueue(call_id, queue, intent=None, number=str(13800000000 + i))
        records[call_id] = rec.to_dict()
        live.data.setdefault("call", {})[call_id] = {
            "channel": channel, "caller": str(13800000000 + i), "dialled": "95598",
            "phase": phase, "queue": queue if phase == "queued" else None, "intent": None,
            "priority": None, "account": None, "agent_id": None, "agent_channel": None,
            "talked": False, "wrap_done": True, "outcome": None,
            "ivr": {"state": "menu", "language": "zh", "menu": cfg.ivr.root_menu, "path": [],
                    "account": None, "retries": 0, "caller": str(13800000000 + i),
                    "channel": channel}}
        channels.append(Message.from_headers([
            ("Event", "CoreShowChannel"), ("Channel", channel), ("ChannelState", "6"),
            ("CallerIDNum", str(13800000000 + i)), ("Context", "hotline"), ("Exten", "95598"),
            ("Uniqueid", call_id), ("Linkedid", call_id), ("Application", "AGI"),
            ("ApplicationData", "agi:async")]))
        clock.advance(0.01)
    live.data["router"] = {"snapshot": cc.acd.snapshot()}
    return live.data, records, channels


def run_readopt_bench(calls: int = 1000, runs: int = 5) -> dict:
    cfg = load_config(ROOT / "config", environ={})
    times = []
    sent = 0
    for _ in range(runs):
        clock = Clock()
        clock.advance(1_795_800_000)
        live, records, channels = _world(cfg, calls, clock)
        ami = _Ami()
        cc = CallCenter(clock, cfg, ami, save=lambda r: None, bills=None, live=_Live())
        start = time.perf_counter()
        restored = cc.restore(live, records)
        cc.agi.forget_missing({m.get("Channel", "") for m in channels})
        cc.reconcile(channels)
        times.append(time.perf_counter() - start)
        assert restored == calls, restored
        sent = ami.sent
    return {"calls": calls, "runs": runs, "seconds_median": statistics.median(times),
            "seconds_max": max(times), "resume_commands_sent": sent}


def print_table(r: dict) -> None:
    print(f"\nRe-adoption after a restart ({r['calls']:,} live calls, {r['runs']} runs)")
    print(f"  restore + reconcile: median {r['seconds_median'] * 1000:,.0f} ms, "
          f"max {r['seconds_max'] * 1000:,.0f} ms; {r['resume_commands_sent']:,} resume "
          f"commands sent (target: under 3 s)")
