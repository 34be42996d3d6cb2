"""``python -m server report``: a period report as JSON, CSV or a printable HTML page.

Runs outside the reactor (a command), so asyncio.run drives the redis.asyncio
reader and the wall clock stamps ``generated_at`` (this is not domain code).
Exit status: 0 done; 1 Redis refused or was unreachable; 2 bad arguments or config.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any, NoReturn

from . import builder_for
from .build import BY
from .html import render
from .period import PeriodError, period, to_csv
from .reader import fill_report

PASSWORD_ENV = "HOTLINE_REDIS_PASSWORD"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m server report",
                description="KPIs of a period (一拨就通, service level, satisfaction, 回访率, "
                            "cases) from the records and cases in Redis")
    p.add_argument("--redis-url", required=True, metavar="URL")
    p.add_argument("--redis-user", metavar="USER",
                   help=f"the Redis ACL user; its password from ${PASSWORD_ENV}")
    p.add_argument("--config", default="config", metavar="PATH",
                   help="the config directory (targets, queues, teams; default: config/)")
    p.add_argument("--from", dest="start", required=True, metavar="DATE",
                   help="YYYY-MM-DD (a local day) or an ISO date-time, inclusive")
    p.add_argument("--to", dest="end", required=True, metavar="DATE",
                   help="YYYY-MM-DD (that whole day included) or an ISO date-time, exclusive")
    p.add_argument("--by", choices=BY, default="centre")
    p.add_argument("--format", choices=("json", "csv", "html"), default="json")
    p.add_argument("--out", metavar="FILE", help="default: standard output")
    return p


def _render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "csv":
        return to_csv(report)
    if fmt == "html":
        return render(report)
    return json.dumps(report, ensure_ascii=False, indent=1) + "\n"


async def _read(url: str, user: str | None, cfg: Any, start: float, end: float,
                by: str) -> dict[str, Any]:
    from server.records.store import make_client

    client = make_client(url, timeout=30.0, username=user,
                         password=os.environ.get(PASSWORD_ENV) or None)
    try:
        rs = cfg.server.reports
        return await fill_report(client, builder_for(cfg, start, end, by), now=time.time(),
                                 cases_timezone=cfg.cases.timezone,
                                 max_lag_s=rs.max_record_lag_s, slack_s=rs.clock_slack_s)
    finally:
        await client.aclose()


def report_main(argv: list[str]) -> int:
    import redis

    from server.config import ConfigError, load_config

    args = _parser().parse_args(argv)
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"error: the config in {args.config} is unusable:\n{exc}", file=sys.stderr)
        return 2
    try:
        start, end = period(args.start, args.end, cfg.server.reports.timezone)
    except PeriodError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(_read(args.redis_url, args.redis_user, cfg, start, end, args.by))
    except redis.exceptions.RedisError as exc:
        print(f"error: Redis: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # redis-py's verdict on a malformed --redis-url
        print(f"error: --redis-url: {exc}", file=sys.stderr)
        return 2
    text = _render(report, args.format)
    if args.out:
        with open(args.out, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        print(f"{report['records']} record(s), {report['cases']['opened']} case(s) -> "
              f"{args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
