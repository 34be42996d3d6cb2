"""Whole calls through the simulator: IVR, queue, connect, survey, records.

Times are exact: the simulator runs on a task.Clock, starts each queued AGI
command ``AGI_DELAY`` after it was queued, and a key press lasts 100 ms
(DTMFBegin .. DTMFEnd, trace 02).  Each expectation below is derived from the
scripted actors' timings, not read back from a run.
"""

from __future__ import annotations

import pytest

from ivr.outage import OutageNotice
from queues.agents import AgentState
from server.sim import COMMAND, AgentBehaviour, CallerScript, PhoneScript, Press
from tests.e2e_support import Rig

AGI_DELAY = 0.02  # the simulator's default (Asterisk's AGI loop polls ~100 ms)
KEY = 0.1  # one DTMF key, begin to end
TYPE_AHEAD = '"0123456789*#"'


def key_after(digit: str, delay: float = 0.5) -> Press:
    """Press ``digit`` ``delay`` s after the next GET DATA starts."""
    return Press(digit, delay, after=COMMAND, command="GET DATA")


def caller(rig: Rig, *digits: str, patience: float | None = None, number="13912345678",
           at: float = 1.0) -> CallerScript:
    script = CallerScript(number, "张伟", arrive_at=rig.sim.uptime() + at,
                          presses=tuple(key_after(d) for d in digits), patience=patience)
    rig.sim.add_caller(script)
    return script


def one_record(rig: Rig):
    records = rig.final_records()
    assert len(records) == 1, records
    return next(iter(records.values()))


@pytest.fixture
def rig():
    return Rig()


def test_suggestion_call_from_menu_to_survey(rig):
    answer_after, talk = 2.0, 30.0
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=answer_after, talk=talk)))
    rig.run(1)
    rig.login_agents("1007")
    caller(rig, "1", "5", "1")  # Mandarin, suggestions, survey "satisfied"
    rig.run(200)

    assert rig.ami.agi_commands() == [
        "SET VARIABLE CHANNEL(language) zh",
        f"STREAM FILE hotline/welcome {TYPE_AHEAD}",
        "GET DATA hotline/language-choice 5000 1",
        "GET DATA hotline/main-menu 5000 1",
        "GET DATA hotline/survey 5000 1",
        'STREAM FILE hotline/survey-thanks ""',
        "HANGUP",
    ]
    connect = [(a, f) for a, f in rig.ami.calls_actions() if a != "AGI"]
    assert [a for a, _ in connect] == ["Setvar", "Setvar", "Redirect"]
    assert connect[0][1]["Variable"] == "AGENT_IFACE" and connect[0][1]["Value"] == "PJSIP/1007"
    assert connect[2][1]["Context"] == "acd-connect"

    rec = one_record(rig)
    assert rec.outcome == "answered"
    assert rec.agent_id == "1007" and rec.agent_tier == "agent"
    assert rec.ivr_path == (("main", "5"),)
    assert rec.queues == ("suggestions",) and rec.intent == "suggestion"
    assert rec.satisfaction == "satisfied"
    assert rec.caller == "13912345678"
    d = rig.durations(rec)
    welcome = rig.cfg.ivr.prompts["welcome"].duration_s
    # SET VARIABLE, welcome, language key, menu key: four commands, two key presses
    assert d.ivr_s == pytest.approx(welcome + 4 * AGI_DELAY + 2 * (0.5 + KEY))
    assert d.ring_s == pytest.approx(answer_after)
    assert d.queue_wait_s == pytest.approx(answer_after)  # agent was free: wait = ring
    assert d.talk_s == pytest.approx(talk)
    assert d.acw_s == pytest.approx(rig.cfg.acd.policy.wrapup_default_s)
    assert d.handling_s == pytest.approx(talk + rig.cfg.acd.policy.wrapup_default_s)
    assert rig.cc.acd.agent("1007").state is AgentState.READY
    assert rig.cc.counters["ivr_finished"] == 1 and rig.cc.counters["records_written"] == 1
    assert rig.cc.calls == {}


