"""Command line: run the daemon, run the demo, check the config, report, hash a secret.

Commands that run a reactor install Twisted's asyncio reactor first, because
redis-py's non-blocking client is an asyncio client.
"""

from __future__ import annotations

import argparse
import getpass
import sys

DEFAULT_CONFIG = "config"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m server", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def with_config(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--config", default=DEFAULT_CONFIG, metavar="PATH",
                        help="directory holding the YAML files (default: config/)")
        return sp

    run = with_config(sub.add_parser("run", help="run the daemon"))
    run.add_argument("--log-format", choices=["text", "json"], default=None,
                     help="override logging.format from server.yaml")

    demo = with_config(sub.add_parser(
        "demo", help="daemon + Asterisk simulator + synthetic traffic, no services needed"))
    demo.add_argument("--duration", type=float, default=120.0, metavar="SECONDS")
    demo.add_argument("--seed", type=int, default=95598)
    demo.add_argument("--summary", metavar="FILE", help="write a JSON summary here at the end")
    demo.add_argument("--redis-url", metavar="URL",
                      help="use this Redis instead of starting a private one")
    demo.add_argument("--quiet", action="store_true", help="no per-second progress lines")
    demo.add_argument("--wrapup", type=float, metavar="SECONDS",
                      help="after-call work per call (default: queues.yaml policy)")

    check = with_config(sub.add_parser("check-config", help="validate the config and exit"))
    check.add_argument("--dialplan", metavar="FILE",
                       help="also check that this extensions.conf agrees with the config")

    # Its own parser (server/records/cli.py) reads everything after "records".
    sub.add_parser("records", add_help=False,
                   help="export or trim call records, expire recordings (see --help)")

    sub.add_parser("report", add_help=False,
                   help="KPIs of a period as JSON, CSV or HTML (see report --help)")

    hs = sub.add_parser("hash-secret", help="print a hash for a PIN (6+ digits) or password "
                                            "(12+ characters) in config")
    hs.add_argument("--stdin", action="store_true", help="read the secret from standard input")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["records"]:
        from server.records.cli import records_main

        return records_main(argv[1:])  # its --help included
    if argv[:1] == ["report"]:
        from server.reports.cli import report_main

        return report_main(argv[1:])  # its --help included
    args = _parser().parse_args(argv)
    if args.command == "check-config":
        from server.config import check_config_main

        return check_config_main(args.config, dialplan=args.dialplan)
    if args.command == "hash-secret":
        from server.config import hash_secret

        if args.stdin:
            plain = sys.stdin.readline().rstrip("\n")
        else:
            plain = getpass.getpass("secret: ")
            if getpass.getpass("again: ") != plain:
                print("the two entries differ", file=sys.stderr)
                return 1
        from server.config.strength import plain_secret_problem

        problem = "empty secret" if not plain else plain_secret_problem(plain)
        if problem:
            print(f"refused: {problem}", file=sys.stderr)
            return 1
        print(hash_secret(plain))
        return 0

    from twisted.internet import asyncioreactor

    asyncioreactor.install()
    if args.command == "run":
        from server.daemon import run_daemon

        return run_daemon(args.config, log_format=args.log_format)
    if args.command == "demo":
        from server.demo import run_demo

        return run_demo(args)
    raise AssertionError(args.command)
