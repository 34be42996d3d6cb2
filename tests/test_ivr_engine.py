"""The IVR session state machine, driven call by call with the whole AGI sequence asserted."""

from __future__ import annotations

import dataclasses

import pytest

from ivr.account import check_digit
from ivr.commands import AgiResult, Play
from ivr.engine import IvrSession, State
from ivr.outage import OutageNotice
from ivr.outcomes import (
    BillInfo,
    BillLookupRequest,
    CallbackRequested,
    Deflected,
    Enqueue,
    Goodbye,
    IvrAbandoned,
    SelfServed,
    SurveyAnswered,
)
from tests.ivr_driver import (
    DONE,
    GONE,
    HASH,
    PLAYED,
    TIMEOUT,
    Caller,
    cut,
    deep_config,
    default_config,
    key,
    session,
)

KEYS = '"0123456789*#"'
W = f"STREAM FILE welcome {KEYS}"
L = "GET DATA language-choice 5000 1"
ZH = "SET VARIABLE CHANNEL(language) zh"
EN = "SET VARIABLE CHANNEL(language) en"
M = "GET DATA main-menu 5000 1"
BILLING = "GET DATA billing-menu 5000 1"
SERVICE = "GET DATA service-menu 5000 1"
INVALID = f"STREAM FILE invalid-input {KEYS}"
NO_INPUT = f"STREAM FILE input-timeout {KEYS}"
ACCOUNT = "GET DATA account-number 5000 11"
ACCOUNT_RETRY = "GET DATA account-retry 5000 11"
BYE = ['STREAM FILE goodbye ""', "HANGUP"]
ACC = "1234567890"


def at_menu(caller: Caller, language: str = "1") -> None:
    caller.start()  # the channel's language first, then the welcome
    caller.replies(DONE, PLAYED, key(language))
    if language != "1":
        caller.reply(DONE)  # the chosen language differs from the default


def enqueue(queue, intent, priority, account=None, language="zh", fell_back=False):
    return Enqueue(queue, intent, priority, account, language, fell_back)


# ---- entry, language, menus -----------------------------------------------------------

def test_welcome_language_menu_leaf():
    c = Caller(session())
    # The channel starts in Asterisk's default language (en): set it before the welcome.
    assert [str(x.agi()) for x in c.start()] == [ZH]
    c.replies(DONE, PLAYED, key("1"), key("5"))
    assert c.agi == [ZH, W, L, M]  # Mandarin chosen: the channel is in it already
    assert c.outcomes == [enqueue("suggestions", "suggestion", 20)]
    assert c.session.path == [("main", "5")]
    assert c.session.state is State.QUEUED


def test_english_callers_go_to_the_english_queue():
    c = Caller(session())
    at_menu(c, "2")
    c.reply(key("5"))
    assert c.agi == [ZH, W, L, EN, M]
    assert c.outcomes == [enqueue("english", "suggestion", 20, language="en")]


def test_no_input_replays_the_menu_after_the_timeout_prompt():
    c = Caller(session())
    at_menu(c)
    c.replies(TIMEOUT, PLAYED, key("5"))
    assert c.agi == [ZH, W, L, M, NO_INPUT, M]
    assert c.outcomes == [enqueue("suggestions", "suggestion", 20)]


def test_invalid_key_says_so_then_replays():
    c = Caller(session())
    at_menu(c)
    c.replies(key("9"), PLAYED, key("5"))
    assert c.agi == [ZH, W, L, M, INVALID, M]
    assert c.session.path == [("main", "9"), ("main", "5")]


def test_hash_alone_at_a_menu_is_invalid():
    c = Caller(session())
    at_menu(c)
    c.reply(HASH)
    assert c.agi[-1] == INVALID


def test_three_failures_go_to_the_fallback_queue():
    c = Caller(session())
    at_menu(c)
    c.replies(key("2"), TIMEOUT, PLAYED, key("7"), PLAYED, TIMEOUT)
    assert c.agi == [ZH, W, L, M, BILLING, NO_INPUT, BILLING, INVALID, BILLING]
    assert c.outcomes == [enqueue("general", "general", 50, fell_back=True)]


