"""``python -m server records export|trim``: the records CLI.

Runs outside the reactor, so the synchronous Redis client and the wall clock are
fine here (this is not domain code).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta

from server.records.export import RETENTION_FLOOR_DAYS, export_records, trim_exported

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _when(text: str, end_of_day: bool = False) -> datetime:
    """ISO date or datetime; naive values are the machine's local time. A bare date
    given as --to means the whole day is included."""
    value = datetime.fromisoformat(text)
    if end_of_day and len(text) == 10:  # YYYY-MM-DD
        value += timedelta(days=1)
    return value if value.tzinfo else value.astimezone()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m server records",
                                description="export and trim call records")
    sub = p.add_subparsers(dest="action", required=True)
    exp = sub.add_parser("export", help="write records for a date range to stdout or a file")
    exp.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    exp.add_argument("--from", dest="start", type=_when, metavar="WHEN",
                     help="ISO date/time, inclusive (default: the oldest record)")
    exp.add_argument("--to", dest="end", type=lambda t: _when(t, end_of_day=True),
                     metavar="WHEN", help="ISO date/time, exclusive; a bare date "
                     "includes that day (default: the newest record)")
    exp.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    exp.add_argument("--output", metavar="FILE", help="default: standard output")
    trim = sub.add_parser("trim", help="delete exported records older than the retention")
    trim.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    trim.add_argument("--retention-days", type=float, default=RETENTION_FLOOR_DAYS)
    return p


def records_main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.action == "export":
        if args.output:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                n = export_records(args.redis_url, args.start, args.end, args.format, out)
        else:
            n = export_records(args.redis_url, args.start, args.end, args.format, sys.stdout)
        print(f"exported {n} record(s)", file=sys.stderr)
        return 0
    if args.retention_days < RETENTION_FLOOR_DAYS:
        print(f"warning: retention {args.retention_days} days is below the DL/T 2046-2019 "
              f"floor of {RETENTION_FLOOR_DAYS}", file=sys.stderr)
    n = trim_exported(args.redis_url, args.retention_days, now=time.time())
    print(f"trimmed {n} record(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(records_main())
