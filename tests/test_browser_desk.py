"""Headless Chromium (Debian's package) driven by Playwright's async API on the
asyncio loop that Twisted's asyncio reactor runs on, against the whole daemon
on the real reactor: the simulator over real AMI TCP, the real adapter and
router, Redis, and the HTTP side.

The story: a supervisor watches the wallboard; agent 1001 signs in on the desk and
goes ready (the wallboard shows it within a second); a simulated caller presses 1
(Mandarin) and 0 (an agent); the desk pops the call with its number and the earlier
call from that number; the simulated phone answers, talks, hangs up; the agent
submits the wrap-up with a disposition; the wallboard follows each change live;
the final record in Redis carries the disposition.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

from server.ami.protocol import AmiClientProtocol
from server.ami.router import EventRouter
from server.notify import Notifier
from server.records.model import CallRecorder
from server.sim import (
    COMMAND,
    AgentBehaviour,
    AmiUser,
    CallerScript,
    PhoneScript,
    Press,
    PromptCatalog,
    Simulator,
)
from server.wiring import build_call_side
from tests.e2e_support import RecordingAmi, safety_net
from tests.test_web_support import WebRig, cheap_config


def _refused(message) -> bool:
    """A CSP refusal or a script error (a 401/404 fetch the page expects is neither)."""
    return "Content Security Policy" in message.text or (
        message.type == "error" and "Failed to load resource" not in message.text)


CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
CALLER = "13900000001"

if os.environ.get("HOTLINE_SKIP_BROWSER") == "1":
    pytest.skip("HOTLINE_SKIP_BROWSER=1", allow_module_level=True)
# Missing pieces fail loudly rather than skip: scripts/run.sh installs them
# (apt: chromium; pip: the test extras, playwright among them; never `playwright install`).
import playwright.async_api as playwright_api  # noqa: E402


def _asyncio(coro) -> defer.Deferred:
    return defer.Deferred.fromFuture(asyncio.ensure_future(coro))


def _earlier_call(now: float) -> dict:
    r = CallRecorder("earlier-1", now - 86400, CALLER, "95598")
    r.update(intent="billing", disposition="info_given")
    r.finish(now - 86300, "self_service")
    return r.to_dict()


async def _browser_story(base: str, sim: Simulator, expect) -> None:
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            problems: list[str] = []  # CSP refusals and script errors, on both pages

            def watch(page) -> None:
                page.on("console", lambda m: problems.append(m.text) if _refused(m) else None)
                page.on("pageerror", lambda e: problems.append(str(e)))

            board = await (await browser.new_context()).new_page()
            watch(board)
            response = await board.goto(base + "/wallboard.html")
            headers = response.headers
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert "'unsafe-inline'" not in headers["content-security-policy"]
            assert headers["x-content-type-options"] == "nosniff" and "server" not in headers
            # the dark wallboard look comes from wallboard.css under the CSP
            assert await board.evaluate("getComputedStyle(document.body).backgroundColor") \
                == "rgb(15, 23, 32)"
            await board.fill("#login-user", "supervisor1")
            await board.fill("#login-pass", "change-me-supervisor1")
            await board.click("#login-btn")
            ready_count = board.locator('[data-testid="state-ready"] b')
            await expect(ready_count).to_have_text("0")

            desk = await (await browser.new_context()).new_page()
            watch(desk)
            await desk.goto(base + "/desk.html")
            await desk.click("text=English")  # the language toggle
            await expect(desk.locator("#btn-ready")).to_have_text("Ready")
            await desk.fill("#login-user", "1001")
            await desk.fill("#login-pass", "1001")
            await desk.click("#login-btn")
            await expect(desk.locator("#state")).to_have_attribute("data-state", "logged_out")
            await desk.click("#btn-ready")
            await expect(desk.locator("#state")).to_have_attribute("data-state", "ready")
            started = time.monotonic()
            await expect(ready_count).to_have_text("1", timeout=1000)
            assert time.monotonic() - started < 1.0

            sim.add_caller(CallerScript(CALLER, "张伟", arrive_at=sim.uptime() + 0.2, presses=(
                Press("1", 0.2, after=COMMAND, command="GET DATA"),  # Mandarin
                Press("0", 0.2, after=COMMAND, command="GET DATA"),  # an agent
                Press("1", 0.2, after=COMMAND, command="GET DATA"),  # survey: satisfied
            )))
            await expect(desk.locator("#pop")).to_be_visible(timeout=15000)
            await expect(desk.locator("#pop-caller")).to_have_text(CALLER)
            await expect(desk.locator("#pop-prev")).to_contain_text("info_given")
            await expect(board.locator('[data-testid="state-on_call"] b')).to_have_text(
                "1", timeout=15000)
            await expect(desk.locator("#state")).to_have_attribute("data-state", "wrap_up",
                                                                   timeout=15000)
            await expect(board.locator('[data-testid="state-wrap_up"] b')).to_have_text(
                "1", timeout=1000)
            await desk.select_option("#wrap-code", "resolved")
            await desk.fill("#wrap-notes", "已解答 answered")
            await desk.click("#wrap-submit")
            await expect(desk.locator("#state")).to_have_attribute("data-state", "ready")
            await expect(ready_count).to_have_text("1", timeout=1000)
            await expect(board.locator('[data-testid="aht-general"]')).not_to_have_text(
                "–", timeout=1000)
            # once the caller has answered the survey the record is final: today's stats count it
            await expect(desk.locator("#stat-handled")).to_have_text("1", timeout=10000)
            assert not problems, problems
        finally:
            await browser.close()


@pytest_twisted.ensureDeferred
async def test_agent_desk_takes_a_call_and_the_wallboard_follows(redis_server, tmp_path):
    from playwright.async_api import expect

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: apt-get install -y chromium"
    cfg = cheap_config(tmp_path)
    durations = {f"hotline/{p.name}": 0.05 for p in cfg.ivr.prompts.values()}
    sim = Simulator(reactor, users=[AmiUser("hotline", "pw")],
                    prompts=PromptCatalog(durations=durations))
    port = sim.listen(reactor, port=0)
    events = EventRouter()
    proto = AmiClientProtocol(reactor, events)
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), proto)
    await proto.login("hotline", "pw")
    sim.add_phone(PhoneScript("1001", AgentBehaviour(answer_after=0.5, talk=1.5)))
    notifier = Notifier()
    saved: list[dict] = []
    calls = build_call_side(reactor, cfg, RecordingAmi(proto, events), save=saved.append,
                            bills=None, notifier=notifier, resync=False, outbound=False,
                            features=False).calls
    net = safety_net(reactor, calls.ami, calls, cfg)
    url = redis_server.url.rsplit("/", 1)[0] + "/7"
    rig = WebRig(url, tmp_path, cfg=cfg, calls=calls, notifier=notifier, clock=reactor)
    notifier.publish("record", _earlier_call(reactor.seconds()))
    try:
        await _asyncio(_browser_story(rig.base, sim, expect))
        # The call ends after the survey; its final record keeps the disposition.
        reviewer = await rig.login("reviewer1")
        body = None
        for _ in range(100):
            finals = [r for r in saved if r.get("final") and r["caller"] == CALLER]
            if finals:
                code, body, _ = await rig.request("GET", f"/api/records/{finals[-1]['call_id']}",
                                                  token=reviewer)
                if code == 200 and body["disposition"] == "resolved":
                    break
            await _asyncio(asyncio.sleep(0.1))
        assert body is not None and body["disposition"] == "resolved", body
        assert body["notes"] == "已解答 answered" and body["agent_id"] == "1001"
        assert body["satisfaction"] == "satisfied"
    finally:
        net.stop()
        await rig.close()
        proto.transport.loseConnection()
        await port.stopListening()
