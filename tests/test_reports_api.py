"""GET /api/reports (supervisors) and ``python -m server report`` on a real redis-server."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import defer

from server.config import load_config
from tests.test_web_review import T0, record
from tests.test_web_support import WebRig

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def db(redis_server) -> str:
    return redis_server.url.rsplit("/", 1)[0] + "/10"


@pytest.fixture
def rig(db, tmp_path):
    (tmp_path / "rec").mkdir()
    r = WebRig(db, tmp_path / "rec")
    yield r
    pytest_twisted.blockon(defer.ensureDeferred(r.close()))


def _write(url: str, records: list[dict]) -> None:
    """As the store writes them, but with the stream ids of when they ended (the
    reader reads ids near the period; a record written a year later is past its lag)."""
    import redis

    from server.records.store import SEEN, STREAM

    client = redis.Redis.from_url(url)
    for n, rec in enumerate(sorted(records, key=lambda r: r["timeline"][-1][0])):
        ended_ms = int(rec["timeline"][-1][0] * 1000)
        client.xadd(STREAM, {"call_id": rec["call_id"], "version": rec["version"],
                             "record": json.dumps(rec)}, id=f"{ended_ms}-{n}")
        client.hset(SEEN, rec["call_id"], rec["version"])
    client.close()


def _seed(db: str) -> None:
    # a1, a3 by 1005 in fault; a2 by 1007 in complaints (dissatisfied); "old" the day before
    _write(db, [record("a1"), record("a2", agent="1007", queue="complaints",
                                                intent="complaint", satisfaction="dissatisfied"),
                           record("a3", hold=120.0, talk=300.0), record("old", t0=T0 - 86400)])


@pytest_twisted.ensureDeferred
async def test_reports_for_supervisors_json_and_csv(rig, db):
    _seed(db)
    sup = await rig.login("supervisor1")
    q = f"from={T0}&to={T0 + 3600}"
    code, body, _ = await rig.request("GET", f"/api/reports?{q}&by=agent", token=sup)
    assert code == 200, body
    assert body["records"] == 3 and body["by"] == "agent"
    cards = {g["key"]: g for g in body["groups"]}
    assert sorted(cards) == ["1005", "1007"]
    # a1: talk 60 + ACW 10; a3: talk 300 + hold 120 + ACW 10 (test_web_review's record())
    assert cards["1005"]["aht_s"] == pytest.approx((70 + 430) / 2)
    assert (cards["1007"]["rated"], cards["1007"]["satisfaction_rate"]) == (1, 0.0)
    assert body["total"]["answered"] == 3 and body["total"]["service_level"] == 1.0
    code, text, headers = await rig.request("GET", f"/api/reports?{q}&by=queue&format=csv",
                                            token=sup)
    assert code == 200
    rows = list(csv.DictReader(io.StringIO(text.decode() if isinstance(text, bytes) else text)))
    assert [(r["key"], r["offered"]) for r in rows] == [
        ("complaints", "1"), ("fault", "2"), ("total", "3")]
    # the printable report of the same figures, under a CSP of its own (no script)
    code, page, headers = await rig.request("GET", f"/api/reports?{q}&by=queue&format=html",
                                            token=sup)
    page = page.decode() if isinstance(page, bytes) else page
    assert code == 200 and page.lower().startswith("<!doctype html>"), page[:200]
    (csp,) = headers.headers.getRawHeaders("content-security-policy")
    assert "script-src" not in csp and "style-src 'unsafe-inline'" in csp
    assert "<script" not in page and page.count("<svg") >= 4
    assert 'data-key="complaints"' in page and 'data-key="fault"' in page


@pytest_twisted.ensureDeferred
async def test_reports_bad_queries_and_roles(rig):
    sup = await rig.login("supervisor1")
    for query, words in (("", "'from' is required"),
                         (f"from={T0}&to={T0}", "the period is empty"),
                         ("from=yesterday&to=2026-12-01", "'yesterday' is not a date"),
                         (f"from={T0}&to={T0 + 60}&by=shift", "'by' must be one of"),
                         (f"from={T0}&to={T0 + 60}&format=pdf", "'format' must be one of"),
                         (f"from={T0}&to={T0 + 60}&colour=red", "unknown query 'colour'"),
                         ("from=2026-01-01&to=2027-12-31", "longer than 400 days")):
        code, body, _ = await rig.request("GET", f"/api/reports?{query}", token=sup)
        assert code == 400 and words in body["error"], (query, body)
    for user in ("reviewer1", "1005"):
        token = await rig.login(user)
        code, _, _ = await rig.request("GET", f"/api/reports?from={T0}&to={T0 + 60}",
                                        token=token)
        assert code == 403


def test_report_command(redis_db, tmp_path):
    url = redis_db(15)  # a database of its own
    _write(url, [record("a1"), record("a2", agent="1007"), record("old", t0=T0 - 86400)])
    out = tmp_path / "r.csv"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "server", "report", "--redis-url", url,
                               *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    # T0 is 2025-11-25 00:00 in Shanghai: that local day holds a1 and a2, not "old"
    done = run("--from", "2025-11-25", "--to", "2025-11-25", "--by", "agent", "--format", "csv",
               "--out", str(out))
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["key"], r["handled"]) for r in rows] == [("1005", "1"), ("1007", "1"),
                                                         ("total", "2")]
    page = tmp_path / "r.html"
    done = run("--from", "2025-11-25", "--to", "2025-11-25", "--by", "agent", "--format",
               "html", "--out", str(page))
    assert done.returncode == 0, done.stderr
    html = page.read_text(encoding="utf-8")
    assert 'data-key="1005"' in html and 'data-key="1007"' in html
    assert "<script" not in html
    bad = run("--from", "2025-11-25", "--to", "2025-11-24")
    assert bad.returncode == 2 and "the period is empty" in bad.stderr
    bad = run("--from", "25/11/2025", "--to", "2025-11-25")
    assert bad.returncode == 2 and "is not a date" in bad.stderr
    bad = run("--from", "2025-11-25", "--to", "2025-11-25", "--by", "shift")
    assert bad.returncode == 2 and "invalid choice: 'shift'" in bad.stderr


@pytest_twisted.ensureDeferred
async def test_scorecards_read_an_older_period_whatever_came_after(db):
    """Issue 15: the scorecards read the newest N entries only, so an older month came
    back cut short or empty. Now they read the period by time range: with room for
    only 2 entries in the old scan (it read whole pages of 500), a period behind 600
    newer records is complete."""
    from twisted.internet import task

    from server.records.store import make_client
    from server.web.http import ApiRequest
    from server.web.review import Review

    from .test_web_support import flush_db

    flush_db(db)
    month_ago = T0 - 30 * 86400
    _write(db, [record("old1", t0=month_ago), record("old2", agent="1007", t0=month_ago + 60),
                *(record(f"n{i}", t0=T0 + i) for i in range(600))])
    client = make_client(db)
    cfg = load_config(ROOT / "config", environ={"HOTLINE_AMI_SECRET": "x"})
    review = Review(client, None, ".", task.Clock(), scan_limit=2,  # type: ignore[arg-type]
                    acd=cfg.acd, appraisal=cfg.appraisal)
    try:
        body = await review.scorecards(ApiRequest(
            None, {}, {"from": str(month_ago), "to": str(month_ago + 3600)}, {}, None))  # type: ignore[arg-type]
    finally:
        await defer.Deferred.fromFuture(asyncio.ensure_future(client.aclose()))
    assert body["records"] == 2
    assert sorted((c["agent_id"], c["handled"]) for c in body["agents"]) == [
        ("1005", 1), ("1007", 1)]


@pytest_twisted.ensureDeferred
async def test_the_page_s_json_then_html_count_the_period_once(rig, db):
    """The report page asks for the figures, then for the printable report of the
    same period: within REUSE_S the second is the same report, not a second count;
    after it, a record written meanwhile is counted."""
    from server.reports.api import REUSE_S

    _seed(db)
    sup = await rig.login("supervisor1")
    q = f"from={T0}&to={T0 + 3600}&by=queue"
    code, first, _ = await rig.request("GET", f"/api/reports?{q}", token=sup)
    assert code == 200 and first["total"]["offered"] == 3
    _write(db, [record("late", queue="fault", t0=T0 + 600)])  # a fourth call, written now
    code, page, _ = await rig.request("GET", f"/api/reports?{q}&format=html", token=sup)
    page = page.decode() if isinstance(page, bytes) else page
    assert code == 200 and 'data-key="fault"' in page
    code, again, _ = await rig.request("GET", f"/api/reports?{q}", token=sup)
    assert again == first  # reused: the same figures as the page's first answer
    rig.clock.advance(REUSE_S)
    code, fresh, _ = await rig.request("GET", f"/api/reports?{q}", token=sup)
    assert fresh["total"]["offered"] == 4 and fresh["generated_at"] > first["generated_at"]
