"""``python -m server records export|trim|trim-recordings``: the records CLI.

Runs outside the reactor, so the synchronous Redis client and the wall clock are
fine here (this is not domain code).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timedelta

from server.records.export import RETENTION_FLOOR_DAYS, export_records, trim_exported

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD_ENV = "HOTLINE_REDIS_PASSWORD"
_USER_HELP = (f"the Redis ACL user (server.yaml redis.username); its password from the "
              f"environment variable {PASSWORD_ENV}, never the command line")


def _when(text: str, end_of_day: bool = False) -> datetime:
    """ISO date or datetime; naive values are the machine's local time. A bare date
    given as --to means the whole day is included."""
    value = datetime.fromisoformat(text)
    if end_of_day and len(text) == 10:  # YYYY-MM-DD
        value += timedelta(days=1)
    return value if value.tzinfo else value.astimezone()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m server records",
                                description="export and trim call records; expire recordings")
    sub = p.add_subparsers(dest="action", required=True)
    exp = sub.add_parser("export", help="write records for a date range to stdout or a file")
    exp.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    exp.add_argument("--redis-user", metavar="USER", help=_USER_HELP)
    exp.add_argument("--from", dest="start", type=_when, metavar="WHEN",
                     help="ISO date/time, inclusive (default: the oldest record)")
    exp.add_argument("--to", dest="end", type=lambda t: _when(t, end_of_day=True),
                     metavar="WHEN", help="ISO date/time, exclusive; a bare date "
                     "includes that day (default: the newest record)")
    exp.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    exp.add_argument("--output", metavar="FILE", help="default: standard output")
    trim = sub.add_parser("trim", help="delete exported records older than the retention")
    trim.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    trim.add_argument("--redis-user", metavar="USER", help=_USER_HELP)
    trim.add_argument("--retention-days", type=float, default=RETENTION_FLOOR_DAYS)
    rec = sub.add_parser("trim-recordings",
                         help="delete call recordings (*.wav) older than the retention")
    rec.add_argument("--directory", required=True,
                     help="the recordings directory (server.yaml recordings.directory)")
    rec.add_argument("--retention-days", type=float, default=RETENTION_FLOOR_DAYS)
    rec.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    return p


def expired_recordings(files: list[tuple[str, float]], now: float,
                       retention_days: float) -> list[str]:
    """Names of the recordings (``*.wav``) last written before the retention window;
    ``files`` are (name, mtime) pairs."""
    cutoff = now - retention_days * 86400
    return sorted(name for name, mtime in files if name.endswith(".wav") and mtime < cutoff)


def _trim_recordings(args) -> int:
    if args.retention_days < RETENTION_FLOOR_DAYS:
        # Unlike the stream, a deleted recording cannot be exported first: refuse.
        print(f"error: retention {args.retention_days} days is below the DL/T 2046-2019 "
              f"floor of {RETENTION_FLOOR_DAYS}; nothing deleted", file=sys.stderr)
        return 2
    try:
        with os.scandir(args.directory) as it:  # not recursive; no symlinks followed
            files = [(e.name, e.stat(follow_symlinks=False).st_mtime) for e in it
                     if e.is_file(follow_symlinks=False)]
    except OSError as exc:
        print(f"error: cannot read {args.directory}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    names = expired_recordings(files, time.time(), args.retention_days)
    failed = 0
    for name in names:
        if args.dry_run:
            print(name)
            continue
        try:
            os.unlink(os.path.join(args.directory, name))
        except OSError as exc:
            failed += 1
            print(f"error: {name}: {exc.strerror or exc}", file=sys.stderr)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {len(names) - failed} recording(s) older than {args.retention_days:g} days",
          file=sys.stderr)
    return 1 if failed else 0


def records_main(argv: list[str] | None = None) -> int:
    import redis

    try:
        return _records_main(argv)
    except redis.exceptions.AuthenticationError as exc:
        print(f"error: Redis refused the login ({exc}); give --redis-user and the password "
              f"in {PASSWORD_ENV}", file=sys.stderr)
    except (redis.exceptions.NoPermissionError, redis.exceptions.ConnectionError) as exc:
        print(f"error: Redis: {exc}", file=sys.stderr)
    return 1


def _records_main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    user: str | None = getattr(args, "redis_user", None)
    password = os.environ.get(PASSWORD_ENV) or None
    if args.action == "export":
        if args.output:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                n = export_records(args.redis_url, args.start, args.end, args.format, out,
                                   username=user, password=password)
        else:
            n = export_records(args.redis_url, args.start, args.end, args.format, sys.stdout,
                               username=user, password=password)
        print(f"exported {n} record(s)", file=sys.stderr)
        return 0
    if args.action == "trim-recordings":
        return _trim_recordings(args)
    if args.retention_days < RETENTION_FLOOR_DAYS:
        print(f"warning: retention {args.retention_days} days is below the DL/T 2046-2019 "
              f"floor of {RETENTION_FLOOR_DAYS}", file=sys.stderr)
    n = trim_exported(args.redis_url, args.retention_days, now=time.time(), username=user,
                      password=password)
    print(f"trimmed {n} record(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(records_main())