def test_a_good_key_resets_the_failure_count():
    c = Caller(session())
    at_menu(c)
    c.replies(TIMEOUT, PLAYED, TIMEOUT, PLAYED, key("2"), TIMEOUT, PLAYED, TIMEOUT, PLAYED)
    assert c.outcomes == []
    c.reply(key("1"))
    assert c.agi[-1] == ACCOUNT


def test_language_failures_carry_on_in_the_default_language():
    c = Caller(session())
    c.start()
    c.replies(DONE, PLAYED, TIMEOUT, PLAYED, key("8"), PLAYED, TIMEOUT)
    assert c.agi == [ZH, W, L, NO_INPUT, L, INVALID, L, M]
    assert c.session.language == "zh"


def test_type_ahead_during_welcome_answers_the_language_question():
    c = Caller(session())
    c.start()
    c.replies(DONE, cut("2"), DONE)
    assert c.agi == [ZH, W, EN, M]
    assert c.session.language == "en"


def test_type_ahead_during_the_invalid_prompt_answers_the_menu():
    c = Caller(session())
    at_menu(c)
    c.replies(key("9"), cut("5"))
    assert c.agi == [ZH, W, L, M, INVALID]
    assert c.outcomes == [enqueue("suggestions", "suggestion", 20)]


def test_star_goes_back_and_repeats_at_the_root():
    c = Caller(session())
    at_menu(c)
    c.replies(key("2"), key("*"), key("*"), key("3"), key("*"))
    assert c.agi == [ZH, W, L, M, BILLING, M, M, SERVICE, M]
    assert c.session.path == [("main", "2"), ("billing", "*"), ("main", "*"), ("main", "3"),
                              ("service", "*")]


def test_zero_from_level_one_and_two():
    c = Caller(session())
    at_menu(c)
    c.reply(key("0"))
    assert c.outcomes == [enqueue("general", "general", 50)]
    c = Caller(session())
    at_menu(c)
    c.replies(key("4"), key("0"))
    assert c.agi == [ZH, W, L, M, "GET DATA complaints-menu 5000 1"]
    assert c.outcomes == [enqueue("complaints", "complaint", 80)]


def test_zero_and_star_at_levels_three_and_four():
    c = Caller(session(deep_config()))
    at_menu(c)
    c.replies(key("3"), key("9"))
    assert c.session.menu == "level3"
    c.reply(key("0"))
    assert c.outcomes == [enqueue("service", "service", 35)]
    c = Caller(session(deep_config()))
    at_menu(c)
    c.replies(key("3"), key("9"), key("1"), key("*"))
    assert c.session.menu == "level3"
    c.replies(key("1"), key("0"))
    assert c.agi == [ZH, W, L, M] + [SERVICE] * 5
    assert c.outcomes == [enqueue("general", "general", 50)]


def test_hangup_mid_menu_keeps_the_path():
    c = Caller(session())
    at_menu(c)
    c.replies(key("9"), PLAYED, key("2"))
    c.hangup()
    assert c.outcomes == [IvrAbandoned("menu", "billing", (("main", "9"), ("main", "2")))]
    assert c.session.state is State.ENDED
    assert c.reply(key("1")) == []
    assert c.hangup() == []


def test_failed_result_ends_the_session_without_commands():
    c = Caller(session())
    c.start()
    assert c.reply(GONE) == [IvrAbandoned("language", None, ())]
    assert c.agi == [ZH]


def test_hangup_after_queueing_reports_nothing():
    c = Caller(session())
    at_menu(c)
    c.reply(key("5"))
    assert c.hangup() == []


# ---- account entry --------------------------------------------------------------------

def fault_call(config=None) -> Caller:
    c = Caller(session(config))
    at_menu(c)
    c.replies(key("1"), PLAYED)
    return c


