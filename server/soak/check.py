"""Reading a run's results: the records in Redis, the callers the simulator let in, /metrics.

Pure functions over plain data (plus one Redis reader), so the verdict is
testable and every violation is reported with the call it concerns.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.records.durations import compute_durations
from server.records.model import CallRecord
from server.records.store import LIVE_PREFIX, PREFIX, SEEN, STREAM

HIST = "hotline_routing_decision_seconds"
_BUCKET = re.compile(rf'^{HIST}_bucket\{{(?P<labels>[^}}]*)\}} (?P<v>\S+)$')
_LE = re.compile(r'le="([^"]+)"')


def routing_buckets(metrics_text: str) -> dict[float, float]:
    """Cumulative bucket counts of the routing histogram, summed over its labels."""
    out: dict[float, float] = defaultdict(float)
    for line in metrics_text.splitlines():
        m = _BUCKET.match(line)
        if m:
            le = _LE.search(m["labels"])
            if le:
                out[float(le[1])] += float(m["v"])
    return dict(out)


def add_buckets(a: dict[float, float], b: dict[float, float]) -> dict[float, float]:
    return {k: a.get(k, 0.0) + b.get(k, 0.0) for k in set(a) | set(b)}


def bucket_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' histogram_quantile: linear inside the bucket that holds rank q."""
    if not buckets:
        return None
    les = sorted(buckets)
    total = buckets[les[-1]]
    if total <= 0:
        return None
    rank = q * total
    prev_le, prev_n = 0.0, 0.0
    for le in les:
        n = buckets[le]
        if n >= rank:
            if math.isinf(le):
                return prev_le
            if n == prev_n:
                return le
            return prev_le + (le - prev_le) * (rank - prev_n) / (n - prev_n)
        prev_le, prev_n = le, n
    return prev_le


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


@dataclass
class Caller:
    uid: str
    linkedid: str
    number: str
    entered_at: float
    gone_at: float | None = None


def read_callers(path: Path) -> dict[str, Caller]:
    """The simulator's callers log: uid → Caller."""
    callers: dict[str, Caller] = {}
    if not path.exists():
        return callers
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if ev.get("ev") == "enter":
            callers[ev["uid"]] = Caller(ev["uid"], ev.get("linkedid", ""), ev.get("number", ""),
                                        ev["at"])
        elif ev.get("ev") == "gone" and ev["uid"] in callers:
            callers[ev["uid"]].gone_at = ev["at"]
    return callers


@dataclass
class StreamEntry:
    stream_id: str
    call_id: str
    version: int
    record: dict[str, Any]


def read_records(client) -> tuple[list[StreamEntry], dict[str, int], list[str]]:
    """Every entry of the records stream, the seen hash, and call ids still live."""
    entries: list[StreamEntry] = []
    low = "-"
    for _ in range(100000):  # bounded: 500 per batch
        batch = client.xrange(STREAM, min=low, max="+", count=500)
        if not batch:
            break
        for raw_id, f in batch:
            entries.append(StreamEntry(raw_id.decode(), f[b"call_id"].decode(),
                                       int(f[b"version"]), json.loads(f[b"record"])))
        low = "(" + batch[-1][0].decode()
    seen = {k.decode(): int(v) for k, v in client.hgetall(SEEN).items()}
    live = [k.decode().split(":", 2)[2] for k in client.scan_iter(f"{PREFIX}:call:*", count=500)]
    return entries, seen, live


def read_live_phases(client) -> dict[str, str]:
    """call id → "phase/queue" from the daemon's live state (what a restart re-adopts)."""
    out = {}
    for k, raw in client.hgetall(f"{LIVE_PREFIX}call").items():
        try:
            st = json.loads(raw)
            out[k.decode()] = f"{st.get('phase')}/{st.get('queue')}"
        except ValueError:
            out[k.decode()] = "unreadable"
    return out


def read_live_state_counts(client) -> dict[str, int]:
    out = {}
    for key in client.scan_iter(f"{LIVE_PREFIX}*", count=100):
        out[key.decode()[len(LIVE_PREFIX):]] = client.hlen(key)
    return out


@dataclass
class ChaosEvent:
    at: float  # wall clock (time.time()) when it started
    kind: str  # daemon_kill | link_cut | redis_restart
    until: float  # when the component was back (daemon: HTTP up again; redis: ready)
    detail: str = ""


@dataclass
class Verdict:
    figures: dict[str, Any] = field(default_factory=dict)
    lost: list[dict[str, Any]] = field(default_factory=list)
    stuck: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


