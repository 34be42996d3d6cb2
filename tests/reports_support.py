"""For the report page tests: the sample report and a stand-in for ``GET /api/reports``.

The real route (json and csv, computed from Redis) is helper ``report``'s; until it
is merged these tests serve the fixture through a stub route put first in the route
table, so it answers even once the real route is there: the page and the html
response are tested on a known report, independent of the figures' code.
"""

from __future__ import annotations

import json
from pathlib import Path

from server.web.http import ApiError, ApiRequest, Route
from server.web.reports_page import html_response

SAMPLE = Path(__file__).parent / "fixtures" / "report-sample.json"


def sample() -> dict:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def stub_reports(rig, report: dict) -> list[dict[str, str]]:
    """Serve ``report`` at GET /api/reports (supervisors) on the rig; returns the list
    the queries it gets are appended to."""
    seen: list[dict[str, str]] = []

    def handler(req: ApiRequest):
        seen.append(dict(req.query))
        fmt = req.query.get("format", "json")
        if fmt == "html":
            return html_response(req, report)
        if fmt == "json":
            return report
        raise ApiError(400, "the stub serves json and html only")
    rig.web.routes.insert(0, Route("GET", "/api/reports", handler, frozenset({"supervisor"})))
    return seen
