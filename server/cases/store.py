"""CaseStore: cases, their indexes, the due set and customer history in Redis.

Key layout (all under ``hotline:``; one Redis, not a cluster: the scripts build
index key names from values, which a cluster would refuse):

- ``case:<id>``                  hash {version, case(JSON), state, type, grade, owner}
- ``cases:idx:<field>:<value>``  sets of case ids by state, type, grade and owner,
                                 and ``cases:idx:open``: listing intersects them, no scan
- ``cases:due``                  zset id -> when the tick must next look (reminder or
                                 escalation); ``cases:deadline`` zset id -> the running
                                 limit's due time (the overdue view); closed cases leave both
- ``cases:client_keys``          hash client key -> case id (idempotent create)
- ``cases:seq:<yyyymmdd>``       the day's highest case number
- ``cust:<acct|phone>:<v>:cases``    zset case id -> opened at
- ``cust:<acct|phone>:<v>:calls``    zset call id -> started at (the last ``keep`` calls),
  ``cust:<acct|phone>:<v>:calldata`` hash call id -> summary JSON

Every write is one Lua script, idempotent: a case write applies only if its
version is newer than the stored one (a spool replay or a retried write changes
nothing); a call summary is keyed by its call id.  So the store can sit behind
``server.records.spool.DurableRecords`` exactly as the record store does.
Every method returns a Deferred; Redis errors propagate through it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import redis.asyncio as aioredis
from twisted.internet import defer

from cases.ids import parse_id
from server.records.store import _as_deferred, make_client

__all__ = ["PREFIX", "CaseStore", "case_entry", "call_entry"]

PREFIX = "hotline:"
DUE = f"{PREFIX}cases:due"
DEADLINE = f"{PREFIX}cases:deadline"
CLIENT_KEYS = f"{PREFIX}cases:client_keys"
OPEN = f"{PREFIX}cases:idx:open"
INDEXED = ("state", "type", "grade", "owner")


def case_key(case_id: str) -> str:
    return f"{PREFIX}case:{case_id}"


def index_key(field: str, value: str) -> str:
    return f"{PREFIX}cases:idx:{field}:{value}"


def customer_key(kind: str, value: str, what: str) -> str:
    return f"{PREFIX}cust:{kind}:{value}:{what}"


# ARGV: prefix, id, version, json, state, type, grade, owner, due score ('' none),
# deadline ('' none), open (1/0), client key, created_at, account, phone, day, seq.
_PUT_CASE = """
local P, id, v = ARGV[1], ARGV[2], tonumber(ARGV[3])
local key = P .. 'case:' .. id
if v <= tonumber(redis.call('HGET', key, 'version') or '-1') then return 0 end
local fields = {'state', 'type', 'grade', 'owner'}
local old = redis.call('HMGET', key, 'state', 'type', 'grade', 'owner')
for i = 1, 4 do
  local new = ARGV[4 + i]
  if old[i] and old[i] ~= '' and old[i] ~= new then
    redis.call('SREM', P .. 'cases:idx:' .. fields[i] .. ':' .. old[i], id)
  end
  if new ~= '' then redis.call('SADD', P .. 'cases:idx:' .. fields[i] .. ':' .. new, id) end
end
redis.call('HSET', key, 'version', ARGV[3], 'case', ARGV[4], 'state', ARGV[5],
           'type', ARGV[6], 'grade', ARGV[7], 'owner', ARGV[8])
if ARGV[9] == '' then redis.call('ZREM', P .. 'cases:due', id)
else redis.call('ZADD', P .. 'cases:due', ARGV[9], id) end
if ARGV[10] == '' then redis.call('ZREM', P .. 'cases:deadline', id)
else redis.call('ZADD', P .. 'cases:deadline', ARGV[10], id) end
if ARGV[11] == '1' then redis.call('SADD', P .. 'cases:idx:open', id)
else redis.call('SREM', P .. 'cases:idx:open', id) end
if ARGV[12] ~= '' then redis.call('HSETNX', P .. 'cases:client_keys', ARGV[12], id) end
local kinds = {'acct', 'phone'}
for i = 1, 2 do
  local v = ARGV[13 + i]
  if v ~= '' then
    redis.call('ZADD', P .. 'cust:' .. kinds[i] .. ':' .. v .. ':cases', ARGV[13], id)
  end