def test_valid_account_travels_with_the_call():
    c = fault_call()
    c.reply(key(ACC))
    assert c.agi == [ZH, W, L, M, FAULT_INTRO, ACCOUNT]
    assert c.outcomes == [enqueue("fault", "fault", 60, ACC)]


# Issue 12: keys pressed during the intro that comes just before the account entry.
FAULT_INTRO = f"STREAM FILE fault-intro {KEYS}"
AHEAD = 'GET DATA "" 5000 10'  # the rest of the number, no prompt: the caller is typing


def test_account_typed_during_the_fault_intro_is_kept():
    c = Caller(session())
    at_menu(c)
    c.replies(key("1"), cut("1"))
    assert c.agi[-2:] == [FAULT_INTRO, AHEAD]
    c.reply(key(ACC[1:] + "#"))
    assert c.outcomes == [enqueue("fault", "fault", 60, ACC)]


def test_hash_typed_during_the_fault_intro_skips_the_account():
    c = Caller(session())
    at_menu(c)
    c.replies(key("1"), cut("#"))
    assert c.agi[-1] == FAULT_INTRO
    assert c.outcomes == [enqueue("fault", "fault", 60, None)]


def test_a_short_number_typed_ahead_is_asked_again():
    c = Caller(session())
    at_menu(c)
    c.replies(key("1"), cut("1"), AgiResult(200, "23", "(timeout)"))
    assert c.agi[-3:] == [FAULT_INTRO, AHEAD, ACCOUNT_RETRY]
    c.reply(key(ACC))
    assert c.outcomes == [enqueue("fault", "fault", 60, ACC)]


def test_an_intro_before_the_queue_takes_no_keys():
    base = default_config()
    main = base.menus["main"]
    fault = main.options["1"]
    quiet = dataclasses.replace(fault, leaf=dataclasses.replace(fault.leaf, ask_account=False))
    menus = dict(base.menus)
    menus["main"] = dataclasses.replace(main, options={**main.options, "1": quiet})
    c = Caller(session(dataclasses.replace(base, menus=menus)))
    at_menu(c)
    c.replies(key("1"), PLAYED)
    assert c.agi[-1] == 'STREAM FILE fault-intro ""'
    assert c.outcomes == [enqueue("fault", "fault", 60)]


def test_invalid_account_asks_again():
    c = fault_call()
    c.replies(key("12345"), TIMEOUT, key(ACC))
    assert c.agi[-3:] == [ACCOUNT, ACCOUNT_RETRY, ACCOUNT_RETRY]
    assert c.outcomes == [enqueue("fault", "fault", 60, ACC)]


def test_hash_alone_skips_the_account():
    c = fault_call()
    c.reply(HASH)
    assert c.outcomes == [enqueue("fault", "fault", 60, None)]


def test_three_bad_accounts_still_reach_an_agent():
    c = fault_call()
    c.replies(key("1"), key("12345678901"), key("abc"))
    assert c.agi[-3:] == [ACCOUNT, ACCOUNT_RETRY, ACCOUNT_RETRY]
    assert c.outcomes == [enqueue("fault", "fault", 60, None)]


def test_check_digit_rule_from_config():
    base = default_config()
    config = dataclasses.replace(base, account=dataclasses.replace(base.account,
                                                                   check_digit="luhn"))
    good = "123456789" + check_digit("123456789", "luhn")
    bad = "123456789" + str((int(good[-1]) + 1) % 10)
    c = fault_call(config)
    c.replies(key(bad), key(good))
    assert c.agi[-2:] == [ACCOUNT, ACCOUNT_RETRY]
    assert c.outcomes == [enqueue("fault", "fault", 60, good)]


def test_account_is_asked_once_per_call():
    c = fault_call()
    c.reply(HASH)
    c.session.state = State.MENU  # pretend the caller came back to the menu
    c.session.menu = "billing"
    c.reply(key("2"))
    assert c.outcomes[-1] == enqueue("billing", "billing", 40, None)


