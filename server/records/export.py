"""Export finished records by date, and trim the stream once exported.

Runs outside the reactor (a CLI), so it uses redis-py's synchronous client.

Stream IDs are Redis' millisecond timestamps at write time, so a date range is an
XRANGE by ID, read in batches; memory stays flat however long the range. A record
spooled during a Redis outage gets the ID of its replay, a few seconds or minutes
after the call ended; its own timeline keeps the true times.

A call corrected after it ended (a late wrap-up) has several final versions in the
stream; the export writes only the newest, using ``hotline:records:seen``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO, cast

import redis

from server.records.durations import Durations, compute_durations
from server.records.model import CallRecord
from server.records.store import EXPORTED_UNTIL, SEEN, STREAM

RETENTION_FLOOR_DAYS = 92  # DL/T 2046-2019: records and recordings kept ≥ 3 months

CSV_COLUMNS = [
    "stream_id", "call_id", "version", "kind", "outcome", "arrived_at", "ended_at",
    "caller", "dialled", "language", "ivr_path", "account", "intent", "queues",
    "priority", "agent_id", "agent_tier", "disposition", "notes", "satisfaction",
    "satisfaction_reason", "recording", "outage_notice", "hung_up_by", "fallback_reason",
    *Durations.__dataclass_fields__,
]


def _parse_id(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


# This module's clients never set decode_responses, so Redis replies are bytes, and
# XRANGE never answers a nil id or field map (only XCLAIM does). redis-py types each
# reply for every client option (bytes | str, ... | None), hence these casts.
_Entries = list[tuple[bytes, dict[bytes, bytes]]]


def _xrange(client: redis.Redis, low: str, high: str, count: int) -> _Entries:
    return cast(_Entries, client.xrange(STREAM, min=low, max=high, count=count) or [])


def _get(client: redis.Redis, key: str) -> bytes | None:
    return cast("bytes | None", client.get(key))


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _iso(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def iter_records(client: redis.Redis, start: datetime | None, end: datetime | None,
                 batch: int = 500) -> Iterator[tuple[str, dict[str, Any]]]:
    """(stream_id, record dict) for the newest version of each call in [start, end)."""
    low = f"{_ms(start)}-0" if start else "-"
    high = f"({_ms(end)}-0" if end else "+"
    while True:
        entries = _xrange(client, low, high, batch)
        if not entries:
            return
        call_ids = [fields[b"call_id"] for _, fields in entries]
        newest = client.hmget(SEEN, call_ids)
        for (raw_id, fields), seen in zip(entries, newest, strict=True):
            if seen is not None and int(fields[b"version"]) < int(seen):
                continue  # superseded by a later final version
            yield raw_id.decode(), json.loads(fields[b"record"])
        low = "(" + entries[-1][0].decode()


def _csv_row(stream_id: str, raw: dict[str, Any]) -> dict[str, Any]:
    record = CallRecord.from_dict(raw)
    bridge_end = next((e for e in record.timeline if e.kind == "bridge_end"), None)
    # The dialplan's safety net took the call to Asterisk's fallback queue (and
    # why: watchdog, server-down, agi-failure); outcome fallback_answered/_abandoned.
    fallback = next((e for e in record.timeline if e.kind == "fallback"), None)
    row: dict[str, Any] = {
        "stream_id": stream_id,
        "arrived_at": _iso(record.timeline[0].t if record.timeline else None),
        "ended_at": _iso(record.timeline[-1].t if record.timeline else None),
        "ivr_path": " > ".join(f"{menu}:{key}" for menu, key in record.ivr_path),
        "queues": "|".join(record.queues),
        "hung_up_by": bridge_end.details.get("hung_up_by") if bridge_end else "",
        "fallback_reason": fallback.details.get("reason") if fallback else "",
        **compute_durations(record.timeline).to_dict(),
    }
    for column in CSV_COLUMNS:
        if column not in row:
            value = getattr(record, column)
            row[column] = "" if value is None else value
    return row


def export_records(redis_url: str, start: datetime | None, end: datetime | None,
                   fmt: str, out: TextIO, batch: int = 500, *, username: str | None = None,
                   password: str | None = None) -> int:
    """Write the records in [start, end) to ``out`` as "csv" or "jsonl"; returns the
    number written. Advances ``hotline:records:exported_until`` when the export
    continues from the marker (so trim never removes entries nobody exported)."""
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"unknown export format {fmt!r}: use csv or jsonl")
    client = _client(redis_url, username, password)
    try:
        writer = None
        if fmt == "csv":
            writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
            writer.writeheader()
        count = 0
        last_id: str | None = None
        for stream_id, raw in iter_records(client, start, end, batch):
            if writer is not None:
                writer.writerow(_csv_row(stream_id, raw))
            else:
                line = {**raw, "stream_id": stream_id,
                        "fallback_reason": next((e[2].get("reason") for e in raw.get(
                            "timeline", ()) if e[1] == "fallback"), None),
                        "durations": compute_durations(
                            CallRecord.from_dict(raw).timeline).to_dict()}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
            count += 1
            last_id = stream_id
        out.flush()
        # The marker moves to the last entry written: superseded entries after it
        # stay "not exported" until a later export passes them (the safe side).
        if last_id is not None:
            _advance_marker(client, start, last_id)
        return count
    finally:
        client.close()


def _advance_marker(client: redis.Redis, start: datetime | None, last_id: str) -> None:
    """Move the marker to ``last_id`` if this export continued from it: no entry
    lies between the marker and the start of this export's range."""
    raw = _get(client, EXPORTED_UNTIL)
    marker = raw.decode() if raw else None
    if start is not None:
        gap = _xrange(client, "(" + marker if marker else "-", f"({_ms(start)}-0", 1)
        if gap:
            return
    if marker is None or _parse_id(last_id) > _parse_id(marker):
        client.set(EXPORTED_UNTIL, last_id)