def test_callers_hear_every_prompt_in_their_language(rig):
    """Issue 12: a channel starts in Asterisk's default language (en), and prompts are
    looked up under sounds/<CHANNEL(language)>/: the server sets the default first."""
    caller(rig, "1", "5", patience=25.0)  # Mandarin, suggestions
    caller(rig, "2", "5", patience=25.0, number="13900000002", at=2.0)  # English
    rig.run(15)
    zh, en = (actor.one for actor in rig.sim.callers)
    assert zh.played[:3] == ["zh/hotline/welcome", "zh/hotline/language-choice",
                             "zh/hotline/main-menu"]
    assert en.played[:3] == ["zh/hotline/welcome", "zh/hotline/language-choice",
                             "en/hotline/main-menu"]
    assert {p.split("/")[0] for p in zh.played} == {"zh"}
    assert {p.split("/")[0] for p in en.played[2:]} == {"en"}


def test_no_answer_requeues_at_the_head_and_the_next_agent_takes_it(rig):
    ring_timeout = rig.cc.ring_timeout_s
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=None)))
    rig.sim.add_phone(PhoneScript("1009", AgentBehaviour(answer_after=3.0, talk=10.0)))
    rig.run(1)
    rig.login_agents("1007")
    caller(rig, "1", "5", "2")
    rig.run(12)
    # 1009 (also suggestions-skilled) logs in while 1007's phone rings: the call
    # is not taken from 1007 until its ring timeout.
    rig.login_agents("1009")
    rig.run(200)

    rec = one_record(rig)
    offers = [e.details for e in rec.timeline if e.kind == "offer"]
    assert [(o["agent"], o["outcome"]) for o in offers] == [("1007", "no_answer"),
                                                             ("1009", "answered")]
    d = rig.durations(rec)
    assert d.ring_s == pytest.approx(ring_timeout + 3.0)
    assert d.missed_offers == 1
    assert rec.agent_id == "1009" and rec.satisfaction == "fairly_satisfied"
    assert rig.cc.acd.agent("1007").misses == 1
    # The DIAL_TIMEOUT the dialplan used came from the server.
    timeouts = [f["Value"] for a, f in rig.ami.actions
                if a == "Setvar" and f["Variable"] == "DIAL_TIMEOUT"]
    assert timeouts == [str(ring_timeout)] * 2


def test_caller_who_gives_up_in_the_queue_is_abandoned(rig):
    patience = 30.0
    caller(rig, "1", "5", patience=patience)  # nobody logged in
    rig.run(100)
    rec = one_record(rig)
    assert rec.outcome == "abandoned"
    d = rig.durations(rec)
    assert d.ivr_s + d.queue_wait_s == pytest.approx(patience)
    kpis = rig.cc.acd.queue_kpis("suggestions")
    assert kpis.abandoned == 1 and kpis.answered == 0
    # Music on hold played in the queue's announce-interval chunks until the hangup.
    chunk = int(rig.cfg.acd.queues["suggestions"].announce_interval_s)
    assert rig.ami.agi_commands()[-1] == f"EXEC MusicOnHold default,{chunk}"


def test_hold_time_comes_from_the_agents_phone(rig):
    talk, hold_at, hold_for = 40.0, 5.0, 12.0
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=talk,
                                                         hold_at=hold_at, hold_for=hold_for)))
    rig.run(1)
    rig.login_agents("1007")
    caller(rig, "1", "5", "1")
    rig.run(200)
    rec = one_record(rig)
    kinds = [e.kind for e in rec.timeline]
    assert kinds.count("hold_start") == 1 and kinds.count("hold_end") == 1
    d = rig.durations(rec)
    assert d.hold_s == pytest.approx(hold_for)
    assert d.talk_s + d.hold_s == pytest.approx(talk)


def test_three_bad_keys_send_the_caller_to_the_general_queue(rig):
    caller(rig, "1", "8", "9", "7", patience=40.0)
    rig.run(100)
    rec = one_record(rig)
    assert rec.queues == (rig.cfg.ivr.input.fallback_queue,)
    assert rig.cc.counters["ivr_fell_back"] == 1
    commands = rig.ami.agi_commands()
    invalid = f"STREAM FILE hotline/{rig.cfg.ivr.input.invalid_prompt}"
    assert sum(c.startswith(invalid) for c in commands) == 2  # third failure: no replay


