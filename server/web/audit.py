"""The audit trail of supervisor actions: a structured log line and a Redis stream.

``AuditLog.record(who, action, target, detail)`` is what every supervisor action
that reaches into someone else's work calls (listen, whisper, barge; forced
pause, ready, logout).  Each entry goes to two places:

* the log, at once, as one structured event (``audit_who``, ``audit_action``,
  ``audit_target``, ``audit_detail`` fields; the JSON log format keeps them as
  fields for a log shipper), so nothing is lost while Redis is down;
* the Redis stream ``hotline:audit``, bounded to ``maxlen`` entries (``XADD
  MAXLEN``; audit entries are rare, so exact trimming is cheap), for
  ``GET /api/audit``.  A failed write is logged and never fails the request.

Built in the composition root (``build_web``) and injected; there is no global.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

__all__ = ["AUDIT_STREAM", "AuditLog"]

AUDIT_STREAM = "hotline:audit"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class AuditLog:
    log = Logger()

    def __init__(self, redis_client, clock, maxlen: int = 100_000) -> None:
        self.redis, self.clock, self.maxlen = redis_client, clock, maxlen
        self.pending: defer.Deferred | None = None  # the last write (tests wait on it)

    def record(self, who: str, action: str, target: str, detail: dict) -> None:
        """Log the action and append it to the stream; never raises for Redis."""
        at = self.clock.seconds()
        detail_json = json.dumps(detail, ensure_ascii=False, sort_keys=True,
                                 separators=(",", ":"), default=str)
        self.log.info("audit: {audit_who} {audit_action} {audit_target} {audit_detail}",
                      audit_at=at, audit_who=who, audit_action=action, audit_target=target,
                      audit_detail=detail_json)
        fields = {"at": repr(at), "who": who, "action": action, "target": target,
                  "detail": detail_json}
        try:
            future = asyncio.ensure_future(self.redis.xadd(AUDIT_STREAM, fields,
                                                           maxlen=self.maxlen,
                                                           approximate=False))
            d = defer.Deferred.fromFuture(future)
        except Exception as exc:  # no loop, a closed client: still only a log line
            d = defer.fail(exc)
        d.addErrback(self._not_stored, action, who, target)
        self.pending = d

    def _not_stored(self, failure, action: str, who: str, target: str) -> None:
        self.log.warn("audit entry {action} by {who} on {target} not stored in Redis "
                      "({err}); it is in this log", action=action, who=who, target=target,
                      err=failure.getErrorMessage())

    @defer.inlineCallbacks
    def recent(self, limit: int):
        """Fires with the newest ``limit`` entries, newest first, as dicts; fails with
        the Redis error when the stream cannot be read."""
        rows = yield defer.Deferred.fromFuture(asyncio.ensure_future(
            self.redis.xrevrange(AUDIT_STREAM, count=limit)))
        out: list[dict[str, Any]] = []
        for entry_id, raw in rows:
            f = {_text(k): _text(v) for k, v in raw.items()}
            try:
                detail = json.loads(f.get("detail", "{}"))
            except ValueError:
                detail = {}
            out.append({"id": _text(entry_id), "at": float(f.get("at", "0") or 0),
                        "who": f.get("who", ""), "action": f.get("action", ""),
                        "target": f.get("target", ""), "detail": detail})
        return out
