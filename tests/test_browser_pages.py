"""The three pages in headless Chromium against the real HTTP side (WebRig: real
router, Redis and sockets; sessions on a task.Clock): who may use which page,
the wallboard when the session ends or the server goes away, supervisor actions,
translations, labels, contrast and the 1920x1080 layout.  The desk with a real
call is in test_browser_desk.py, the review page in test_browser_review.py."""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest
import pytest_twisted
from twisted.internet import defer, reactor

from server.web import WebOptions
from tests.browser_support import (
    FULL_HD,
    as_deferred,
    chromium,
    new_page,
    shot,
    sign_in,
    unlabelled,
)
from tests.test_web_support import RecordingAudit, WebRig

if os.environ.get("HOTLINE_SKIP_BROWSER") == "1":
    pytest.skip("HOTLINE_SKIP_BROWSER=1", allow_module_level=True)
import playwright.async_api as playwright_api  # noqa: E402

expect = playwright_api.expect
PAGES = {"wallboard.html": {"supervisor"}, "desk.html": {"agent"},
         "review.html": {"reviewer", "supervisor"}, "cases.html": {"reviewer", "supervisor"},
         "reports.html": {"supervisor"}}
USERS = {"agent": "1001", "supervisor": "supervisor1", "reviewer": "reviewer1"}


@pytest.fixture
def rig(redis_server, tmp_path):
    url = redis_server.url.rsplit("/", 1)[0] + "/9"
    r = WebRig(url, tmp_path, options=WebOptions(idle_timeout_s=600), audit=RecordingAudit())
    yield r
    pytest_twisted.blockon(defer.ensureDeferred(r.close()))


async def _contrast(page, selector: str) -> float:
    """WCAG contrast ratio of an element's text colour on its own background."""
    return await page.eval_on_selector(selector, """e => {
      const rgb = s => s.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
      const lum = c => { const v = c.map(x => { x /= 255; return x <= 0.03928 ? x / 12.92
        : Math.pow((x + 0.055) / 1.055, 2.4); });
        return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
      const cs = getComputedStyle(e), a = lum(rgb(cs.color)), b = lum(rgb(cs.backgroundColor));
      return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    }""")


@pytest_twisted.ensureDeferred
async def test_each_role_on_each_page(rig):
    """Point 2: the sign-in box closes and forgets the password; a role the page does
    not serve gets a message naming its own page, not a blank page or a raw 403."""
    async def story():
        async with chromium() as browser:
            for path, allowed in PAGES.items():
                for role, user in USERS.items():
                    page = await new_page(browser, "en")
                    await sign_in(page, rig.base, "/" + path, user)
                    await expect(page.locator("#login")).to_be_hidden()
                    assert await page.input_value("#login-pass") == ""
                    focused = await page.evaluate("document.activeElement.id")
                    assert focused not in ("login-pass", "login-user"), (path, role)
                    if role in allowed:
                        await expect(page.locator("#main")).to_be_visible()
                        await expect(page.locator("#wrong-role")).to_be_hidden()
                    else:
                        gate = page.locator("#wrong-role")
                        await expect(gate).to_be_visible()
                        await expect(gate).to_contain_text("not for your role")
                        await expect(page.locator("#main")).to_be_hidden()
                        own = {"agent": "/desk.html", "supervisor": "/wallboard.html",
                               "reviewer": "/review.html"}[role]
                        await expect(gate.locator("a")).to_have_attribute("href", own)
                    await page.context.close()
    await as_deferred(story())


