"""Routing decisions: 2,000 agents, 5,000 waiting calls, 30 skills; R runs, medians.

``run_routing_bench`` builds a centre (``skills`` queues, one per skill, mixed
priorities and strategies; agents with 3-5 skills at levels 1-5 in four tiers), fills
the queues with ``calls`` waiting callers, logs every agent in, then runs the steady
state: an agent finishes a call (wrap-up 0), the router picks the next call for
them, and a new caller arrives so the backlog stays at ``calls``.  Each timed sample
is one input that ended in an offer: the whole dispatch pass over every waiting
call and eligible agent, bookkeeping included, timed with ``perf_counter_ns``.
Timers are recorded but not fired; the clock creeps 10 ms per decision.
decisions/s is decisions divided by the summed decision times (router time
only, not the driver's).  ``run`` repeats it and takes medians.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from queues.items import Decision, Outcome, WorkItem
from queues.model import Agent, EscalationStep, Queue, Strategy
from queues.router import Router
from server.bench.acd_sample import make_agent, make_config, make_policy, make_queue

__all__ = ["run", "run_routing_bench", "table"]

_T0 = 1_795_000_000.0  # a weekday mid-morning in Asia/Shanghai, outside quiet hours


class _Handle:
    __slots__ = ("live",)

    def __init__(self) -> None:
        self.live = True

    def cancel(self) -> None:
        self.live = False

    def active(self) -> bool:
        return self.live


class _Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def seconds(self) -> float:
        return self.t

    def callLater(self, delay: float, f: Callable[..., Any], *args: Any) -> _Handle:
        return _Handle()


class _Sink:
    """Keeps only what the driver needs: who was last offered what."""

    def __init__(self) -> None:
        self.offers: list[tuple[str, str]] = []

    def offer(self, item: WorkItem, agent_id: str, decision: Decision) -> None:
        self.offers.append((item.id, agent_id))

    place_callback = offer

    def cancel_offer(self, *a: object) -> None:
        pass

    agent_state_changed = call_abandoned = call_overflowed = cancel_offer
    callback_requested = work_item_failed = cancel_offer


def _centre(
    rnd: random.Random, agents: int, skills: int
) -> tuple[list[str], list[Queue], list[Agent]]:
    """Skill names, one queue per skill, and the staff (drawn from ``rnd`` in order)."""
    names = [f"sk{i:02d}" for i in range(skills)]
    strategies = list(Strategy)
    queues = [
        make_queue(n, {n: rnd.randint(1, 3)}, priority=rnd.randint(1, 5),
                   strategy=strategies[i % len(strategies)],
                   escalation=(EscalationStep(30, min_level=1),),
                   min_tier="senior" if i % 10 == 0 else None)
        for i, n in enumerate(names)
    ]  # fmt: skip
    tiers = ["trainee", "agent", "agent", "senior", "lead"]

    def skillset() -> dict[str, int]:
        return {s: rnd.randint(1, 5) for s in rnd.sample(names, rnd.randint(3, 5))}

    staff = [make_agent(f"ag{i:05d}", skillset(), rnd.choice(tiers)) for i in range(agents)]
    return names, queues, staff


def run_routing_bench(
    agents: int = 2000, calls: int = 5000, skills: int = 30, seed: int = 1
) -> dict[str, Any]:
    rnd = random.Random(seed)
    names, queues, staff = _centre(rnd, agents, skills)
    clock = _Clock(_T0)
    sink = _Sink()
    r = Router(make_config(queues, staff, make_policy(wrapup_s=0)), clock, sink)
    n = 0

    def arrive() -> None:
        nonlocal n
        n += 1
        r.enqueue(f"c{n}", rnd.choice(names))

    for _ in range(calls):
        arrive()
        clock.t += 0.001
    for a in staff:
        r.login(a.id)  # each login that finds a call is a decision too (not timed)
    ringing = dict(sink.offers)  # item -> agent
    sink.offers.clear()
    for item_id in list(ringing):
        r.offer_result(item_id, Outcome.ANSWERED)
    talking = list(ringing)
    for _ in range(len(talking)):
        arrive()

    samples: list[float] = []
    target = calls
    t_start = time.perf_counter()
    while len(samples) < target and talking:
        item_id = talking.pop(0)
        clock.t += 0.01
        t0 = time.perf_counter_ns()
        r.call_ended(item_id)  # wrap-up 0: the agent is ready and dispatch runs
        dt_ns = time.perf_counter_ns() - t0
        if sink.offers:
            samples.append(dt_ns / 1000.0)
            for iid, _ in sink.offers:
                r.offer_result(iid, Outcome.ANSWERED)
                talking.append(iid)
                arrive()
            sink.offers.clear()
    wall = time.perf_counter() - t_start
    samples.sort()
    q = statistics.quantiles(samples, n=100) if len(samples) >= 2 else samples * 99
    return {
        "agents": agents,
        "waiting_calls": calls,
        "skills": skills,
        "decisions": len(samples),
        "p50_us": round(q[49], 1),
        "p99_us": round(q[98], 1),
        "mean_us": round(statistics.fmean(samples), 1) if samples else None,
        "decisions_per_s": round(len(samples) / (sum(samples) / 1e6), 1) if samples else None,
        "wall_s": round(wall, 3),
    }


def run(runs: int = 5, agents: int = 2000, calls: int = 5000, skills: int = 30,
        seed: int = 1) -> dict[str, Any]:
    per_run = [run_routing_bench(agents=agents, calls=calls, skills=skills, seed=seed)
               for _ in range(runs)]

    def med(key: str) -> float | None:
        vals = [r[key] for r in per_run if r[key] is not None]
        return round(statistics.median(vals), 1) if vals else None

    return {
        "agents": agents, "waiting_calls": calls, "skills": skills, "runs": runs,
        "decisions_per_run": per_run[0]["decisions"],
        "p50_us": med("p50_us"), "p99_us": med("p99_us"), "mean_us": med("mean_us"),
        "decisions_per_s": med("decisions_per_s"),
        "per_run": per_run,
    }


def table(fig: dict) -> str:
    head = (f"routing: {fig['agents']:,} agents, {fig['waiting_calls']:,} waiting calls, "
            f"{fig['skills']} skills, {fig['decisions_per_run']:,} decisions/run, "
            f"{fig['runs']} runs, medians")
    cols = f"{'p50 us':>10}{'p99 us':>10}{'mean us':>10}{'decisions/s':>14}"
    row = (f"{fig['p50_us']:>10,.1f}{fig['p99_us']:>10,.1f}{fig['mean_us']:>10,.1f}"
           f"{fig['decisions_per_s']:>14,.0f}")
    return "\n".join([head, cols, row])
