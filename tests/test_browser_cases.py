"""Service cases (工单) in headless Chromium against the real HTTP side and a real
CaseService on redis-server: the agent's open cases with due times and their steps
to the return visit, the supervisor's filters, reassign, escalate and reopen, and the
reviewer's read-only view.  Opening a case from a live call's screen-pop is in
test_browser_desk.py (it needs a real call)."""

from __future__ import annotations

import asyncio
import os

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, task

from tests.browser_support import as_deferred, chromium, new_page, shot, sign_in, unlabelled
from tests.test_web_support import WebRig

if os.environ.get("HOTLINE_SKIP_BROWSER") == "1":
    pytest.skip("HOTLINE_SKIP_BROWSER=1", allow_module_level=True)
import playwright.async_api as playwright_api  # noqa: E402

expect = playwright_api.expect
H = 3600.0


@pytest.fixture
def rig(redis_server, tmp_path):
    url = redis_server.url.rsplit("/", 1)[0] + "/8"
    r = WebRig(url, tmp_path)
    yield r
    pytest_twisted.blockon(defer.ensureDeferred(r.close()))


def _took(rig: WebRig, call_id: str, agent_id: str) -> None:
    """A call that ``agent_id`` answered has ended (its final record is published)."""
    from server.records.model import CallRecorder

    rec = CallRecorder(call_id, rig.clock.seconds() - 60, "13900000001", "95598")
    rec.update(agent_id=agent_id)
    rec.finish(rig.clock.seconds(), "answered")
    rig.notifier.publish("record", rec.to_dict())


def _tw(coro):
    """A Twisted coroutine awaited from the asyncio side (the browser story)."""
    return defer.ensureDeferred(coro).asFuture(asyncio.get_running_loop())


async def _cases(rig: WebRig):
    """Two cases for agent 1001 (one of them overdue) and one for 1002."""
    base = dict(actor="supervisor1", account="1234567890", phone="13900000001",
                responsible="supervisor1")
    late, _ = await rig.cases.open(type="complaint", grade="major", owner="1001",
                                   summary="停电三天", **base)
    rig.clock.advance(H)  # the major complaint's 30 min acceptance limit has passed
    fault, _ = await rig.cases.open(type="fault_repair", owner="1001", summary="表箱损坏",
                                    **base)
    other, _ = await rig.cases.open(type="enquiry", owner="1002", summary="电价咨询", **base)
    return late, fault, other


@pytest_twisted.ensureDeferred
async def test_agent_works_own_cases_to_the_return_visit(rig):
    late, fault, other = await _cases(rig)

    async def story():
        async with chromium() as browser:
            page = await new_page(browser, "en")
            await sign_in(page, rig.base, "/desk.html", "1001")
            rows = page.locator("#my-cases tr")
            await expect(rows).to_have_count(2)
            await expect(page.locator(f'[data-case-row="{late.id}"]')).to_contain_text("overdue")
            await expect(page.locator(f'[data-case-row="{late.id}"]')).to_contain_text("Major")
            await expect(page.locator(f'[data-case-row="{fault.id}"]')).not_to_contain_text(
                "overdue")
            await expect(page.locator(f'[data-case-row="{other.id}"]')).to_have_count(0)
            # Keyboard: the case id is a button; Enter opens the details and focuses them.
            await page.focus(f'[data-case="{fault.id}"]')
            await page.keyboard.press("Enter")
            await expect(page.locator("#case-title")).to_be_focused()
            detail = page.locator("#case-detail")
            await expect(detail).to_contain_text("表箱损坏")
            await expect(page.locator("#case-detail [data-testid=case-state]")).to_have_text("New")
            for step, state in (("accept", "Accepted"), ("start", "In progress"),
                                ("resolve", "Resolved")):
                await page.select_option("#case-input", step)
                await page.fill("#case-note", f"{step} ok")
                await page.click("#case-apply")
                await expect(page.locator("#case-detail [data-testid=case-state]")
                             ).to_have_text(state)
            await expect(page.locator(f'[data-case-row="{fault.id}"] [data-testid=case-state]')
                         ).to_have_text("Resolved")
            # Only the supervisor reopens; the agent is not offered it.
            assert "reopen" not in await page.eval_on_selector(
                "#case-input", "s => [...s.options].map(o => o.value)")
            await page.select_option("#case-input", "schedule_visit")
            await expect(page.locator("#case-visit-at")).to_be_visible()
            await page.fill("#case-visit-at", "2001-01-01T09:00")  # in the past
            await page.click("#case-apply")
            await expect(page.locator("#case-msg")).to_have_text(
                "That time has passed; choose a later one.")
            await page.select_option("#case-input", "schedule_visit")
            tomorrow = await page.evaluate("toLocalInput(Date.now() / 1000 + 86400)")
            await page.fill("#case-visit-at", tomorrow)
            await page.click("#case-apply")
            await expect(page.locator("#case-detail [data-testid=case-state]")
                         ).to_have_text("Return visit")
            await expect(page.locator("#case-visit")).to_be_visible()
            # The link-call form: only the agent's own (live or recent) call is linked.
            await page.select_option("#case-input", "link_call")
            await expect(page.locator("#case-call")).to_be_visible()
            await page.fill("#case-call", "1700000000.404")
            await page.click("#case-apply")
            await expect(page.locator("#case-msg")).to_have_text(
                "That call is neither live nor recent here.")
            _took(rig, "1700000000.41", "1001")
            await page.select_option("#case-input", "link_call")
            await page.fill("#case-call", "1700000000.41")
            await page.click("#case-apply")
            await expect(page.locator("#case-detail")).to_contain_text("1700000000.41")
            assert await unlabelled(page) == []
            await shot(page, "desk-cases-en")
            await page.select_option("#visit-satisfaction", "3")
            await page.click("#visit-save")
            await expect(page.locator("#case-detail [data-testid=case-state]")
                         ).to_have_text("Closed")
            await expect(page.locator(f'[data-case-row="{fault.id}"]')).to_have_count(0)
            await page.click("#btn-lang")
            await expect(page.locator("#my-cases-title")).to_have_text("我的在办工单")
            await expect(page.locator(f'[data-case-row="{late.id}"]')).to_contain_text("已超时")
            await shot(page, "desk-cases-zh")
    await as_deferred(story())
    closed = await rig.cases.get(fault.id)
    assert closed.state == "closed" and closed.visits[-1].satisfaction == 3
    assert [a.input for a in closed.audit[1:]] == [
        "accept", "start", "resolve", "schedule_visit", "link_call", "visit_confirmed"]
    assert closed.call_ids == ("1700000000.41",)
    assert {a.actor for a in closed.audit[1:]} == {"1001"}