end
if ARGV[16] ~= '' then
  local seq = P .. 'cases:seq:' .. ARGV[16]
  if tonumber(redis.call('GET', seq) or '0') < tonumber(ARGV[17]) then
    redis.call('SET', seq, ARGV[17])
  end
end
return 1
"""

# ARGV: prefix, call id, at, json, keep, account, phone
_PUT_CALL = """
local P, id, at, body, keep = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local kinds = {'acct', 'phone'}
for i = 1, 2 do
  local v = ARGV[5 + i]
  if v ~= '' then
    local calls = P .. 'cust:' .. kinds[i] .. ':' .. v .. ':calls'
    local data = P .. 'cust:' .. kinds[i] .. ':' .. v .. ':calldata'
    redis.call('ZADD', calls, at, id)
    redis.call('HSET', data, id, body)
    local extra = redis.call('ZCARD', calls) - keep
    if extra > 0 then
      local popped = redis.call('ZPOPMIN', calls, extra)  -- member, score, member, ...
      for j = 1, #popped, 2 do redis.call('HDEL', data, popped[j]) end
    end
  end
end
return 1
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def case_entry(case: Mapping[str, Any], due: float | None) -> dict[str, Any]:
    """A spool/store entry for one case version (``case`` is ``Case.to_dict()``)."""
    return {"kind": "case", "id": case["id"], "version": case["version"], "due": due,
            "case": dict(case)}


