"""One soak or chaos run, start to verdict."""

from __future__ import annotations

import os
import random
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import redis

from server.redisproc import RedisProcess, free_port
from server.soak.check import (
    ChaosEvent,
    Verdict,
    add_buckets,
    bucket_quantile,
    judge,
    read_callers,
    read_live_phases,
    read_live_state_counts,
    read_records,
    routing_buckets,
)
from server.soak.config import SUPERVISOR, supervisor_password, write_config
from server.soak.procs import AmiProxy, DaemonProcess, Http, ProcSampler, RigError, SimProcess
from server.soak.report import ms, rss_table

REPO = Path(__file__).resolve().parents[2]
KINDS = ("daemon_kill", "link_cut", "redis_restart")
T = TypeVar("T")


@dataclass
class Options:
    rate: float = 30.0
    agents: int = 300
    duration: float = 600.0
    seed: int = 1
    chaos: bool = False
    short_prompts: bool = False
    talk: str | None = None  # "MIN,MAX"; None: sized so the floor is about 80 % busy
    wrapup: float | None = 2.0
    drain: float = 180.0
    sample_every: float = 5.0
    config: str = str(REPO / "config")
    chaos_events: dict[str, int] = field(default_factory=dict)  # kind → count
    keep: bool = False
    quiet: bool = False
    log_level: str | None = None  # daemon log level; default error (soak), info (chaos)


def auto_talk(o: Options) -> str:
    """Talk times so that the agents are about 80 % busy at the offered rate."""
    to_agents = 0.85 * o.rate  # about 15 % end in self-service, deflection or hang-up
    cycle = 0.8 * o.agents / max(to_agents, 0.01)  # seconds of one agent per call
    talk = max(1.0, cycle - (o.wrapup or 30.0) - 2.0)  # minus wrap-up and ringing
    return f"{max(0.5, talk * 0.5):.1f},{talk * 1.5:.1f}"


