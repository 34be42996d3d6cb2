"""The simulated Asterisk for the end-to-end benchmark, in a process of its own.

``python -m server.bench.sim_process --secret S --phones 200 [--seed N]``

Starts a :class:`~server.sim.Simulator` on the real reactor, listening on
127.0.0.1 (a free port), with ``--phones`` registered softphones ``PJSIP/<id>``
(ids from ``--first-id``) that answer after about 0.5 s and talk 2-4 s, and
prompts of about 0.3 s.  It prints ``{"port": N}`` as one JSON line, then waits
for a line on stdin::

    go 5,10,20,40 20

and from then on callers arrive as a Poisson process at 5 calls/s for 20 s,
10 calls/s for the next 20 s, and so on.  Callers choose a language and walk
the 95598 menu (the branches of :mod:`server.sim.traffic`, without the silent
one) a few tenths of a second after each prompt starts, never hang up early,
and answer the survey.  Every second it prints a JSON line with its figures
(``calls_started``, ``calls_active``, ``scheduled`` and ``lag_ms``, the worst
lateness of a 100 ms heartbeat timer over that second: a late timer means the
simulator itself is saturated).  It exits when stdin closes.
"""

from __future__ import annotations

import argparse
import json
import random
import sys

from twisted.internet import stdio, task
from twisted.protocols.basic import LineReceiver

from server.bench.clock import Loop
from server.sim import PromptCatalog, Simulator, shipped_user
from server.sim.scripts import COMMAND, AgentBehaviour, CallerScript, PhoneScript, Press
from server.sim.traffic import BRANCHES, NAMES

PROMPT_S = 0.3


def prompt_catalog(config_dir: str) -> PromptCatalog:
    from server.config import load_config

    cfg = load_config(config_dir, environ={})
    return PromptCatalog(durations={f"hotline/{p}": PROMPT_S for p in cfg.ivr.prompts})


def plan_phones(rng: random.Random, endpoints: list[str], calls_each: int = 60,
                talk_s: tuple[float, float] = (2.0, 4.0)) -> list[PhoneScript]:
    phones = []
    for endpoint in endpoints:
        calls = tuple(AgentBehaviour(answer_after=rng.uniform(0.4, 0.6), talk=rng.uniform(*talk_s))
                      for _ in range(calls_each))
        phones.append(PhoneScript(endpoint, calls[-1], calls=calls))
    return phones


def plan_callers(rng: random.Random, rates: list[float], step_s: float,
                 start_s: float) -> list[CallerScript]:
    """Poisson arrivals at ``rates[k]`` calls/s during step k (``step_s`` seconds each)."""
    branches = [(w, a) for w, a in BRANCHES if a != ("",)]
    weights = [w for w, _ in branches]
    scripts = []
    for k, rate in enumerate(rates):
        t, end = start_s + k * step_s, start_s + (k + 1) * step_s
        while rate > 0:
            t += rng.expovariate(rate)
            if t >= end:
                break
            answers = rng.choices([a for _, a in branches], weights)[0]
            presses = [Press("1", rng.uniform(0.1, 0.3), after=COMMAND, command="GET DATA")]
            presses += [Press(d, rng.uniform(0.1, 0.4), after=COMMAND, command="GET DATA")
                        for d in answers]
            presses.append(Press(rng.choice("123"), rng.uniform(0.1, 0.3), after=COMMAND,
                                 command="GET DATA hotline/survey "))
            number = f"13{rng.randrange(10**8, 10**9)}"
            scripts.append(CallerScript(number, rng.choice(NAMES), arrive_at=t,
                                        presses=tuple(presses)))
    return scripts


class Control(LineReceiver):
    delimiter = b"\n"

    def __init__(self, sim: Simulator, rng: random.Random, reactor) -> None:
        self.sim = sim
        self.rng = rng
        self.reactor = reactor
        self.scheduled = 0

    def lineReceived(self, line: bytes) -> None:
        parts = line.decode().split()
        if parts and parts[0] == "go":
            rates = [float(r) for r in parts[1].split(",")]
            step_s = float(parts[2])
            for script in plan_callers(self.rng, rates, step_s, self.sim.uptime()):
                self.sim.add_caller(script)
                self.scheduled += 1

    def connectionLost(self, reason=None) -> None:
        if self.reactor.running:
            self.reactor.stop()


def main(argv: list[str] | None = None) -> int:
    from twisted.internet import reactor

    p = argparse.ArgumentParser(prog="python -m server.bench.sim_process", description=__doc__)
    p.add_argument("--secret", required=True)
    p.add_argument("--username", default="hotline")
    p.add_argument("--phones", type=int, default=200)
    p.add_argument("--first-id", type=int, default=2000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--config", default="config", help="for the prompt names")
    args = p.parse_args(argv)

    rng = random.Random(args.seed)
    sim = Simulator(reactor, users=[shipped_user(args.username, args.secret)],
                    prompts=prompt_catalog(args.config), seed=args.seed)
    endpoints = [str(args.first_id + i) for i in range(args.phones)]
    for phone in plan_phones(rng, endpoints):
        sim.add_phone(phone)
    port = sim.listen(reactor, 0, "127.0.0.1").getHost().port
    control = Control(sim, rng, reactor)
    stdio.StandardIO(control)

    loop: Loop = reactor
    beat = {"last": loop.seconds(), "lag": 0.0}

    def heartbeat() -> None:
        now = loop.seconds()
        beat["lag"] = max(beat["lag"], now - beat["last"] - 0.1)
        beat["last"] = now

    def report() -> None:
        s = sim.summary()
        control.sendLine(json.dumps({
            "t": round(sim.uptime(), 3), "calls_started": s.calls_started,
            "calls_active": s.calls_active, "scheduled": control.scheduled,
            "lag_ms": round(beat["lag"] * 1000, 1)}).encode())
        beat["lag"] = 0.0

    task.LoopingCall(heartbeat).start(0.1)
    task.LoopingCall(report).start(1.0, now=False)
    control.sendLine(json.dumps({"port": port}).encode())
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