def call_entry(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A spool/store entry for one call in the customer history (a CallSummary's dict)."""
    return {"kind": "call", "id": summary["call_id"], "call_id": summary["call_id"],
            "version": 0, "call": dict(summary)}


class CaseStore:
    """See the module docstring.  ``keep``: calls kept per account and per phone."""

    def __init__(self, client: aioredis.Redis, keep: int = 50) -> None:
        self._client = client
        self._keep = keep
        self._put_case = client.register_script(_PUT_CASE)
        self._put_call = client.register_script(_PUT_CALL)

    @classmethod
    def from_url(cls, url: str, timeout: float = 2.0, keep: int = 50, *,
                 username: str | None = None, password: str | None = None) -> CaseStore:
        """``username``/``password``: the Redis ACL user, as for the record store."""
        return cls(make_client(url, timeout, username=username, password=password), keep)

    def put(self, entry: Mapping[str, Any]) -> defer.Deferred:
        """Write a ``case_entry`` or ``call_entry``.  Fires with True when applied, False
        when a case version was not newer than the stored one (a replay)."""
        return _as_deferred(self._put(entry))

    async def _put(self, entry: Mapping[str, Any]) -> bool:
        if entry["kind"] == "call":
            c = entry["call"]
            await self._put_call(args=[PREFIX, c["call_id"], float(c["at"]), _dumps(c),
                                       self._keep, c.get("account") or "",
                                       c.get("phone") or ""])
            return True
        c, due = entry["case"], entry.get("due")
        dl = c.get("deadline")
        day, seq = parse_id(c["id"]) or ("", 0)
        result = await self._put_case(args=[
            PREFIX, c["id"], int(c["version"]), _dumps(c), c["state"], c["type"],
            c.get("grade") or "", c.get("owner") or "", "" if due is None else repr(due),
            "" if dl is None or c["state"] == "closed" else repr(dl["due_at"]),
            "0" if c["state"] == "closed" else "1", c.get("client_key") or "",
            repr(c["created_at"]), c.get("account") or "", c.get("phone") or "", day, seq])
        return result == 1

    def get(self, case_id: str) -> defer.Deferred:
        """Fires with the case dict, or None."""
        return self.get_many([case_id]).addCallback(lambda found: found[0] if found else None)

    def get_many(self, ids: Sequence[str]) -> defer.Deferred:
        """Fires with the case dicts of ``ids`` that exist, in the order given."""
        return _as_deferred(self._get_many(ids))

    async def _get_many(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for case_id in ids:
                pipe.hget(case_key(case_id), "case")
            raws = await pipe.execute()
        return [json.loads(raw) for raw in raws if raw is not None]

    def find_ids(self, *, state: str | None = None, type: str | None = None,
                 grade: str | None = None, owner: str | None = None,
                 open_only: bool = False) -> defer.Deferred:
        """Fires with the sorted ids matching every filter given (set intersection).
        With no filter at all: the open cases."""
        keys = [index_key(f, v) for f, v in zip(INDEXED, (state, type, grade, owner), strict=True)
                if v]
        if open_only or not keys:
            keys.append(OPEN)
        return _as_deferred(self._client.sinter(keys)).addCallback(
            lambda ids: sorted(i.decode() for i in ids))

    def due_ids(self, now: float, limit: int) -> defer.Deferred:
        """Fires with up to ``limit`` ids whose due score is at or before ``now``, earliest first.
        O(log N + limit): the tick never walks the open cases."""
        return _as_deferred(self._client.zrangebyscore(DUE, "-inf", now, start=0, num=limit)
                            ).addCallback(lambda ids: [i.decode() for i in ids])

    def overdue_ids(self, now: float, limit: int = 1000) -> defer.Deferred:
        """Fires with up to ``limit`` open case ids past their running limit, most overdue first."""
        return _as_deferred(self._client.zrangebyscore(DEADLINE, "-inf", now, start=0,
                                                       num=limit)
                            ).addCallback(lambda ids: [i.decode() for i in ids])

    def counts(self, now: float, *, states: Iterable[str], types: Iterable[str],
               grades: Iterable[str]) -> defer.Deferred:
        """Fires with {"open": n, "overdue": n, "state": {..}, "type": {..}, "grade": {..}}
        over the open cases, for the names given (for /metrics): one SINTERCARD per
        name, never a scan of the keyspace."""
        return _as_deferred(self._counts(now, {"state": states, "type": types,
                                               "grade": grades}))

    async def _counts(self, now: float, names: Mapping[str, Iterable[str]]
                      ) -> dict[str, Any]:
        out: dict[str, Any] = {"open": await self._client.scard(OPEN),
                               "overdue": await self._client.zcount(DEADLINE, "-inf", now)}
        for field, values in names.items():
            out[field] = {}
            for name in values:
                n = await self._client.execute_command("SINTERCARD", 2,
                                                       index_key(field, name), OPEN)
                if n:
                    out[field][name] = n
        return out

    def case_for_client_key(self, client_key: str) -> defer.Deferred:
        """Fires with the id of the case created with ``client_key``, or None."""
        return _as_deferred(self._client.hget(CLIENT_KEYS, client_key)).addCallback(
            lambda raw: None if raw is None else raw.decode())

    def day_counter(self, day: str) -> defer.Deferred:
        """Fires with the highest case number stored for ``day`` (0 if none)."""
        return _as_deferred(self._client.get(f"{PREFIX}cases:seq:{day}")).addCallback(
            lambda raw: int(raw or 0))

    def customer(self, *, account: str = "", phone: str = "", limit: int = 20
                 ) -> defer.Deferred:
        """Fires with (case ids newest first, call summary dicts newest first) of the
        account and the phone together, each at most ``limit``."""
        return _as_deferred(self._customer(account, phone, limit))

    async def _customer(self, account: str, phone: str, limit: int
                        ) -> tuple[list[str], list[dict[str, Any]]]:
        cases: dict[str, float] = {}
        calls: dict[str, dict[str, Any]] = {}
        for kind, value in (("acct", account), ("phone", phone)):
            if not value:
                continue
            # The client never sets decode_responses: members are bytes, and with scores
            # each is (member, float). redis-py types the reply for every option.
            scored = cast(list[tuple[bytes, float]], await self._client.zrevrange(
                customer_key(kind, value, "cases"), 0, limit - 1, withscores=True))
            for cid, at in scored:
                cases[cid.decode()] = at
            ids = cast(list[bytes], await self._client.zrevrange(
                customer_key(kind, value, "calls"), 0, limit - 1))
            if ids:
                raws = await self._client.hmget(customer_key(kind, value, "calldata"), ids)
                for raw in raws:
                    if raw is not None:
                        summary = json.loads(raw)
                        calls[summary["call_id"]] = summary
        case_ids = sorted(cases, key=lambda c: (-cases[c], c))[:limit]
        call_list = sorted(calls.values(), key=lambda c: -c["at"])[:limit]
        return case_ids, call_list

    def close(self) -> defer.Deferred:
        return _as_deferred(self._client.aclose())
