"""``python -m server.sim``: a simulated Asterisk on TCP for the demo, in real time.

Example: ``python -m server.sim --port 5038 --callers 20 --every 3 --phones 4``
starts AMI on 127.0.0.1:5038 (user ``acd``/``secret``), registers PJSIP/1001..
PJSIP/1004 (answer after 3 s, talk 30-90 s), and sends a caller to 95598 every
3 s; callers type a digit when a GET DATA starts and give up after 60-240 s.
Ctrl-C stops it and prints the summary.

Traffic mode (the soak, ``python -m server.soak``): ``--traffic-rate R`` sends
Poisson callers across the 95598 menu (:mod:`server.sim.traffic`) at R calls/s
for ``--traffic-duration`` seconds instead of the fixed scenario;
``--agents N`` registers PJSIP/1001.. (tiers and prompt lengths from
``--config DIR`` when given), ``--talk MIN,MAX`` sets their talk times and
``--short-prompts`` makes every prompt 0.3 s.  ``--callers-log FILE`` appends
one JSON line per caller that enters (``{"ev": "enter", "uid", "linkedid",
"channel", "number", "t"}``) and one when it is gone (``{"ev": "gone", ...}``);
``--status-file FILE`` is rewritten every second with the summary figures.
``--secret-env VAR`` reads the AMI secret from the environment;
``--run-for S`` stops after S seconds; ``--wait-for FILE`` holds the traffic
(phones register at once) until FILE exists.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections.abc import Sequence
from typing import Protocol

from server.sim.ami_server import shipped_user
from server.sim.channel import Channel
from server.sim.prompts import PromptCatalog, per_language
from server.sim.scripts import COMMAND, AgentBehaviour, CallerScript, PhoneScript, Press
from server.sim.simulator import Simulator


class _Loop(Protocol):
    """The reactor as ``main`` runs and stops it.  (Calling it through Twisted's
    zope interfaces would not type-check: mypy reads their methods as lacking
    ``self``.)"""

    def run(self) -> None: ...

    def stop(self) -> None: ...


NAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "Sim Caller")


def scenario(sim: Simulator, callers: int, every: float, phones: int, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(phones):
        talk = rng.uniform(30, 90)
        sim.add_phone(PhoneScript(str(1001 + i), AgentBehaviour(3.0, talk=talk)))
    for i in range(callers):
        sim.add_caller(CallerScript(
            number=f"139{rng.randrange(10**8):08d}", name=rng.choice(NAMES),
            arrive_at=sim.uptime() + 1.0 + i * every,
            presses=(Press(rng.choice("1234"), 1.5, after=COMMAND, command="GET DATA"),),
            patience=rng.uniform(60, 240)))


class CallerLog:
    """Writes who entered and when each caller's hotline leg is gone (JSON lines)."""

    def __init__(self, sim: Simulator, path: str | None) -> None:
        self.sim = sim
        self.fh = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
        self.active: list[Channel] = []  # hotline legs (;1) not yet gone
        self.entered = 0
        self.gone = 0

    def arrive(self, script: CallerScript) -> None:
        self.sim._arrive(script)
        one = self.sim.callers[-1].one
        assert one is not None  # _arrive entered the Local pair
        self.sim.callers.clear()  # this log keeps the live ones; memory stays flat
        self.entered += 1
        self.active.append(one)
        self._write({"ev": "enter", "uid": one.uniqueid, "linkedid": one.linkedid,
                     "channel": one.name, "number": script.number, "t": self.sim.uptime(),
                     "at": self.sim.clock.seconds()})

    def tick(self) -> None:
        still = []
        for one in self.active:
            if one.hungup:
                self.gone += 1
                self._write({"ev": "gone", "uid": one.uniqueid, "t": self.sim.uptime(),
                             "at": self.sim.clock.seconds()})
            else:
                still.append(one)
        self.active = still
        if self.fh:
            self.fh.flush()

    def _write(self, line: dict) -> None:
        if self.fh:
            self.fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def traffic(sim: Simulator, args, clock, log: CallerLog) -> dict:
    from server.sim.traffic import TrafficProfile, plan_callers, plan_phones

    rng = random.Random(args.seed)
    agents = {str(1001 + i): "agent" for i in range(args.agents)}
    if args.config:
        from server.config import load_config

        cfg = load_config(args.config, environ={})
        agents = {a.interface.split("/", 1)[1]: a.tier for a in cfg.acd.agents.values()}
        if args.agents:
            agents = dict(sorted(agents.items())[:args.agents])
    lo, hi = (float(x) for x in args.talk.split(","))
    phones = plan_phones(rng, agents, calls_each=args.calls_each, talk_s=(lo, hi))
    for phone in phones:
        sim.add_phone(phone)
    profile = TrafficProfile(calls_per_minute=args.traffic_rate * 60.0)
    scripts = plan_callers(rng, args.traffic_duration, profile,
                           start_s=sim.uptime() + args.traffic_start)
    for script in scripts:
        clock.callLater(max(0.0, script.arrive_at - sim.uptime()), log.arrive, script)
    return {"phones": len(phones), "callers_planned": len(scripts)}