class Run:
    def __init__(self, o: Options) -> None:
        self.o = o
        self.workdir = Path(tempfile.mkdtemp(prefix="hotline-soak-"))
        self.secret = secrets.token_hex(16)
        self.env = {**os.environ, "HOTLINE_AMI_SECRET": self.secret,
                    "PYTHONPATH": str(REPO)}
        # The rig's parts, built one by one by start(); stop() stops those that exist.
        # Everything else reads them through the properties below, which fail
        # with a RigError before start() has built them.
        self._redis: RedisProcess | None = None
        self._sim: SimProcess | None = None
        self._proxy: AmiProxy | None = None  # chaos runs only
        self._daemon: DaemonProcess | None = None
        self._http: Http | None = None
        self.metrics_url = ""
        self.sampler = ProcSampler()
        self.sim_sampler = ProcSampler()  # the simulator saturates before the daemon does
        self.samples: list[dict[str, Any]] = []
        self.buckets_done: dict[float, float] = {}  # earlier daemon lives
        self.buckets_now: dict[float, float] = {}  # the current one, last scrape
        self.chaos: list[ChaosEvent] = []
        self.sup_token: str | None = None
        self.agent_restarts: list[dict[str, Any]] = []
        self.t0 = time.time()
        self.notes: list[str] = []

    @property
    def redis(self) -> RedisProcess:
        return _built(self._redis, "redis-server")

    @property
    def sim(self) -> SimProcess:
        return _built(self._sim, "simulator")

    @property
    def proxy(self) -> AmiProxy:
        return _built(self._proxy, "AMI proxy (chaos runs only)")

    @property
    def daemon(self) -> DaemonProcess:
        return _built(self._daemon, "daemon")

    @property
    def http(self) -> Http:
        return _built(self._http, "daemon's HTTP client")

    def say(self, msg: str) -> None:
        if not self.o.quiet:
            print(f"[{time.time() - self.t0:7.1f}s] {msg}", flush=True)

    # ------------------------------------------------------------ start
    def start(self) -> None:
        o = self.o
        self._redis = RedisProcess(directory=str(self.workdir / "redis"), appendonly=True)
        (self.workdir / "redis").mkdir()
        self.redis.start()
        talk = o.talk or auto_talk(o)
        self.longest_talk = float(talk.split(",")[1])
        sim_args = ["--user", "hotline", "--secret-env", "HOTLINE_AMI_SECRET",
                    "--traffic-rate", str(o.rate), "--traffic-duration", str(o.duration),
                    "--traffic-start", "1", "--agents", str(o.agents), "--seed", str(o.seed),
                    "--talk", talk, "--calls-each", "10"]
        cfg_dir = self.workdir / "config"
        http_port, metrics_port = free_port(), free_port()
        # The simulator takes its agents' tiers and prompts from the generated config;
        # it needs the AMI port first, so write the config twice.
        write_config(o.config, cfg_dir, agents=o.agents, ami_endpoint="tcp:host=127.0.0.1:port=1",
                     redis_url=self.redis.url, http_port=http_port, metrics_port=metrics_port,
                     workdir=self.workdir, wrapup_s=o.wrapup)
        sim_args += ["--config", str(cfg_dir)]
        if o.short_prompts:
            sim_args.append("--short-prompts")
        self._sim = SimProcess(self.workdir, sim_args, self.env).start()
        ami_port = self.sim.port
        if o.chaos:
            self._proxy = AmiProxy(self.sim.port).start()
            ami_port = self._proxy.port
        write_config(o.config, cfg_dir, agents=o.agents,
                     ami_endpoint=f"tcp:host=127.0.0.1:port={ami_port}",
                     redis_url=self.redis.url, http_port=http_port, metrics_port=metrics_port,
                     workdir=self.workdir, wrapup_s=o.wrapup,
                     log_level=o.log_level or ("info" if o.chaos else "error"))
        self._http = Http(http_port)
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        self._daemon = DaemonProcess(self.workdir, cfg_dir, self.env).start()
        self.say(f"workdir {self.workdir}; redis :{self.redis.port}, simulator :{self.sim.port}"
                 + (f" via proxy :{self._proxy.port}" if self._proxy else "")
                 + f", daemon pid {self.daemon.pid} http :{http_port} metrics :{metrics_port}; "
                 f"{o.agents} agents talk {talk} s, wrap-up {o.wrapup} s, "
                 f"{o.rate}/s for {o.duration:.0f} s, seed {o.seed}")
        self.bring_agents_in(first=True)
        self.sim.go()
        self.t_go = time.time()

    def wait_http(self, timeout: float = 60.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.daemon.alive():
                raise RigError(f"daemon exited with {self.daemon.returncode}; see "
                               f"{self.workdir}/daemon.log")
            try:
                self.sup_token = self.http.login(SUPERVISOR, supervisor_password())
                if self.sup_token:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RigError(f"daemon HTTP not up in {timeout:.0f} s; see {self.workdir}/daemon.log")

    def wait_ami(self, timeout: float = 60.0) -> None:
        """Until /metrics says the AMI link is up: the daemon brings it up only after
        it has restored its live state from Redis (server/app.py _StartUp), so the
        snapshot after this shows what the restart kept, not a half-restored floor."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if "hotline_ami_connected 1.0" in self.http.text(self.metrics_url, timeout=5):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.notes.append(f"AMI link not up {timeout:.0f} s after a daemon start")

    def snapshot(self) -> dict | None:
        try:
            code, body = self.http.call("GET", "/api/snapshot", token=self.sup_token)
        except OSError:
            return None
        return body if code == 200 else None

    def bring_agents_in(self, first: bool = False) -> dict[str, int]:
        """Sign every agent in and set ready (as their desks would after a restart).

        Returns the agents' states as the daemon had them before (after a restart:
        what it restored from Redis)."""
        self.wait_http()
        self.wait_ami()
        before: dict[str, int] = {}
        snap = self.snapshot() or {}
        by_id = {a["id"]: a["state"] for a in snap.get("agents", [])}
        for s in by_id.values():
            before[s] = before.get(s, 0) + 1
        failed = 0
        for i in range(self.o.agents):
            aid = str(1001 + i)
            if by_id.get(aid, "logged_out") != "logged_out":
                continue  # restored: its desk only signs in again, the state stays
            token = self.http.login(aid, aid)
            code, _ = (0, None) if token is None else self.http.call(
                "POST", f"/api/agents/{aid}/state", {"state": "ready"}, token=token)
            failed += code != 200
        if failed:
            self.notes.append(f"{failed} agents could not be set ready "
                              f"({'start' if first else 'after restart'})")
        # Ready agents whose phones the daemon has not seen yet become paused
        # (device offline) until the AMI link and the device states are in: wait.
        deadline = time.time() + 30
        while time.time() < deadline:
            snap = self.snapshot() or {}
            states = snap.get("agents_by_state", {})
            if states.get("logged_out", 0) == 0 and states.get("ready", 0) + states.get(
                    "on_call", 0) + states.get("reserved", 0) + states.get("wrap_up", 0) > 0:
                break
            time.sleep(0.3)
        return before

    # ------------------------------------------------------------ sampling
    def sample(self) -> None:
        t = time.time() - self.t_go
        row: dict[str, Any] = {"t": round(t, 1), "daemon_start": self.daemon.starts}
        s = self.sampler.sample(self.daemon.pid) if self.daemon.alive() else None
        if s:
            row["rss_mb"], row["cpu_pct"] = round(s[0], 1), (None if s[1] is None
                                                              else round(s[1], 1))
        try:
            self.buckets_now = routing_buckets(self.http.text(self.metrics_url, timeout=5))
        except OSError:
            pass
        ss = self.sim_sampler.sample(self.sim.pid)
        if ss and ss[1] is not None:
            row["sim_cpu_pct"] = round(ss[1], 1)
        st = self.sim.status()
        row["entered"], row["sim_calls_up"] = st.get("entered"), st.get("calls_active")
        self.samples.append(row)
        self.say(f"t={row['t']:6.1f} rss={row.get('rss_mb')} MB cpu={row.get('cpu_pct')}% "
                 f"entered={row['entered']} up={row['sim_calls_up']} "
                 f"sim_cpu={row.get('sim_cpu_pct')}%")

    # ------------------------------------------------------------ chaos
    def plan_chaos(self) -> list[tuple[float, str]]:
        rng = random.Random(self.o.seed)
        counts = self.o.chaos_events or {k: max(1, int(self.o.duration // 100)) for k in KINDS}
        plan = []
        for kind, n in counts.items():
            for _ in range(n):
                plan.append((rng.uniform(0.1, 0.8) * self.o.duration, kind))
        return sorted(plan)

    def do_chaos(self, kind: str, rng: random.Random) -> None:
        at = time.time()
        if kind == "daemon_kill":
            pid = self.daemon.pid
            self.buckets_done = add_buckets(self.buckets_done, self.buckets_now)
            self.buckets_now = {}
            self.daemon.kill9()
            self.daemon.start()
            before = self.bring_agents_in()
            self.agent_restarts.append({"at": round(at - self.t_go, 1),
                                        "states_restored": before})
            detail = f"pid {pid} killed; daemon restored agent states {before}"
        elif kind == "link_cut":
            n = self.proxy.cut()
            detail = f"{n} sockets closed"
        elif kind == "redis_restart":
            outage = rng.uniform(1.0, 5.0)
            self.redis.kill()
            time.sleep(outage)
            self.redis.start()
            detail = f"down {outage:.1f} s"
        else:
            raise ValueError(kind)
        self.chaos.append(ChaosEvent(at, kind, time.time(), detail))
        self.say(f"CHAOS {kind}: {detail}")

    # ------------------------------------------------------------ the run
    def traffic_phase(self) -> None:
        plan = self.plan_chaos() if self.o.chaos else []
        rng = random.Random(self.o.seed + 1)
        end = self.t_go + self.o.duration + 1.0
        next_sample = time.time()
        while time.time() < end:
            now = time.time()
            if plan and now - self.t_go >= plan[0][0]:
                self.do_chaos(plan.pop(0)[1], rng)
                continue
            if now >= next_sample:
                self.sample()
                next_sample = now + self.o.sample_every
            time.sleep(0.1)

    def drain_phase(self) -> float:
        """Until no caller is up and the stream stops growing (bounded by --drain)."""
        start = time.time()
        deadline = start + self.o.drain
        client = redis.Redis.from_url(self.redis.url, socket_timeout=5)
        last, stable_since = -1, time.time()
        next_sample = time.time()
        try:
            while time.time() < deadline:
                if time.time() >= next_sample:
                    self.sample()
                    next_sample = time.time() + self.o.sample_every
                try:
                    n = client.xlen("hotline:records")
                except redis.RedisError:
                    n = -1
                if n != last:
                    last, stable_since = n, time.time()
                up = self.sim.status().get("calls_active")
                live = len(list(client.scan_iter("hotline:call:*", count=500)))
                if up == 0 and live == 0 and time.time() - stable_since > 3:
                    break
                time.sleep(0.5)
        finally:
            client.close()
        return time.time() - start

    def finish(self) -> tuple[Verdict, dict[str, Any]]:
        try:
            self.buckets_now = routing_buckets(self.http.text(self.metrics_url, timeout=5))
        except OSError:
            pass
        snap = self.snapshot()
        status = self.sim.status()
        client = redis.Redis.from_url(self.redis.url, socket_timeout=10)
        try:
            entries, seen, live = read_records(client)
            live_state = read_live_state_counts(client)
            phases = read_live_phases(client)
        finally:
            client.close()
        callers = read_callers(self.sim.callers_log)
        v = judge(callers, entries, seen, live, snap, self.chaos, status.get("calls_active"),
                  phases, stuck_after_s=self.longest_talk * 1.5 + 60.0)
        buckets = add_buckets(self.buckets_done, self.buckets_now)
        v.figures["routing_p50_ms"] = ms(bucket_quantile(0.5, buckets))
        v.figures["routing_p99_ms"] = ms(bucket_quantile(0.99, buckets))
        v.figures["routing_decisions"] = int(max(buckets.values(), default=0))
        v.figures["sim_entered"] = status.get("entered")
        v.figures["sim_calls_up_at_end"] = status.get("calls_active")
        v.figures["live_state_left"] = live_state
        v.figures["daemon_starts"] = self.daemon.starts
        return v, {"snapshot_states": (snap or {}).get("agents_by_state")}

    def stop(self) -> None:
        for part in (self._daemon, self._sim, self._proxy, self._redis):
            if part is not None:
                try:
                    part.stop()
                except Exception as exc:  # noqa: BLE001 - stop everything regardless
                    print(f"stopping {part}: {exc}")
        if not self.o.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _built(part: T | None, name: str) -> T:
    """``part`` once :meth:`Run.start` has built it."""
    if part is None:
        raise RigError(f"the {name} is not running: Run.start() has not built it")
    return part


def execute(o: Options) -> dict[str, Any]:
    """Run, judge and return the report (``report["ok"]`` is the verdict)."""
    run = Run(o)
    report: dict[str, Any] = {"mode": "chaos" if o.chaos else "soak",
                              "parameters": {"rate": o.rate, "agents": o.agents,
                                             "duration_s": o.duration, "seed": o.seed,
                                             "short_prompts": o.short_prompts,
                                             "wrapup_s": o.wrapup}}
    try:
        run.start()
        run.traffic_phase()
        report["drain_s"] = round(run.drain_phase(), 1)
        verdict, extra = run.finish()
    finally:
        run.stop()
    cpu = [s["cpu_pct"] for s in run.samples if s.get("cpu_pct") is not None]
    rss = [s["rss_mb"] for s in run.samples if "rss_mb" in s]
    report.update(verdict.figures)
    report["cpu_pct_mean"] = round(sum(cpu) / len(cpu), 1) if cpu else None
    report["cpu_pct_max"] = max(cpu) if cpu else None
    sim_cpu = [s["sim_cpu_pct"] for s in run.samples if "sim_cpu_pct" in s]
    report["sim_cpu_pct_max"] = max(sim_cpu) if sim_cpu else None
    report["rss_mb_first_last_max"] = [rss[0], rss[-1], max(rss)] if rss else None
    report["rss_over_time"] = rss_table(run.samples)
    report["agents_at_end"] = extra["snapshot_states"]
    report["chaos"] = [{"at_s": round(e.at - run.t_go, 1), "kind": e.kind,
                        "back_after_s": round(e.until - e.at, 1), "detail": e.detail}
                       for e in run.chaos]
    report["notes"] = run.notes
    report["lost_calls"] = verdict.lost
    report["stuck_agents"] = verdict.stuck
    report["violations"] = verdict.violations
    report["warnings"] = verdict.warnings
    report["ok"] = not verdict.violations
    return report