# ---- bill self-service ----------------------------------------------------------------

BILL_MENU = "GET DATA bill-menu 5000 1"
DUE = 1_797_000_000


def bill_call() -> Caller:
    c = Caller(session())
    at_menu(c)
    c.replies(key("2"), key("1"))
    out = c.reply(key(ACC))
    assert out == [BillLookupRequest(ACC)]
    assert c.session.state is State.LOOKUP
    assert c.reply(PLAYED) == []  # nothing is in flight while the backend answers
    return c


def readout(word: str, yuan: int, fen: int) -> list[str]:
    return [f"STREAM FILE {word} {KEYS}", f"SAY NUMBER {yuan} {KEYS}", f"STREAM FILE yuan {KEYS}",
            f"SAY NUMBER {fen} {KEYS}", f"STREAM FILE fen {KEYS}", f"STREAM FILE bill-due {KEYS}",
            f"SAY DATETIME {DUE} {KEYS} YBd Asia/Shanghai", BILL_MENU]


def test_bill_readout_then_goodbye_is_self_service():
    c = bill_call()
    c.lookup(BillInfo(ACC, 12850, DUE))
    c.replies(*[PLAYED] * 7, key("9"), PLAYED, DONE)
    assert c.agi == [ZH, W, L, M, BILLING, ACCOUNT] + readout("bill-balance", 128, 50) + BYE
    assert c.outcomes == [BillLookupRequest(ACC), SelfServed("bill_balance", ACC)]
    assert c.session.state is State.ENDED


def test_a_caller_being_said_goodbye_is_hung_up_after_a_restart():
    # Killed (or cut off) during the goodbye: the outcome stands; without this the
    # caller would wait in AsyncAGI with nothing more to come.
    c = bill_call()
    c.lookup(BillInfo(ACC, 12850, DUE))
    c.replies(*[PLAYED] * 7, key("9"))
    assert c.session.state is State.GOODBYE
    again = IvrSession.restore(default_config(), c.session.snapshot())
    first = again.resume(c.now)
    assert [x.agi() for x in first] == [ZH]
    follow = [again.on_result(DONE, c.now), again.on_result(PLAYED, c.now)]
    assert [x.agi() for out in follow for x in out] == BYE
    assert again.on_result(DONE, c.now) == []  # nothing settled twice
    assert again.state is State.ENDED


def test_arrears_whole_yuan_and_zero_for_an_agent():
    c = bill_call()
    c.lookup(BillInfo(ACC, -5600, DUE))
    c.replies(*[PLAYED] * 5, key("0"))
    assert c.agi[6:] == [f"STREAM FILE bill-arrears {KEYS}", f"SAY NUMBER 56 {KEYS}",
                         f"STREAM FILE yuan {KEYS}", f"STREAM FILE bill-due {KEYS}",
                         f"SAY DATETIME {DUE} {KEYS} YBd Asia/Shanghai", BILL_MENU]
    assert c.outcomes[-1] == enqueue("billing", "billing", 40, ACC)


def test_type_ahead_during_the_readout():
    c = bill_call()
    c.lookup(BillInfo(ACC, 100, DUE))
    c.reply(cut("0"))
    assert c.agi[6:] == [f"STREAM FILE bill-balance {KEYS}"]
    assert c.outcomes[-1] == enqueue("billing", "billing", 40, ACC)


def test_star_after_the_readout_returns_to_the_billing_menu():
    c = bill_call()
    c.lookup(BillInfo(ACC, 100, DUE))
    c.replies(*[PLAYED] * 5, key("*"))
    assert c.agi[-1] == BILLING


def test_failed_lookup_apologises_and_offers_an_agent():
    c = bill_call()
    c.lookup(None)
    c.reply(PLAYED)
    assert c.agi[6:] == [f"STREAM FILE bill-unavailable {KEYS}", BILL_MENU]
    c.reply(key("0"))
    assert c.outcomes[-1] == enqueue("billing", "billing", 40, ACC)
    c = bill_call()
    c.lookup(None)
    c.replies(PLAYED, TIMEOUT, PLAYED)
    assert c.outcomes[-1] == Goodbye("bill_unavailable", "billing")
    assert c.agi[-2:] == BYE


