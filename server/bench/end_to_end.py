"""End-to-end rate: calls through IVR, queue, agent and wrap-up, server on one core.

The server is the real one (:class:`server.app.Hotline`: AmiService over TCP,
the CallCenter adapter with IVR and ACD, DurableRecords writing every record and
the live state to a private redis-server) on the real reactor in this process.
The simulated Asterisk runs in a separate process (:mod:`server.bench.sim_process`)
on 127.0.0.1, so the two do not share a core's time.

The config is the shipped one (config/) with ``agents`` generated agents cloned
round-robin from the 20 shipped ones (same skills and tiers; PINs hashed with
1,000 PBKDF2 iterations) and a wrap-up of 1 s.  Phones answer after ~0.5 s and
talk 2-4 s; prompts last 0.3 s; callers press their keys 0.1-0.4 s into each
prompt, never abandon and answer the survey.

The offered rate is ramped (e.g. 5, 10, 20, 40 calls/s, ``step_s`` each).  In
each step the first ``warmup_s`` seconds are skipped (calls last several seconds,
so completions lag arrivals), then for the rest of the step this process's CPU
seconds (``os.times``: user + system), the simulator's and redis-server's (from
``/proc/<pid>/stat``), the completed calls (final records published by the
server) and their enqueue->offer and enqueue->answered waits are measured.  A
step is "kept up" when completions reach 80 % of the offered rate (arrivals are
Poisson, so a 12 s window is noisy), at most one second's worth of arrivals (or
5) are still waiting in a queue at its end, and the calls in progress are at most
1.5 x rate x the median call's lifetime + 10 (Little's law, with slack): no
growing backlog.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from server.config.derive import prune_teams

if TYPE_CHECKING:
    from server.bench.clock import Loop

ROOT = Path(__file__).resolve().parents[2]
_TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float:
    """utime + stime of another process, seconds (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def write_config(dest: Path, agents: int, first_id: int = 2000, wrapup_s: int = 1,
                 source: Path = ROOT / "config") -> Path:
    """The shipped config with ``agents`` agents PJSIP/<first_id>.. and a short wrap-up."""
    from server.config import hash_secret
    from server.soak.config import mixed_tiers

    shutil.copytree(source, dest, dirs_exist_ok=True)
    path = dest / "agents.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    # Tiers in turn: a tier floor travels through overflow, so even ten agents need a
    # senior in general for the complaints (check-config refuses the config otherwise).
    templates = mixed_tiers(doc["agents"], doc.get("tiers", []))
    out = []
    for i in range(agents):
        t = templates[i % len(templates)]
        aid = str(first_id + i)
        out.append({**t, "id": aid, "name": f"{t['name']}{i}", "interface": f"PJSIP/{aid}",
                    "pin_hash": hash_secret(aid, iterations=1000)})
    doc["agents"] = out
    prune_teams(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    qpath = dest / "queues.yaml"
    qdoc = yaml.safe_load(qpath.read_text(encoding="utf-8"))
    qdoc["policy"]["wrapup_default_s"] = wrapup_s
    qpath.write_text(yaml.safe_dump(qdoc, allow_unicode=True, sort_keys=False),
                     encoding="utf-8")
    return dest


def _quantiles(xs: list[float]) -> tuple[float | None, float | None]:
    if not xs:
        return None, None
    if len(xs) == 1:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=100, method="inclusive")
    return q[49], q[98]


@dataclass
class _Completions:
    """Final records as the server publishes them: (time, outcome, waits)."""

    reactor: Any
    done: list[tuple[float, str, float | None, float | None]] = field(default_factory=list)
    lifetimes: list[float] = field(default_factory=list)

    def __call__(self, topic: str, payload: dict) -> None:
        if topic != "record":
            return
        enq = offer = ans = None
        for t, kind, details in payload.get("timeline", ()):
            if kind == "enqueued" and enq is None:
                enq = float(t)
            elif kind == "offer" and offer is None and details.get("ring_start") is not None:
                offer = float(details["ring_start"])
            elif kind == "answered" and ans is None:
                ans = float(t)
        times = [float(e[0]) for e in payload.get("timeline", ())]
        self.lifetimes.append(times[-1] - times[0] if times else 0.0)
        to_offer = offer - enq if enq is not None and offer is not None else None
        to_answer = ans - enq if enq is not None and ans is not None else None
        self.done.append((self.reactor.seconds(), str(payload.get("outcome")),
                          to_offer, to_answer))


def run(rates: Sequence[float] = (10, 20, 40, 60, 80), step_s: float = 25.0,
        warmup_s: float = 13.0, agents: int = 400, seed: int = 1,
        verbose: bool = True) -> dict[str, Any]:
    """Runs the ramp once on the real reactor (so once per process: see ``run_isolated``).

    Installs Twisted's asyncio reactor, as ``python -m server run`` does (the
    record store's redis client is asyncio).
    """
    # Long on purpose: the ramp is one measured script (set-up, steps, figures) read top to bottom.
    from twisted.internet import asyncioreactor

    asyncioreactor.install()
    from twisted.internet import defer, protocol, reactor
    from twisted.internet.task import deferLater

    from queues.agents import AgentState
    from server.app import Hotline, Overrides
    from server.config import load_config
    from server.daemon import start_logging
    from server.redisproc import RedisProcess

    loop: Loop = reactor

    rates = [float(r) for r in rates]
    work = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    cfg_dir = write_config(work / "config", agents)
    cfg = load_config(cfg_dir, environ={})
    start_logging("text", "error", stream=sys.stderr)
    redis = RedisProcess(appendonly=False).start()
    assert redis.proc is not None  # start() spawned it
    redis_pid = redis.proc.pid
    secret = secrets.token_hex(16)
    result: dict[str, Any] = {}

    class SimProto(protocol.ProcessProtocol):
        def __init__(self) -> None:
            self.buf = b""
            self.port: defer.Deferred = defer.Deferred()
            self.last: dict = {}
            self.max_lag_ms = 0.0
            self.ended: defer.Deferred[None] = defer.Deferred()

        def outReceived(self, data: bytes) -> None:
            self.buf += data
            *lines, self.buf = self.buf.split(b"\n")
            for line in lines:
                msg = json.loads(line)
                if "port" in msg:
                    self.port.callback(msg["port"])
                else:
                    self.last = msg
                    self.max_lag_ms = max(self.max_lag_ms, msg["lag_ms"])

        def errReceived(self, data: bytes) -> None:
            sys.stderr.write(data.decode(errors="replace"))

        def processEnded(self, reason) -> None:
            self.ended.callback(None)

    def say(text: str) -> None:
        if verbose:
            print(text, file=sys.stderr, flush=True)

    @defer.inlineCallbacks
    def main():
        # Long on purpose: the benchmark process's whole run, in order; it runs once per process.
        sim = SimProto()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        transport = reactor.spawnProcess(
            sim, sys.executable,
            [sys.executable, "-m", "server.bench.sim_process", "--secret", secret,
             "--username", cfg.server.ami.username, "--phones", str(agents),
             "--first-id", "2000", "--seed", str(seed), "--config", str(cfg_dir)],
            env=env, path=str(ROOT))
        try:
            port = yield sim.port
            say(f"end_to_end: simulator on port {port}")
            hotline = Hotline.from_config(reactor, cfg, secret, Overrides(
                ami_endpoint=f"tcp:host=127.0.0.1:port={port}", redis_url=redis.url,
                spool_dir=str(work / "spool")))
            done = _Completions(reactor)
            hotline.notifier.subscribe(done)
            cc = hotline.calls
            hotline.services.startService()
            for _ in range(100):
                if hotline.ami.connected:
                    break
                yield deferLater(reactor, 0.1, lambda: None)
            yield deferLater(reactor, 1.0, lambda: None)
            for agent_id in cfg.acd.agents:
                if cc.acd.agent(agent_id).state is AgentState.LOGGED_OUT:
                    cc.acd.login(agent_id)
            yield deferLater(reactor, 1.0, lambda: None)
            say(f"end_to_end: AMI connected={hotline.ami.connected}")
            ready = sum(1 for a in cfg.acd.agents
                        if str(cc.acd.agent(a).state) == str(AgentState.READY))
            transport.write(f"go {','.join(str(r) for r in rates)} {step_s}\n".encode())
            t_go = reactor.seconds()

            def snap() -> dict:
                queued = sum(1 for c in cc.calls.values() if c.phase == "queued")
                return {"t": loop.seconds(), "cpu": own_cpu_s(),
                        "sim_cpu": proc_cpu_s(transport.pid),
                        "redis_cpu": proc_cpu_s(redis_pid),
                        "in_progress": len(cc.calls), "queued": queued,
                        "sim_started": sim.last.get("calls_started", 0),
                        "done": len(done.done), "sim_lag": sim.max_lag_ms}

            steps = []
            for k, rate in enumerate(rates):
                start = t_go + k * step_s
                yield deferLater(reactor, max(0.0, start + warmup_s - reactor.seconds()),
                                 lambda: None)
                sim.max_lag_ms = 0.0
                a = snap()
                yield deferLater(reactor, max(0.0, start + step_s - reactor.seconds()),
                                 lambda: None)
                b = snap()
                wall = b["t"] - a["t"]
                window = [d for d in done.done if a["t"] <= d[0] < b["t"]]
                offers = sorted(d[2] for d in window if d[2] is not None)
                answers = sorted(d[3] for d in window if d[3] is not None)
                o50, o99 = _quantiles(offers)
                a50, a99 = _quantiles(answers)
                completed = len(window) / wall
                cpu = (b["cpu"] - a["cpu"]) / wall * 100
                sim_cpu = (b["sim_cpu"] - a["sim_cpu"]) / wall * 100
                arrived = (b["sim_started"] - a["sim_started"]) / wall
                lifetimes = done.lifetimes[a["done"]:b["done"]]
                call_s = statistics.median(lifetimes) if lifetimes else 0.0
                kept_up = (completed >= 0.8 * rate
                           and b["queued"] <= max(5.0, rate)
                           and b["in_progress"] <= 1.5 * rate * max(call_s, 1.0) + 10)
                step = {
                    "offered_per_s": rate,
                    "arrived_per_s": round(arrived, 2),
                    "completed_per_s": round(completed, 2),
                    "answered": sum(1 for d in window if d[1] == "answered"),
                    "completed": len(window),
                    "server_cpu_pct": round(cpu, 1),
                    "sim_cpu_pct": round(sim_cpu, 1),
                    "redis_cpu_pct": round((b["redis_cpu"] - a["redis_cpu"]) / wall * 100, 1),
                    "cpu_ms_per_call": round((b["cpu"] - a["cpu"]) * 1000 / len(window), 2)
                    if window else None,
                    "enqueue_to_offer_p50_ms": _ms(o50), "enqueue_to_offer_p99_ms": _ms(o99),
                    "enqueue_to_answer_p50_ms": _ms(a50), "enqueue_to_answer_p99_ms": _ms(a99),
                    "in_progress_start": a["in_progress"], "in_progress_end": b["in_progress"],
                    "queued_start": a["queued"], "queued_end": b["queued"],
                    "sim_max_lag_ms": b["sim_lag"],
                    "call_s_p50": round(statistics.median(lifetimes), 2) if lifetimes else None,
                    "window_s": round(wall, 2),
                    "kept_up": kept_up,
                    "sim_saturated": sim_cpu >= 90 or b["sim_lag"] >= 250
                    or arrived < 0.85 * rate,
                }
                steps.append(step)
                say(f"end_to_end: {rate:g} calls/s offered -> {completed:.1f}/s completed, "
                    f"server CPU {cpu:.0f}%, simulator CPU {sim_cpu:.0f}%, "
                    f"queued {a['queued']}->{b['queued']}")
            kept = [s["offered_per_s"] for s in steps if s["kept_up"]]
            best = None
            for s in steps:  # the highest rate of the unbroken run of kept-up steps
                if not s["kept_up"]:
                    break
                best = s
            result.update({
                "agents": agents, "agents_ready": ready, "step_s": step_s,
                "warmup_s": warmup_s, "wrapup_s": cfg.acd.policy.wrapup_default_s,
                "records": "redis (private redis-server, no AOF)",
                "steps": steps,
                "kept_up_rates": kept,
                "max_sustained_per_s": best["offered_per_s"] if best else None,
                "server_cpu_pct_at_max": best["server_cpu_pct"] if best else None,
                "cpu_ms_per_call_at_max": best["cpu_ms_per_call"] if best else None,
                "limited_by": _limit(steps),
            })
            yield hotline.services.stopService()
        except Exception as exc:  # noqa: BLE001 - reported, then the reactor stops
            result["error"] = repr(exc)
        finally:
            transport.closeStdin()
            yield sim.ended
            reactor.stop()

    # main starts on the reactor's first turn.  (deferLater rather than
    # callWhenRunning: a call through IReactorCore does not type-check without
    # the mypy-zope plugin; deferLater takes the reactor as an IReactorTime.)
    deferLater(reactor, 0, main)
    loop.run()
    redis.cleanup()
    shutil.rmtree(work, ignore_errors=True)
    return result


def _ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1000, 1)


