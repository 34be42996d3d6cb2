"""The QA review page in headless Chromium: filter, open a record, play, score, revise."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import defer

from tests.test_browser_desk import ARGS, CHROMIUM, _refused
from tests.test_web_review import record
from tests.test_web_support import WebRig

if os.environ.get("HOTLINE_SKIP_BROWSER") == "1":
    pytest.skip("HOTLINE_SKIP_BROWSER=1", allow_module_level=True)
import playwright.async_api as playwright_api  # noqa: E402


async def _story(base: str) -> None:
    expect = playwright_api.expect
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await (await browser.new_context()).new_page()
            problems: list[str] = []  # CSP refusals and script errors
            page.on("console", lambda m: problems.append(m.text) if _refused(m) else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            response = await page.goto(base + "/review.html")
            assert "script-src 'self'" in response.headers["content-security-policy"]
            await page.fill("#login-user", "reviewer1")
            await page.fill("#login-pass", "change-me-reviewer1")
            await page.click("#login-btn")
            rows = page.locator("#rows tr")
            await expect(rows).to_have_count(2)
            await page.check('input[name="dissatisfied"]')
            await page.click("#filters button")
            await expect(rows).to_have_count(1)
            await rows.first.click()
            await expect(page.locator("#d-id")).to_have_text("r2")
            await expect(page.locator("#d-audio")).to_have_attribute("src",
                                                                     "/api/recordings/r2.wav")
            await expect(page.locator("#d-timeline tr").first).to_contain_text("arrived")
            # the player can fetch its source (with the session cookie, Range-capable)
            status = await page.evaluate(
                "fetch('/api/recordings/r2.wav', {headers: {Range: 'bytes=0-9'}})"
                ".then(r => r.status)")
            assert status == 206
            await page.fill('#qa-criteria input[name="greeting"]', "0")
            await page.click("#qa-form button")
            await expect(page.locator("#qa-msg")).to_contain_text("90")
            await page.fill('#qa-criteria input[name="greeting"]', "5")
            await page.click("#qa-form button")
            await expect(page.locator("#qa-history li")).to_have_count(2)
            await expect(page.locator("#qa-history li").last).to_contain_text("100")
            # the score inputs are styled from common.css, not a style attribute
            width = await page.eval_on_selector('#qa-criteria input[name="greeting"]',
                                                "e => getComputedStyle(e).width")
            assert width == "64px", width
            await page.click("[data-action=lang]")  # the toggle, bound without onclick=
            await expect(page.locator("#filters button")).to_have_text("Search")
            assert not problems, problems
        finally:
            await browser.close()


@pytest_twisted.ensureDeferred
async def test_review_page_filters_plays_and_scores(redis_server, tmp_path):
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: apt-get install -y chromium"
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "r2.wav").write_bytes(b"RIFF" + bytes(2000))
    url = redis_server.url.rsplit("/", 1)[0] + "/8"
    rig = WebRig(url, tmp_path / "rec")
    try:
        await rig.store.put(record("r1"))
        await rig.store.put(record("r2", satisfaction="dissatisfied"))
        await defer.Deferred.fromFuture(asyncio.ensure_future(_story(rig.base)))
    finally:
        await rig.close()
