"""The spool: nothing lost while Redis is down, replayed once and in order.

The kill/restart test runs its own redis-server (AOF on, as deploy/redis says),
SIGKILLs it half-way through a run of records and restarts it on the same port and
directory. Everything is driven by awaiting each put; retries run on a task.Clock
or are triggered with ``retry_now()``, so there are no sleeps.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import pytest_twisted
from twisted.internet import defer, task

from server.records.model import CallRecorder
from server.records.spool import DurableRecords
from server.records.store import STREAM, RecordStore
from server.redisproc import RedisProcess, free_port


def as_deferred(coro) -> defer.Deferred:
    return defer.Deferred.fromFuture(asyncio.ensure_future(coro))


def _final(i: int) -> dict:
    r = CallRecorder(f"1700000000.{i}", float(i), caller="13800000000", dialled="95598")
    r.ivr_end(i + 1.0)
    r.finish(i + 2.0, "self_service")
    return r.to_dict()


async def _stream_call_ids(store: RecordStore) -> list[str]:
    entries = await as_deferred(store._client.xrange(STREAM))
    return [f[b"call_id"].decode() for _, f in entries]


@pytest.fixture
def own_redis():
    proc = RedisProcess().start()
    yield proc
    proc.cleanup()


@pytest_twisted.ensureDeferred
async def test_records_spool_when_redis_is_unreachable(tmp_path):
    clock = task.Clock()
    store = RecordStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=1.0)
    spool_path = tmp_path / "records.spool"
    writer = DurableRecords(store, spool_path, clock, initial_delay=1.0, max_delay=4.0)
    try:
        assert await writer.put(_final(1)) == "spooled"
        assert await writer.put(_final(2)) == "spooled"
        assert writer.backlog == 2
        lines = [json.loads(line) for line in spool_path.read_text().splitlines()]
        assert [e["call_id"] for e in lines] == ["1700000000.1", "1700000000.2"]
        # One retry pending; a failed replay doubles the delay up to the cap.
        assert [c.getTime() for c in clock.getDelayedCalls()] == [1.0]
        pending = []
        for _ in range(3):
            assert await writer.retry_now() == 2
            pending += [c.getTime() for c in clock.getDelayedCalls()]
        assert pending == [2.0, 4.0, 4.0]
    finally:
        writer.stop()
        await store.close()
    assert clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_kill_and_restart_redis_mid_run_loses_and_duplicates_nothing(own_redis, tmp_path):
    clock = task.Clock()
    store = RecordStore.from_url(own_redis.url, timeout=2.0)
    spool_path = tmp_path / "records.spool"
    writer = DurableRecords(store, spool_path, clock)
    n = 40
    results = []
    try:
        for i in range(n):
            if i == n // 2:
                own_redis.kill()
            results.append(await writer.put(_final(i)))
        assert results == ["stored"] * (n // 2) + ["spooled"] * (n // 2)
        assert writer.backlog == n // 2

        own_redis.start()  # same port, same directory: the AOF brings back the first half
        # Written after the restart but before the replay: queued behind the backlog.
        for i in range(n, n + 5):
            assert await writer.put(_final(i)) == "spooled"
        assert await writer.retry_now() == 0
        assert spool_path.read_text() == ""  # truncated once all confirmed
        assert clock.getDelayedCalls() == []

        # A second replay of the same records (a crash before truncation) adds nothing.
        for i in range(n // 2 - 3, n // 2 + 3):
            await store.put(_final(i))

        assert await _stream_call_ids(store) == [f"1700000000.{i}" for i in range(n + 5)]
        assert await writer.put(_final(n + 5)) == "stored"
    finally:
        writer.stop()
        await store.close()


@pytest_twisted.ensureDeferred
async def test_spool_left_by_a_crash_is_replayed_on_start(own_redis, tmp_path):
    clock = task.Clock()
    store = RecordStore.from_url(own_redis.url)
    spool_path = tmp_path / "records.spool"
    try:
        # The first two reached Redis before the crash, the file was never truncated.
        await store.put(_final(0))
        await store.put(_final(1))
        lines = [json.dumps(_final(i)) for i in range(4)]
        spool_path.write_text("\n".join(lines) + "\n" + '{"call_id": "torn')
        writer = DurableRecords(store, spool_path, clock)
        assert await writer.start() == 4
        assert [c.getTime() for c in clock.getDelayedCalls()] == [0]
        clock.advance(0)
        assert await writer.retry_now() == 0
        assert await _stream_call_ids(store) == [f"1700000000.{i}" for i in range(4)]
        writer.stop()
    finally:
        await store.close()
