"""``GET /api/reports?from=&to=&by=&format=json|csv|html``: a period report for supervisors.

The same builder and reader as ``python -m server report``; ``from``/``to`` as
there (a local day, an ISO date-time, or epoch seconds; a day as ``to`` is
included). Bad queries are 400s that say what to fix; Redis down is a 503.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from twisted.internet import defer

from server.web.http import HANDLED, ApiError, ApiRequest
from server.web.reports_page import html_response

from . import builder_for
from .build import BY
from .period import PeriodError, period, to_csv
from .reader import report_deferred

__all__ = ["FORMATS", "ReportsApi"]

FORMATS = ("json", "csv", "html")
_QUERY = ("from", "to", "by", "format")
# The daemon's reactor counts the records between the reads of the stream: chunks
# of 100 keep each slice of counting to ~10-20 ms (about 100-165 us a record, see
# make bench), so calls are not held up while a month is counted; and one report
# at a time, so several supervisors do not multiply that load.
LIVE_CHUNK = 100
# The report page asks for the figures (JSON) and then for the printable report
# (HTML) of the same period: a report made less than this ago is served again
# rather than counted twice (a month is minutes of counting in the daemon).
REUSE_S = 60.0
_KEEP = 8  # reports kept for reuse (each a few hundred KB at most: one per group and hour)


class ReportsApi:
    def __init__(self, client: Any, cfg: Any, clock: Any) -> None:
        self.client, self.cfg, self.clock = client, cfg, clock
        self._one_at_a_time = defer.DeferredLock()
        self._recent: OrderedDict[tuple[float, float, str], tuple[float, dict[str, Any]]] = \
            OrderedDict()

    def _report(self, start: float, end: float, by: str) -> defer.Deferred:
        """The period's report: one made less than REUSE_S ago, else counted now (under
        the lock, so a second request for the same period waits and then reuses it)."""
        key, now = (start, end, by), self.clock.seconds()
        made = self._recent.get(key)
        if made is not None and now - made[0] < REUSE_S:
            return defer.succeed(made[1])
        rs = self.cfg.server.reports
        d = report_deferred(
            self.client, builder_for(self.cfg, start, end, by), now=now,
            cases_timezone=self.cfg.cases.timezone, max_lag_s=rs.max_record_lag_s,
            slack_s=rs.clock_slack_s, chunk=LIVE_CHUNK)

        def keep(report: dict[str, Any]) -> dict[str, Any]:
            self._recent[key] = (now, report)
            self._recent.move_to_end(key)
            while len(self._recent) > _KEEP:
                self._recent.popitem(last=False)
            return report
        return d.addCallback(keep)

    def get(self, req: ApiRequest) -> defer.Deferred:
        """Fires with the report dict (JSON) or HANDLED after writing the CSV or the
        printable HTML (server/web/reports_page.py); raises
        ApiError 400 for a bad query, fails with ApiError 503 when Redis cannot be read."""
        q = req.query
        for key in q:
            if key not in _QUERY:
                raise ApiError(400, f"unknown query '{key}'; known: {', '.join(_QUERY)}")
        for key in ("from", "to"):
            if not q.get(key):
                raise ApiError(400, f"query '{key}' is required (YYYY-MM-DD, an ISO "
                                    "date-time or epoch seconds)")
        by, fmt = q.get("by", "centre"), q.get("format", "json")
        if by not in BY:
            raise ApiError(400, f"query 'by' must be one of: {', '.join(BY)}")
        if fmt not in FORMATS:
            raise ApiError(400, f"query 'format' must be one of: {', '.join(FORMATS)}")
        rs = self.cfg.server.reports
        try:
            start, end = period(q["from"], q["to"], rs.timezone)
        except PeriodError as exc:
            raise ApiError(400, str(exc)) from None
        d = self._one_at_a_time.run(self._report, start, end, by)

        def unavailable(failure):
            raise ApiError(503, f"the records cannot be read now: {failure.getErrorMessage()}")

        def shape(report: dict[str, Any]):
            if fmt == "json":
                return report
            if fmt == "html":
                return html_response(req, report)
            _write_csv(req, to_csv(report), f"report-{by}.csv")
            return HANDLED
        return d.addCallbacks(shape, unavailable)


def _write_csv(req: ApiRequest, text: str, name: str) -> None:
    request = req.request
    if request.finished or request._disconnected:
        return
    data = text.encode("utf-8")
    request.setResponseCode(200)
    request.setHeader("Content-Type", "text/csv; charset=utf-8")
    request.setHeader("Content-Disposition", f'attachment; filename="{name}"')
    request.setHeader("Cache-Control", "no-store")
    request.setHeader("Content-Length", str(len(data)))
    if request.method != b"HEAD":
        request.write(data)
    request.finish()
