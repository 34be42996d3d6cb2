"""Quality review: records from Redis, recordings from disk, QA scores in Redis.

Reads use the redis.asyncio client on the asyncio loop (never blocking the reactor).
Listing scans the records stream newest first, at most ``scan_limit`` entries, and
keeps each call's highest version; filters apply to the record (``from``/``to`` to
its arrival time).  QA revisions are a Redis list per call, ``hotline:qa:<call_id>``,
appended to and never rewritten, so the history stays.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any

from twisted.internet import defer
from twisted.web import static

from queues.appraisal import AppraisalConfig
from queues.model import AcdConfig
from server.records.durations import compute_durations
from server.records.model import CallRecord
from server.records.scorecards import AgentScorecards, is_complaint
from server.records.store import STREAM, call_key
from server.reports.api import LIVE_CHUNK
from server.reports.reader import DEFAULT_MAX_LAG_S, DEFAULT_SLACK_S, read_records

from .http import HANDLED, ApiError, ApiRequest
from .qa import QaForm
from .scorecard_view import BY, shape_scorecards, team_map

QA_PREFIX = "hotline:qa:"
FILTERS = ("from", "to", "queue", "agent", "disposition", "min_handling_s", "dissatisfied",
           "complaints", "long_holds", "limit")
SCORECARD_QUERIES = ("from", "to", "agent", "by", "tier")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


def _deferred(coro) -> defer.Deferred:
    return defer.Deferred.fromFuture(asyncio.ensure_future(coro))


def _number(query: dict[str, str], key: str) -> float | None:
    if key not in query:
        return None
    raw = query[key]
    try:
        value = float(raw)
    except ValueError:
        pass
    else:  # nan, inf and 1e400 parse but compare wrongly and break int()
        if not math.isfinite(value):
            raise ApiError(400, f"query '{key}' must be a finite number")
        return value
    if key in ("from", "to"):
        try:
            return dt.datetime.fromisoformat(raw).timestamp()
        except ValueError:
            pass
        raise ApiError(400, f"query '{key}' must be epoch seconds or an ISO 8601 time")
    raise ApiError(400, f"query '{key}' must be a number")


_RANGE_SPEC = re.compile(r"(\d+)-(\d*)|-(\d+)", re.ASCII)


def _single_range(request, size: int) -> None:
    """Rewrite the request's Range header so twisted's static.File only sees one
    well-formed byte range, or none (a 200 with the whole file).

    - malformed, another unit, or first > last: ignored, as RFC 9110 14.2 allows;
    - several ranges: ignored, the whole file once (static.File would send every
      range, overlapping or not: 'bytes=0-N' x 200 was the file 200 times);
    - a suffix range longer than the file ('bytes=-N', N > size): the whole file as
      RFC 9110 14.1.1 says (static.File seeked to a negative offset: a 500);
    - the rest (including unsatisfiable 'bytes=-0' and first >= size: 416) goes
      through unchanged in a canonical spelling.
    """
    headers = request.requestHeaders
    raw = headers.getRawHeaders(b"range")
    if not raw:
        return
    unit, sep, ranges = b",".join(raw).decode("latin-1").partition("=")
    specs = [r.strip() for r in ranges.split(",") if r.strip()]
    m = _RANGE_SPEC.fullmatch(specs[0]) if len(specs) == 1 else None
    if not sep or unit.strip().lower() != "bytes" or m is None:
        headers.removeHeader(b"range")
        return
    first, last, suffix = m.groups()
    if suffix is not None:
        canonical = "bytes=0-" if int(suffix) > size else f"bytes=-{int(suffix)}"
    elif last and int(first) > int(last):
        headers.removeHeader(b"range")
        return
    else:
        canonical = f"bytes={int(first)}-{int(last) if last else ''}"
    headers.setRawHeaders(b"range", [canonical.encode("ascii")])


def _flag(query: dict[str, str], key: str) -> bool:
    value = query.get(key, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise ApiError(400, f"query '{key}' must be true or false")
    return value in ("true", "1")


def summary(rec: CallRecord) -> dict[str, Any]:
    d = compute_durations(rec.timeline)
    return {"call_id": rec.call_id, "arrived": rec.timeline[0].t if rec.timeline else None,
            "caller": rec.caller, "queues": list(rec.queues), "agent_id": rec.agent_id,
            "intent": rec.intent, "outcome": rec.outcome, "disposition": rec.disposition,
            "satisfaction": rec.satisfaction, "handling_s": d.handling_s, "hold_s": d.hold_s,
            "queue_wait_s": d.queue_wait_s, "complaint": is_complaint(rec)}


class Review:
    def __init__(self, client, form: QaForm, recordings_dir: str, clock,
                 scan_limit: int = 20_000, *, max_lag_s: float = DEFAULT_MAX_LAG_S,
                 slack_s: float = DEFAULT_SLACK_S, acd: AcdConfig,
                 appraisal: AppraisalConfig) -> None:
        """``acd``: tiers, teams and names for the scorecards; ``appraisal``: its
        weights (queues.yaml)."""
        self.client, self.form, self.clock = client, form, clock
        self.acd, self.appraisal = acd, appraisal
        # How far past `to` the scorecards read the stream (server.yaml reports:).
        self.max_lag_s, self.slack_s = max_lag_s, slack_s
        self.recordings_dir = Path(recordings_dir)
        self.scan_limit = scan_limit
        self._qa_lock = asyncio.Lock()  # QA saves, one at a time (see post_qa)

    # ------------------------------------------------------------ Redis reads
    async def _scan(self, wanted: str | None = None) -> dict[str, CallRecord]:
        """Final records newest first (highest version per call); one call if ``wanted``."""
        found: dict[str, CallRecord] = {}
        high, seen = "+", 0
        while seen < self.scan_limit:
            entries = await self.client.xrevrange(STREAM, max=high, min="-", count=500)
            if not entries:
                break
            for _sid, fields in entries:
                seen += 1
                cid = fields[b"call_id"].decode()
                if wanted is not None and cid != wanted:
                    continue
                rec = CallRecord.from_dict(json.loads(fields[b"record"]))
                if cid not in found or found[cid].version < rec.version:
                    found[cid] = rec
            high = "(" + entries[-1][0].decode()
        return found

    async def _find(self, call_id: str) -> CallRecord | None:
        raw = await self.client.hget(call_key(call_id), "record")
        if raw is not None:
            return CallRecord.from_dict(json.loads(raw))
        return (await self._scan(call_id)).get(call_id)

    # ------------------------------------------------------------ handlers
    def list_records(self, req: ApiRequest) -> defer.Deferred:
        q = req.query
        for key in q:
            if key not in FILTERS:
                raise ApiError(400, f"unknown query '{key}'; known: {', '.join(FILTERS)}")
        lo, hi = _number(q, "from"), _number(q, "to")
        min_handling, long_holds = _number(q, "min_handling_s"), _number(q, "long_holds")
        limit_n = _number(q, "limit")
        limit = 100 if limit_n is None else int(limit_n)
        if limit_n is not None and limit_n != limit or not 1 <= limit <= 1000:
            raise ApiError(400, "query 'limit' must be an integer 1-1000")
        dissatisfied, complaints = _flag(q, "dissatisfied"), _flag(q, "complaints")

        def keep(rec: CallRecord) -> bool:
            arrived = rec.timeline[0].t if rec.timeline else 0.0
            d = compute_durations(rec.timeline)
            return not (
                (lo is not None and arrived < lo) or (hi is not None and arrived >= hi)
                or ("queue" in q and q["queue"] not in rec.queues)
                or ("agent" in q and rec.agent_id != q["agent"])
                or ("disposition" in q and rec.disposition != q["disposition"])
                or (min_handling is not None and d.handling_s < min_handling)
                or (long_holds is not None and d.hold_s < long_holds)
                or (dissatisfied and rec.satisfaction != "dissatisfied")
                or (complaints and not is_complaint(rec)))

        async def rows() -> dict[str, Any]:
            found = await self._scan()
            out = sorted((summary(r) for r in found.values() if keep(r)),
                         key=lambda s: s["arrived"] or 0, reverse=True)
            page = out[:limit]
            # how many QA revisions each shown call has: the page's "reviewed" column
            pipe = self.client.pipeline(transaction=False)
            for row in page:
                pipe.llen(QA_PREFIX + row["call_id"])
            for row, n in zip(page, await pipe.execute() if page else [], strict=True):
                row["qa_revisions"] = n
            return {"records": page, "total": len(out)}
        return _deferred(rows())

    async def _qa_totals(self, call_ids: list[str]) -> dict[str, float]:
        """The latest QA total of each reviewed call among ``call_ids`` (one pipeline)."""
        if not call_ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for cid in call_ids:
            pipe.lindex(QA_PREFIX + cid, -1)
        out = {}
        for cid, raw in zip(call_ids, await pipe.execute(), strict=True):
            if raw is not None:
                out[cid] = float(json.loads(raw)["total"])
        return out

    def scorecards(self, req: ApiRequest) -> defer.Deferred:
        """Scorecards over the final records of a period (``from``/``to`` on arrival;
        either may be left open), per agent or per team (``by``), for one tier or all,
        with each agent's QA (latest score of each reviewed call) and appraisal.  Read
        by time range through the reports' reader (server/reports/reader.py): every
        record of the period, in bounded memory (QA read per 500 records), not the
        newest N."""
        q = req.query
        for key in q:
            if key not in SCORECARD_QUERIES:
                raise ApiError(400, f"unknown query '{key}'; known: "
                                    f"{', '.join(SCORECARD_QUERIES)}")
        lo, hi = _number(q, "from"), _number(q, "to")
        by, tier = q.get("by", "agent"), q.get("tier")
        if by not in BY:
            raise ApiError(400, f"query 'by' must be one of {', '.join(BY)}")
        tiers = [t.name for t in self.acd.tiers]
        if tier is not None and tier not in tiers:
            raise ApiError(400, f"query 'tier' must be one of {', '.join(tiers)}")

        async def read() -> dict[str, Any]:
            cards = AgentScorecards()
            teams = AgentScorecards(team_map(self.acd, tier)) if by == "team" else None
            batch: list[CallRecord] = []

            async def flush() -> None:
                qa = await self._qa_totals([r.call_id for r in batch if r.agent_id])
                for r in batch:
                    cards.add(r, qa.get(r.call_id))
                    if teams is not None:
                        teams.add(r, qa.get(r.call_id))
                batch.clear()
            async for rec in read_records(
                    self.client, -math.inf if lo is None else lo,
                    math.inf if hi is None else hi, max_lag_s=self.max_lag_s,
                    slack_s=self.slack_s, chunk=LIVE_CHUNK):
                batch.append(rec)
                if len(batch) >= 500:
                    await flush()
            await flush()
            team_cards = None
            if teams is not None:
                team_cards = {k: c for k, c in teams.cards().items() if k != "(no team)"}
            shaped = shape_scorecards(cards.cards(), team_cards, self.acd, self.appraisal,
                                      tier=tier, agent=q.get("agent"))
            return {"from": lo, "to": hi, "by": by, "tier": tier, "records": cards.records,
                    **shaped}
        return _deferred(read())

    def get_record(self, req: ApiRequest) -> defer.Deferred:
        call_id = req.params["call_id"]

        def shape(rec: CallRecord | None) -> dict[str, Any]:
            if rec is None:
                raise ApiError(404, f"no record for call {call_id}")
            out = rec.to_dict()
            out["durations"] = compute_durations(rec.timeline).to_dict()
            out["recording_url"] = (f"/api/recordings/{rec.recording}"
                                    if rec.recording else None)
            return out
        return _deferred(self._find(call_id)).addCallback(shape)

    def recording(self, req: ApiRequest):
        name = req.params["file"]
        if not _SAFE_NAME.match(name) or ".." in name:
            raise ApiError(400, "recording names are plain file names")
        base = self.recordings_dir.resolve()
        path = (base / name).resolve()
        if path.parent != base:
            raise ApiError(400, "recording names are plain file names")
        if not path.is_file():
            raise ApiError(404, f"no recording {name}")
        # static.File does HEAD, 206 and 416, but only after _single_range has reduced
        # the Range header to one well-formed range within the file (or removed it).
        _single_range(req.request, path.stat().st_size)
        result = static.File(str(path), defaultType="application/octet-stream").render(
            req.request)
        if isinstance(result, bytes):
            req.request.write(result)
            req.request.finish()
        return HANDLED

    def get_qa(self, req: ApiRequest) -> defer.Deferred:
        call_id = req.params["call_id"]

        async def load() -> dict[str, Any]:
            raw = await self.client.lrange(QA_PREFIX + call_id, 0, -1)
            history = [json.loads(r) for r in raw]
            return {"call_id": call_id, "form": self.form.to_json(),
                    "current": history[-1] if history else None, "history": history}
        return _deferred(load())

    def post_qa(self, req: ApiRequest) -> defer.Deferred:
        """201 with the new revision; 200 with the latest one when it is the same
        reviewer's identical scores and comments (a double submit saves nothing).
        Saves run one after another (they are human-paced), so two identical requests
        in flight together cannot both append."""
        call_id = req.params["call_id"]
        total = self.form.score(req.body["scores"])
        comments = req.body.get("comments", "")

        async def save() -> tuple[int, dict[str, Any]]:
            async with self._qa_lock:
                return await locked()

        async def locked() -> tuple[int, dict[str, Any]]:
            if await self._find(call_id) is None:
                raise ApiError(404, f"no record for call {call_id}", code="no_such_call")
            key = QA_PREFIX + call_id
            last = await self.client.lindex(key, -1)
            if last is not None:
                prev = json.loads(last)
                if (prev.get("reviewer"), prev.get("scores"), prev.get("comments")) == (
                        req.session.subject, req.body["scores"], comments):
                    return 200, prev
            entry = {"reviewer": req.session.subject, "at": self.clock.seconds(),
                     "scores": req.body["scores"], "comments": comments, "total": total}
            entry["revision"] = await self.client.rpush(
                key, json.dumps(entry, ensure_ascii=False))
            # rpush numbered it; store that number too so each entry is self-describing
            await self.client.lset(key, entry["revision"] - 1,
                                   json.dumps(entry, ensure_ascii=False))
            return 201, entry
        return _deferred(save())