def _client(url: str, username: str | None, password: str | None) -> redis.Redis:
    """A client as the ACL user (server.yaml redis.username; the password as the daemon's)."""
    auth = {k: v for k, v in (("username", username), ("password", password)) if v}
    return redis.Redis.from_url(url, **auth)


def trim_exported(redis_url: str, retention_days: float = RETENTION_FLOOR_DAYS,
                  now: float | None = None, batch: int = 500, *,
                  username: str | None = None, password: str | None = None) -> int:
    """Delete stream entries older than ``retention_days`` that were exported (IDs
    up to ``hotline:records:exported_until``). Returns how many were deleted.
    ``now`` is epoch seconds (the CLI passes the wall clock)."""
    if now is None:
        raise ValueError("trim_exported needs now (epoch seconds)")
    cutoff = (int((now - retention_days * 86400) * 1000), 0)
    client = _client(redis_url, username, password)
    try:
        raw = _get(client, EXPORTED_UNTIL)
        if raw is None:
            return 0  # nothing ever exported: nothing may go
        marker = _parse_id(raw.decode())
        limit = min(cutoff, (marker[0], marker[1] + 1))  # marker itself was exported
        deleted = 0
        while True:
            entries = _xrange(client, "-", "+", batch)
            doomed = [(i, f) for i, f in entries if _parse_id(i.decode()) < limit]
            if not doomed:
                return deleted
            _delete(client, doomed)
            deleted += len(doomed)
            if len(doomed) < len(entries):
                return deleted
    finally:
        client.close()


def _delete(client: redis.Redis, doomed: _Entries) -> None:
    call_ids = [f[b"call_id"] for _, f in doomed]
    seen = client.hmget(SEEN, call_ids)
    pipe = client.pipeline(transaction=True)
    pipe.xdel(STREAM, *[i for i, _ in doomed])
    # Forget the idempotence entry only when the newest version itself went; a call
    # corrected later still has a newer entry that the marker must keep guarding.
    stale = [c for (_, f), c, s in zip(doomed, call_ids, seen, strict=True)
             if s is not None and int(s) == int(f[b"version"])]
    if stale:
        pipe.hdel(SEEN, *stale)
    pipe.execute()