@pytest_twisted.ensureDeferred
async def test_supervisor_filters_reassigns_escalates_and_reopens(rig):
    late, fault, other = await _cases(rig)

    async def story():
        async with chromium() as browser:
            board = await new_page(browser, "en")
            await sign_in(board, rig.base, "/wallboard.html", "supervisor1")
            await board.click('a[href="/cases.html"]')
            page = board
            rows = page.locator("#case-rows tr")
            await expect(rows).to_have_count(3)
            await page.check("#f-overdue")
            await page.click("#f-search")
            await expect(rows).to_have_count(1)
            await expect(page.locator(f'[data-case-row="{late.id}"]')).to_be_visible()
            await page.uncheck("#f-overdue")
            await page.select_option("#f-type", "enquiry")
            await page.click("#f-search")
            await expect(rows).to_have_count(1)
            await expect(page.locator(f'[data-case-row="{other.id}"]')).to_be_visible()
            await page.select_option("#f-type", "")
            await page.fill("#f-owner", "1001")
            await page.click("#f-search")
            await expect(rows).to_have_count(2)
            assert await unlabelled(page) == []

            await page.click(f'[data-case="{late.id}"]')
            await page.select_option("#case-input", "reassign")
            await expect(page.locator("#case-owner")).to_be_visible()
            await page.select_option("#case-owner", "1005")
            await page.fill("#case-note", "senior agent")
            await page.click("#case-apply")
            await expect(page.locator("#case-detail")).to_contain_text("Reassign")
            await expect(rows).to_have_count(1)  # the list still filters owner 1001
            await page.select_option("#case-input", "escalate")
            await page.click("#case-apply")
            await expect(page.locator("#case-detail")).to_contain_text("Escalate")
            # The case is accepted meanwhile by its new owner: the live feed's case event
            # brings the shown case up to date (it used to stay stale until a click got
            # a 409), and accepting is no longer offered.
            token = await _tw(rig.login("1005", phone="PJSIP/1005"))
            code, _, _ = await _tw(rig.request("POST", f"/api/cases/{late.id}/transition",
                                               {"input": "accept"}, token=token))
            assert code == 200
            await expect(page.locator("#case-detail [data-testid=case-state]")
                         ).to_have_text("Accepted")
            assert "accept" not in await page.eval_on_selector(
                "#case-input", "s => [...s.options].map(o => o.value)")
            await shot(page, "cases-supervisor-en")
            await page.click("#btn-lang")
            await expect(page.locator("#list-title")).to_have_text("工单列表")
            await shot(page, "cases-supervisor-zh")
    await as_deferred(story())
    moved = await rig.cases.get(late.id)
    assert moved.owner == "1005" and moved.state == "accepted"
    assert [a.input for a in moved.audit][-3:] == ["reassign", "escalate", "accept"]
    # Reopen: a closed case comes back (through the API the page calls).
    t = await rig.login("supervisor1")
    for inp in ("accept", "start", "resolve"):
        await rig.request("POST", f"/api/cases/{other.id}/transition", {"input": inp}, token=t)

    async def reopen():
        async with chromium() as browser:
            page = await new_page(browser, "en")
            await sign_in(page, rig.base, "/cases.html", "supervisor1")
            await page.click(f'[data-case="{other.id}"]')
            await page.select_option("#case-input", "reopen")
            await page.click("#case-apply")
            await expect(page.locator("#case-detail [data-testid=case-state]")
                         ).to_have_text("Reopened")
    await as_deferred(reopen())
    assert (await rig.cases.get(other.id)).state == "reopened"