def test_hang_up_in_the_menu_keeps_the_path(rig):
    script = caller(rig, "1", "2", patience=9.0)  # billing menu, then gone
    del script
    rig.run(60)
    rec = one_record(rig)
    assert rec.outcome == "ivr_hangup"
    assert rec.ivr_path == (("main", "2"),)
    assert rig.cc.counters["ivr_hangup"] == 1
    assert rig.cc.calls == {}


def test_outage_notice_deflects_a_covered_caller(rig):
    now = rig.clock.seconds()
    rig.cc.outages.add(OutageNotice("storm-1", start=now - 600, restore=now + 3 * 3600,
                                    area_codes=(), prefixes=("139",), text="", prompt=None))
    caller(rig, "9")  # anything but 1 after the announcement: goodbye
    rig.run(120)
    rec = one_record(rig)
    assert rec.outcome == "deflected" and rec.outage_notice == "storm-1"
    assert rig.cc.counters["ivr_deflected"] == 1
    commands = rig.ami.agi_commands()
    assert commands[0] == "SET VARIABLE CHANNEL(language) zh"
    assert commands[1] == "STREAM FILE hotline/welcome \"\""
    assert commands[2].startswith("STREAM FILE hotline/outage-notice")
    assert commands[3].startswith(f"SAY DATETIME {int(now + 3 * 3600)} ")
    assert commands[-1] == "HANGUP"


def test_unregistered_phone_pauses_its_agent_and_gets_no_call(rig):
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=5.0),
                                  timeline=((5.0, "unregister"),)))
    rig.run(1)
    rig.login_agents("1007")
    rig.run(10)
    view = rig.cc.acd.agent("1007")
    assert view.state is AgentState.PAUSED and view.pause_reason == "device_offline"
    caller(rig, "1", "5", patience=20.0)
    rig.run(60)
    assert not any(a == "Redirect" for a, _ in rig.ami.actions)
    assert one_record(rig).outcome == "abandoned"


def test_a_command_asterisk_refuses_ends_the_call_politely(rig, monkeypatch):
    """An Asterisk without SAY DATETIME answers 510: the caller hears goodbye, not silence."""
    from server.sim import agi as sim_agi

    monkeypatch.delitem(sim_agi._COMMANDS, "SAY DATETIME")
    now = rig.clock.seconds()
    rig.cc.outages.add(OutageNotice("storm-2", start=now - 60, restore=now + 3600,
                                    area_codes=(), prefixes=("139",), text="", prompt=None))
    caller(rig, "1")
    rig.run(60)
    commands = rig.ami.agi_commands()
    assert commands[3].startswith("SAY DATETIME")
    assert commands[4:] == ['STREAM FILE hotline/goodbye ""', "HANGUP"]
    assert one_record(rig).outcome == "system_failure"


def test_closed_queue_plays_the_closed_message_and_books_a_callback():
    from dataclasses import replace

    from tests.e2e_support import shanghai

    base = Rig().cfg
    queues = dict(base.acd.queues)
    queues["suggestions"] = replace(queues["suggestions"], closed_queue=None)
    cfg = replace(base, acd=replace(base.acd, queues=queues))
    rig = Rig(start=shanghai(2026, 11, 29, 20, 0), cfg=cfg)  # Sunday evening: office closed
    caller(rig, "1", "5", "1", "1")  # suggestions -> closed: callback, on this number
    rig.run(120)
    commands = rig.ami.agi_commands()
    assert "GET DATA hotline/closed 5000 1" in commands
    i = commands.index("GET DATA hotline/closed 5000 1")
    assert commands[i + 1].startswith("STREAM FILE hotline/callback-confirm ")
    assert commands[i + 2].startswith("SAY DIGITS 13912345678 ")
    assert commands[-2:] == ['STREAM FILE hotline/callback-done ""', "HANGUP"]
    rec = one_record(rig)
    assert rec.outcome == "callback"
    assert [e.details["number"] for e in rec.timeline if e.kind == "callback_requested"] == [
        "13912345678"]
    # The callback waits in the router for the queue's agents, keeping the caller's place.
    assert [w.kind for w in rig.cc.acd.waiting()] == ["callback"]