@pytest_twisted.ensureDeferred
async def test_wrong_pin_is_translated_and_terms_are_consistent(rig):
    """Point 9: the server's error is shown by its code in the page's language."""
    async def story():
        async with chromium() as browser:
            for lang, text in (("zh", "工号或密码错误。"), ("en", "Wrong name or PIN/password.")):
                page = await new_page(browser, lang)
                await sign_in(page, rig.base, "/desk.html", "1001", "9999")
                await expect(page.locator("#login-msg")).to_have_text(text)
                assert "wrong name" not in (await page.inner_text("#login-msg")).lower() \
                    or lang == "en"
                assert await page.input_value("#login-pass") == ""
                await page.context.close()
            page = await new_page(browser, "zh")
            await sign_in(page, rig.base, "/desk.html", "1001")
            await expect(page.locator("#btn-pause")).to_have_text("暂停")
            await expect(page.locator("#btn-logout")).to_have_text("下线")
            await expect(page.locator("#btn-signout")).to_have_text("退出登录")
            options = await page.locator("#pause-reason option").all_inner_texts()
            assert "小休" in options and "暂停" not in options  # 小休 is only the break reason
            await page.select_option("#pause-reason", "meal")
            await page.click("#btn-pause")
            await expect(page.locator("#state")).to_have_text("暂停")
            await expect(page.locator("#reason")).to_have_text("用餐")
            await page.click("#btn-lang")
            await expect(page.locator("#reason")).to_have_text("Meal")  # survives the switch
            await expect(page.locator("#state")).to_have_text("Paused")
            await page.click("#btn-lang")
            await expect(page.locator("#reason")).to_have_text("用餐")
    await as_deferred(story())


@pytest_twisted.ensureDeferred
async def test_wallboard_says_signed_out_and_signs_in_again_keeping_the_board(rig):
    """Point 1: an expired session ends the feed; the page says so, stops the timers
    and shows the data's age; signing in again brings it back live."""
    rig.calls.acd.login("1002")

    async def story():
        async with chromium() as browser:
            page = await new_page(browser, "en")
            await sign_in(page, rig.base, "/wallboard.html", "supervisor1")
            banner = page.locator("#banner")
            await expect(banner).to_have_class("banner live")
            await expect(banner).to_contain_text("Data as of")
            await expect(page.locator('[data-testid="state-ready"] b')).to_have_text("1")
            rig.clock.advance(601)  # the session expires
            rig.notifier.publish("agent", {"agent_id": "1002"})  # the feed notices and ends
            await expect(banner).to_have_class("banner signed_out", timeout=5000)
            await expect(banner).to_contain_text("sign in again")
            await expect(page.locator("#login")).to_be_visible()
            # the board is still there, but its timers no longer tick
            timer = page.locator('[data-testid="in-state-1002"]')
            frozen = await timer.inner_text()
            await asyncio.sleep(2.2)
            assert await timer.inner_text() == frozen
            assert await page.evaluate("document.body.classList.contains('stale')")
            await shot(page, "wallboard-signed-out-en")
            await page.fill("#login-pass", "change-me-supervisor1")
            await page.click("#login-btn")
            await expect(banner).to_have_class("banner live", timeout=5000)
            await expect(page.locator("#login")).to_be_hidden()
            rig.calls.acd.login("1003")  # a change after the re-sign-in shows up live
            await expect(page.locator('[data-testid="state-ready"] b')).to_have_text(
                "2", timeout=3000)
    await as_deferred(story())


def _drop_connections(port: int) -> None:
    for reader in list(reactor.getReaders()):
        host = getattr(reader, "getHost", None)
        if host is not None and getattr(host(), "port", None) == port \
                and hasattr(reader, "loseConnection"):
            reader.loseConnection()


@pytest_twisted.ensureDeferred
async def test_wallboard_says_disconnected_and_reconnects_with_backoff(rig):
    """Point 1: the server goes away (listener closed, connections dropped): the banner
    turns red with the attempt count, the waits freeze; back, the feed reconnects."""
    rig.calls.acd.login("1002")
    port_no = rig.port.getHost().port

    async def story():
        async with chromium() as browser:
            page = await new_page(browser, "zh")
            await sign_in(page, rig.base, "/wallboard.html", "supervisor1")
            banner = page.locator("#banner")
            await expect(banner).to_have_class("banner live")
            await rig.port.stopListening().asFuture(asyncio.get_running_loop())
            _drop_connections(port_no)
            await expect(banner).to_have_class("banner disconnected", timeout=5000)
            await expect(banner).to_contain_text("连接已断开")
            timer = page.locator('[data-testid="in-state-1002"]')
            frozen = await timer.inner_text()
            await expect(banner).to_contain_text("第 2 次", timeout=6000)  # retried
            assert await timer.inner_text() == frozen
            await shot(page, "wallboard-disconnected-zh")
            rig.port = reactor.listenTCP(port_no, rig.web.site, interface="127.0.0.1")
            await expect(banner).to_have_class("banner live", timeout=20000)
            await expect(page.locator("#login")).to_be_hidden()
    await as_deferred(story())