@pytest_twisted.ensureDeferred
async def test_reviewer_reads_cases_only(rig):
    late, fault, other = await _cases(rig)

    async def story():
        async with chromium() as browser:
            page = await new_page(browser, "zh")
            await sign_in(page, rig.base, "/review.html", "reviewer1")
            await page.click('a[href="/cases.html"]')
            await expect(page.locator("#case-rows tr")).to_have_count(3)
            await expect(page.locator("#nav-back")).to_have_attribute("href", "/review.html")
            await page.click(f'[data-case="{late.id}"]')
            await expect(page.locator("#case-detail")).to_contain_text("停电三天")
            await expect(page.locator("#case-detail")).to_contain_text("只读")
            await expect(page.locator("#case-act")).to_have_count(0)
            await expect(page.locator("#case-visit")).to_have_count(0)
            await shot(page, "cases-reviewer-zh")
    await as_deferred(story())


@pytest_twisted.ensureDeferred
async def test_desk_pops_the_case_of_a_return_visit_call_and_follows_case_events(
        redis_server, tmp_path):
    """Agent 1002 is reserved for a return-visit follow-up of 1001's case: the desk
    shows that case with the visit-outcome form (GET /api/agents/{id} visit_case), and
    records the outcome; a case reassigned to 1002 meanwhile appears in "my open
    cases" through the live feed, without a reload."""
    from server.call.center import CallCenter
    from tests.test_web_support import StubAmi, cheap_config

    clock = task.Clock()
    clock.advance(reactor.seconds())
    cfg = cheap_config(tmp_path / "rec")
    calls = CallCenter(clock, cfg, StubAmi(), save=lambda raw: None, bills=None)
    rig = WebRig(redis_server.url.rsplit("/", 1)[0] + "/8", tmp_path / "rec", cfg=cfg,
                 calls=calls, notifier=calls.notifier, clock=clock)
    try:
        late, fault, other = await _cases(rig)
        for inp in ("accept", "start", "resolve", "schedule_visit"):
            await rig.cases.transition(fault.id, inp, actor="1001")
        calls.acd.add_follow_up(f"rv-{fault.id}-1", "general", "13900000001",
                                clock.seconds(), f"回访 {fault.id}", fault.id)
        calls.acd.login("1002")  # rung for the return visit (nothing places it here)
        assert calls.acd.agent("1002").item_id == f"rv-{fault.id}-1"

        async def story():
            async with chromium() as browser:
                page = await new_page(browser, "en")
                await sign_in(page, rig.base, "/desk.html", "1002")
                await expect(page.locator("#case-detail [data-testid=case-id]")
                             ).to_have_text(fault.id)
                await expect(page.locator("#case-visit")).to_be_visible()
                await expect(page.locator(f'[data-case-row="{fault.id}"]')).to_have_count(0)
                for _ in range(100):  # until the page's live feed is connected (bounded)
                    if rig.web.feed.open:
                        break
                    await asyncio.sleep(0.05)
                await _tw(rig.cases.transition(late.id, "reassign", actor="supervisor1",
                                               owner="1002"))
                await expect(page.locator(f'[data-case-row="{late.id}"]')).to_be_visible()
                # long after the feed's catch-up: only the feed can bring this one
                more, _ = await _tw(rig.cases.open(type="enquiry", phone="13900000009", account="",
                                                   actor="supervisor1", owner="1002"))
                await expect(page.locator(f'[data-case-row="{more.id}"]')).to_be_visible()
                await page.select_option("#visit-satisfaction", "2")
                await page.fill("#visit-reason", "repaired, but slowly")
                await page.click("#visit-save")
                await expect(page.locator("#case-detail [data-testid=case-state]")
                             ).to_have_text("Closed")
                await shot(page, "desk-return-visit-en")
        await as_deferred(story())
        closed = await rig.cases.get(fault.id)
        assert closed.state == "closed" and closed.owner == "1001"
        assert (closed.visits[-1].actor, closed.visits[-1].satisfaction,
                closed.visits[-1].reason) == ("1002", 2, "repaired, but slowly")
    finally:
        for call in clock.getDelayedCalls():
            call.cancel()
        await rig.close()