def test_fault_reports_are_taken_around_the_clock():
    from tests.e2e_support import shanghai

    rig = Rig(start=shanghai(2026, 11, 29, 3, 0))  # Sunday 03:00
    caller(rig, "1", "1", "#", patience=30.0)  # fault report, account skipped with #
    rig.run(60)
    rec = one_record(rig)
    assert rec.queues == ("fault",) and rec.intent == "fault"
    assert "GET DATA hotline/closed 5000 1" not in rig.ami.agi_commands()


def test_bill_self_service_reads_the_balance_from_the_fixture(rig):
    caller(rig, "1", "2", "1", "1234567890#", patience=60.0)
    rig.run(90)
    commands = rig.ami.agi_commands()
    assert "GET DATA hotline/account-number 5000 11" in commands
    readout = commands[commands.index("GET DATA hotline/account-number 5000 11") + 1:]
    # config/bills.yaml: 1234567890 has a balance of 128.50 yuan
    assert readout[0].startswith("STREAM FILE hotline/bill-balance ")
    assert readout[1].startswith("SAY NUMBER 128 ")
    assert readout[3].startswith("SAY NUMBER 50 ")
    assert any(c.startswith("SAY DATETIME ") for c in readout)
    rec = one_record(rig)
    assert rec.account == "1234567890"
    assert rig.cc.counters["ivr_self_service"] == 1


def test_an_account_typed_during_the_fault_intro_is_kept(rig):
    """Issue 12: keys pressed during the fault intro were lost (it had no escape
    digits); they start the account number now, and the rest is collected."""
    script = CallerScript("13912345678", "张伟", arrive_at=rig.sim.uptime() + 1, presses=(
        key_after("1"), key_after("1"),
        Press("1234567890#", 1.0, after=COMMAND, command="STREAM FILE hotline/fault-intro")),
        patience=40.0)
    rig.sim.add_caller(script)
    rig.run(60)
    commands = rig.ami.agi_commands()
    intro = commands.index(f"STREAM FILE hotline/fault-intro {TYPE_AHEAD}")
    assert commands[intro + 1] == 'GET DATA "" 5000 10'  # no prompt: the caller is typing
    assert "GET DATA hotline/account-number 5000 11" not in commands
    rec = one_record(rig)
    assert rec.account == "1234567890" and rec.queues == ("fault",)


def test_no_input_replays_the_menu(rig):
    caller(rig, "1", patience=60.0)  # picks a language, then silence at the main menu
    rig.run(90)
    commands = rig.ami.agi_commands()
    first = commands.index("GET DATA hotline/main-menu 5000 1")
    assert commands[first + 1] == f"STREAM FILE hotline/input-timeout {TYPE_AHEAD}"
    assert commands[first + 2] == "GET DATA hotline/main-menu 5000 1"


def test_a_key_pressed_during_the_welcome_answers_the_language_question(rig):
    from server.sim import ARRIVAL

    script = CallerScript("13912345678", "张伟", arrive_at=rig.sim.uptime() + 1, presses=(
        Press("2", 1.0, after=ARRIVAL), key_after("5")), patience=30.0)
    rig.sim.add_caller(script)
    rig.run(60)
    commands = rig.ami.agi_commands()
    assert commands[1] == f"STREAM FILE hotline/welcome {TYPE_AHEAD}"
    assert "GET DATA hotline/language-choice 5000 1" not in commands
    assert commands[2] == "SET VARIABLE CHANNEL(language) en"
    rec = one_record(rig)
    assert rec.language == "en" and rec.queues == ("english",)


def test_dissatisfied_suggestion_caller_is_asked_the_reason(rig):
    """Issue 14 point 7: ivr.yaml asks the reason after "dissatisfied" for every intent,
    not only complaints; the record keeps the score and the reason."""
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=2.0, talk=30.0)))
    rig.run(1)
    rig.login_agents("1007")
    caller(rig, "1", "5", "3", "3")  # Mandarin, suggestions, "dissatisfied", long wait
    rig.run(200)

    assert rig.ami.agi_commands()[-4:] == [
        "GET DATA hotline/survey 5000 1",
        "GET DATA hotline/survey-reason 5000 1",
        'STREAM FILE hotline/survey-thanks ""',
        "HANGUP",
    ]
    rec = one_record(rig)
    assert rec.intent == "suggestion"
    assert rec.satisfaction == "dissatisfied"
    assert rec.satisfaction_reason == "long_wait"
