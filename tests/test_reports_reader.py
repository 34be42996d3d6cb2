"""The report reader on a real redis-server: records by time range (stream ids in
[from − slack, to + max lag], filtered by arrival), newest final version only, cases
by creation day. Old entries are written with explicit stream ids."""

from __future__ import annotations

import asyncio
import json

import pytest
import pytest_twisted
import redis
from twisted.internet import defer

from cases.ids import format_id
from cases.machine import open_case
from server.cases.store import PREFIX as CASES_PREFIX
from server.cases.store import case_key
from server.records.model import CallRecord, CallRecorder
from server.records.store import SEEN, STREAM, make_client
from server.reports.reader import read_cases, read_records

from .cases_support import rules, shanghai

START = shanghai(2026, 12, 1)  # local midnight
END = shanghai(2026, 12, 2)


@pytest.fixture
def url(redis_db):
    return redis_db(11)


def _call(call_id: str, arrived: float, version_bump: int = 0) -> CallRecord:
    r = CallRecorder(call_id, arrived, caller="13800000000", dialled="95598")
    r.ivr_end(arrived + 5)
    r.enqueued(arrived + 5, "fault")
    r.abandoned(arrived + 40)
    r.finish(arrived + 40, "abandoned")
    for i in range(version_bump):
        r.update(notes=f"corrected {i}")
    return r.snapshot()


def _xadd(client: redis.Redis, written: float, record: CallRecord) -> None:
    client.xadd(STREAM, {"call_id": record.call_id, "version": record.version,
                         "record": json.dumps(record.to_dict())}, id=f"{int(written * 1000)}-0")
    seen = client.hget(SEEN, record.call_id)
    if seen is None or int(seen) < record.version:
        client.hset(SEEN, record.call_id, record.version)


def _collect(agen) -> defer.Deferred:
    """The items of an async generator, run as an asyncio task (redis.asyncio needs one)."""
    async def run() -> list:
        return [item async for item in agen]
    return defer.Deferred.fromFuture(asyncio.ensure_future(run()))


def _close(client) -> defer.Deferred:
    return defer.Deferred.fromFuture(asyncio.ensure_future(client.aclose()))


@pytest_twisted.ensureDeferred
async def test_records_by_arrival_newest_version_only_outside_range_left_out(url):
    sync = redis.Redis.from_url(url)
    # before the period: arrived 23:59:50 the day before, written (ended) after midnight
    _xadd(sync, START + 30, _call("early", START - 10))
    _xadd(sync, START + 100, _call("a", START + 60))
    first, second = _call("b", START + 120), _call("b", START + 120, version_bump=2)
    _xadd(sync, START + 200, first)  # a final version, then a corrected one (late wrap-up)
    _xadd(sync, START + 900, second)
    for i in range(5):  # more than one chunk
        _xadd(sync, START + 1000 + i, _call(f"c{i}", START + 950 + i))
    # arrived after the end: written within the lag, still not of this period
    _xadd(sync, END + 100, _call("next-day", END + 5))
    # arrived before the end, ended 2 h after: inside the lag, counted
    _xadd(sync, END + 7200, _call("late", END - 60))
    # arrived in the period but written after end + max lag (a very late replay): the
    # documented limit, not read
    _xadd(sync, END + 3 * 3600 + 1, _call("too-late", END - 30))
    sync.close()

    client = make_client(url)
    try:
        got = await _collect(read_records(client, START, END, max_lag_s=3 * 3600, chunk=2))
    finally:
        await _close(client)
    ids = [r.call_id for r in got]
    assert sorted(ids) == ["a", "b", "c0", "c1", "c2", "c3", "c4", "late"]
    assert [r.version for r in got if r.call_id == "b"] == [second.version]
    assert second.version > first.version


@pytest_twisted.ensureDeferred
async def test_cases_by_creation_day_in_the_centre_timezone(url):
    r = rules()
    sync = redis.Redis.from_url(url)
    made = {}
    # 2026-11-30 23:30 local is the day before; 12-01 00:10 and 23:50 are in; 12-02 is out
    for day, times in (("20261130", [shanghai(2026, 11, 30, 23, 30)]),
                       ("20261201", [START + 600, END - 600]),
                       ("20261202", [END + 60])):
        for seq, t in enumerate(times, 1):
            cid = format_id(day, seq)
            case = open_case(r, case_id=cid, type="fault_repair", account="0101234567",
                             phone="", now=t, actor="1001")
            sync.hset(case_key(cid), mapping={"version": 1, "case": json.dumps(case.to_dict())})
            made[cid] = case
        sync.set(f"{CASES_PREFIX}cases:seq:{day}", len(times) + (1 if day == "20261201" else 0))
    sync.close()
    client = make_client(url)
    try:
        got = await _collect(read_cases(client, START, END, "Asia/Shanghai", chunk=1))
    finally:
        await _close(client)
    # the third number of 12-01 was taken but its case is not in Redis (still spooled)
    assert [c.id for c in got] == ["GD20261201-000001", "GD20261201-000002"]