def _answered_call(call_id: str, t0: float, wait: float) -> dict:
    from server.records.model import CallRecorder

    r = CallRecorder(call_id, t0, "13900000001", "95598")
    r.ivr_end(t0 + 5)
    r.enqueued(t0 + 5, "fault")
    r.offer(t0 + 5 + wait, "1005", t0 + 6, "answered")
    r.answered(t0 + 5 + wait, "1005", "agent")
    r.bridge_end(t0 + 65 + wait, "caller")
    r.wrap_up_end(t0 + 75 + wait, "resolved")
    r.finish(t0 + 75 + wait, "answered")
    return r.to_dict()


@pytest_twisted.ensureDeferred
async def test_wallboard_fits_one_screen_with_readable_badges_and_alarms(rig):
    """Points 3 and 11: 1920x1080 without scrolling in both languages; badge contrast
    >= 4.5:1 for every state; a pause past its limit is flagged, its reason translated.
    Issue 15: the centre's headline today (from the records) with the SL in amber."""
    # Four calls today, published as the adapter does: three answered within the fault
    # queue's 20 s, one after 40 s: SL 75 %, within 5 points under the 80 % target.
    start = rig.web.live.day_start() + 60
    for i, wait in enumerate((5.0, 8.0, 12.0, 40.0)):
        raw = _answered_call(f"w{i}", start + 100 * i, wait)
        await rig.store.put(raw)
        rig.notifier.publish("record", raw)
    acd = rig.calls.acd
    for i in ("1001", "1002", "1003", "1004"):
        acd.login(i)
    acd.pause("1002", "meal")
    acd.pause("1003", "break")
    acd.logout("1004")
    acd.enqueue("live-1", "billing")  # still waiting: beside today's ended calls

    async def story():
        async with chromium() as browser:
            for lang in ("zh", "en"):
                page = await new_page(browser, lang, FULL_HD)
                await sign_in(page, rig.base, "/wallboard.html", "supervisor1")
                await expect(page.locator('[data-agent="1002"] .state')).to_have_attribute(
                    "data-state", "paused")
                reason = "用餐" if lang == "zh" else "Meal"
                await expect(page.locator('[data-agent="1002"]')).to_contain_text(reason)
                await expect(page.locator('[data-agent="1003"] .alarm')).to_have_count(0)
                sl = page.get_by_test_id("today_sl")
                await expect(sl).to_have_attribute("data-status", "amber")
                await expect(sl.locator("b")).to_have_text("75%")
                await expect(page.get_by_test_id("today_offered").locator("b")).to_have_text("4")
                await expect(page.get_by_test_id("today_offered").locator("small")).to_have_text(
                    "另有 1 通进行中" if lang == "zh" else "+1 in progress")
                await expect(page.get_by_test_id("today_answered").locator("b")).to_have_text("4")
                await expect(page.get_by_test_id("today_conn").locator("b")).to_have_text("100%")
                await expect(page.get_by_test_id("open_cases").locator("b")).to_have_text("0")
                await expect(page.get_by_test_id("today-state")).to_have_count(0)  # read in full
                height = await page.evaluate("document.documentElement.scrollHeight")
                assert height <= 1080, height
                assert await unlabelled(page) == []
                await shot(page, f"wallboard-{lang}")
                await page.context.close()
            page = await new_page(browser, "zh")
            await page.set_content("".join(
                f'<link rel="stylesheet" href="{rig.base}/common.css">'
                f'<span id="{s}" class="state {s}">x</span>'
                for s in ("ready", "reserved", "on_call", "wrap_up", "paused", "logged_out")))
            for s in ("ready", "reserved", "on_call", "wrap_up", "paused", "logged_out"):
                ratio = await _contrast(page, f"#{s}")
                assert ratio >= 4.5, (s, ratio)
            rig.clock.advance(901)  # the break (limit 900 s) runs over
            page = await new_page(browser, "en")
            await sign_in(page, rig.base, "/wallboard.html", "supervisor1")
            await expect(page.locator('[data-agent="1003"] .alarm')).to_have_text("over the limit")
            await expect(page.locator('[data-agent="1002"] .alarm')).to_have_count(0)  # meal: 1 h
    await as_deferred(story())