def _prompts(args) -> PromptCatalog | None:
    if args.short_prompts:
        return PromptCatalog(durations={}, default=0.3, say_seconds=0.1)
    if args.config:
        from server.config import load_config

        cfg = load_config(args.config, environ={})
        return PromptCatalog(durations=per_language(
            {p.name: {lang: p.duration_s or 2.5 for lang in p.texts}
             for p in cfg.ivr.prompts.values()}))
    return None


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m server.sim", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=5038)
    p.add_argument("--interface", default="127.0.0.1")
    p.add_argument("--user", default="acd")
    p.add_argument("--secret", default="secret")
    p.add_argument("--secret-env", metavar="VAR", help="read the AMI secret from $VAR")
    p.add_argument("--callers", type=int, default=10)
    p.add_argument("--every", type=float, default=5.0, help="seconds between callers")
    p.add_argument("--phones", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    t = p.add_argument_group("traffic mode (the soak)")
    t.add_argument("--traffic-rate", type=float, metavar="CALLS_PER_S",
                   help="Poisson callers across the menu instead of --callers/--every")
    t.add_argument("--traffic-duration", type=float, default=60.0, metavar="S")
    t.add_argument("--traffic-start", type=float, default=2.0, metavar="S",
                   help="first arrivals this long after start")
    t.add_argument("--agents", type=int, default=0, help="softphones PJSIP/1001..")
    t.add_argument("--config", metavar="DIR", help="agents' endpoints/tiers and prompts")
    t.add_argument("--talk", default="15,45", metavar="MIN,MAX", help="talk seconds")
    t.add_argument("--calls-each", type=int, default=40,
                   help="scripted behaviours per phone (later calls repeat the default)")
    t.add_argument("--short-prompts", action="store_true", help="every prompt lasts 0.3 s")
    t.add_argument("--wait-for", metavar="FILE",
                   help="start the traffic clock when FILE exists (checked every 0.1 s)")
    t.add_argument("--callers-log", metavar="FILE")
    t.add_argument("--status-file", metavar="FILE")
    p.add_argument("--run-for", type=float, metavar="S", help="stop after S seconds")
    args = p.parse_args(argv)
    secret = os.environ.get(args.secret_env, "") if args.secret_env else args.secret
    if args.secret_env and not secret:
        print(f"${args.secret_env} is empty", file=sys.stderr)
        return 2

    from twisted.internet import reactor, task  # the composition root of the demo

    sim = Simulator(reactor, users=[shipped_user(args.user, secret)], prompts=_prompts(args),
                    seed=args.seed)
    port = sim.listen(reactor, args.port, args.interface).getHost().port
    print(f"simulated Asterisk AMI on {args.interface}:{port}", flush=True)
    log = CallerLog(sim, args.callers_log)
    extra: dict = {}
    if args.traffic_rate and args.wait_for:
        def wait_for_go() -> None:
            if os.path.exists(args.wait_for):
                go.stop()
                extra.update(traffic(sim, args, reactor, log))
        go = task.LoopingCall(wait_for_go)
        go.start(0.1)
    elif args.traffic_rate:
        extra = traffic(sim, args, reactor, log)
    else:
        scenario(sim, args.callers, args.every, args.phones, args.seed)

    def tick() -> None:
        log.tick()
        if args.status_file:
            s = sim.summary()
            status = {"uptime": sim.uptime(), "port": port,
                      "entered": log.entered, "gone": log.gone,
                      "calls_started": s.calls_started, "calls_active": s.calls_active,
                      "channels_active": s.channels_active, "sessions": s.sessions,
                      # what a caller left on the line is doing (for the soak's verdicts)
                      "channels": [{"name": c.name, "uniqueid": c.uniqueid,
                                    "where": f"{c.context},{c.exten},{c.priority}",
                                    "application": c.application, "data": c.app_data,
                                    "agi": c.agi.current.command if c.agi and c.agi.current
                                    else None,
                                    "agi_queued": [q.command for q in
                                                   sim.core.agi_queue(c)][:5]
                                    if sim.core.has_agi(c) else []}
                                   for c in list(sim.core.channels.values())[:50]],
                      **extra}
            tmp = args.status_file + ".tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(status, fh)
            os.replace(tmp, args.status_file)

    if args.callers_log or args.status_file:
        task.LoopingCall(tick).start(1.0)
    loop: _Loop = reactor
    if args.run_for:
        task.deferLater(reactor, args.run_for, loop.stop)
    loop.run()
    if args.callers_log or args.status_file:
        tick()
    print(sim.summary(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