def test_bill_without_an_account_goes_to_an_agent():
    c = Caller(session())
    at_menu(c)
    c.replies(key("2"), key("1"), HASH)
    assert c.outcomes == [enqueue("billing", "billing", 40, None)]


def test_lookup_answer_when_not_waiting_is_ignored():
    c = Caller(session())
    c.start()
    assert c.lookup(BillInfo(ACC, 1, DUE)) == []


# ---- business hours and callbacks -------------------------------------------------------

CONFIRM = [f"STREAM FILE callback-confirm {KEYS}", f"SAY DIGITS 13864101234 {KEYS}",
           "GET DATA callback-confirm-keys 5000 1"]


def closed_call() -> Caller:
    c = Caller(session(is_open=lambda queue, now: queue != "suggestions"))
    at_menu(c)
    c.reply(key("5"))
    assert c.agi[-1] == "GET DATA closed 5000 1"
    return c


def test_closed_queue_offers_a_callback_on_the_caller_id():
    c = closed_call()
    c.replies(key("1"), PLAYED, PLAYED, key("1"), PLAYED, DONE)
    assert c.agi == [ZH, W, L, M, "GET DATA closed 5000 1", *CONFIRM,
                     'STREAM FILE callback-done ""', "HANGUP"]
    assert c.outcomes == [CallbackRequested("suggestions", "13864101234", "suggestion")]


def test_callback_on_another_number():
    c = closed_call()
    c.replies(key("1"), cut("2"), TIMEOUT, key("053188886666"))
    assert c.agi[5:] == [*CONFIRM[:1], "GET DATA callback-enter-number 5000 20",
                         "GET DATA callback-enter-number 5000 20", 'STREAM FILE callback-done ""']
    assert c.outcomes == [CallbackRequested("suggestions", "053188886666", "suggestion")]


def test_closed_queue_declined_says_goodbye():
    c = closed_call()
    c.replies(TIMEOUT, PLAYED, DONE)
    assert c.agi[5:] == BYE
    assert c.outcomes == [Goodbye("closed", "suggestions")]


def test_withheld_caller_id_goes_straight_to_number_entry():
    c = Caller(session(is_open=lambda queue, now: False), number="anonymous")
    at_menu(c)
    c.replies(key("5"), key("1"), TIMEOUT, TIMEOUT, TIMEOUT)
    assert c.agi[5:] == ["GET DATA callback-enter-number 5000 20"] * 3 + BYE[:1]
    assert c.outcomes == [Goodbye("callback_not_confirmed", "suggestions")]


# ---- outage announcements --------------------------------------------------------------

def notice(now: float, **kw) -> OutageNotice:
    # restored at 22:43 the same evening: only the time is spoken
    return OutageNotice("storm-7", now - 600, now + 1800, area_codes=("0531",),
                        prefixes=("1386410",), **kw)


OUTAGE_CONTINUE = "GET DATA outage-continue 5000 1"


def test_outage_announcement_deflects_the_call():
    c = Caller(session())
    n = notice(c.now)
    c.start(n)
    c.replies(DONE, PLAYED, PLAYED, PLAYED, TIMEOUT, PLAYED, DONE)
    assert c.agi == [ZH, 'STREAM FILE welcome ""', 'STREAM FILE outage-notice "1"',
                     f'SAY DATETIME {int(n.restore)} "1" HM Asia/Shanghai', OUTAGE_CONTINUE,
                     *BYE]
    assert c.outcomes == [Deflected("storm-7")]


def test_outage_continue_to_the_menu():
    c = Caller(session())
    c.start(notice(c.now))
    c.replies(DONE, PLAYED, PLAYED, PLAYED, key("1"), key("1"))
    assert c.agi[4:] == [OUTAGE_CONTINUE, L, M]
    assert c.outcomes == []