@pytest_twisted.ensureDeferred
async def test_supervisor_forces_pause_ready_and_logout_with_confirmation(rig):
    """Point 4: each action asks first, acts through the API and is recorded."""
    acd = rig.calls.acd
    acd.login("1001")

    async def story():
        async with chromium() as browser:
            page = await new_page(browser, "en")
            await sign_in(page, rig.base, "/wallboard.html", "supervisor1")
            await page.click('[data-agent-act="1001"]')
            dialog = page.locator("#act")
            await expect(dialog).to_be_visible()
            await expect(dialog.locator('[data-mode="listen"]')).to_be_disabled()  # not on a call
            await page.select_option("#act-reason", "training")
            await page.click('[data-force="pause"]')
            await expect(page.locator("#act-question")).to_contain_text("Force pause")
            await page.click("#act-no")  # cancelled: nothing happens
            await expect(page.locator("#act-confirm")).to_be_hidden()
            assert acd.agent("1001").state == "ready" and rig.web.desk.audit.entries == []
            await page.click('[data-force="pause"]')
            await page.dblclick("#act-yes")  # a double click acts once
            await expect(page.locator("#act-msg")).to_have_text("Done")
            await expect(page.locator("#act-yes")).to_be_disabled()
            assert acd.agent("1001").state == "paused"
            assert acd.agent("1001").pause_reason == "training"
            await page.click('[data-force="ready"]')
            await page.click("#act-yes")
            await expect(page.locator("#act-title")).to_contain_text("Ready")
            await page.click('[data-force="logout"]')
            await page.click("#act-yes")
            await expect(page.locator("#act-title")).to_contain_text("Logged off")
            await page.click("#act-close")
            await expect(page.locator('[data-agent="1001"] .state')).to_have_attribute(
                "data-state", "logged_out")
    await as_deferred(story())
    actions = [(who, action, target, d.get("reason"))
               for who, action, target, d in rig.web.desk.audit.entries]
    assert actions == [("supervisor1", "force_pause", "1001", "training"),
                       ("supervisor1", "force_ready", "1001", None),
                       ("supervisor1", "force_logout", "1001", None)]


@pytest_twisted.ensureDeferred
async def test_desk_keyboard_only_and_labelled(rig):
    """Point 11: sign in, go ready, pause and cancel with the keyboard alone; every
    input has a label; the state change is announced (aria-live)."""
    async def story():
        async with chromium() as browser:
            page = await new_page(browser, "en")
            await page.goto(rig.base + "/desk.html")
            await expect(page.locator("#login-user")).to_be_focused()
            await page.keyboard.type("1001")
            await page.keyboard.press("Tab")
            await page.keyboard.type("1001")
            await page.keyboard.press("Enter")
            await expect(page.locator("#main-title")).to_be_focused()
            await page.keyboard.press("Tab")
            await expect(page.locator("#btn-ready")).to_be_focused()
            await page.keyboard.press("Enter")
            await expect(page.locator("#state")).to_have_attribute("data-state", "ready")
            await page.keyboard.press("Tab")
            await expect(page.locator("#pause-reason")).to_be_focused()
            await page.keyboard.press("Tab")
            await page.keyboard.press("Enter")
            await expect(page.locator("#state")).to_have_attribute("data-state", "paused")
            assert await unlabelled(page) == []
            live = await page.eval_on_selector("#state", "e => e.closest('[aria-live]') !== null")
            assert live
            assert await page.get_attribute("#msg", "aria-live") == "assertive"
    await as_deferred(story())


