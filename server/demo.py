"""``python -m server demo``: the daemon, the Asterisk simulator and a day in miniature.

Everything real except Asterisk: the daemon connects to the simulator over TCP
on loopback and logs in like it would to Asterisk, writes records to a real
redis-server (a private one in a temp dir unless ``--redis-url``), and serves
its pages.  Synthetic callers arrive as a Poisson process across the menu;
about twenty agents in four tiers answer on simulated softphones.

For tests (tests/test_secrets_logs.py): ``HOTLINE_DEMO_SECRET`` sets the AMI
secret instead of a random one, and ``HOTLINE_DEMO_LOG_LEVEL`` the log level
(default ``warn``), so a test can grep a debug-level run for the secret.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import replace

from twisted.internet import defer, task
from twisted.internet.address import IPv4Address
from twisted.logger import Logger

from queues.agents import AgentState
from queues.model import TimeRange
from server.app import Hotline, Overrides
from server.config import ConfigError, load_config
from server.daemon import start_logging
from server.demo_cases import case_summary
from server.demo_desk import DemoDesk
from server.redisproc import RedisNotAvailable, RedisProcess, free_port
from server.sim import AgentBehaviour, PromptCatalog, Simulator, shipped_user
from server.sim.prompts import per_language
from server.sim.traffic import TrafficProfile, plan_callers, plan_phones

log = Logger()


def summary(hotline: Hotline, sim: Simulator, elapsed: float, callers: int) -> dict:
    """The figures each capability adds to ``--summary`` (see the README)."""
    cc = hotline.calls
    counts = dict(hotline.events.counts)
    queues = {}
    totals: Counter[str] = Counter()
    for name in hotline.cfg.acd.queues:
        k = cc.acd.queue_kpis(name)
        for key in ("offered", "answered", "abandoned", "short_abandoned", "callbacks",
                    "overflowed"):
            totals[key] += getattr(k, key)
        queues[name] = {
            "offered": k.offered, "answered": k.answered, "abandoned": k.abandoned,
            "service_level": k.service_level, "asa_s": k.asa_s, "aht_s": k.aht_s,
        }
    c = cc.counters
    return {
        "duration_s": round(elapsed, 1),
        "ami_events": sum(counts.values()),
        "ami_events_by_type": dict(sorted(counts.items())),
        "ivr": {
            "entered": c["ivr_entered"], "finished_menu": c["ivr_finished"],
            "deflected_by_outage": c["ivr_deflected"], "self_service": c["ivr_self_service"],
            "fell_back": c["ivr_fell_back"], "hung_up_in_ivr": c["ivr_hangup"],
        },
        "calls": {**{k: totals[k] for k in ("offered", "answered", "abandoned",
                                           "short_abandoned", "callbacks", "overflowed")},
                  "in_progress": len(cc.calls)},
        "queues": queues,
        "records_written": c["records_written"],
        "calls_ended": c["calls_ended"],
        # calls_started counts the channels Originate sent into the dialplan too (the
        # agents' legs of callbacks and return visits); callers: the synthetic callers.
        "simulator": {"calls_started": sim.summary().calls_started, "callers": callers},
    }


def period_report(cfg, redis_url: str, start: float, end: float, now: float) -> defer.Deferred:
    """The headline of the period report over the demo's Redis, by the same code as
    ``python -m server report`` (server/reports). Fires with the headline dict."""
    from server.records.store import make_client
    from server.reports import builder_for, headline
    from server.reports.reader import report_deferred

    client = make_client(redis_url, timeout=30.0)
    rs = cfg.server.reports
    d = report_deferred(client, builder_for(cfg, start, end), now=now,
                        cases_timezone=cfg.cases.timezone, max_lag_s=rs.max_record_lag_s,
                        slack_s=rs.clock_slack_s)

    def close(result):
        return defer.Deferred.fromFuture(asyncio.ensure_future(client.aclose())).addBoth(
            lambda _: result)
    return d.addBoth(close).addCallback(headline)


def _progress(hotline: Hotline, started: float, reactor) -> None:
    cc = hotline.calls
    phases = Counter(str(call.phase) for call in cc.calls.values())
    states = Counter(str(cc.acd.agent(a).state) for a in hotline.cfg.acd.agents)
    events = sum(hotline.events.counts.values())
    print(f"[{reactor.seconds() - started:6.1f}s] AMI {'up' if hotline.ami.connected else 'DOWN'}"
          f" events={events} | calls ivr={phases['ivr']} queued={phases['queued']}"
          f" ringing={phases['connecting']} talking={phases['talking']}"
          f" survey={phases['survey']} ended={cc.counters['calls_ended']}"
          f" | agents ready={states['ready']} on_call={states['on_call']}"
          f" wrap_up={states['wrap_up']} paused={states['paused']}", flush=True)


def run_demo(args) -> int:
    # Long on purpose: one linear script, start to summary, in the order the demo runs.
    from twisted.internet import reactor

    try:
        # The demo's allowance: it runs the shipped demo secrets (PIN = agent id) and
        # never calls server.config.strength.secret_problems, which `server run` and
        # check-config always do.  Its pages listen on loopback only.
        cfg = load_config(args.config, environ={})
    except ConfigError as exc:
        print(f"demo: configuration problems in {args.config}:\n{exc}", file=sys.stderr)
        return 2
    if args.wrapup is not None:  # a short demo shows finished records sooner
        cfg = replace(cfg, acd=replace(cfg.acd, policy=replace(
            cfg.acd.policy, wrapup_default_s=args.wrapup)))
    # A day in miniature at any hour: the return visits (and callbacks) go out now, not
    # after quiet hours (a window of one microsecond after midnight).
    cfg = replace(cfg, acd=replace(cfg.acd, policy=replace(
        cfg.acd.policy, quiet_hours=TimeRange(dt.time(0, 0), dt.time(0, 0, 0, 1)))))
    redis = None
    redis_url = args.redis_url
    if not redis_url:
        try:
            redis = RedisProcess(appendonly=False).start()
        except RedisNotAvailable as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return 2
        redis_url = redis.url
    workdir = tempfile.mkdtemp(prefix="hotline-demo-")
    if not args.quiet:
        start_logging("text", os.environ.get("HOTLINE_DEMO_LOG_LEVEL", "warn"))
    rng = random.Random(args.seed)
    secret = os.environ.get("HOTLINE_DEMO_SECRET") or secrets.token_hex(16)
    # one file per prompt and language, as deploy/prompts/synthesize.py writes them
    durations = per_language({p.name: {lang: p.duration_s or 2.5 for lang in p.texts}
                              for p in cfg.ivr.prompts.values()})
    sim = Simulator(reactor, users=[shipped_user(cfg.server.ami.username, secret)],
                    prompts=PromptCatalog(durations=durations), seed=args.seed)
    address = sim.listen(reactor, 0, "127.0.0.1").getHost()
    assert isinstance(address, IPv4Address)  # a TCP port on 127.0.0.1
    port = address.port
    metrics_port = free_port()
    cfg = replace(cfg, server=replace(cfg.server, metrics=replace(
        cfg.server.metrics, listen=f"tcp:port={metrics_port}:interface=127.0.0.1")))
    hotline = Hotline.from_config(reactor, cfg, secret, Overrides(
        ami_endpoint=f"tcp:host=127.0.0.1:port={port}", redis_url=redis_url, spool_dir=workdir))
    agents = {a.interface.split("/", 1)[1]: a.tier for a in cfg.acd.agents.values()}
    for phone in plan_phones(rng, agents, talk_s=(8.0, 30.0)):
        sim.add_phone(phone)
    callers = plan_callers(rng, max(0.0, args.duration - 20.0), TrafficProfile(), start_s=1.0)
    for script in callers:
        sim.add_caller(script)
    http_port = free_port()
    hotline.http_site(listen=f"tcp:port={http_port}:interface=127.0.0.1")
    # The agents open, resolve and return-visit cases at their desks (through the API);
    # the customers answer their return-visit calls.
    customers = random.Random(args.seed + 1)

    def add_customer(number: str) -> None:
        sim.add_local_agent(number, AgentBehaviour(answer_after=customers.uniform(1.0, 3.0),
                                                   talk=customers.uniform(5.0, 10.0)),
                            "sim-customers")
    desk = DemoDesk(reactor, f"http://127.0.0.1:{http_port}",
                    {a.id: a.interface for a in cfg.acd.agents.values()},
                    random.Random(args.seed + 2), add_customer)
    hotline.notifier.subscribe(desk.on_publish)
    hotline.start_metrics()  # /metrics on its own port, for deploy/prometheus and grafana
    started = reactor.seconds()
    print(f"demo: simulated Asterisk on 127.0.0.1:{port}, Redis {redis_url}, "
          f"{len(agents)} agents, seed {args.seed}, {args.duration:.0f} s", flush=True)
    print(f"demo: wallboard  http://127.0.0.1:{http_port}/wallboard.html\n"
          f"demo: agent desk http://127.0.0.1:{http_port}/desk.html "
          f"(agent 1001..1020, demo PIN = the agent id)\n"
          f"demo: QA review  http://127.0.0.1:{http_port}/review.html "
          f"(users supervisor1, reviewer1: see config/agents.yaml)\n"
          f"demo: metrics    http://127.0.0.1:{metrics_port}/metrics", flush=True)

    def log_agents_in(up: bool) -> None:
        if up:  # the agents sign in on their desks as the shift starts
            for agent_id in cfg.acd.agents:
                if cc.acd.agent(agent_id).state is AgentState.LOGGED_OUT:
                    cc.acd.login(agent_id)

    cc = hotline.calls
    hotline.ami.on_state(lambda up: reactor.callLater(1.0, log_agents_in, up))
    hotline.services.startService()
    ticker = task.LoopingCall(_progress, hotline, started, reactor)
    if not args.quiet:
        ticker.start(5.0, now=False)
    result: dict = {}

    @defer.inlineCallbacks
    def finish():
        if ticker.running:
            ticker.stop()
        result.update(summary(hotline, sim, reactor.seconds() - started, len(callers)))
        # The desks' last requests and the case writes they started, then the store's figures.
        try:
            yield defer.DeferredList(list(desk.pending)).addTimeout(10, reactor)
            yield hotline.cases.drained()
            result["cases"] = yield defer.ensureDeferred(case_summary(hotline.cases, reactor))
        except Exception as exc:  # Redis gone, a desk request hung: said in the summary
            result["cases"] = {"error": repr(exc)[:200]}
        yield hotline.services.stopService()
        # After the stop, every record is in Redis: the report over the whole run
        # (whole seconds around it, so `server report --from/--to` can repeat it).
        now = reactor.seconds()
        try:
            result["report"] = yield period_report(cfg, redis_url, float(int(started)),
                                                   float(int(now) + 1), now)
        except Exception as exc:  # the summary still comes out; say why it has no report
            result["report"] = {"error": f"{type(exc).__name__}: {exc}"}
        reactor.stop()

    reactor.callLater(args.duration, finish)
    reactor.run()
    if redis is not None:
        redis.cleanup()
    shutil.rmtree(workdir, ignore_errors=True)
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 0