def _limit(steps: list[dict]) -> str:
    for s in steps:
        if s["kept_up"]:
            continue
        if s["sim_saturated"]:
            return (f"simulator (at {s['offered_per_s']:g} calls/s it used "
                    f"{s['sim_cpu_pct']:.0f}% CPU / lagged {s['sim_max_lag_ms']:.0f} ms)")
        if s["server_cpu_pct"] >= 90:
            return f"server CPU (at {s['offered_per_s']:g} calls/s)"
        return (f"backlog at {s['offered_per_s']:g} calls/s with the server at "
                f"{s['server_cpu_pct']:.0f}% CPU (not its CPU: simulator lag "
                f"{s['sim_max_lag_ms']:.0f} ms, {s['sim_cpu_pct']:.0f}% CPU, shared cores)")
    return "none within the ramp"


def run_isolated(rates, step_s, warmup_s, agents, seed=1) -> dict[str, Any]:
    """``run`` in a fresh Python process (the reactor runs once per process)."""
    import subprocess

    args = json.dumps({"rates": list(rates), "step_s": step_s, "warmup_s": warmup_s,
                       "agents": agents, "seed": seed})
    out = subprocess.run([sys.executable, "-m", "server.bench.end_to_end", args],
                         cwd=ROOT, stdout=subprocess.PIPE, check=True,
                         timeout=len(rates) * step_s + 120)
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def table(runs: list[dict]) -> str:
    """Medians over runs, one line per offered rate."""
    med = summarize(runs)
    lines = [f"end-to-end: server (this process) vs simulator (own process), "
             f"{med['agents']} agents, wrap-up {med['wrapup_s']} s, records to Redis, "
             f"{med['runs']} run(s), medians",
             f"{'offered/s':>9} {'completed/s':>11} {'server CPU%':>11} {'ms CPU/call':>11} "
             f"{'sim CPU%':>8} {'redis CPU%':>10} {'offer p50/p99 ms':>17} {'kept up':>8}"]
    for s in med["steps"]:
        lat = f"{_fmt(s['enqueue_to_offer_p50_ms'])}/{_fmt(s['enqueue_to_offer_p99_ms'])}"
        lines.append(
            f"{s['offered_per_s']:>9g} {s['completed_per_s']:>11.1f} {s['server_cpu_pct']:>11.1f} "
            f"{_fmt(s['cpu_ms_per_call']):>11} {s['sim_cpu_pct']:>8.1f} "
            f"{s['redis_cpu_pct']:>10.1f} {lat:>17} {s['kept_up_runs']:>8}")
    lines.append(f"max sustained: {_fmt(med['max_sustained_per_s'])} calls/s; limited by: "
                 f"{med['limited_by']}")
    return "\n".join(lines)


