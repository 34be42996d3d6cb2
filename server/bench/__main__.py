"""``python -m server.bench [--only ami,routing,readopt,cases,reports,e2e] [--json FILE] ...``.

ami: AMI ingest (server/bench/ami_ingest.py); routing: ACD decisions with
2,000 agents and 5,000 waiting calls (server/bench/routing.py); e2e: calls/s
the server sustains against the simulator in another process, with CPU%
(server/bench/end_to_end.py); cases: open and move 100,000 service cases in
Redis, then time the tick that finds what is due (server/bench/cases.py);
reports: a month of 1.5 million records into one period report, time and peak
memory, and the Redis read path per record (server/bench/reports.py).  Each
prints a table; medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import ami_ingest, cases, end_to_end, readopt, reports, routing

ALL = ("ami", "routing", "readopt", "cases", "reports", "e2e")


def summary(figures: dict) -> str:
    """A few README-ready lines."""
    lines = ["", "Summary (medians; README-ready):"]
    a = figures.get("ami_ingest")
    if a:
        d = a["dispatch"]
        lines.append(f"- AMI ingest: {d['events_per_s_median']:,.0f} events per CPU second "
                     f"parsed and dispatched to the hotline's subscribers; Asterisk's "
                     f"~12,000 events/s would take {d['cpu_fraction_at_asterisk_max']:.0%} "
                     f"of one core.")
    r = figures.get("routing")
    if r:
        lines.append(f"- Routing with {r['agents']:,} agents, {r['waiting_calls']:,} waiting "
                     f"calls and {r['skills']} skills: p50 {r['p50_us']:,.0f} us, p99 "
                     f"{r['p99_us']:,.0f} us per decision, {r['decisions_per_s']:,.0f} "
                     f"decisions/s.")
    ro = figures.get("readopt")
    if ro:
        lines.append(f"- Re-adoption after a restart: {ro['calls']:,} live calls restored and "
                     f"reconciled in {ro['seconds_median'] * 1000:,.0f} ms (median; target 3 s).")
    c = figures.get("cases")
    if c:
        rows = c["rows"]
        lines.append(f"- Cases: a tick handling {c['due']} due cases takes "
                     f"{rows[0]['tick_ms']:.0f} ms with {rows[0]['open_cases']:,} open cases and "
                     f"{rows[-1]['tick_ms']:.0f} ms with {rows[-1]['open_cases']:,} "
                     f"(wall {c['tick_growth']:.2f}x, CPU {c['tick_cpu_growth']:.2f}x); finding "
                     f"them {rows[-1]['find_due_ms']:.1f} ms.")
    rp = figures.get("reports")
    if rp:
        big, rd = rp["aggregate"][-1], rp["redis"]
        lines.append(f"- Reports: {big['records']:,} generated records (a month) into one "
                     f"report in {big['seconds']:.0f} s, peak {big['peak_mb']:.0f} MB "
                     f"({rp['aggregate'][0]['peak_mb']:.0f} MB for a tenth of them: the "
                     f"repeat-contact window, not the records); read from Redis "
                     f"{rd['us_per_record']:.0f} us per record ({rd['records']:,} measured; "
                     f"1.5 million about {rd['extrapolated_1_5m_s']:.0f} s).")
    e = figures.get("end_to_end")
    if e and e.get("runs"):
        rates = ", ".join(
            f"{s['offered_per_s']:g}/s: {s['completed_per_s']:.1f} done, "
            f"{s['server_cpu_pct']:.0f}% CPU"
            + ("" if s["kept_up"] else " (not kept up)") for s in e["steps"])
        lines.append(f"- End to end (IVR, queue, agent, wrap-up, survey; records to Redis; "
                     f"simulator in its own process; {e['agents']} agents): sustained "
                     f"{e['max_sustained_per_s'] or 0:g} calls/s; server CPU of one core by "
                     f"offered rate: {rates}. Limited by: {e['limited_by']}.")
    elif e:
        lines.append(f"- End to end: failed: {e.get('errors')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    # Long on purpose: the command line and one branch per benchmark part, in the order they run.
    parser = argparse.ArgumentParser(prog="python -m server.bench", description=__doc__)
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--only", default=",".join(ALL),
                        help="comma-separated benchmarks to run: "
                                            f"{','.join(ALL)} (default all)")
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement")
    parser.add_argument("--events", type=int, default=200_000, help="AMI ingest: events per run")
    parser.add_argument("--chunk", type=int, default=64 * 1024,
                        help="AMI ingest: bytes per dataReceived")
    parser.add_argument("--agents", type=int, default=2000, help="routing: agents")
    parser.add_argument("--readopt-calls", type=int, default=1000,
                        help="readopt: live calls re-adopted after a restart")
    parser.add_argument("--calls", type=int, default=5000, help="routing: waiting calls")
    parser.add_argument("--skills", type=int, default=30, help="routing: skills")
    parser.add_argument("--cases", default="1000,10000,100000",
                        help="cases: open-case counts to measure the tick at")
    parser.add_argument("--cases-due", type=int, default=200, help="cases: due per tick")
    parser.add_argument("--reports-records", type=int, default=1_500_000,
                        help="reports: generated records aggregated (a month of a busy centre)")
    parser.add_argument("--reports-redis", type=int, default=100_000,
                        help="reports: records written to and read back from Redis")
    parser.add_argument("--e2e-runs", type=int, default=None,
                        help="end-to-end runs (default: --runs, at most 3: each takes minutes)")
    parser.add_argument("--e2e-rates", default="10,20,40,60,80", help="offered calls/s, ramped")
    parser.add_argument("--e2e-step", type=float, default=25.0, help="seconds per rate")
    parser.add_argument("--e2e-warmup", type=float, default=13.0,
                        help="seconds of each step before measuring")
    parser.add_argument("--e2e-agents", type=int, default=400, help="agents and phones")
    args = parser.parse_args(argv)
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    unknown = only - set(ALL)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {', '.join(ALL)}")

    figures: dict = {}
    if "ami" in only:
        figures["ami_ingest"] = ami_ingest.run(args.events, args.runs, args.chunk)
        print(ami_ingest.table(figures["ami_ingest"]), flush=True)
    if "routing" in only:
        figures["routing"] = routing.run(args.runs, args.agents, args.calls, args.skills)
        print("\n" + routing.table(figures["routing"]), flush=True)
    if "readopt" in only:
        figures["readopt"] = readopt.run_readopt_bench(args.readopt_calls, args.runs)
        readopt.print_table(figures["readopt"])
    if "cases" in only:
        points = [int(x) for x in args.cases.split(",")]
        figures["cases"] = cases.run(points, args.cases_due, args.runs)
        print("\n" + cases.table(figures["cases"]), flush=True)
    if "reports" in only:
        figures["reports"] = reports.run(args.reports_records, args.reports_redis)
        print("\n" + reports.table(figures["reports"]), flush=True)
    if "e2e" in only:
        runs = args.e2e_runs if args.e2e_runs is not None else min(args.runs, 3)
        rates = [float(r) for r in args.e2e_rates.split(",")]
        per_run = []
        for _ in range(runs):
            try:
                per_run.append(end_to_end.run_isolated(rates, args.e2e_step, args.e2e_warmup,
                                                       args.e2e_agents))
            except Exception as exc:  # noqa: BLE001 - a failed run is reported, not fatal
                per_run.append({"error": repr(exc)})
        figures["end_to_end"] = end_to_end.summarize(per_run)
        if figures["end_to_end"].get("runs"):
            print("\n" + end_to_end.table(per_run), flush=True)
    print(summary(figures))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=2, sort_keys=True)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
