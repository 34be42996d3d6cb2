"""The server away for a minute (issue 12 point 6, trace 14): the records say what happened.

Two calls are talking when the daemon goes; their agents hang up while it is
away (one had put the caller on hold), and the callers hang up too.  Two callers
waiting in the queue fall back to the dialplan's ``Queue(hotline-fallback)``
after the watchdog: one is answered there by a phone, the other hangs up while
it rings.  All of it ends before the daemon is back 65 s later; AMI kept no
history, so the records come from what the dialplan's hangup handler and
acd-connect kept in AstDB.
"""

from __future__ import annotations

import pytest

from queues.agents import AgentState
from server.sim import AgentBehaviour, PhoneScript
from tests.e2e_support import RestartRig
from tests.test_e2e_calls import caller

TALK = 20.0  # long enough to be under way when the daemon goes


@pytest.fixture
def rig():
    r = RestartRig()
    yield r
    r.stop()


def _until(rig, done, limit: float = 120.0) -> None:
    waited = 0.0
    while not done() and waited < limit:
        rig.run(0.5)
        waited += 0.5
    assert done(), "timed out"


def _by_caller(rig) -> dict:
    return {r.caller: r for r in rig.final_records().values()}


def _hung_up_by(rec) -> str | None:
    return next((e.details["hung_up_by"] for e in rec.timeline if e.kind == "bridge_end"), None)


def test_calls_that_ended_while_the_server_was_away_get_their_real_records(rig):
    rig.sim.add_phone(PhoneScript("1001", AgentBehaviour(answer_after=2.0, talk=TALK)))
    rig.sim.add_phone(PhoneScript("1003", AgentBehaviour(answer_after=2.0, talk=TALK,
                                                         hold_at=15.0, hold_for=2.0)))
    # 1002 is not logged in to the server; in the fallback queue it rings unanswered.
    rig.sim.add_phone(PhoneScript("1002", AgentBehaviour(answer_after=None)))
    rig.run(1)
    rig.cc.acd.login("1001")
    rig.cc.acd.login("1003")
    caller(rig, "1", "0", number="13900000001", patience=60.0)  # key 0: general
    caller(rig, "1", "0", number="13900000002", patience=60.0, at=2.0)
    _until(rig, lambda: sorted(c.phase for c in rig.cc.calls.values()) == ["talking"] * 2)
    talking = {c.caller: c.agent_id for c in rig.cc.calls.values()}
    caller(rig, "1", "0", number="13900000003", patience=200.0)
    caller(rig, "1", "0", number="13900000004", patience=60.0, at=1.5)
    _until(rig, lambda: len(rig.cc.acd.waiting()) == 2)
    rig.run(1)  # the router snapshot with both waiting reaches the live state

    rig.kill_daemon()  # SIGTERM in trace 14: nothing of the old process remains
    rig.run(65)
    assert rig.sim.core.channels == {} or all(
        "13900000003" in c.caller_num for c in rig.sim.core.channels.values()
        if c.name.startswith("Local/"))
    assert {f for f, _ in rig.sim.core.astdb} == {"hotline_end"}
    rig.run(30)  # the last fallback call ends too
    assert not [c for c in rig.sim.core.channels.values() if c.name.startswith("Local/")]
    assert rig.final_records() == {}  # nobody has written anything yet

    rig.start_daemon()
    rig.run(5)
    records = _by_caller(rig)
    assert sorted(records) == ["13900000001", "13900000002", "13900000003", "13900000004"]
    assert not [r for r in records.values() if r.outcome == "ivr_hangup"]

    # Talking when the daemon went: the agent ended the talk, TALK seconds after
    # the answer (not at the restart); hold there is not known to Asterisk's
    # dialplan, so it counts as talk.
    for number in ("13900000001", "13900000002"):
        rec = records[number]
        d = rig.durations(rec)
        assert (rec.outcome, rec.agent_id) == ("answered", talking[number])
        assert _hung_up_by(rec) == "agent"
        assert d.talk_s + d.hold_s == pytest.approx(TALK, abs=0.01)
        assert rec.recording == f"{rec.call_id}.wav"
    assert rig.cc.acd.agent("1001").state is not AgentState.ON_CALL
    assert rig.cc.acd.agent("1003").state is not AgentState.ON_CALL

    # Fell back and answered there by 1001 (rrmemory: the first free member),
    # recorded, the agent hung up after TALK seconds.
    answered = records["13900000003"]
    d = rig.durations(answered)
    assert (answered.outcome, answered.agent_id) == ("fallback_answered", "1001")
    assert answered.notes == "fallback: watchdog"
    assert answered.queues == ("general", "hotline-fallback")
    assert _hung_up_by(answered) == "agent"
    assert d.talk_s == pytest.approx(TALK, abs=0.01)
    assert answered.recording == f"{answered.call_id}.wav"
    assert d.queue_wait_s > 30  # from the server's queue through the fallback
    # Fell back and hung up there while 1002 rang: abandoned in the fallback queue.
    abandoned = records["13900000004"]
    assert (abandoned.outcome, abandoned.agent_id) == ("fallback_abandoned", None)
    assert rig.durations(abandoned).talk_s == 0
    assert any(e.kind == "abandoned" for e in abandoned.timeline)

    assert rig.sim.core.astdb == {}  # collected, and deleted without DBDel
    assert not [a for a, _ in rig.ami.actions if a in ("DBDel", "DBPut", "DBDelTree")]
    finals = [r["call_id"] for r in rig.saved if r.get("final")]
    assert len(finals) == len(set(finals)) == 4



