"""The soak and chaos report: figures for the verdict, and the text printed at the end."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ms", "print_report", "rss_table"]


def ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1000, 3)


def rss_table(samples: list[dict[str, Any]], rows: int = 12) -> list[dict[str, Any]]:
    have = [s for s in samples if "rss_mb" in s]
    if len(have) <= rows:
        return have
    step = (len(have) - 1) / (rows - 1)
    return [have[round(i * step)] for i in range(rows)]


def print_report(r: dict[str, Any]) -> None:
    print(f"\n==== {r['mode']} report  {json.dumps(r['parameters'])}")
    for key in ("entered", "handled", "abandoned", "other_outcomes", "lost",
                "lost_still_on_line", "lost_on_line_by_phase", "records_in_stream",
                "distinct_calls_in_stream",
                "records_not_matching_a_caller", "duplicated_entries", "routing_decisions",
                "routing_p50_ms", "routing_p99_ms", "answer_wait_p50_s", "answer_wait_p99_s",
                "cpu_pct_mean", "cpu_pct_max", "sim_cpu_pct_max", "rss_mb_first_last_max",
                "drain_s",
                "sim_calls_up_at_end", "live_records_left", "stale_live_call_state",
                "live_state_left", "agents_stuck",
                "agents_at_end", "daemon_starts"):
        print(f"  {key:30} {r.get(key)}")
    print("  RSS over time (s after go, daemon MB, daemon CPU%, simulator CPU%):")
    for s in r["rss_over_time"]:
        print(f"    {s['t']:8.1f}  {s['rss_mb']:8.1f}  {s.get('cpu_pct')}  {s.get('sim_cpu_pct')}"
              f"  (daemon start {s['daemon_start']})")
    for e in r["chaos"]:
        print(f"  chaos at {e['at_s']:7.1f} s: {e['kind']:14} back after {e['back_after_s']} s"
              f"  {e['detail']}")
    for n in r["notes"]:
        print(f"  note: {n}")
    for w in r.get("warnings", []):
        print(f"  warning: {w}")
    print(f"  violations: {len(r['violations'])}")
    for line in r["violations"][:200]:
        print(f"    - {line}")
    print("  VERDICT: " + ("OK" if r["ok"] else "FAILED"))
