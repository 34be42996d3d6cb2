"""``GET /api/reports?...&format=html``: the printable report (server/reports/html.py) as
the response, with a Content-Security-Policy of its own.

The site's CSP (request.py) forbids inline style; the report is one self-contained
file whose only style is its inline ``<style>``.  So this one response allows inline
style and nothing else: no script at all, no fetch, no external resource, images
only as ``data:`` (there are none today), no frame around it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from server.reports.html import render

from .http import HANDLED, ApiRequest

__all__ = ["HTML_CSP", "html_response", "report_filename"]

HTML_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'")


def report_filename(report: Mapping[str, Any]) -> str:
    """``95598-report-<from day>_<to day>-<by>.html``, ASCII only (a header value)."""
    def day(key: str) -> str:
        m = re.match(r"\d{4}-\d{2}-\d{2}", str(report.get(key) or ""))
        return m.group(0) if m else "period"
    by = re.sub(r"[^a-z]", "", str(report.get("by", "centre")))[:10] or "centre"
    return f"95598-report-{day('from_local')}_{day('to_local')}-{by}.html"


def html_response(req: ApiRequest, report: Mapping[str, Any]) -> object:
    """Write ``render(report)`` as text/html (UTF-8) and finish the request; returns
    ``HANDLED`` for the route table, so a handler can end with
    ``return d.addCallback(lambda report: html_response(req, report))``."""
    request = req.request
    if request.finished or request._disconnected:
        return HANDLED  # the client left while the report was being computed
    data = render(report).encode("utf-8")
    request.setResponseCode(200)
    request.setHeader("Content-Type", "text/html; charset=utf-8")
    # Set before the first write: HardenedRequest then keeps it instead of the site's.
    request.setHeader("Content-Security-Policy", HTML_CSP)
    request.setHeader("Cache-Control", "no-store")
    request.setHeader("Content-Disposition", f'inline; filename="{report_filename(report)}"')
    request.setHeader("Content-Length", str(len(data)))
    if request.method != b"HEAD":
        request.write(data)
    request.finish()
    return HANDLED
