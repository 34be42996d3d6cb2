"""RecordStore: call records and live state in Redis, through redis.asyncio.

Key layout (all under ``hotline:``):

- ``hotline:call:<call_id>``   hash {version, record(JSON)}: the call while live.
- ``hotline:records``          stream, one entry per final record version:
                               fields call_id, version, record(JSON). IDs are
                               Redis' own ms timestamps at write time.
- ``hotline:records:seen``     hash call_id → highest final version in the stream.
- ``hotline:records:exported_until``  string: last stream ID exported (see export.py).
- ``hotline:live:<kind>``      hash id → JSON, e.g. kind "waiting" (calls with their
                               queue positions) and "agent" (agent states).

Idempotence on (call_id, version) is one Lua script rather than MULTI/EXEC: the
decision "is this version newer than what is stored?" needs a read before the
write, and MULTI cannot branch on a read without WATCH and a retry loop. A script
runs atomically in one round trip, so a replayed or retried put (the spool replays
after a crash, redis-py may resend after a timeout) never adds a second stream
entry, and an older live snapshot never overwrites a newer one.

Every method returns a Deferred; the Redis I/O runs on the asyncio loop under
Twisted's asyncio reactor, never blocking the reactor thread.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Mapping
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from twisted.internet import defer

PREFIX = "hotline"
STREAM = f"{PREFIX}:records"
SEEN = f"{PREFIX}:records:seen"
EXPORTED_UNTIL = f"{PREFIX}:records:exported_until"
LIVE_PREFIX = f"{PREFIX}:live:"


def call_key(call_id: str) -> str:
    return f"{PREFIX}:call:{call_id}"


def live_key(kind: str) -> str:
    return f"{LIVE_PREFIX}{kind}"


# KEYS: live hash, seen hash, stream. ARGV: call_id, version, final(0/1), json.
# Returns the new stream ID (final), 1 (live hash written) or 0 (stale: ignored).
_PUT_SCRIPT = """
local v = tonumber(ARGV[2])
local seen = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1')
if v <= seen then return 0 end
if ARGV[3] == '1' then
  local id = redis.call('XADD', KEYS[3], '*',
                        'call_id', ARGV[1], 'version', ARGV[2], 'record', ARGV[4])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('DEL', KEYS[1])
  return id
end
local live = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')
if v <= live then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'record', ARGV[4])
return 1
"""


def _as_deferred(coro: Awaitable[Any]) -> defer.Deferred:
    return defer.Deferred.fromFuture(asyncio.ensure_future(coro))


MAX_CONNECTIONS = 32


def make_client(url: str, timeout: float = 2.0, *, username: str | None = None,
                password: str | None = None) -> aioredis.Redis:
    """A client that fails fast: no internal retries, short timeouts.

    ``username``/``password``: the ACL user (server.yaml ``redis``); None: the URL's.

    The spool is the retry mechanism; redis-py's own retry loop would only delay
    the moment a record reaches the spool while the reactor holds it in memory.
    """
    # A bounded pool: under a storm (or while Redis restarts) writers wait up to
    # ``timeout`` for a connection, then fail to the spool, instead of opening one
    # connection per pending write until Redis refuses ("Too many connections").
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        **({"username": username} if username else {}),
        **({"password": password} if password is not None else {}),
    )
    return aioredis.Redis.from_pool(pool)  # closing the client closes the pool


class RecordStore:
    """Writes records and live state. Failures (redis.exceptions.ConnectionError,
    TimeoutError, ...) propagate through the Deferred: the caller (the spool) decides."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._put = client.register_script(_PUT_SCRIPT)

    @property
    def client(self) -> aioredis.Redis:
        """The redis.asyncio client, shared with readers of the records (the review API)."""
        return self._client

    @classmethod
    def from_url(cls, url: str, timeout: float = 2.0, *, username: str | None = None,
                 password: str | None = None) -> RecordStore:
        return cls(make_client(url, timeout, username=username, password=password))

    def put(self, record: Mapping[str, Any]) -> defer.Deferred:
        """Store one record snapshot (the dict form of ``CallRecord``).

        Fires with the stream ID (str) when a final record was appended, ``"live"``
        when the live hash was updated, or ``None`` when (call_id, version) was not
        newer than what Redis holds (a replay). Fails with the Redis error.
        """
        return _as_deferred(self._put_async(record))

    async def _put_async(self, record: Mapping[str, Any]) -> str | None:
        call_id = str(record["call_id"])
        payload = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        # AsyncScript does EVALSHA and falls back to EVAL on NOSCRIPT, which is what
        # a freshly restarted redis-server answers.
        result = await self._put(
            keys=[call_key(call_id), SEEN, STREAM],
            args=[call_id, int(record["version"]), "1" if record.get("final") else "0",
                  payload],
        )
        if result == 0:
            return None
        if result == 1:
            return "live"
        return result.decode() if isinstance(result, bytes) else str(result)

    def get_live_call(self, call_id: str) -> defer.Deferred:
        """Fires with the live record dict, or None if the call is not live."""
        return _as_deferred(self._get_live_call(call_id))

    async def _get_live_call(self, call_id: str) -> dict[str, Any] | None:
        raw = await self._client.hget(call_key(call_id), "record")
        return None if raw is None else json.loads(raw)

    def load_live_calls(self) -> defer.Deferred:
        """Fires with {call_id: record dict} for every call still live (restart)."""
        return _as_deferred(self._load_live_calls())

    async def _load_live_calls(self) -> dict[str, dict[str, Any]]:
        calls: dict[str, dict[str, Any]] = {}
        async for key in self._client.scan_iter(match=call_key("*"), count=500):
            raw = await self._client.hget(key, "record")
            if raw is not None:  # ended between SCAN and HGET
                record = json.loads(raw)
                calls[record["call_id"]] = record
        return calls

    def put_live_state(self, kind: str, id: str, state: Mapping[str, Any]) -> defer.Deferred:
        """Store one piece of live state (``kind`` "waiting", "agent", ...). Fires None."""
        payload = json.dumps(state, ensure_ascii=False, separators=(",", ":"))
        return _as_deferred(self._client.hset(live_key(kind), id, payload)).addCallback(
            lambda _: None)

    def delete_live_state(self, kind: str, id: str) -> defer.Deferred:
        """Fires with True if the entry existed."""
        return _as_deferred(self._client.hdel(live_key(kind), id)).addCallback(bool)

    def load_live_state(self) -> defer.Deferred:
        """Fires with {kind: {id: state dict}} for everything under hotline:live:."""
        return _as_deferred(self._load_live_state())

    async def _load_live_state(self) -> dict[str, dict[str, Any]]:
        state: dict[str, dict[str, Any]] = {}
        async for key in self._client.scan_iter(match=live_key("*"), count=100):
            kind = key.decode()[len(LIVE_PREFIX):]
            # make_client never sets decode_responses, so replies are bytes (redis-py
            # types them bytes | str, for every client option)
            entries = cast(dict[bytes, bytes], await self._client.hgetall(key))
            state[kind] = {k.decode(): json.loads(v) for k, v in entries.items()}
        return state

    def close(self) -> defer.Deferred:
        return _as_deferred(self._client.aclose())
