"""Reading a period's records and cases from Redis, in bounded memory (the edge).

Records: ``hotline:records`` stream ids are Redis' millisecond clock when the final
record was written, i.e. when the call ended (or later: a spool replay after a
Redis outage). So a call that *arrived* in [start, end) has a stream id in
[start − slack, end + max_lag]:

- ``slack_s`` covers a Redis clock a little behind the server's clock;
- ``max_lag_s`` covers the longest call plus the longest spool replay delay. A
  record written later than ``end + max_lag_s`` is not read: the documented limit
  (``reports.max_record_lag_s`` in server.yaml; make it longer after an outage).

The range is read with XRANGE in chunks (``chunk`` entries); for each chunk one
HMGET on ``hotline:records:seen`` gives each call's highest final version, so a
call corrected after it ended (a late wrap-up, a second final version) counts
once, as its newest version. Then records are filtered by arrival time.

Cases: created in [start, end), found by their ids ``GD<yyyymmdd>-<seq>`` for each
local day of the period up to that day's ``hotline:cases:seq:<day>``, read with
one pipelined HGET per chunk.

Async generators on redis.asyncio; :func:`report_deferred` wraps a whole report
in a Deferred for the web handlers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
from collections.abc import AsyncIterator
from typing import Any, cast
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
from twisted.internet import defer

from cases.ids import format_id
from cases.model import Case
from server.cases.store import PREFIX as CASES_PREFIX
from server.cases.store import case_key
from server.records.model import CallRecord
from server.records.store import SEEN, STREAM

from .agentlog import read_ready_idle
from .build import ReportBuilder

__all__ = ["DEFAULT_MAX_LAG_S", "DEFAULT_SLACK_S", "read_cases", "read_records",
           "fill_report", "report_deferred"]

DEFAULT_MAX_LAG_S = 6 * 3600.0
DEFAULT_SLACK_S = 60.0
CHUNK = 500

_Entries = list[tuple[bytes, dict[bytes, bytes]]]


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


async def read_records(client: aioredis.Redis, start: float, end: float, *,
                       max_lag_s: float = DEFAULT_MAX_LAG_S,
                       slack_s: float = DEFAULT_SLACK_S,
                       chunk: int = CHUNK) -> AsyncIterator[CallRecord]:
    """Yield the newest final version of every call that arrived in [start, end).

    ``start``/``end`` may be -inf/inf (open ends: the whole stream that way).
    Memory: one chunk at a time. Fails with the Redis error (connection, timeout).
    """
    low = f"{max(_ms(start - slack_s), 0)}-0" if math.isfinite(start) else "-"
    high = f"{_ms(end + max_lag_s)}-18446744073709551615" if math.isfinite(end) else "+"
    while True:
        entries = cast(_Entries, await client.xrange(STREAM, min=low, max=high, count=chunk))
        if not entries:
            return
        newest = await client.hmget(SEEN, [fields[b"call_id"] for _, fields in entries])
        for (_sid, fields), seen in zip(entries, newest, strict=True):
            if seen is not None and int(fields[b"version"]) < int(seen):
                continue  # superseded by a later final version
            record = CallRecord.from_dict(json.loads(fields[b"record"]))
            arrived = record.timeline[0].t if record.timeline else None
            if arrived is not None and start <= arrived < end:
                yield record
        if len(entries) < chunk:
            return
        low = "(" + entries[-1][0].decode()


def _days(start: float, end: float, timezone: str) -> list[str]:
    """The local days (yyyymmdd) the period touches, in order."""
    tz = ZoneInfo(timezone)
    day = dt.datetime.fromtimestamp(start, tz).date()
    last = dt.datetime.fromtimestamp(max(end - 0.001, start), tz).date()
    out = []
    while day <= last:
        out.append(day.strftime("%Y%m%d"))
        day += dt.timedelta(days=1)
    return out


async def read_cases(client: aioredis.Redis, start: float, end: float, timezone: str, *,
                     chunk: int = CHUNK) -> AsyncIterator[Case]:
    """Yield the cases created in [start, end) (``timezone``: the cases' id days,
    cases.yaml). Fails with the Redis error."""
    for day in _days(start, end, timezone):
        raw_seq = await client.get(f"{CASES_PREFIX}cases:seq:{day}")
        highest = int(raw_seq) if raw_seq is not None else 0
        for first in range(1, highest + 1, chunk):
            ids = [format_id(day, n) for n in range(first, min(first + chunk, highest + 1))]
            async with client.pipeline(transaction=False) as pipe:
                for case_id in ids:
                    pipe.hget(case_key(case_id), "case")
                raws = await pipe.execute()
            for raw in raws:
                if raw is None:
                    continue  # a number taken by a write still in the spool
                case = Case.from_dict(json.loads(raw))
                if start <= case.created_at < end:
                    yield case


async def fill_report(client: aioredis.Redis, builder: ReportBuilder, *, now: float,
                      cases_timezone: str | None = None,
                      max_lag_s: float = DEFAULT_MAX_LAG_S,
                      slack_s: float = DEFAULT_SLACK_S, chunk: int = CHUNK) -> dict[str, Any]:
    """Feed the period's records (and cases, when ``cases_timezone`` is given) into
    ``builder``; return its report made at ``now``. Between chunks the loop runs
    other work (each XRANGE is awaited), so ``chunk`` bounds how long one slice of
    counting holds the loop."""
    async for record in read_records(client, builder.start, builder.end,
                                     max_lag_s=max_lag_s, slack_s=slack_s, chunk=chunk):
        builder.add_record(record)
    if cases_timezone is not None:
        async for case in read_cases(client, builder.start, builder.end, cases_timezone,
                                     chunk=chunk):
            builder.add_case(case, now)
    # Occupancy's ready idle time, from the agent-state log (agentlog.py); when the
    # log does not cover the period, occupancy stays null rather than a guess.
    idle = await read_ready_idle(client, builder.start, builder.end)
    for agent, seconds in sorted((idle or {}).items()):
        builder.add_agent_time(agent, seconds)
    return builder.report(now)


def report_deferred(client: aioredis.Redis, builder: ReportBuilder, *, now: float,
                    cases_timezone: str | None = None,
                    max_lag_s: float = DEFAULT_MAX_LAG_S,
                    slack_s: float = DEFAULT_SLACK_S, chunk: int = CHUNK) -> defer.Deferred:
    """:func:`fill_report` as a Deferred: fires with the report dict, fails with the
    Redis error (runs on the asyncio loop under Twisted's asyncio reactor)."""
    return defer.Deferred.fromFuture(asyncio.ensure_future(fill_report(
        client, builder, now=now, cases_timezone=cases_timezone, max_lag_s=max_lag_s,
        slack_s=slack_s, chunk=chunk)))