def test_a_cjk_font_is_installed_for_the_screenshots():
    """Point 10: scripts/run.sh installs one for the tests; without it Chinese is boxes."""
    out = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    assert out.strip(), "no CJK font: apt-get install fonts-wqy-zenhei (scripts/run.sh test)"


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'")


@pytest_twisted.ensureDeferred
async def test_pages_work_under_a_strict_content_security_policy(rig):
    """No inline scripts, handlers or style attributes: each page signs in and works
    with a CSP that forbids them (the security work serves such a header)."""
    async def story():
        async with chromium() as browser:
            for path, user in (("/wallboard.html", "supervisor1"), ("/desk.html", "1001"),
                               ("/review.html", "reviewer1"), ("/cases.html", "supervisor1"),
                               ("/reports.html", "supervisor1"), ("/index.html", None)):
                page = await new_page(browser, "en")
                refused: list[str] = []
                page.on("console", lambda m, r=refused: r.append(m.text)
                        if "Content Security Policy" in m.text else None)

                async def with_csp(route):
                    resp = await route.fetch()
                    await route.fulfill(response=resp,
                                        headers={**resp.headers, "content-security-policy": CSP})
                await page.route("**/*.html", with_csp)
                if user is None:
                    await page.goto(rig.base + path)
                    await page.click("#btn-lang")
                    await expect(page.locator("h1")).to_have_text("95598 供电服务热线")
                else:
                    await sign_in(page, rig.base, path, user)
                    await expect(page.locator("#main")).to_be_visible()
                    await page.click("#btn-lang")
                    await expect(page.locator("#btn-lang")).to_have_text("English")
                assert refused == [], (path, refused)
                await page.context.close()
    await as_deferred(story())


@pytest_twisted.ensureDeferred
async def test_every_text_code_and_error_has_zh_and_en(rig):
    """Point 9: the pages' keys exist in both languages; every code the shipped config
    and the server can send (pause reasons, dispositions, queues, intents, menus, error
    codes) has words in both."""
    import re
    from pathlib import Path

    web = Path(__file__).resolve().parents[1] / "server" / "web"
    errors = set(re.findall(r'code="([a-z_]+)"', "".join(
        p.read_text(encoding="utf-8") for p in web.glob("*.py"))))
    from server.web.http import STATUS_CODES
    errors |= set(STATUS_CODES.values())
    cfg = rig.cfg
    codes = {"pause": [c.code for c in cfg.acd.policy.pause_reasons],
             "disposition": [c.code for c in cfg.acd.policy.dispositions],
             "queue": list(cfg.acd.queues), "intent": list(cfg.acd.skills),
             "menu": list(cfg.ivr.menus)}

    async def story():
        async with chromium() as browser:
            page = await new_page(browser, "zh")
            for path in ("/wallboard.html", "/desk.html", "/review.html", "/index.html",
                         "/cases.html", "/reports.html"):
                await page.goto(rig.base + path)
                missing = await page.evaluate("""() => {
                  const sel = '[data-i18n],[data-i18n-ph],[data-i18n-label]';
                  const keys = [...document.querySelectorAll(sel)]
                    .map(e => e.dataset.i18n || e.dataset.i18nPh || e.dataset.i18nLabel);
                  return keys.filter(k => !(k in I18N.zh) || !(k in I18N.en));
                }""")
                assert missing == [], (path, missing)
            same = await page.evaluate(
                "JSON.stringify(Object.keys(I18N.zh).sort()) === "
                "JSON.stringify(Object.keys(I18N.en).sort())")
            assert same
            gaps = await page.evaluate("""([codes, errors]) => {
              const out = [];
              for (const [kind, list] of Object.entries(codes))
                for (const c of list)
                  if (!(CODES[kind] && CODES[kind][c])) out.push(`${kind}:${c}`);
              for (const e of errors) if (!ERRORS[e]) out.push(`error:${e}`);
              return out;
            }""", [codes, sorted(errors)])
            assert gaps == []
    await as_deferred(story())
