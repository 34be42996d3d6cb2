"""Routing decisions: :func:`queues.bench.run_routing_bench` run R times, medians.

One decision is one input to the router (an agent finishing a call, wrap-up 0)
that ended in an offer: the whole dispatch pass over every waiting call and
eligible agent, bookkeeping included, timed with ``perf_counter_ns``.
decisions/s is decisions divided by the summed decision times (router time
only, not the driver's).
"""

from __future__ import annotations

import statistics
from typing import Any

from queues.bench import run_routing_bench


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