def test_skip_key_cuts_the_announcement_short():
    c = Caller(session())
    c.start(notice(c.now))
    c.replies(DONE, PLAYED, cut("1"))
    assert c.agi == [ZH, 'STREAM FILE welcome ""', 'STREAM FILE outage-notice "1"', L]


def test_stale_or_disabled_outage_is_not_announced():
    c = Caller(session())
    old = OutageNotice("old", c.now - 30000, c.now + 600, area_codes=("0531",))
    assert [x.agi() for x in c.start(old)] == [ZH]
    assert [x.agi() for x in c.reply(DONE)] == [W]
    base = default_config()
    off = dataclasses.replace(base, outage=dataclasses.replace(base.outage, enabled=False))
    c = Caller(session(off))
    c.start(notice(c.now))
    assert [x.agi() for x in c.reply(DONE)] == [W]


# ---- survey -----------------------------------------------------------------------------

SURVEY = "GET DATA survey 5000 1"
THANKS = ['STREAM FILE survey-thanks ""', "HANGUP"]


def surveyed(intent: str | None) -> Caller:
    c = Caller(session())
    at_menu(c)
    c.reply(key("4"))
    c.reply(key("0"))
    c.log.clear()
    c.survey(intent)
    return c


@pytest.mark.parametrize(("answer", "score"), [("1", "satisfied"), ("2", "fairly_satisfied")])
def test_survey_answers(answer, score):
    c = surveyed("general")
    c.replies(key(answer), PLAYED, DONE)
    assert c.agi == [SURVEY, *THANKS]
    assert c.outcomes == [SurveyAnswered(score)]
    assert c.session.state is State.ENDED


@pytest.mark.parametrize("intent", ["complaint", "general", "fault", "billing", "service",
                                    "suggestion", None])
def test_dissatisfied_asks_a_reason_for_every_intent(intent):
    """Issue 14 point 7: ivr.yaml asks the reason after "dissatisfied", for every intent."""
    c = surveyed(intent)
    c.replies(key("3"), key("2"), PLAYED, DONE)
    assert c.agi == [SURVEY, "GET DATA survey-reason 5000 1", *THANKS]
    assert c.outcomes == [SurveyAnswered("dissatisfied", "not_resolved")]
    assert c.session.state is State.ENDED


def test_complaint_reason_unanswered_keeps_the_score():
    c = surveyed("complaint")
    c.replies(key("3"), TIMEOUT)
    assert c.outcomes == [SurveyAnswered("dissatisfied", None)]


def test_hangup_during_the_reason_keeps_the_score():
    c = surveyed("complaint")
    c.reply(key("3"))
    c.hangup()
    assert c.outcomes == [SurveyAnswered("dissatisfied", None)]


def test_survey_no_input_twice_records_no_score():
    c = surveyed("general")
    c.replies(TIMEOUT, PLAYED, TIMEOUT, PLAYED, DONE)
    assert c.agi == [SURVEY, NO_INPUT, SURVEY, *BYE]
    assert c.outcomes == [SurveyAnswered(None)]


def test_survey_disabled_just_hangs_up():
    base = default_config()
    off = dataclasses.replace(base, survey=dataclasses.replace(base.survey, enabled=False))
    c = Caller(session(off))
    c.survey("general")
    assert c.agi == ["HANGUP"]
    assert c.outcomes == []


# ---- persistence -----------------------------------------------------------------------

def test_snapshot_restore_and_resume():
    c = Caller(session())
    at_menu(c, "2")
    c.replies(key("4"), key("9"))
    snap = c.session.snapshot()
    assert snap == {"state": "menu", "language": "en", "menu": "complaints",
                    "path": [["main", "4"], ["complaints", "9"]], "account": None,
                    "retries": 1, "caller": "13864101234", "channel": "PJSIP/trunk-0001",
                    "leaf": None, "score": None, "survey_intent": None}
    assert c.session.resume_point() == "complaints"
    again = IvrSession.restore(default_config(), snap)
    out = again.resume(c.now)
    assert [x.agi() for x in out] == [EN]
    assert [x.agi() for x in again.on_result(DONE, c.now)] == ["GET DATA complaints-menu 5000 1"]
    assert again.on_result(key("2"), c.now) == [Enqueue("english", "complaint", 80, None, "en")]
    assert again.path[-1] == ("complaints", "2")


