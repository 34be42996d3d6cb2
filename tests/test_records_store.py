"""RecordStore on a real redis-server: live hash, stream, idempotence, live state."""

from __future__ import annotations

import asyncio

import pytest
import pytest_twisted
import redis
from twisted.internet import defer

from server.records.model import CallRecorder
from server.records.store import SEEN, STREAM, RecordStore, call_key


@pytest.fixture
def records_url(redis_server):
    """A database of its own, emptied, so stream counts are this test's alone."""
    url = redis_server.url.rsplit("/", 1)[0] + "/3"
    # Synchronous client outside the reactor's work: test setup only.
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


def as_deferred(coro) -> defer.Deferred:
    return defer.Deferred.fromFuture(asyncio.ensure_future(coro))


def _call(call_id: str = "1700000000.1") -> CallRecorder:
    r = CallRecorder(call_id, 0.0, caller="13800000000", dialled="95598")
    r.ivr_end(5.0)
    r.enqueued(5.0, "fault")
    return r


@pytest_twisted.ensureDeferred
async def test_live_then_final_with_idempotent_replays(records_url):
    store = RecordStore.from_url(records_url)
    try:
        r = _call()
        live_old = r.to_dict()
        r.answered(9.0, agent="1001")
        live_new = r.to_dict()
        assert await store.put(live_new) == "live"
        assert await store.put(live_old) is None  # older snapshot: ignored
        assert (await store.get_live_call(r.call_id))["version"] == live_new["version"]

        r.bridge_end(60.0, hung_up_by="caller")
        r.finish(60.0, "answered")
        final = r.to_dict()
        stream_id = await store.put(final)
        assert stream_id and "-" in stream_id
        assert await store.put(final) is None  # replay: no second entry
        assert await store.put(live_new) is None  # late live replay: no resurrection
        assert await store.get_live_call(r.call_id) is None

        r.update(notes="corrected")
        corrected = r.to_dict()
        assert await store.put(corrected) not in (None, "live")

        check = store._client
        entries = await as_deferred(check.xrange(STREAM))
        assert [int(f[b"version"]) for _, f in entries] == [final["version"],
                                                             corrected["version"]]
        assert int(await as_deferred(check.hget(SEEN, r.call_id))) == corrected["version"]
        assert not await as_deferred(check.exists(call_key(r.call_id)))
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_live_calls_are_listed_for_a_restart(records_url):
    store = RecordStore.from_url(records_url)
    try:
        await store.put(_call("a").to_dict())
        await store.put(_call("b").to_dict())
        ended = _call("c")
        ended.finish(9.0, "abandoned")
        await store.put(ended.to_dict())
        assert sorted(await store.load_live_calls()) == ["a", "b"]
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_live_state_round_trip(records_url):
    store = RecordStore.from_url(records_url)
    try:
        await store.put_live_state("waiting", "1700000000.1",
                                   {"queue": "fault", "position": 1, "since": 5.0})
        await store.put_live_state("waiting", "1700000000.2",
                                   {"queue": "fault", "position": 2, "since": 6.0})
        await store.put_live_state("agent", "1001", {"state": "Ready", "since": 0.0})
        assert await store.delete_live_state("waiting", "1700000000.1") is True
        assert await store.delete_live_state("waiting", "nope") is False
        assert await store.load_live_state() == {
            "waiting": {"1700000000.2": {"queue": "fault", "position": 2, "since": 6.0}},
            "agent": {"1001": {"state": "Ready", "since": 0.0}},
        }
    finally:
        await store.close()
