"""Random callers: whatever they press, the engine keeps its contract and ends the call."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.commands import AgiResult, Ask, Hangup, Play, SayDateTime, SayDigits, SayNumber
from ivr.engine import CallInfo, IvrSession, State
from ivr.outage import OutageNotice
from ivr.outcomes import (
    BillInfo,
    BillLookupRequest,
    Enqueue,
    IvrAbandoned,
    SurveyAnswered,
)
from tests.ivr_driver import (
    DONE,
    GONE,
    HASH,
    PLAYED,
    TIMEOUT,
    check_contract,
    cut,
    deep_config,
    default_config,
    is_command,
    key,
)

NOW = 1_790_000_000.0
QUIET = {State.QUEUED, State.ENDED}

results = st.one_of(
    st.sampled_from([PLAYED, DONE, TIMEOUT, HASH, GONE, AgiResult(510, "")]),
    st.text("0123456789*#", max_size=12).map(key),
    st.sampled_from("0123456789*#").map(cut),
)
actions = st.one_of(
    results.map(lambda r: ("result", r)),
    st.sampled_from([("hangup", None), ("lookup", None), ("survey", "complaint"),
                     ("survey", "general")]),
    st.integers(-100000, 100000).map(lambda fen: ("lookup", BillInfo("1234567890", fen, 0))),
)


def silent_reply(command) -> AgiResult:
    """What a caller who presses nothing gets back from ``command``."""
    if isinstance(command, Ask):
        return TIMEOUT
    if isinstance(command, Play | SayNumber | SayDigits | SayDateTime):
        return PLAYED
    return DONE


def apply(s: IvrSession, action, now: float) -> list:
    kind, arg = action
    if kind == "result":
        return s.on_result(arg, now)
    if kind == "hangup":
        return s.on_hangup(now)
    if kind == "lookup":
        return s.on_lookup(arg, now)
    if s.state is State.QUEUED:  # the survey only follows a call that reached an agent
        return s.start_survey(now, arg)
    return []


@settings(max_examples=300, deadline=None)
@given(st.lists(actions, max_size=40), st.booleans(), st.booleans(), st.booleans())
def test_random_callers_keep_the_contract_and_finish(script, outage, deep, closed):
    config = deep_config() if deep else default_config()
    s = IvrSession(config, is_open=lambda queue, now: not closed or queue == "fault")
    notice = OutageNotice("n1", NOW - 60, NOW + 3600, area_codes=("0531",)) if outage else None
    log: list = []
    out = s.start(CallInfo("chan", "053188886666"), NOW, notice)
    check_contract(out)
    log += out
    for step, action in enumerate(script):
        out = apply(s, action, NOW + step)
        check_contract(out)
        log += out
    # then the caller falls silent: the IVR must settle within a bounded number of steps
    last = next((x for x in reversed(log) if is_command(x)), None)
    for step in range(60):
        if s.state in QUIET:
            break
        if s.state is State.LOOKUP:
            out = s.on_lookup(None, NOW + 1000 + step)
        else:
            out = s.on_result(silent_reply(last), NOW + 1000 + step)
        check_contract(out)
        log += out
        last = next((x for x in out if is_command(x)), last)
    assert s.state in QUIET, (s.state, log[-5:])
    outcomes = [x for x in log if not is_command(x)]
    journey = [x for x in outcomes if not isinstance(x, BillLookupRequest | SurveyAnswered)]
    # one decision per call: the survey (after an Enqueue) only adds a SurveyAnswered
    assert len(journey) == 1, outcomes
    if s.state is State.QUEUED:
        assert isinstance(journey[0], Enqueue)
    if isinstance(journey[0], IvrAbandoned):  # the caller left before any decision
        assert not any(isinstance(x, Hangup) for x in log)
    for x in outcomes:
        if isinstance(x, Enqueue):
            assert x.queue in ("fault", "billing", "service", "complaints", "suggestions",
                               "english", "general")
            assert not x.fell_back or x.queue in ("general", "english")


@settings(max_examples=200, deadline=None)
@given(st.lists(results, max_size=40), st.lists(st.integers(0, 50), min_size=1, max_size=5),
       st.sampled_from([None, 0.0, 120.0]))
def test_random_results_in_the_hold_loop(script, positions, threshold):
    from ivr.hold import HoldLoop, QueueStatus

    statuses = iter([QueueStatus(p, p * 45.0) for p in positions])
    loop = HoldLoop("fault", "13864101234", lambda now: next(statuses, None),
                    callback_above_ewt_s=threshold)
    out = loop.start(NOW)
    check_contract(out)
    log = list(out)
    for step, result in enumerate(script):
        out = loop.on_result(result, NOW + step)
        check_contract(out)
        log += out
    wanted = [x for x in log if not is_command(x)]
    assert len(wanted) <= 1  # at most one callback request, and nothing else
    if wanted:
        assert threshold is not None