def judge(callers: dict[str, Caller], entries: list[StreamEntry], seen: dict[str, int],
          live_keys: list[str], snapshot: dict | None, chaos: list[ChaosEvent],
          sim_active: int | None, live_phases: dict[str, str] | None = None,
          stuck_after_s: float = 300.0) -> Verdict:
    """Match records to callers and check the invariants; every breach is named.

    An agent is stuck when reserved or on a call with no call, or with no caller
    up in the simulator, or reserved over 60 s (ringing gives up long before),
    or on a call longer than ``stuck_after_s`` (the longest scripted talk + hold).
    """
    # Long on purpose: one short block per invariant, so the verdict reads as a checklist.
    v = Verdict()
    by_call: dict[str, list[StreamEntry]] = defaultdict(list)
    for e in entries:
        by_call[e.call_id].append(e)
    pairs = Counter((e.call_id, e.version) for e in entries)
    dups = {k: n for k, n in pairs.items() if n > 1}
    for (cid, ver), n in sorted(dups.items()):
        v.violations.append(f"duplicated record: call {cid} version {ver} appears {n} times "
                            "in the stream")
    for cid, es in sorted(by_call.items()):
        top = max(e.version for e in es)
        if seen.get(cid) != top:
            v.violations.append(f"seen hash says version {seen.get(cid)} for {cid}, stream "
                                f"holds up to {top}")
    newest = {cid: max(es, key=lambda e: e.version).record for cid, es in by_call.items()}

    outcomes: Counter[str] = Counter()
    waits: list[float] = []
    matched: set[str] = set()
    lost = []
    for c in callers.values():
        cid = c.linkedid if c.linkedid in newest else c.uid
        rec = newest.get(cid)
        if rec is None:
            lost.append(c)
            continue
        matched.add(cid)
        outcomes[str(rec.get("outcome"))] += 1
        if rec.get("outcome") == "answered":
            d = compute_durations(CallRecord.from_dict(rec).timeline)
            waits.append(d.queue_wait_s)
    other = Counter(str(r.get("kind")) + ":" + str(r.get("outcome"))
                    for cid, r in newest.items() if cid not in matched)
    # The same caller under two call ids would show as an unmatched inbound record.
    strangers = {cid: r for cid, r in newest.items()
                 if cid not in matched and r.get("kind") == "inbound"}
    for cid, r in sorted(strangers.items()):
        v.violations.append(f"inbound record {cid} (caller {r.get('caller')}, outcome "
                            f"{r.get('outcome')}) matches no caller the simulator let in")

    for c in lost:
        overlaps = [f"{e.kind}@{e.at:.1f}" for e in chaos
                    if e.at <= (c.gone_at or math.inf) and c.entered_at <= e.until]
        state = ("still on the line at the end" if c.gone_at is None
                 else f"hung up after {c.gone_at - c.entered_at:.1f} s")
        phases = live_phases or {}
        phase = phases.get(c.linkedid) or phases.get(c.uid)
        live = ("a live record remains in Redis" if (c.linkedid in live_keys
                                                     or c.uid in live_keys) else "no live record")
        if phase:
            live += f" (daemon's live state: {phase})"
        v.lost.append({"uid": c.uid, "number": c.number, "entered_at": round(c.entered_at, 3),
                       "gone_at": None if c.gone_at is None else round(c.gone_at, 3),
                       "state": state, "redis": live, "during": overlaps})
        if c.gone_at is None:
            v.figures.setdefault("_on_line", Counter())[phase or "unknown"] += 1
        v.violations.append(f"lost: caller {c.number} (uid {c.uid}) entered at "
                            f"{c.entered_at:.1f}, {state}, no final record, {live}"
                            + (f"; its life overlapped {', '.join(overlaps)}" if overlaps else ""))

    stuck: list[dict[str, Any]] = []
    by_uid = {c.uid: c for c in callers.values()} | {c.linkedid: c for c in callers.values()}
    if snapshot is not None:
        for a in snapshot.get("agents", []):
            too_long = a["in_state_s"] > (stuck_after_s if a["state"] == "on_call" else 60.0)
            if a["state"] in ("reserved", "on_call") and (not a.get("call_id")
                                                           or not sim_active or too_long):
                held = by_uid.get(a.get("call_id") or "")
                during = [] if held is None else [
                    f"{e.kind}@{e.at:.1f}" for e in chaos
                    if e.at <= (held.gone_at or math.inf) and held.entered_at <= e.until]
                stuck.append({"id": a["id"], "state": a["state"], "call_id": a.get("call_id"),
                              "in_state_s": round(a["in_state_s"], 1), "during": during})
                v.violations.append(
                    f"agent {a['id']} stuck in {a['state']} for {a['in_state_s']:.0f} s "
                    f"(call {a.get('call_id')}, simulator has {sim_active} calls up)"
                    + (f"; the call's life overlapped {', '.join(during)}" if during else ""))
    if live_keys and not sim_active:
        v.violations.append(f"{len(live_keys)} live call records remain in Redis with no call "
                            f"up: {sorted(live_keys)[:10]}")

    v.stuck = stuck
    stale = sorted(cid for cid in (live_phases or {}) if cid in newest and cid not in live_keys)
    if stale:
        v.warnings.append(
            f"{len(stale)} entries in hotline:live:call belong to calls whose final record is "
            f"in the stream (a delete lost in a Redis outage?): {stale[:10]}")
    answered = outcomes.get("answered", 0)
    abandoned = outcomes.get("abandoned", 0)
    on_line = v.figures.pop("_on_line", Counter())
    v.figures = {
        "lost_on_line_by_phase": dict(on_line),
        "entered": len(callers),
        "handled": answered,
        "abandoned": abandoned,
        "other_outcomes": {k: n for k, n in sorted(outcomes.items())
                           if k not in ("answered", "abandoned")},
        "lost": len(lost),
        "lost_still_on_line": sum(1 for c in lost if c.gone_at is None),
        "records_in_stream": len(entries),
        "distinct_calls_in_stream": len(by_call),
        "records_not_matching_a_caller": dict(other),
        "duplicated_entries": sum(n - 1 for n in dups.values()),
        "live_records_left": len(live_keys),
        "stale_live_call_state": len(stale),
        "agents_stuck": len(stuck),
        "answer_wait_p50_s": quantile(waits, 0.5),
        "answer_wait_p99_s": quantile(waits, 0.99),
    }
    return v
