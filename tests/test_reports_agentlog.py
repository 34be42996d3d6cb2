"""The agent-state log (occupancy's ready time): ready idle by hand, the idempotent
capped stream on a real redis-server, the notifier listener, and occupancy in a report."""

from __future__ import annotations

import asyncio

import pytest
import pytest_twisted
import redis
from twisted.internet import defer

from server.records.store import make_client
from server.reports.agentlog import (
    AGENT_LOG,
    AgentLogStore,
    AgentStateLog,
    read_ready_idle,
    ready_idle,
)
from server.reports.build import Directory, ReportBuilder, Targets
from server.reports.kpi import Policy
from server.reports.reader import fill_report

from .test_reports_kpi import DIRECTORY, POLICY, B, records

START, END = B, B + 3 * 3600


def test_ready_idle_by_hand():
    changes = [
        (START - 600, "1001", "ready"),  # ready since before the period: counts from START
        (START + 100, "1001", "reserved"),  # 100 s ready
        (START + 105, "1001", "on_call"),
        (START + 300, "1001", "wrap_up"),
        (START + 320, "1001", "ready"),  # ready again to the end: 3 h - 320 s
        (START + 50, "1002", "paused"),  # paused is not ready
        (START + 1000, "1002", "ready"),
        (START + 1600, "1002", "logged_out"),  # 600 s
        (END + 10, "1003", "ready"),  # after the period: nothing
    ]
    changes.sort()
    assert ready_idle(changes, START, END) == {
        "1001": 100 + (3 * 3600 - 320), "1002": 600.0}


def _wait(coro) -> defer.Deferred:
    return defer.Deferred.fromFuture(asyncio.ensure_future(coro))


@pytest.fixture
def url(redis_db):
    return redis_db(12)


@pytest_twisted.ensureDeferred
async def test_the_log_is_idempotent_and_capped_and_gives_ready_time(url):
    store = AgentLogStore(make_client(url), max_entries=1000)
    try:
        e1 = {"agent_id": "1001", "old": "logged_out", "new": "ready", "at": START - 60}
        e2 = {"agent_id": "1001", "old": "ready", "new": "on_call", "at": START + 90}
        e3 = {"agent_id": "1002", "old": "logged_out", "new": "ready", "at": START + 90}
        assert (await store.put(e1)) is not None
        assert (await store.put(e2)) is not None
        assert (await store.put(e2)) is None  # a spool replay of the last entry
        assert (await store.put(e1)) is None  # an older one: already there
        assert (await store.put(e3)) is not None  # same millisecond, another agent
        idle = await _wait(read_ready_idle(store.client, START, START + 600))
        assert idle == {"1001": 90.0, "1002": 510.0}
        # a period the log does not reach: unknown, not zero
        assert await _wait(read_ready_idle(store.client, START - 7200, START - 3600)) is None
    finally:
        await store.close()
    sync = redis.Redis.from_url(url)
    assert sync.xlen(AGENT_LOG) == 3
    sync.close()


def test_the_listener_writes_agent_changes_only():
    written = []
    log = AgentStateLog(written.append)
    log.on_publish("call", {"call_id": "c1"})
    log.on_publish("agent", {"agent_id": "1001", "old": "ready", "new": "reserved",
                             "reason": "offer", "at": 12.5})
    assert written == [{"call_id": "agent:1001", "agent_id": "1001", "old": "ready",
                        "new": "reserved", "at": 12.5}]


@pytest_twisted.ensureDeferred
async def test_occupancy_in_the_report(url):
    store = AgentLogStore(make_client(url))
    try:
        # 1001 ready the whole 3 h except its calls: say 935 s ready idle (by the log)
        await store.put({"agent_id": "1001", "old": "logged_out", "new": "ready",
                         "at": START - 10})
        await store.put({"agent_id": "1001", "old": "ready", "new": "paused",
                         "at": START + 935})
        b = ReportBuilder(start=START, end=END, by="agent", policy=POLICY, directory=DIRECTORY,
                          timezone="Asia/Shanghai", targets=Targets())
        rep = await _wait(fill_report(store.client, b, now=END))
    finally:
        await store.close()
    groups = {g["key"]: g for g in rep["groups"]}
    # no records in this Redis: handling 0 s / (0 + 935) for 1001
    assert groups["1001"]["occupancy"] == 0.0
    # with the fixed records fed too: 1001 handled R1 (65 s): 65 / (65 + 935)
    b = ReportBuilder(start=START, end=END, by="agent", policy=POLICY, directory=DIRECTORY,
                      timezone="Asia/Shanghai", targets=Targets())
    for rec in records():
        b.add_record(rec)
    b.add_agent_time("1001", 935.0)
    got = {g["key"]: g for g in b.report(END)["groups"]}
    assert got["1001"]["occupancy"] == pytest.approx(65 / 1000)
    assert got["1002"]["occupancy"] is None  # no ready time known for 1002
    assert b.report(END)["total"]["occupancy"] == pytest.approx(350 / (350 + 935))


def test_a_builder_without_agent_time_has_no_occupancy():
    b = ReportBuilder(start=START, end=END, by="centre", policy=Policy(),
                      directory=Directory(), timezone="Asia/Shanghai", targets=Targets())
    for rec in records():
        b.add_record(rec)
    assert b.report(END)["total"]["occupancy"] is None