def _fmt(x) -> str:
    return "-" if x is None else f"{x:g}"


def summarize(runs: list[dict]) -> dict[str, Any]:
    """Per-step medians across runs (keys as in one run's steps)."""
    ok = [r for r in runs if "steps" in r]
    if not ok:
        return {"runs": 0, "errors": [r.get("error") for r in runs]}
    first = ok[0]
    steps = []
    for i, s0 in enumerate(first["steps"]):
        col = [r["steps"][i] for r in ok]
        step = {}
        for key, v in s0.items():
            vals = [c[key] for c in col if c[key] is not None]
            if isinstance(v, bool):
                continue
            step[key] = round(statistics.median(vals), 2) if vals else None
        step["kept_up_runs"] = f"{sum(c['kept_up'] for c in col)}/{len(col)}"
        step["kept_up"] = sum(c["kept_up"] for c in col) * 2 > len(col)
        steps.append(step)
    sustained = [r["max_sustained_per_s"] for r in ok if r["max_sustained_per_s"] is not None]
    at_max = [r["server_cpu_pct_at_max"] for r in ok if r["server_cpu_pct_at_max"] is not None]
    return {
        "runs": len(ok), "agents": first["agents"], "wrapup_s": first["wrapup_s"],
        "step_s": first["step_s"], "warmup_s": first["warmup_s"], "records": first["records"],
        "steps": steps,
        # median_low: with an even number of runs, still one of the rates offered
        "max_sustained_per_s": statistics.median_low(sustained) if sustained else None,
        "server_cpu_pct_at_max": statistics.median_low(at_max) if at_max else None,
        "limited_by": "; ".join(sorted({r["limited_by"] for r in ok})),
        "per_run": ok,
    }


if __name__ == "__main__":
    opts = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    print(json.dumps(run(**opts)), flush=True)
    sys.stderr.flush()
    os._exit(0)  # leftover non-daemon threads (the asyncio loop's executor) must not hang us