# ---- issue 12: after a restart, a stale result answers the step it belongs to -------------

def restarted(c: Caller) -> IvrSession:
    """The session as a restarted server rebuilds it from the live state."""
    return IvrSession.restore(default_config(), c.session.snapshot())


def sent(session: IvrSession, outputs: list) -> list[str]:
    """The AGI commands of ``outputs`` and of the run they start, results all DONE/PLAYED."""
    texts, result = [], None
    while outputs and hasattr(outputs[-1], "agi"):
        texts.append(outputs[-1].agi())
        result = DONE if texts[-1].startswith("SET VARIABLE") else PLAYED
        if texts[-1].startswith(("GET DATA", "HANGUP")):
            break
        outputs = session.on_result(result, 0.0)
    return texts


def test_command_tags_name_the_step_and_what_the_result_holds():
    c = Caller(session())
    assert c.session.command_tag(c.start()[-1]) is None  # SET VARIABLE answers nothing
    welcome = c.reply(DONE)[-1]
    assert c.session.command_tag(welcome) == "key.language"  # a key cut answers it
    ask = c.reply(PLAYED)[-1]
    assert c.session.command_tag(ask) == "ask.language"
    c.reply(key("1"))
    assert c.session.command_tag(c.reply(key("2"))[-1]) == "ask.menu:billing"
    intro = Caller(session())
    at_menu(intro)
    play = intro.reply(key("1"))[-1]
    assert intro.session.command_tag(play) is None  # cut: the account's first digit only
    assert intro.session.command_tag(intro.reply(PLAYED)[-1]) == "ask.account:main/1"
    assert intro.session.command_tag(Play("goodbye")) is None  # not the engine's command


def test_digits_typed_while_the_server_was_away_answer_the_menu():
    c = Caller(session())
    at_menu(c)
    c.reply(key("2"))  # the billing menu is asked; the server dies
    again = restarted(c)
    out = again.resume(c.now, ("ask.menu:billing", key("2")))
    assert sent(again, out) == [ZH, ACCOUNT]  # billing 2 (arrears): the account number
    assert again.path == [("main", "2"), ("billing", "2")]


def test_a_key_typed_during_the_welcome_answers_the_language_after_a_restart():
    c = Caller(session())
    c.start()
    c.replies(DONE)  # the welcome plays; the server dies; the caller presses 2
    again = restarted(c)
    out = again.resume(c.now, ("key.language", cut("2")))
    assert sent(again, out) == [EN, M]
    assert again.language == "en"


def test_a_result_of_another_step_replays_only_the_current_step():
    c = Caller(session())
    at_menu(c)
    c.replies(key("1"), PLAYED)  # fault: the account number is asked
    again = restarted(c)
    # A menu answer (the state saved after it was lost): not this step's.
    assert sent(again, again.resume(c.now, ("ask.menu:main", key("5")))) == [ZH, ACCOUNT]
    again = restarted(c)
    # Nothing typed (the GET DATA timed out) or a hangup: the step again.
    assert sent(again, again.resume(c.now, ("ask.account:main/1", TIMEOUT))) == [ZH, ACCOUNT]
    again = restarted(c)
    assert sent(again, again.resume(c.now, ("ask.account:main/1", GONE))) == [ZH, ACCOUNT]
    again = restarted(c)
    assert again.resume(c.now, ("ask.account:main/1", key(ACC + "#"))) == [
        enqueue("fault", "fault", 60, ACC)]


