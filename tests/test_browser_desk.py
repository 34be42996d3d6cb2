"""Headless Chromium (Debian's package) driven by Playwright's async API on the
asyncio loop that Twisted's asyncio reactor runs on, against the whole daemon
on the real reactor: the simulator over real AMI TCP, the real adapter and
router, Redis, and the HTTP side.

The story: a supervisor watches the wallboard; agent 1001 signs in on the desk and
goes ready (the wallboard shows it within a second); a simulated caller presses 1
(Mandarin) and 0 (an agent); the desk rings (title flash) and pops the call with
its number, its IVR path in words and the earlier call from that number; the
supervisor listens in (the request names only the agent and the mode); the agent
asks for a pause during the call (pending, cancelled, asked again) and reloads the
page mid-call and in wrap-up (the pop, the call id, the pending pause and the
wrap-up saved so far come back); a double click submits the wrap-up once without
a false error and the pending pause follows; the wallboard follows each change
live; the final record in Redis carries the disposition and the notes as typed.
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
from tests.browser_support import CHROMIUM, chromium, new_page, shot, sign_in
from tests.e2e_support import RecordingAmi, safety_net
from tests.test_web_support import WebRig, cheap_config

CALLER = "13900000001"

if os.environ.get("HOTLINE_SKIP_BROWSER") == "1":
    pytest.skip("HOTLINE_SKIP_BROWSER=1", allow_module_level=True)
# Missing pieces fail loudly rather than skip: scripts/run.sh installs them
# (apt: chromium; pip: the test extras, playwright among them; never `playwright install`).
import playwright.async_api  # noqa: E402, F401


def _asyncio(coro) -> defer.Deferred:
    return defer.Deferred.fromFuture(asyncio.ensure_future(coro))


def _earlier_call(now: float) -> dict:
    r = CallRecorder("earlier-1", now - 86400, CALLER, "95598")
    r.update(intent="billing", disposition="info_given")
    r.finish(now - 86300, "self_service")
    return r.to_dict()


async def _browser_story(base: str, sim: Simulator, expect) -> None:
    async with chromium() as browser:
        board = await new_page(browser, "en")
        await sign_in(board, base, "/wallboard.html", "supervisor1")
        ready_count = board.locator('[data-testid="state-ready"] b')
        await expect(ready_count).to_have_text("0")

        desk = await new_page(browser, "zh")
        await desk.context.add_init_script("""(() => {  // counts the ring tones played
          window.__tones = 0;
          const Real = window.AudioContext;
          window.AudioContext = class extends Real {
            createOscillator() { window.__tones += 1; return super.createOscillator(); }
          };
        })()""")
        await desk.goto(base + "/desk.html")
        await desk.click("#btn-lang")  # the language toggle
        await expect(desk.locator("#btn-ready")).to_have_text("Ready")
        await desk.fill("#login-user", "1001")
        await desk.fill("#login-pass", "1001")
        await desk.click("#login-btn")
        state = desk.locator("#state")
        await expect(state).to_have_attribute("data-state", "logged_out")
        await desk.click("#btn-ready")
        await expect(state).to_have_attribute("data-state", "ready")
        started = time.monotonic()
        await expect(ready_count).to_have_text("1", timeout=1000)
        assert time.monotonic() - started < 1.0

        sim.add_caller(CallerScript(CALLER, "张伟", arrive_at=sim.uptime() + 0.2, presses=(
            Press("1", 0.2, after=COMMAND, command="GET DATA"),  # Mandarin
            Press("0", 0.2, after=COMMAND, command="GET DATA"),  # an agent
            Press("1", 0.2, after=COMMAND, command="GET DATA"),  # survey: satisfied
        )))
        # Ringing: the pop, a ring (the body's class drives the tone) and a flashing title.
        await expect(state).to_have_attribute("data-state", "reserved", timeout=15000)
        await expect(desk.locator("body")).to_have_class("desk ringing")
        await expect(desk).to_have_title("🔔 Incoming call!", timeout=3000)
        assert await desk.evaluate("window.__tones") >= 1  # a tone made in WebAudio
        await expect(desk.locator("#pop")).to_be_visible()
        await expect(desk.locator("#pop-caller")).to_have_text(CALLER)
        # Point 7: codes in words; the earlier call from the history; cases labelled.
        await expect(desk.locator("#pop-ivr")).to_have_text("Main menu key 0 → an agent")
        await expect(desk.locator("#pop-queue")).to_have_text("General")
        await expect(desk.locator("#pop-prev")).to_contain_text("Information given")
        await expect(desk.locator("#pop-prev")).to_contain_text("Self-service")
        await expect(desk.locator("#pop-cases")).to_have_text("The caller has no open case.")
        await expect(state).to_have_attribute("data-state", "on_call", timeout=15000)
        await expect(desk.locator("body")).to_have_class("desk")  # the ring stops
        assert await desk.title() == "95598 坐席工作台 / Agent desk"
        call_id = await desk.get_attribute("#pop", "data-call-id")
        assert call_id

        # The wallboard: the agent's row names the call's queue; listen asks first and
        # sends only the agent and the mode (the supervisor's own phone is rung).
        await expect(board.locator('[data-agent="1001"]')).to_contain_text("General")
        await expect(board.locator('[data-agent="1001"] .state')).to_have_attribute(
            "data-state", "on_call")
        sent: list[dict] = []

        async def supervise(route):
            sent.append(route.request.post_data_json)
            await route.fulfill(status=200, content_type="application/json",
                                body='{"agent_id": "1001", "mode": "listen"}')
        await board.route("**/api/supervise", supervise)
        await board.click('[data-agent-act="1001"]')
        await expect(board.locator('[data-mode="whisper"]')).to_be_enabled()
        await board.click('[data-mode="listen"]')
        await expect(board.locator("#act-question")).to_contain_text("Listen")
        assert sent == []
        await board.click("#act-yes")
        await expect(board.locator("#act-msg")).to_have_text("Done")
        assert sent == [{"agent_id": "1001", "mode": "listen"}]
        await board.click("#act-close")

        # Point 6: a pause asked during the call is shown as pending and can be cancelled.
        await desk.select_option("#pause-reason", "meal")
        await desk.click("#btn-pause")
        await expect(desk.locator("#pending")).to_be_visible()
        await expect(desk.locator("#pending-text")).to_contain_text("Meal")
        await desk.click("#btn-cancel-pending")
        await expect(desk.locator("#pending")).to_be_hidden()
        await desk.click("#btn-pause")
        await expect(desk.locator("#pending")).to_be_visible()

        # Point 5: a reload mid-call brings back the pop, the call id and the pending pause.
        await desk.reload()
        await expect(state).to_have_attribute("data-state", "on_call")
        await expect(desk.locator("#pop")).to_have_attribute("data-call-id", call_id)
        await expect(desk.locator("#pop-caller")).to_have_text(CALLER)
        await expect(desk.locator("#pop-ivr")).to_have_text("Main menu key 0 → an agent")
        # the customer's cases (GET /api/customers/history): none yet, no repeat
        await expect(desk.locator("#pop-cases")).to_have_text("The caller has no open case.")
        await expect(desk.locator("#pop-repeat")).to_be_hidden()
        await expect(desk.locator("#pending")).to_be_visible()
        await expect(desk.locator("#login")).to_be_hidden()

        await expect(state).to_have_attribute("data-state", "wrap_up", timeout=20000)
        await expect(board.locator('[data-testid="state-wrap_up"] b')).to_have_text(
            "1", timeout=1000)
        await expect(desk.locator("#wrap-left")).to_contain_text("Wrap-up left")
        # Issue 14: a case opened from the call, prefilled from the screen-pop; a bad
        # account is refused in words; a double click and a repeat open one case.
        await desk.click("#btn-case-open")
        await expect(desk.locator("#cn-type")).to_be_focused()
        await expect(desk.locator("#cn-phone")).to_have_value(CALLER)
        await expect(desk.locator("#cn-call")).to_have_text(call_id)
        await expect(desk.locator("#cn-intent")).to_have_text("General enquiries")
        await expect(desk.locator("#cn-type")).to_have_value("enquiry")
        await expect(desk.locator("#cn-grade")).to_be_hidden()
        await desk.fill("#cn-account", "12345")
        await desk.click("#cn-submit")
        await expect(desk.locator("#cn-msg")).to_have_text("That is not a valid account number.")
        await desk.fill("#cn-account", "")
        await desk.select_option("#cn-type", "complaint")
        await expect(desk.locator("#cn-grade")).to_be_visible()
        await desk.select_option("#cn-grade", "important")
        await desk.fill("#cn-summary", "抄表错误 wrong reading")
        await desk.dblclick("#cn-submit")
        await expect(desk.locator("#cn-msg")).to_contain_text("Case opened")
        await expect(desk.locator("#my-cases tr")).to_have_count(1)
        await expect(desk.locator("#my-cases tr")).to_contain_text("Important")
        await desk.click("#cn-submit")
        await expect(desk.locator("#cn-msg")).to_contain_text("This call already has a case")
        await expect(desk.locator("#my-cases tr")).to_have_count(1)
        await expect(desk.locator("#my-cases tr")).not_to_contain_text("–")  # a due time
        await desk.select_option("#wrap-code", "resolved")
        await desk.fill("#wrap-notes", "<b>已解答</b> answered")
        await shot(desk, "desk-en")
        await desk.click("#btn-lang")
        await expect(desk.locator("#pop-ivr")).to_have_text("主菜单 按 0 → 人工服务")
        await expect(desk.locator("#cn-intent")).to_have_text("综合咨询")  # the page's language
        await shot(desk, "desk-zh")
        await desk.click("#btn-lang")
        # A reload in wrap-up: the call and the wrap-up typed so far are the server's.
        await desk.evaluate("""() => fetch('/api/agents/1001/disposition', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: JSON.stringify(
            {call_id: document.getElementById('pop').dataset.callId, code: 'resolved',
             notes: '<b>已解答</b> answered'})})""")
        await desk.reload()
        await expect(state).to_have_attribute("data-state", "wrap_up")
        await expect(desk.locator("#pop")).to_have_attribute("data-call-id", call_id)
        await expect(desk.locator("#wrap-code")).to_have_value("resolved")
        await expect(desk.locator("#wrap-notes")).to_have_value("<b>已解答</b> answered")
        # the case opened above is the customer's open case now: a repeat contact
        await expect(desk.locator("#pop-cases")).to_contain_text("GD")
        await expect(desk.locator("#pop-repeat")).to_be_visible()
        await expect(desk.locator("#pop-repeat")).to_contain_text("1 open cases")
        # A double click on submit: saved once, no false error; the pending pause follows.
        await desk.dblclick("#wrap-submit")
        await expect(desk.locator("#wrap-msg")).to_have_text("Wrap-up saved")
        await expect(state).to_have_attribute("data-state", "paused")
        await expect(desk.locator("#reason")).to_have_text("Meal")
        await expect(desk.locator("#msg")).to_have_text("")
        await expect(desk.locator("#pop")).to_be_hidden()  # the call is done
        await desk.click("#btn-ready")
        await expect(state).to_have_attribute("data-state", "ready")
        await expect(ready_count).to_have_text("1", timeout=1000)
        await expect(board.locator('[data-testid="aht-general"]')).not_to_have_text(
            "–", timeout=1000)
        # once the caller has answered the survey the record is final: today's stats count it
        await expect(desk.locator("#stat-handled")).to_have_text("1", timeout=10000)


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
    sim.add_phone(PhoneScript("1001", AgentBehaviour(answer_after=2.0, talk=10.0)))
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
        assert body["notes"] == "<b>已解答</b> answered" and body["agent_id"] == "1001"
        assert body["satisfaction"] == "satisfied"
        (case,) = await rig.cases.find(owner="1001")
        assert (case.type, case.grade, case.phone, case.account) == (
            "complaint", "important", CALLER, "")
        assert case.call_ids == (body["call_id"],) and case.intent == "general"
        assert case.client_key == f"desk:{body['call_id']}"
    finally:
        net.stop()
        await rig.close()
        proto.transport.loseConnection()
        await port.stopListening()
