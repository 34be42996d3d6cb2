"""The report page (/reports.html) in headless Chromium against the real HTTP side, with
GET /api/reports served from tests/fixtures/report-sample.json (tests/reports_support.py):
from the wallboard's link to the figures against their targets, the group table, the
charts imported from the printable report under the site's strict CSP, the CSV and
printable links, both languages; and the printable report itself under its own CSP."""

from __future__ import annotations

import os

import pytest
import pytest_twisted
from twisted.internet import defer

from tests.browser_support import as_deferred, chromium, new_page, shot, sign_in, unlabelled
from tests.reports_support import sample, stub_reports
from tests.test_web_support import WebRig

if os.environ.get("HOTLINE_SKIP_BROWSER") == "1":
    pytest.skip("HOTLINE_SKIP_BROWSER=1", allow_module_level=True)
import playwright.async_api as playwright_api  # noqa: E402

expect = playwright_api.expect


@pytest.fixture
def rig(redis_db, tmp_path):
    r = WebRig(redis_db(15), tmp_path, with_cases=False)
    yield r
    pytest_twisted.blockon(defer.ensureDeferred(r.close()))


def pct(x: float) -> str:
    return f"{x * 100:.1f}%"


@pytest_twisted.ensureDeferred
async def test_supervisor_runs_a_report_and_opens_the_printable_one(rig):
    report = sample()
    seen = stub_reports(rig, report)
    total = report["total"]

    async def story():
        async with chromium() as browser:  # fails on any CSP refusal or script error
            page = await new_page(browser, "zh")
            await sign_in(page, rig.base, "/wallboard.html", "supervisor1")
            await page.click('a[href="/reports.html"]')
            await expect(page.locator("#main")).to_be_visible()
            assert await unlabelled(page) == []
            await page.fill("#rp-from", "2026-12-02")
            await page.fill("#rp-to", "2026-12-01")
            await page.click("#rp-run")  # the end before the start: said, nothing asked
            await expect(page.locator("#rp-msg")).to_have_text(
                "请选择开始和结束日期，且开始不晚于结束。")
            assert seen == [] and await page.locator("#rp-result").is_hidden()
            await page.fill("#rp-from", "2026-12-01")
            await page.select_option("#rp-by", "queue")
            await page.click("#rp-run")
            kpi = page.locator('#rp-headline [data-figure="connection_rate"]')
            await expect(kpi.locator("b")).to_have_text(pct(total["connection_rate"]))
            await expect(kpi).to_have_class("rp-kpi met")
            await expect(kpi).to_contain_text("目标 ≥ 95.0%")
            rv = page.locator('#rp-headline [data-figure="return_visit_rate"]')
            await expect(rv).to_have_class("rp-kpi missed")  # 91.7 % of 100 %
            # The group table: every queue, translated, with its figures; the total below.
            rows = page.locator("#rp-table tbody tr")
            await expect(rows).to_have_count(len(report["groups"]))
            fault = next(g for g in report["groups"] if g["key"] == "fault")
            row = page.locator('#rp-table tr[data-key="fault"]')
            await expect(row.locator("th")).to_have_text("故障报修")
            await expect(row.locator('[data-figure="service_level"]')).to_have_text(
                pct(fault["service_level"]))
            await expect(page.locator('#rp-table tr[data-key="english"] '
                                      '[data-figure="connection_rate"]')).to_have_text("–")
            await expect(page.locator('#rp-table tfoot [data-figure="offered"]')).to_have_text(
                str(total["offered"]))
            # The charts: the printable report's six SVGs, drawn under the strict CSP.
            charts = page.locator("#rp-charts svg.chart")
            await expect(charts).to_have_count(6)
            bars = await page.locator("#chart-hourly rect.bar").count()
            assert bars == 3 * len(report["hourly"])
            box = await page.locator("#chart-hourly").bounding_box()
            assert box and box["width"] > 600 and box["height"] > 150  # laid out, not collapsed
            q = "from=2026-12-01&to=2026-12-01&by=queue"
            assert await page.get_attribute("#rp-csv", "href") == f"/api/reports?{q}&format=csv"
            assert await page.get_attribute("#rp-html", "href") == f"/api/reports?{q}&format=html"
            await shot(page, "reports-zh")
            await page.click("#btn-lang")
            await expect(page.locator("#rp-table thead th").nth(10)).to_have_text(
                "Connection rate")
            await expect(row.locator("th")).to_have_text("Faults")
            await expect(kpi.locator(".status")).to_have_text("met")
            await shot(page, "reports-en")

            # The printable report, as the link opens it: its inline style applies under
            # its own CSP and nothing is refused.
            printable = await new_page(browser, "zh")
            await printable.context.add_cookies(await page.context.cookies())
            await printable.goto(rig.base + f"/api/reports?{q}&format=html")
            await expect(printable.locator("h1")).to_contain_text("95598 服务报表")
            colour = await printable.eval_on_selector(
                '#headline [data-figure="service_level"]',
                "e => getComputedStyle(e).backgroundColor")
            assert colour == "rgb(230, 244, 234)"  # .kpi.met from the inline <style>
            await shot(printable, "reports-printable")
    await as_deferred(story())
    assert {"from": "2026-12-01", "to": "2026-12-01", "by": "queue"} in seen
    assert {"from": "2026-12-01", "to": "2026-12-01", "by": "queue", "format": "html"} in seen