@pytest.mark.parametrize(("steps", "expected"), [
    ((), [ZH, L]),  # at the language question: not the welcome again
    ((DONE, PLAYED, key("1"), key("4")), [ZH, "GET DATA complaints-menu 5000 1"]),
    ((DONE, PLAYED, key("1"), key("1")), [ZH, FAULT_INTRO, ACCOUNT]),
])
def test_a_restart_replays_only_the_step_the_caller_was_at(steps, expected):
    c = Caller(session())
    c.start()
    c.replies(*steps)
    again = restarted(c)
    assert sent(again, again.resume(c.now)) == expected


def test_survey_steps_are_replayed_and_answered_after_a_restart():
    c = Caller(session())
    at_menu(c)
    c.reply(key("4"))
    c.reply(key("1"))  # complaint; queued, talked, now the survey
    c.survey("complaint")
    c.reply(key("3"))  # dissatisfied: the reason is asked
    again = restarted(c)
    assert sent(again, again.resume(c.now)) == [ZH, "GET DATA survey-reason 5000 1"]
    again = restarted(c)
    out = again.resume(c.now, ("ask.survey_reason", key("2")))
    assert out[0] == SurveyAnswered("dissatisfied", "not_resolved")


def test_steps_whose_state_a_snapshot_lacks_are_asked_again_not_answered():
    c = closed_call()  # closed hours: "press 1 for a callback"
    again = IvrSession.restore(default_config(), c.session.snapshot(),
                               is_open=lambda queue, now: queue != "suggestions")
    out = again.resume(c.now, ("ask.closed:main/5", key("1")))
    assert sent(again, out) == [ZH, "GET DATA closed 5000 1"]  # the offer again
    c = bill_call()
    c.lookup(BillInfo(ACC, 12850, DUE))
    again = restarted(c)
    assert again.resume(c.now, ("key.bill:billing/1", cut("9"))) == [BillLookupRequest(ACC)]


def test_an_old_snapshot_without_the_new_keys_still_resumes():
    c = Caller(session())
    at_menu(c)
    c.replies(key("1"), PLAYED)
    old = {k: v for k, v in c.session.snapshot().items()
           if k not in ("leaf", "score", "survey_intent")}
    again = IvrSession.restore(default_config(), old)
    assert sent(again, again.resume(c.now)) == [ZH, M]  # the menu, as before


def test_real_hours_sunday_dawn_fault_open_suggestions_closed():
    from ivr.hours import opener
    from server.config import load_config

    check = opener(load_config("config").acd.queues)
    c = Caller(session(is_open=check))
    c.now = 1_795_899_600.0  # Sunday 2026-11-29 05:00 in Shanghai
    at_menu(c)
    c.reply(key("5"))
    assert c.agi[-1] == "GET DATA closed 5000 1"
    c = Caller(session(is_open=check))
    c.now = 1_795_899_600.0
    at_menu(c)
    c.replies(key("1"), PLAYED, HASH)
    assert c.outcomes == [enqueue("fault", "fault", 60)]


def test_restore_on_a_later_day_says_the_date_too():
    c = Caller(session())
    n = OutageNotice("storm-8", c.now - 60, c.now + 86400, area_codes=("0531",))
    c.start(n)
    c.replies(DONE, PLAYED, PLAYED)
    assert c.agi[-1] == f'SAY DATETIME {int(n.restore)} "1" YBdHM Asia/Shanghai'


def test_closed_queue_with_an_out_of_hours_target_is_enqueued_there():
    c = Caller(session(is_open=lambda queue, now: queue != "suggestions",
                       closed_queue={"suggestions": "general"}.get))
    at_menu(c)
    c.reply(key("5"))
    assert c.outcomes == [enqueue("general", "suggestion", 20)]
    c = Caller(session(is_open=lambda queue, now: False,
                       closed_queue={"suggestions": "general"}.get))
    at_menu(c)
    c.reply(key("5"))
    assert c.agi[-1] == "GET DATA closed 5000 1"  # the target is closed too
