"""The agent-state log: every agent state change in a capped Redis stream, so the
reports can compute occupancy (handling / (handling + ready idle)) for any period.

Nothing else in Redis holds an agent's ready time (``hotline:live:agent`` keeps
only the present state), so the daemon writes one entry per change the ACD
publishes (the notifier's ``agent`` topic), through the same no-loss path as the
records: ``DurableRecords`` in front of :class:`AgentLogStore` (spooled to disk
while Redis is down, replayed in order).

- ``hotline:agents:log``: stream, fields ``agent_id, old, new, at``; the id is the
  change's own time in ms (from the injected clock), so a period is an XRANGE by
  id. Capped at about ``MAX_ENTRIES`` (``XADD MAXLEN ~``): some months of a busy
  centre; ready time older than the log is unknown (see :func:`read_ready_idle`).
- A write is one Lua script, idempotent: an entry older than the newest in the
  stream, or equal to it, is a replay and is dropped. (A replayed change from the
  same millisecond as another agent's last one gets in twice; repeating a change
  adds a zero-length span, so no figure moves.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

import redis.asyncio as aioredis
from twisted.internet import defer

from server.records.store import _as_deferred, make_client

__all__ = ["AGENT_LOG", "MAX_ENTRIES", "READY", "AgentLogStore", "AgentStateLog", "ReadyIdle",
           "read_ready_idle", "ready_idle"]

AGENT_LOG = "hotline:agents:log"
MAX_ENTRIES = 5_000_000  # ~100 changes per agent-day: 200 agents for 8 months
READY = "ready"  # the one ready-idle state; ringing ("reserved") counts neither way, as in
# the live ACD's occupancy (queues/roster.py: on_call and wrap_up busy, ready idle)
LOOKBACK_S = 86400.0  # the state at a period's start: read this far back for it

# KEYS: stream. ARGV: ms, agent_id, old, new, at (repr), maxlen.
# Returns the new id, or 0 when the entry is not newer than the stream's last (a replay).
_PUT_SCRIPT = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local ms = tonumber(ARGV[1])
if last[1] then
  local top = tonumber(string.match(last[1][1], '^(%d+)'))
  if ms < top then return 0 end
  if ms == top and last[1][2][8] == ARGV[5] and last[1][2][2] == ARGV[2] then return 0 end
end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[6], ARGV[1] .. '-*',
                  'agent_id', ARGV[2], 'old', ARGV[3], 'new', ARGV[4], 'at', ARGV[5])
"""


class AgentLogStore:
    """The spool's store for agent-state entries (``put`` fires with the stream id or
    None for a replay; fails with the Redis error)."""

    def __init__(self, client: aioredis.Redis, max_entries: int = MAX_ENTRIES) -> None:
        self.client = client
        self._put = client.register_script(_PUT_SCRIPT)
        self.max_entries = max_entries

    @classmethod
    def from_url(cls, url: str, *, username: str | None = None,
                 password: str | None = None) -> AgentLogStore:
        return cls(make_client(url, username=username, password=password))

    def put(self, entry: Mapping[str, Any], /) -> defer.Deferred:
        return _as_deferred(self._put_async(entry))

    async def _put_async(self, entry: Mapping[str, Any]) -> str | None:
        at = float(entry["at"])
        result = await self._put(keys=[AGENT_LOG], args=[
            int(at * 1000), str(entry["agent_id"]), str(entry["old"]), str(entry["new"]),
            repr(at), self.max_entries])
        if result == 0:
            return None
        return result.decode() if isinstance(result, bytes) else str(result)

    def close(self) -> defer.Deferred:
        return _as_deferred(self.client.aclose())


class AgentStateLog:
    """The notifier listener: each ``agent`` publication becomes one durable write.
    ``put`` is ``DurableRecords.put`` (never fails: it spools)."""

    def __init__(self, put: Any) -> None:
        self._put = put

    def on_publish(self, topic: str, payload: dict[str, Any]) -> None:
        if topic != "agent":
            return
        # "call_id" names the entry in the spool's log lines, like a record's
        self._put({"call_id": f"agent:{payload['agent_id']}", "agent_id": payload["agent_id"],
                   "old": payload["old"], "new": payload["new"], "at": payload["at"]})


class ReadyIdle:
    """Ready-idle seconds per agent inside [start, end), fed state changes in time
    order (some before ``start``: the state there). Pure; memory: one entry per agent."""

    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end
        self._state: dict[str, tuple[str, float]] = {}
        self.idle: dict[str, float] = {}

    def feed(self, at: float, agent: str, new: str) -> None:
        before = self._state.get(agent)
        if before is not None and before[0] == READY:
            self._add(agent, before[1], at)
        self._state[agent] = (new, at)
        if at < self.end:
            self.idle.setdefault(agent, 0.0)

    def _add(self, agent: str, since: float, until: float) -> None:
        span = min(until, self.end) - max(since, self.start)
        if span > 0:
            self.idle[agent] = self.idle.get(agent, 0.0) + span

    def result(self) -> dict[str, float]:
        """Closes every ready span still open at the end."""
        for agent, (state, since) in self._state.items():
            if state == READY:
                self._add(agent, since, self.end)
        self._state.clear()
        return self.idle


def ready_idle(changes: list[tuple[float, str, str]], start: float, end: float,
               ) -> dict[str, float]:
    """:class:`ReadyIdle` over (at, agent, new state) changes in time order."""
    acc = ReadyIdle(start, end)
    for at, agent, new in changes:
        acc.feed(at, agent, new)
    return acc.result()


async def read_ready_idle(client: aioredis.Redis, start: float, end: float, *,
                          chunk: int = 1000) -> dict[str, float] | None:
    """Ready-idle seconds per agent in [start, end) from the log, read in chunks;
    None when the log has nothing up to ``end`` (no log: occupancy stays null). The
    state at ``start`` comes from up to ``LOOKBACK_S`` before it; ready time before
    the log's first entry (a server without this log) is unknown and counts as none."""
    first = cast(list, await client.xrange(AGENT_LOG, count=1))
    if not first or float(first[0][1][b"at"]) >= end:
        return None
    low = f"{int(max(start - LOOKBACK_S, 0) * 1000)}-0"
    high = f"{int(end * 1000) - 1}-18446744073709551615" if math.isfinite(end) else "+"
    acc = ReadyIdle(start, end)
    while True:
        entries = cast(list, await client.xrange(AGENT_LOG, min=low, max=high, count=chunk))
        for _sid, f in entries:
            acc.feed(float(f[b"at"]), f[b"agent_id"].decode(), f[b"new"].decode())
        if len(entries) < chunk:
            return acc.result()
        low = "(" + entries[-1][0].decode()
