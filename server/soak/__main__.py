"""``python -m server.soak run|chaos``: see server/soak/__init__.py."""

from __future__ import annotations

import argparse
import json
import sys

from server.soak.report import print_report
from server.soak.runner import KINDS, Options, execute


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m server.soak")
    sub = p.add_subparsers(dest="command", required=True)
    for name, dur in (("run", 600.0), ("chaos", 300.0)):
        sp = sub.add_parser(name, help="soak" if name == "run" else "soak with faults")
        sp.add_argument("--rate", type=float, default=30.0, help="new calls per second")
        sp.add_argument("--agents", type=int, default=300)
        sp.add_argument("--duration", type=float, default=dur, metavar="S")
        sp.add_argument("--seed", type=int, default=1)
        sp.add_argument("--short-prompts", action="store_true",
                        help="every prompt 0.3 s (default: the config's lengths)")
        sp.add_argument("--talk", metavar="MIN,MAX",
                        help="agents' talk seconds (default: sized for ~80%% occupancy)")
        sp.add_argument("--wrapup", type=float, default=2.0, metavar="S",
                        help="after-call work per call (the shipped policy is 30 s)")
        sp.add_argument("--drain", type=float, default=180.0, metavar="S",
                        help="at most this long for the last calls to finish")
        sp.add_argument("--sample-every", type=float, default=5.0, metavar="S")
        sp.add_argument("--config", default=None, help="config dir to start from")
        sp.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
        sp.add_argument("--log-level", choices=["debug", "info", "error"],
                        help="daemon log level (default: error; chaos: info)")
        sp.add_argument("--json", metavar="FILE", help="also write the report here")
        if name == "chaos":
            for kind in KINDS:
                sp.add_argument(f"--{kind.replace('_', '-')}s", type=int, default=None,
                                dest=kind, metavar="N",
                                help=f"how many {kind} (default: one per 100 s)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    o = Options(rate=args.rate, agents=args.agents, duration=args.duration, seed=args.seed,
                chaos=args.command == "chaos", short_prompts=args.short_prompts,
                talk=args.talk, wrapup=args.wrapup, drain=args.drain,
                sample_every=args.sample_every, keep=args.keep, log_level=args.log_level)
    if args.config:
        o.config = args.config
    if o.chaos:
        given = {k: getattr(args, k) for k in KINDS if getattr(args, k) is not None}
        if given:
            o.chaos_events = {k: given.get(k, 0) for k in KINDS}
    report = execute(o)
    print_report(report)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, ensure_ascii=False, indent=2)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
