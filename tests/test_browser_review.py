"""The QA review page in headless Chromium: lists for filters, an "already reviewed"
column, codes in words, the timeline as a table in local time, a missing or absent
recording said in words, a QA form that starts empty with a running total, and a
double submit that saves one revision."""

from __future__ import annotations

import os
import wave

import pytest
import pytest_twisted
from twisted.internet import defer

from tests.browser_support import as_deferred, chromium, new_page, shot, sign_in, unlabelled
from tests.test_web_review import record
from tests.test_web_support import WebRig

if os.environ.get("HOTLINE_SKIP_BROWSER") == "1":
    pytest.skip("HOTLINE_SKIP_BROWSER=1", allow_module_level=True)
import playwright.async_api as playwright_api  # noqa: E402

expect = playwright_api.expect


async def _story(rig: WebRig, t0: float) -> None:
    base = rig.base
    async with chromium() as browser:
        page = await new_page(browser, "en")
        await sign_in(page, base, "/review.html", "reviewer1")
        rows = page.locator("#rows tr")
        await expect(rows).to_have_count(3)
        await expect(page.locator('[data-call="r1"] [data-testid="reviewed"]')).to_have_text(
            "Not reviewed")
        await expect(page.locator('[data-call="r3"]')).to_contain_text("Information given")
        await expect(page.locator('[data-call="r3"]')).to_contain_text("Answered")
        # queue and disposition filters are lists
        assert "Billing" in await page.locator("#f-queue option").all_inner_texts()
        await page.select_option("#f-queue", "billing")
        await page.click("#search")
        await expect(rows).to_have_count(1)
        await page.select_option("#f-queue", "")
        await page.select_option("#f-disposition", "info_given")
        await page.click("#search")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_have_attribute("data-call", "r3")
        await page.select_option("#f-disposition", "")
        await page.check('input[name="dissatisfied"]')
        await page.click("#search")
        await expect(rows).to_have_count(1)
        await rows.first.click()
        await expect(page.locator("#d-id")).to_have_text("r2")
        await expect(page.locator("#d-audio")).to_have_attribute("src", "/api/recordings/r2.wav")
        await expect(page.locator("#d-audio-msg")).to_be_hidden()
        await expect(page.locator("#d-audio")).to_be_visible()
        await page.wait_for_function(
            "document.getElementById('d-audio').duration > 0.9")  # it loads and would play
        # the timeline: a table in local time with events in words, no JSON
        first = page.locator("#d-timeline tr").first
        await expect(first.locator("td").nth(1)).to_have_text("Arrived")
        local = await page.evaluate(
            f"new Date({t0!r} * 1000).toLocaleTimeString('en-GB', {{hour12: false}})")
        await expect(first.locator("td").first).to_have_text(local)
        timeline = await page.inner_text("#d-timeline")
        assert "{" not in timeline and "Offered to agent" in timeline
        assert "Satisfaction\nDissatisfied" in await page.inner_text("#d-kv")
        # the player can fetch its source (with the session cookie, Range-capable)
        status = await page.evaluate(
            "fetch('/api/recordings/r2.wav', {headers: {Range: 'bytes=0-9'}}).then(r => r.status)")
        assert status == 206
        # the QA form starts empty; the total runs as scores are typed
        inputs = page.locator("#qa-criteria input")
        assert await inputs.count() == 5
        assert [await inputs.nth(i).input_value() for i in range(5)] == [""] * 5
        await page.fill("#qa-greeting", "5")
        await expect(page.locator("#qa-total")).to_have_text("10.0")
        await page.click("#qa-submit")
        await expect(page.locator("#qa-msg")).to_have_text(
            "Score every criterion before submitting.")
        for c in ("identity_check", "correct_answer", "courtesy", "closing"):
            await page.fill(f"#qa-{c}", "5")
        await expect(page.locator("#qa-total")).to_have_text("100.0")
        await page.fill("#qa-greeting", "0")
        await expect(page.locator("#qa-total")).to_have_text("90.0")
        await page.dblclick("#qa-submit")  # one revision
        await expect(page.locator("#qa-msg")).to_contain_text("90")
        await expect(page.locator("#qa-history li")).to_have_count(1)
        await page.click("#qa-submit")  # the same again: still one
        # the page sends one submit at a time (aria-busy while it is out): wait for the
        # answer, or the next click is dropped as a double submit
        await expect(page.locator("#qa-submit")).not_to_have_attribute("aria-busy", "true")
        await expect(page.locator("#qa-history li")).to_have_count(1)
        await page.fill("#qa-greeting", "5")
        await page.click("#qa-submit")
        await expect(page.locator("#qa-history li")).to_have_count(2)
        await expect(page.locator("#qa-history li").last).to_contain_text("100")
        await expect(page.locator('[data-call="r2"] [data-testid="reviewed"]')).to_have_text("✓ 2")
        # scorecards over the same period: QA folded in, the appraisal (issue 15)
        await page.click("#sc-show")
        agent = page.locator('[data-sc="1005"]')
        await expect(agent).to_contain_text("100 (1)")  # r2's latest QA total, one call
        await expect(agent).to_contain_text("not ranked")  # 3 handled < min_handled 5
        await expect(page.locator("#sc-tier option")).to_have_count(5)  # any + 4 tiers
        await page.select_option("#sc-by", "team")
        await page.click("#sc-show")
        await expect(page.locator('[data-sc="一班"]')).to_contain_text("1019 林霞")
        assert await unlabelled(page) == []  # every filter and score has a label
        await shot(page, "review-en")
        # a recording named but gone, and a call without one, are said in words
        await page.uncheck('input[name="dissatisfied"]')
        await page.click("#search")
        await expect(rows).to_have_count(3)
        await page.click('[data-call="r1"]')
        await expect(page.locator("#d-audio-msg")).to_have_text(
            "The recording file is not available (past retention?).")
        await expect(page.locator("#d-audio")).to_be_hidden()
        await page.click('[data-call="r3"]')
        await expect(page.locator("#d-audio-msg")).to_have_text("This call has no recording.")
        await page.click("#btn-lang")
        await expect(page.locator("#d-audio-msg")).to_have_text("此通话没有录音。")
        await expect(page.locator('[data-call="r3"]')).to_contain_text("咨询已答复")
        await expect(page.locator('[data-call="r3"]')).to_contain_text("已接听")
        await page.click('[data-call="r2"]')
        await expect(page.locator("#d-timeline tr").first.locator("td").nth(1)).to_have_text("来电")
        await shot(page, "review-zh")


@pytest_twisted.ensureDeferred
async def test_review_page_filters_plays_and_scores(redis_server, tmp_path):
    (tmp_path / "rec").mkdir()
    with wave.open(str(tmp_path / "rec" / "r2.wav"), "wb") as w:  # 1 s of 8 kHz silence
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(16000))
    url = redis_server.url.rsplit("/", 1)[0] + "/8"
    rig = WebRig(url, tmp_path / "rec")
    t0 = record("x")["timeline"][0][0]
    try:
        await rig.store.put(record("r1"))
        await rig.store.put(record("r2", satisfaction="dissatisfied"))
        await rig.store.put(dict(record("r3", queue="billing", intent="billing",
                                        disposition="info_given"), recording=None))
        await as_deferred(_story(rig, t0))
    finally:
        await defer.ensureDeferred(rig.close())
