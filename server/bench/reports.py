"""Reports: a month of a busy centre (1.5 million records) in bounded memory.

Two measurements, each in a child process of its own so its peak memory
(``ru_maxrss``) is its own:

- *aggregation*: N generated final records streamed from a generator into the
  report builder (``--by agent``; the hourly, tier and team tallies and the
  repeat-contact window always kept), once with N/10 and once with N records: the
  peak memory stays flat while the time grows with N. Each record is built with
  ``CallRecord.from_dict`` as the reader builds it; only the JSON parse and Redis are
  left out, and the second part measures those.
- *Redis read path*: M records written to a private redis-server (XADD and the
  ``seen`` hash, as the store writes them), then read back by ``read_records``
  (XRANGE chunks, HMGET, JSON) into the builder: time per record, and the time
  for 1.5 million extrapolated from it (labelled as such: writing 1.5 million
  records into a Redis here would take a few GB and minutes on a shared machine).

Records: 500 templates (answered with hold and survey, short and long abandons,
self-service, deflections, overflows, fallbacks, outbound callbacks) shifted over
30 days, callers drawn from 200,000 numbers so repeat contacts occur.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MONTH_START = 1_796_054_400.0  # 2026-12-01 00:00 Asia/Shanghai
MONTH_S = 31 * 86400.0
TEMPLATES = 500
CALLERS = 200_000
AGENTS = [f"{1001 + i}" for i in range(20)]
INTENTS = ["fault", "billing", "service", "complaint", "enquiry"]


def _template(rng: random.Random, n: int) -> dict[str, Any]:
    from server.records.model import CallRecorder

    agent = rng.choice(AGENTS)
    kind = rng.random()
    r = CallRecorder(f"t{n}", 0.0, caller="0", dialled="95598",
                     kind="callback" if kind < 0.03 else "inbound")
    r.update(intent=rng.choice(INTENTS))
    t = rng.uniform(10, 40)
    if kind < 0.03:  # an outbound callback
        r.answered(t, agent=agent, tier="agent")
        r.bridge_end(t + 90, "caller")
        r.wrap_up_end(t + 110, "done")
        r.finish(t + 110, "answered")
        return r.to_dict()
    r.ivr_end(t)
    if kind < 0.10:
        r.finish(t, "self_service" if kind < 0.07 else "deflected")
        return r.to_dict()
    r.enqueued(t, "fault")
    wait = rng.expovariate(1 / 25)
    if kind < 0.13:
        r.overflow(t + wait / 2, "fault", "general")
    if kind < 0.25:  # abandons, some short
        r.abandoned(t + (rng.uniform(0, 5) if kind < 0.17 else wait))
        r.finish(t + wait, "abandoned")
        return r.to_dict()
    if kind < 0.27:
        r.fallback(t + wait, "watchdog", "hotline-fallback")
        r.answered(t + wait + 5, agent=agent, tier="agent")
        r.bridge_end(t + wait + 100, "caller")
        r.finish(t + wait + 100, "fallback_answered")
        return r.to_dict()
    if rng.random() < 0.1:
        r.offer(t + wait - 15, agent=rng.choice(AGENTS), ring_start=t + 1, outcome="no_answer")
    r.offer(t + wait, agent=agent, ring_start=t + wait - 4, outcome="answered")
    r.answered(t + wait, agent=agent, tier="agent")
    talk = rng.uniform(60, 400)
    if rng.random() < 0.2:
        r.hold_start(t + wait + 20)
        r.hold_end(t + wait + 50)
    r.bridge_end(t + wait + talk, "caller")
    if rng.random() < 0.6:
        answer = rng.choice(["satisfied", "satisfied", "fairly_satisfied", "dissatisfied", None])
        r.survey(t + wait + talk + 3, answer, "slow" if answer == "dissatisfied" else None)
    r.wrap_up_end(t + wait + talk + 30, "done")
    r.finish(t + wait + talk + 30, "answered")
    return r.to_dict()


def generate(n: int, seed: int = 95598) -> Iterator[dict[str, Any]]:
    """``n`` record dicts over the month, in arrival order; memory: the templates only."""
    rng = random.Random(seed)
    templates = [_template(rng, i) for i in range(TEMPLATES)]
    step = MONTH_S / max(n, 1)
    for i in range(n):
        tpl = templates[i % TEMPLATES]
        at = MONTH_START + i * step
        yield {**tpl, "call_id": f"b{i}", "caller": f"138{rng.randrange(CALLERS):08d}",
               "timeline": [[at + e[0], e[1], e[2]] for e in tpl["timeline"]]}


def _builder(n_days: float = 31) -> Any:
    from server.config import load_config
    from server.reports import builder_for

    cfg = load_config(ROOT / "config", environ={})
    return builder_for(cfg, MONTH_START, MONTH_START + n_days * 86400, "agent")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def aggregate_child(n: int) -> dict[str, Any]:
    """In the child: stream ``n`` generated records into a builder; time and peak."""
    from server.records.model import CallRecord

    builder = _builder()
    base_mb = _peak_mb()
    t0 = time.perf_counter()
    for raw in generate(n):
        builder.add_record(CallRecord.from_dict(raw))
    report = builder.report(time.time())
    seconds = time.perf_counter() - t0
    return {"records": n, "seconds": round(seconds, 2), "us_per_record": seconds / n * 1e6,
            "peak_mb": round(_peak_mb(), 1), "start_mb": round(base_mb, 1),
            "repeat_window": len(builder.repeats), "offered": report["total"]["offered"],
            "service_level": report["total"]["service_level"]}


async def _redis_child(n: int) -> dict[str, Any]:
    from server.records.store import SEEN, STREAM, make_client
    from server.redisproc import RedisProcess
    from server.reports.reader import fill_report

    with RedisProcess(appendonly=False) as proc:
        client = make_client(proc.url, timeout=60.0)
        t0 = time.perf_counter()
        batch: list[dict[str, Any]] = []
        for i, raw in enumerate(generate(n), 1):
            batch.append(raw)
            if len(batch) == 1000 or i == n:
                async with client.pipeline(transaction=False) as pipe:
                    for rec in batch:
                        # written ten minutes after the arrival (ids must grow; they do)
                        written = rec["timeline"][0][0] + 600
                        pipe.xadd(STREAM, {"call_id": rec["call_id"], "version": 1,
                                           "record": json.dumps(rec, separators=(",", ":"))},
                                  id=f"{int(written * 1000)}-0")
                        pipe.hset(SEEN, rec["call_id"], 1)
                    await pipe.execute()
                batch = []
        write_s = time.perf_counter() - t0
        used = await client.info("memory")
        builder = _builder(n_days=31)
        base_mb = _peak_mb()
        t0 = time.perf_counter()
        report = await fill_report(client, builder, now=time.time())
        read_s = time.perf_counter() - t0
        await client.aclose()
    return {"records": n, "write_s": round(write_s, 2), "read_s": round(read_s, 2),
            "us_per_record": read_s / n * 1e6, "peak_mb": round(_peak_mb(), 1),
            "start_mb": round(base_mb, 1), "redis_used_mb": round(used["used_memory"] / 2**20),
            "read": report["records"],
            "extrapolated_1_5m_s": round(read_s / n * 1_500_000, 1)}


def _child(kind: str, n: int) -> dict[str, Any]:
    call = f"r.aggregate_child({n})" if kind == "agg" else f"asyncio.run(r._redis_child({n}))"
    code = f"import asyncio, json; from server.bench import reports as r; print(json.dumps({call}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=1800, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run(records: int = 1_500_000, redis_records: int = 100_000) -> dict[str, Any]:
    small = max(records // 10, 1)
    return {"aggregate": [_child("agg", small), _child("agg", records)],
            "redis": _child("redis", redis_records)}


def table(r: dict[str, Any]) -> str:
    lines = ["Reports: a month's records into one report (--by agent, hourly, tiers, teams, "
             "repeat window), each in its own process",
             f"{'part':<28}{'records':>11}{'seconds':>10}{'us/record':>11}{'peak MB':>10}"]
    for a in r["aggregate"]:
        lines.append(f"{'aggregation (generated)':<28}{a['records']:>11,}{a['seconds']:>10.1f}"
                     f"{a['us_per_record']:>11.1f}{a['peak_mb']:>10.1f}"
                     f"   repeat window: {a['repeat_window']:,} (caller, intent) pairs")
    lines.append("  (memory is one tally per group and hour, plus the repeat window: one entry "
                 "per distinct caller and intent of the last 30 days, never per record)")
    d = r["redis"]
    lines.append(f"{'Redis read + aggregation':<28}{d['records']:>11,}{d['read_s']:>10.1f}"
                 f"{d['us_per_record']:>11.1f}{d['peak_mb']:>10.1f}")
    lines.append(f"  (Redis held {d['redis_used_mb']} MB for them; written in {d['write_s']} s; "
                 f"1.5 million read that way: about {d['extrapolated_1_5m_s']:.0f} s, "
                 f"extrapolated, not measured)")
    return "\n".join(lines)
