"""GET /api/reports?...&format=html over real sockets: the printable report with a CSP
of its own (inline style, no script, no fetch, no frame), the site's other headers
kept, a file name for "save as"; through the stub route (tests/reports_support.py)."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import defer

from server.reports.html import render
from server.web.reports_page import HTML_CSP, report_filename
from tests.reports_support import sample, stub_reports
from tests.test_web_support import WebRig


@pytest.fixture
def rig(redis_db, tmp_path):
    r = WebRig(redis_db(15), tmp_path, with_cases=False)
    yield r
    pytest_twisted.blockon(defer.ensureDeferred(r.close()))


@pytest_twisted.ensureDeferred
async def test_the_printable_report_comes_with_its_own_csp(rig):
    report = sample()
    seen = stub_reports(rig, report)
    token = await rig.login("supervisor1")
    code, body, resp = await rig.request(
        "GET", "/api/reports?from=2026-12-01&to=2026-12-01&by=queue&format=html", token=token)
    assert code == 200 and seen == [{"from": "2026-12-01", "to": "2026-12-01", "by": "queue",
                                     "format": "html"}]
    h = resp.headers
    assert h.getRawHeaders("content-type") == ["text/html; charset=utf-8"]
    csp = h.getRawHeaders("content-security-policy")
    assert csp == [HTML_CSP]  # replaces the site's, not added beside it
    assert "default-src 'none'" in HTML_CSP and "style-src 'unsafe-inline'" in HTML_CSP
    assert "script-src" not in HTML_CSP and "connect-src" not in HTML_CSP
    assert h.getRawHeaders("x-content-type-options") == ["nosniff"]
    assert h.getRawHeaders("x-frame-options") == ["DENY"]
    assert h.getRawHeaders("cache-control") == ["no-store"]
    assert h.getRawHeaders("content-disposition") == [
        'inline; filename="95598-report-2026-12-01_2026-12-02-queue.html"']
    assert body.decode("utf-8") == render(report)
    # The JSON answer of the same route keeps the site's strict policy.
    code, got, resp = await rig.request("GET", "/api/reports?from=2026-12-01&to=2026-12-01",
                                        token=token)
    assert code == 200 and got["total"] == report["total"]
    assert "unsafe-inline" not in resp.headers.getRawHeaders("content-security-policy")[0]


def test_the_file_name_is_plain_ascii_whatever_the_dict_says():
    assert report_filename({"from_local": "2026-12-01T00:00:00+08:00",
                            "to_local": "2027-01-01T00:00:00+08:00", "by": "team"}) == \
        "95598-report-2026-12-01_2027-01-01-team.html"
    assert report_filename({"from_local": '"\r\nX: y', "by": '"; evil=1\r\n'}) == \
        "95598-report-period_period-evil.html"
