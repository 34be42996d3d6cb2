"""Cases: open and move N service cases in a real redis-server, then find what is due.

The claim measured: a tick's cost follows the number of *due* cases, not the
number of open ones, because the due times live in a sorted set (ZRANGEBYSCORE
with a LIMIT) and the pure tick sees only what the store returns.  Each
checkpoint grows the open cases (opened, accepted, half of them started, written
straight to the store with writes in flight; their limits run a year later),
then opens ``due`` probe cases through the service, whose reminders are due,
and times the tick that finds and handles exactly those.  Runs under plain
asyncio (no reactor): the service's Deferreds ride on the asyncio loop.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis
from twisted.internet import defer, task

from cases.due import due_score, tick
from cases.ids import format_id
from cases.machine import open_case, transition
from cases.model import Case
from cases.rules import CasesConfig
from server.bench.clock import reactor_time
from server.cases.service import CaseService
from server.cases.store import CaseStore, case_entry
from server.config import load_config
from server.records.spool import DurableRecords
from server.redisproc import RedisProcess

ROOT = Path(__file__).resolve().parents[2]
PROBE_AT = 1_796_000_000.0  # 2026-11-30: the probes' reminders fall due at +1.5 h
BACKGROUND_AT = PROBE_AT + 400 * 86400  # background cases' limits run a year later


async def _wait(d: defer.Deferred):
    return await d.asFuture(asyncio.get_running_loop())


async def _grow(store: CaseStore, rules: CasesConfig, start: int, stop: int,
                chunk: int = 32) -> float:
    """Open cases start..stop-1 and move them (accept; start every other one), written
    straight to the store, ``chunk`` writes in flight (the client's pool holds 32
    connections); returns the seconds it took.  The ids use their own day so they
    never meet the service's numbering."""
    t0 = time.perf_counter()
    for lo in range(start, stop, chunk):
        versions = []
        for i in range(lo, min(lo + chunk, stop)):
            now = BACKGROUND_AT + i * 0.01
            case = open_case(rules, case_id=format_id("20271231", i + 1),
                             type=("complaint", "fault_repair", "enquiry")[i % 3],
                             account=f"{1_000_000_000 + i}", phone="", now=now, actor="a",
                             owner=f"{1001 + i % 300}", responsible="lead1")
            versions.append(case)
            for inp in ("accept", "start")[: 1 + i % 2]:
                case = transition(case, inp, rules, now=now, actor="a")
                versions.append(case)
        await asyncio.gather(*(_wait(store.put(case_entry(c.to_dict(), due_score(c, rules))))
                               for c in versions))
    return time.perf_counter() - t0


async def _redis_usec(raw: aioredis.Redis) -> float:
    """Redis' own time spent in scripts so far (INFO commandstats), in microseconds."""
    stats = await raw.info("commandstats")
    return sum(v["usec"] for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))


async def _probe_tick(svc: CaseService, store: CaseStore, raw: aioredis.Redis,
                      rules: CasesConfig, clock: task.Clock, due: int) -> dict[str, float]:
    clock.rightNow = PROBE_AT
    for i in range(due):
        await _wait(svc.open(type="complaint", account=f"9{i:09d}", phone="", actor="p"))
    clock.rightNow = PROBE_AT + 1.5 * 3600 + 1
    t0 = time.perf_counter()
    ids = await _wait(store.due_ids(clock.seconds(), due * 2))
    t1 = time.perf_counter()
    loaded = [Case.from_dict(d) for d in await _wait(store.get_many(ids))]
    t2 = time.perf_counter()
    assert len(tick(loaded, rules, clock.seconds())) == due  # the pure part alone
    t3 = time.perf_counter()
    usec = await _redis_usec(raw)
    t4, c4 = time.perf_counter(), time.process_time()
    notices = await _wait(svc.tick())  # the whole tick: find, load, decide, write
    t5, c5 = time.perf_counter(), time.process_time()
    usec = await _redis_usec(raw) - usec
    # Move the probes out of the way (accept restarts their limit a year on), so the
    # next repetition's due set holds only its own probes.
    clock.rightNow = BACKGROUND_AT
    for n in notices:
        await _wait(svc.transition(n.case_id, "accept", actor="p"))
    assert len(ids) == due == len(notices), (len(ids), due, len(notices))
    # CPU time of this process beside the wall time: on a shared machine the wall time
    # also counts the waits for a core, which have nothing to do with the open cases.
    return {"find": t1 - t0, "load": t2 - t1, "pure": t3 - t2, "tick": t5 - t4,
            "tick_cpu": c5 - c4, "redis_script_us": usec / due}