def test_a_talk_that_ended_while_away_keeps_its_end_though_the_caller_stayed(rig):
    # The agent hangs up while the daemon is away; the caller is still in
    # acd-connect's AsyncAGI when it is back (within the watchdog): the talk ended
    # when acd-connect noted it, not when the new daemon found the agent's leg gone.
    rig.sim.add_phone(PhoneScript("1001", AgentBehaviour(answer_after=2.0, talk=TALK)))
    rig.run(1)
    rig.cc.acd.login("1001")
    caller(rig, "1", "0", "1", patience=120.0)  # the survey key when asked
    _until(rig, lambda: [c.phase for c in rig.cc.calls.values()] == ["talking"])
    rig.run(1)
    rig.kill_daemon()
    rig.run(TALK + 5)  # the agent hangs up meanwhile; the caller waits in silence
    ((family, _uid),) = rig.sim.core.astdb
    assert family == "hotline_end"  # noted at the talk's end: nobody was listening
    rig.start_daemon()
    rig.run(60)
    (rec,) = rig.final_records().values()
    assert rec.outcome == "answered" and _hung_up_by(rec) == "agent"
    assert rig.durations(rec).talk_s == pytest.approx(TALK, abs=0.01)
    assert rec.satisfaction is not None  # the survey still ran after the restart
    assert rig.sim.core.astdb == {}


def test_a_call_answered_and_ended_while_away_after_the_offer_is_answered(rig):
    # Real Asterisk, kill -9 13 s into a 12-caller run: the old daemon had offered
    # c0007 to 1003 and Redirected it to acd-connect; 1003 answered 2 s after the
    # kill, held, hung up 8 s later, the caller left; the record said abandoned.
    rig.sim.add_phone(PhoneScript("1001", AgentBehaviour(answer_after=6.0, talk=10.0)))
    rig.run(1)
    rig.cc.acd.login("1001")
    caller(rig, "1", "0", "1", patience=30.0)  # stays past the talk, gone before the restart
    _until(rig, lambda: [c.phase for c in rig.cc.calls.values()] == ["connecting"])
    rig.run(1)  # ringing; the live state says connecting to 1001
    rig.kill_daemon()
    rig.run(40)  # answered at 6 s, talked 10 s; the caller waits in silence, then leaves
    assert not [c for c in rig.sim.core.channels.values() if c.name.startswith("Local/")]
    rig.start_daemon()
    rig.run(15)  # the wrap-up (30 s from the talk's end) is over: the record is final
    (rec,) = rig.final_records().values()
    assert (rec.outcome, rec.agent_id) == ("answered", "1001")
    assert _hung_up_by(rec) == "agent"
    d = rig.durations(rec)
    assert d.talk_s == pytest.approx(10.0, abs=0.01)
    assert d.ring_s == pytest.approx(6.0, abs=0.01)  # DIALEDTIME - ANSWEREDTIME
