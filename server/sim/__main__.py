"""``python -m server.sim``: a simulated Asterisk on TCP for the demo, in real time.

Example: ``python -m server.sim --port 5038 --callers 20 --every 3 --phones 4``
starts AMI on 127.0.0.1:5038 (user ``acd``/``secret``), registers PJSIP/1001..
PJSIP/1004 (answer after 3 s, talk 30-90 s), and sends a caller to 95598 every
3 s; callers type a digit when a GET DATA starts and give up after 60-240 s.
Ctrl-C stops it and prints the summary.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence

from server.sim.ami_server import AmiUser
from server.sim.scripts import COMMAND, AgentBehaviour, CallerScript, PhoneScript, Press
from server.sim.simulator import Simulator

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


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m server.sim", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=5038)
    p.add_argument("--interface", default="127.0.0.1")
    p.add_argument("--user", default="acd")
    p.add_argument("--secret", default="secret")
    p.add_argument("--callers", type=int, default=10)
    p.add_argument("--every", type=float, default=5.0, help="seconds between callers")
    p.add_argument("--phones", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from twisted.internet import reactor  # the composition root of the demo

    sim = Simulator(reactor, users=[AmiUser(args.user, args.secret)], seed=args.seed)
    port = sim.listen(reactor, args.port, args.interface)
    print(f"simulated Asterisk AMI on {args.interface}:{port.getHost().port}", flush=True)
    scenario(sim, args.callers, args.every, args.phones, args.seed)
    reactor.run()
    print(sim.summary(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