async def _run(checkpoints: list[int], due: int, runs: int) -> dict:
    rules = load_config(ROOT / "config", environ={"HOTLINE_AMI_SECRET": "x"}).cases
    with tempfile.TemporaryDirectory() as tmp, RedisProcess(appendonly=False) as proc:
        clock = task.Clock()
        store = CaseStore.from_url(proc.url, timeout=30.0)  # a loaded machine is slow, not down
        raw = aioredis.Redis.from_url(proc.url)
        writer = DurableRecords(store, Path(tmp) / "cases.spool", reactor_time(clock))
        svc = CaseService(store, writer, rules, reactor_time(clock), cache_size=1000,
                          due_batch=due * 2)
        rows, opened = [], 0
        try:
            for n in checkpoints:
                grow_s = await _grow(store, rules, opened, n)
                ops = (n - opened) * 2.5
                opened = n
                reps = [await _probe_tick(svc, store, raw, rules, clock, due)
                        for _ in range(runs)]

                def med(key: str, reps: list = reps) -> float:
                    return statistics.median(r[key] for r in reps)

                rows.append({"open_cases": n, "due_per_tick": due,
                             "ops_per_s": ops / grow_s if grow_s else 0.0,
                             "find_due_ms": med("find") * 1000, "load_ms": med("load") * 1000,
                             "pure_tick_ms": med("pure") * 1000, "tick_ms": med("tick") * 1000,
                             "tick_cpu_ms": med("tick_cpu") * 1000,
                             "tick_us_per_due": med("tick") * 1e6 / due,
                             "redis_us_per_write": med("redis_script_us")})
        finally:
            writer.stop()
            await _wait(store.close())
            await raw.aclose()
    first, last = rows[0], rows[-1]
    return {"rows": rows, "due": due, "runs": runs,
            "tick_growth": last["tick_ms"] / first["tick_ms"] if first["tick_ms"] else None,
            "tick_cpu_growth": (last["tick_cpu_ms"] / first["tick_cpu_ms"]
                                if first["tick_cpu_ms"] else None)}


def run(checkpoints: list[int] | None = None, due: int = 200, runs: int = 5) -> dict:
    return asyncio.run(_run(checkpoints or [1_000, 10_000, 100_000], due, runs))


def table(r: dict) -> str:
    lines = [f"Cases: tick with {r['due']} due cases, medians of {r['runs']} ticks per row "
             "(find = ZRANGEBYSCORE; load = HGET of the due cases; pure = cases.due.tick; "
             "tick = the whole CaseService.tick, writes included; tick CPU = this process)",
             f"{'open cases':>11} {'open+move/s':>12} {'find ms':>8} {'load ms':>8} "
             f"{'pure ms':>8} {'tick ms':>8} {'tick CPU ms':>12} {'us/due':>7} "
             f"{'redis us/write':>15}"]
    for row in r["rows"]:
        lines.append(f"{row['open_cases']:>11,} {row['ops_per_s']:>12,.0f} "
                     f"{row['find_due_ms']:>8.2f} {row['load_ms']:>8.2f} "
                     f"{row['pure_tick_ms']:>8.2f} {row['tick_ms']:>8.1f} "
                     f"{row['tick_cpu_ms']:>12.1f} "
                     f"{row['tick_us_per_due']:>7.0f} {row['redis_us_per_write']:>15.1f}")
    lines.append(f"tick at the largest / smallest open count: wall {r['tick_growth']:.2f}x, "
                 f"CPU {r['tick_cpu_growth']:.2f}x")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(run()))
