"""kill -9 of the daemon mid-call: the next one re-adopts every call from Redis' live state.

The old daemon's timers all vanish and its socket closes (ProcessClock.kill);
Asterisk (the simulator) carries on.  The new daemon restores the calls and
the router's places, logs in, resyncs with CoreShowChannels, and carries on.
"""

from __future__ import annotations

import pytest

from queues.agents import AgentState
from server.sim import COMMAND, AgentBehaviour, CallerScript, PhoneScript, Press
from tests.e2e_support import RestartRig
from tests.test_e2e_calls import caller, key_after


@pytest.fixture
def rig():
    r = RestartRig()
    yield r
    r.stop()


def test_waiting_caller_keeps_place_and_enqueue_time_across_a_restart(rig):
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=2.0, talk=10.0)))
    rig.run(1)
    caller(rig, "1", "5", "1")  # suggestions; nobody is logged in yet
    caller(rig, "1", "5", "2", number="13800000009", at=3.0)
    rig.run(30)
    waiting = [w.id for w in rig.cc.acd.waiting()]
    enqueued = {w.id: w.enqueued_at for w in rig.cc.acd.waiting()}
    assert len(waiting) == 2
    rig.run(1)  # the debounced router snapshot is written
    rig.kill_daemon()
    rig.run(5)  # nobody is serving Asterisk now
    assert rig.start_daemon() == 2
    assert [w.id for w in rig.cc.acd.waiting()] == waiting
    assert {w.id: w.enqueued_at for w in rig.cc.acd.waiting()} == enqueued
    # The new daemon probes each channel first (the old daemon's music may still be
    # playing), then both callers hear the waiting loop again.
    assert rig.ami.agi_commands() == ["NOOP", "NOOP"]
    chunk = int(rig.cfg.acd.queues["suggestions"].announce_interval_s)
    rig.run(chunk)
    moh = [c for c in rig.ami.agi_commands() if c.startswith("EXEC MusicOnHold")]
    assert len(moh) == 2
    rig.cc.acd.login("1007")
    rig.run(200)
    records = rig.final_records()
    assert sorted(records) == sorted(waiting)
    assert all(r.outcome == "answered" for r in records.values())
    first = records[waiting[0]]
    # The wait counts from the original enqueue, across the restart.
    d = rig.durations(first)
    answered = next(e.t for e in first.timeline if e.kind == "answered")
    assert d.queue_wait_s == pytest.approx(answered - enqueued[waiting[0]])
    # Exactly one final record per call, no duplicates.
    finals = [r["call_id"] for r in rig.saved if r.get("final")]
    assert sorted(set(finals)) == sorted(waiting)


def test_caller_in_the_menu_resumes_at_the_current_menu(rig):
    caller(rig, "1", "2")  # Mandarin, billing menu, then silence
    rig.run(9)
    rig.kill_daemon()
    rig.run(2)
    assert rig.start_daemon() == 1
    # The old daemon's GET DATA is still running in Asterisk; our NOOP waits behind it.
    rig.run(20)
    commands = rig.ami.agi_commands()  # the new daemon's commands only
    assert commands[:3] == ["NOOP", "SET VARIABLE CHANNEL(language) zh",
                            "GET DATA hotline/billing-menu 5000 1"]


def test_keys_pressed_while_the_daemon_was_dead_are_not_asked_again(rig):
    """Issue 12: Asterisk delivers the dead daemon's GET DATA result, digits included,
    to the new session.  It answers the step the restored call is at: use it."""
    rig.sim.add_caller(CallerScript("13912345678", "张伟", arrive_at=rig.sim.uptime() + 1.0,
                                    presses=(key_after("1"), key_after("2"), Press(
                                        "2", 6.0, after=COMMAND,
                                        command="GET DATA hotline/billing-menu")),
                                    patience=60.0))
    rig.run(9)  # Mandarin, the billing menu is being asked
    rig.kill_daemon()
    rig.run(2)
    assert rig.start_daemon() == 1
    rig.run(20)  # the caller presses 2 (arrears) 13 s in, to the dead daemon's GET DATA
    assert rig.ami.agi_commands()[:3] == ["NOOP", "SET VARIABLE CHANNEL(language) zh",
                                          "GET DATA hotline/account-number 5000 11"]
    (state,) = rig.live.data["call"].values()
    assert state["ivr"]["path"] == [["main", "2"], ["billing", "2"]]
    assert state["ivr"]["state"] == "account"


def test_a_restart_during_the_account_number_asks_for_it_again_not_the_menu(rig):
    caller(rig, "1", "2", "2", patience=60.0)  # billing 2: the account number is asked
    rig.run(10)
    rig.kill_daemon()
    rig.run(2)  # nothing typed: the old GET DATA times out, with no digits
    assert rig.start_daemon() == 1
    rig.run(20)
    assert rig.ami.agi_commands()[:3] == ["NOOP", "SET VARIABLE CHANNEL(language) zh",
                                          "GET DATA hotline/account-number 5000 11"]


def test_caller_gone_while_the_daemon_was_down_is_closed_once(rig):
    caller(rig, "1", "5", patience=20.0)
    rig.run(12)
    rig.kill_daemon()
    rig.run(15)  # the caller hangs up meanwhile
    rig.start_daemon()
    rig.run(5)
    records = rig.final_records()
    assert len(records) == 1
    assert next(iter(records.values())).outcome == "abandoned"
    assert rig.cc.calls == {} and rig.live.data.get("call", {}) == {}


def test_bridged_call_survives_and_finishes_normally(rig):
    talk = 60.0
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=talk)))
    rig.run(1)
    rig.cc.acd.login("1007")
    caller(rig, "1", "5", "1")
    rig.run(25)
    assert rig.cc.acd.agent("1007").state is AgentState.ON_CALL
    rig.run(1)
    rig.kill_daemon()
    rig.run(3)
    rig.start_daemon()
    assert rig.cc.acd.agent("1007").state is AgentState.ON_CALL
    rig.run(200)
    records = rig.final_records()
    assert len(records) == 1
    rec = next(iter(records.values()))
    assert rec.outcome == "answered" and rec.satisfaction == "satisfied"
    assert rig.durations(rec).talk_s == pytest.approx(talk)
    assert rig.cc.acd.agent("1007").state is AgentState.READY


def test_live_state_refused_by_redis_is_written_again_when_it_returns(rig):
    from twisted.internet import defer

    real_put = rig.live.put
    down = [True]

    def flaky_put(kind, id, state):
        if down[0]:
            return defer.fail(ConnectionError("Redis is restarting"))
        return real_put(kind, id, state)

    rig.live.put = flaky_put
    caller(rig, "1", "2")  # Mandarin, billing menu
    rig.run(9)
    assert rig.live.data.get("call", {}) == {}  # nothing got through
    down[0] = False
    rig.run(3)  # the retry writes the current state, not the first refused one
    (state,) = rig.live.data["call"].values()
    assert state["ivr"]["menu"] == "billing" and state["ivr"]["language"] == "zh"
    assert "snapshot" in rig.live.data["router"]


def test_wrap_up_that_ended_before_the_kill_lets_the_record_finish():
    from dataclasses import replace

    from tests.e2e_support import Rig as PlainRig

    base = PlainRig().cfg
    wrapup = 2.0  # shorter than the survey: the agent is free while the caller still rates
    cfg = replace(base, acd=replace(base.acd, policy=replace(base.acd.policy,
                                                             wrapup_default_s=wrapup)))
    rig = RestartRig(cfg=cfg)
    talk = 20.0
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=talk)))
    rig.run(1)
    rig.cc.acd.login("1007")
    caller(rig, "1", "5")  # Mandarin, suggestions; silent at the survey
    for _ in range(200):  # until the agent has hung up and finished the wrap-up
        rig.run(0.5)
        if rig.cc.acd.agent("1007").state is AgentState.READY and any(
                c.phase == "survey" for c in rig.cc.calls.values()):
            break
    assert any(c.phase == "survey" for c in rig.cc.calls.values())
    rig.run(1)
    rig.kill_daemon()
    rig.run(2)
    rig.start_daemon()
    rig.run(120)  # the survey replays, gets no answer, the caller is thanked and hung up
    records = rig.final_records()
    assert len(records) == 1
    rec = next(iter(records.values()))
    assert rec.outcome == "answered"
    assert rig.durations(rec).acw_s == pytest.approx(wrapup)
    rig.stop()


def test_live_state_of_a_call_already_final_is_dropped_at_restore(rig):
    caller(rig, "1", patience=3.0)  # hangs up in the menu
    rig.run(10)
    (rec,) = rig.final_records().values()
    # A delete that never reached Redis (lost with a killed process): the entry is stale.
    rig.live.data.setdefault("call", {})[rec.call_id] = {"channel": "Local/x;1", "phase": "ivr"}
    rig.kill_daemon()
    assert rig.start_daemon() == 0
    assert rec.call_id not in rig.live.data.get("call", {})
    assert rig.cc.calls == {}


class _HeldLive:
    """A live store whose writes complete only when the test says so, in any order."""

    def __init__(self) -> None:
        from twisted.internet import defer

        self.defer = defer
        self.issued: list[tuple[str, str, object]] = []
        self.pending: list = []
        self.data: dict[str, dict] = {}

    def _op(self, kind, id, apply):
        d = self.defer.Deferred()
        self.pending.append((d, apply))
        return d

    def put(self, kind, id, state):
        self.issued.append(("put", id, state.get("phase")))
        return self._op(kind, id, lambda: self.data.__setitem__(id, state))

    def delete(self, kind, id):
        self.issued.append(("delete", id, None))
        return self._op(kind, id, lambda: self.data.pop(id, None))

    def finish_newest_first(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            for d, apply in reversed(batch):
                apply()
                d.callback(None)


def test_live_writes_of_one_call_never_overtake_each_other():
    from tests.e2e_support import Rig

    rig = Rig()
    live = _HeldLive()
    rig.cc.livestate.live = live  # the writer the rig built, on a store that holds writes
    caller(rig, "1", patience=4.0)  # several phase changes, then a hangup: the delete
    rig.run(10)
    (rec,) = rig.final_records().values()
    ops = [op for op, cid, _ in live.issued if cid == rec.call_id]
    # One write in flight: everything after the first waits, and collapses.
    assert ops == ["put"]
    live.finish_newest_first()
    ops = [op for op, cid, _ in live.issued if cid == rec.call_id]
    assert ops[-1] == "delete" and len(ops) == 2
    assert rec.call_id not in live.data  # without the ordering a late put would remain


def test_router_snapshot_older_than_the_end_of_the_conversation_frees_the_agent(rig):
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=6.0)))
    rig.run(1)
    rig.cc.acd.login("1007")
    caller(rig, "1", "5")  # no survey key: the caller stays a while in the survey
    for _ in range(400):
        rig.run(0.05)
        if rig.cc.acd.agent("1007").state is AgentState.WRAP_UP:
            break
    assert rig.cc.acd.agent("1007").state is AgentState.WRAP_UP
    # Killed within the router snapshot's debounce: Redis still says "on call".
    assert rig.live.data["router"]["snapshot"] and rig.cc.livestate.router_save is not None
    rig.kill_daemon()
    rig.start_daemon()
    assert rig.cc.acd.agent("1007").state is AgentState.WRAP_UP
    rig.run(120)
    assert rig.cc.acd.agent("1007").state is AgentState.READY
    (rec,) = rig.final_records().values()
    assert rec.outcome == "answered" and rig.cc.calls == {}


def _run_until(rig, done, limit: float = 60.0, step: float = 0.05) -> None:
    for _ in range(int(limit / step)):
        if done():
            return
        rig.run(step)
    assert done()


def _offers(rec) -> list[tuple[str, str]]:
    return [(e.details["agent"], e.details["outcome"]) for e in rec.timeline if e.kind == "offer"]


def test_kill_while_the_agents_phone_rings_adopts_that_offer(rig):
    """The router snapshot forgets offers in flight.  Before the fix the restarted
    router offered the call to another ready agent, whose name then went on the
    record of the conversation the first agent answered."""
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=6.0, talk=10.0)))
    rig.sim.add_phone(PhoneScript("1008", AgentBehaviour(answer_after=1.0, talk=10.0)))
    rig.run(1)
    rig.cc.acd.login("1007")
    caller(rig, "1", "5", "1")
    _run_until(rig, lambda: any(c.agent_channel for c in rig.cc.calls.values()))
    (call_id,) = rig.cc.calls
    rig.cc.acd.login("1008")  # ready when the new daemon's router first dispatches
    rig.run(1)  # the debounced router snapshot: 1007 reserved (restored as ready)
    rig.kill_daemon()
    rig.start_daemon()
    assert rig.cc.acd.agent("1007").state is AgentState.RESERVED
    assert rig.cc.acd.agent("1007").item_id == call_id
    assert rig.cc.acd.agent("1008").state is AgentState.READY
    # Nothing tore the caller out of the Dial that was under way.
    assert not [f for a, f in rig.ami.calls_actions() if a == "Redirect"]
    rig.run(120)
    rec = rig.final_records()[call_id]
    assert rec.outcome == "answered" and rec.agent_id == "1007"
    assert _offers(rec) == [("1007", "answered")]
    assert rig.durations(rec).talk_s == pytest.approx(10.0)
    assert rig.cc.acd.agent("1007").state is AgentState.READY


def test_conversation_held_while_the_daemon_was_down_goes_on_to_the_survey(rig):
    """Ringing at the kill, answered and over before the restart: the caller is
    back in AsyncAGI after the Dial.  The new daemon asks the channel (DIALSTATUS)
    instead of queueing a caller who has been served."""
    talk = 5.0
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=2.0, talk=talk)))
    rig.run(1)
    rig.cc.acd.login("1007")
    caller(rig, "1", "5", "1")  # survey: satisfied
    _run_until(rig, lambda: any(c.agent_channel for c in rig.cc.calls.values()))
    (call_id,) = rig.cc.calls
    rig.kill_daemon()
    rig.run(12)  # answered at 2 s, over at 7 s; the watchdog (30 s) has not fired
    rig.start_daemon()
    rig.run(120)
    rec = rig.final_records()[call_id]
    assert rec.outcome == "answered" and rec.agent_id == "1007"
    assert rec.satisfaction == "satisfied"
    assert _offers(rec) == [("1007", "answered")]  # not offered a second time
    assert rig.durations(rec).talk_s == pytest.approx(talk, abs=1.0)  # ANSWEREDTIME: whole s
    assert rig.cc.acd.agent("1007").state is AgentState.READY
    assert rig.cc.calls == {}


def test_waiting_caller_missing_from_the_router_snapshot_is_queued_again(rig):
    """Killed within the snapshot's debounce after the caller queued: the call's
    own state says queued, the router's says nothing.  The caller keeps their
    enqueue time and is served, not left to the music with no place."""
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=5.0)))
    rig.run(1)
    caller(rig, "1", "5", "1")
    _run_until(rig, lambda: rig.cc.acd.waiting())
    (item,) = rig.cc.acd.waiting()
    rig.live.data.setdefault("router", {}).pop("snapshot", None)  # never written
    rig.cc.livestate.router_save.cancel()
    rig.kill_daemon()
    rig.start_daemon()
    assert [(w.id, w.enqueued_at) for w in rig.cc.acd.waiting()] == [(item.id, item.enqueued_at)]
    rig.cc.acd.login("1007")
    rig.run(120)
    rec = rig.final_records()[item.id]
    assert rec.outcome == "answered"
    answered = next(e.t for e in rec.timeline if e.kind == "answered")
    assert rig.durations(rec).queue_wait_s == pytest.approx(answered - item.enqueued_at, abs=0.01)


def test_call_state_older_than_the_router_snapshot_leaves_no_agent_on_the_call(rig):
    """Redis refused the call's live-state writes (a Redis restart) but took a
    later router snapshot, then the daemon was killed: the call comes back in
    the IVR while the router holds its agent on it.  When the call finishes the
    router lets go (the chaos run's 'agent stuck on_call')."""
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=4.0)))
    rig.run(1)
    rig.cc.acd.login("1007")
    caller(rig, "1", "5", "1")
    _run_until(rig, lambda: rig.cc.acd.agent("1007").state is AgentState.ON_CALL)
    (call_id,) = rig.cc.calls
    rig.run(1)  # the router snapshot: 1007 on the call
    stale = rig.live.data["call"][call_id]
    stale.update(phase="ivr", agent_id=None, talked=False, wrap_done=True)
    # ... and so does the record: its versions since the enqueue never reached Redis.
    rig.saved[:] = [r for r in rig.saved if r["call_id"] != call_id
                    or not any(e[1] in ("enqueued", "answered") for e in r["timeline"])]
    rig.kill_daemon()
    rig.start_daemon()
    assert rig.cc.acd.agent("1007").state is AgentState.ON_CALL  # as the snapshot says
    rig.run(120)
    assert call_id in rig.final_records() and rig.cc.calls == {}
    assert rig.cc.acd.agent("1007").state is AgentState.READY
    assert rig.cc.acd.item(call_id) is None


def test_call_state_older_than_its_record_restores_what_the_record_says(rig):
    """The live state says "in the menu", the record (written on its own path,
    with its own spool) says answered: the restart trusts the record, and the
    conversation ends as one, with the survey after it."""
    talk = 8.0
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=talk)))
    rig.run(1)
    rig.cc.acd.login("1007")
    caller(rig, "1", "5", "1")
    _run_until(rig, lambda: rig.cc.acd.agent("1007").state is AgentState.ON_CALL)
    (call_id,) = rig.cc.calls
    rig.run(1)
    rig.live.data["call"][call_id].update(phase="ivr", agent_id=None, agent_channel=None,
                                          talked=False, wrap_done=True, queue=None)
    rig.kill_daemon()
    rig.start_daemon()
    assert rig.cc.calls[call_id].phase == "talking"
    rig.run(120)
    rec = rig.final_records()[call_id]
    assert (rec.outcome, rec.agent_id, rec.satisfaction) == ("answered", "1007", "satisfied")
    assert rig.durations(rec).talk_s == pytest.approx(talk)
    assert rig.cc.acd.agent("1007").state is AgentState.READY


def test_router_snapshot_older_than_the_answer_offers_nobody_a_served_caller(rig):
    """The snapshot still had the caller waiting (Redis refused the later ones);
    the call's own state says the conversation is over and the survey runs.
    Before the fix the restored router offered the caller again, and the
    Redirect took them out of the survey to a second agent."""
    import copy

    for ext in ("1007", "1008"):
        rig.sim.add_phone(PhoneScript(ext, AgentBehaviour(answer_after=1.0, talk=4.0)))
    rig.run(1)
    caller(rig, "1", "5")  # no survey key: they stay in the survey a while
    _run_until(rig, lambda: rig.cc.acd.waiting())
    rig.run(1)
    stale = copy.deepcopy(rig.live.data["router"]["snapshot"])
    rig.cc.acd.login("1007")
    _run_until(rig, lambda: any(c.phase == "survey" for c in rig.cc.calls.values()))
    (call_id,) = rig.cc.calls
    rig.live.data["router"]["snapshot"] = stale
    rig.kill_daemon()
    rig.start_daemon()
    assert rig.cc.acd.item(call_id) is None
    rig.cc.acd.login("1008")
    rig.run(120)
    rec = rig.final_records()[call_id]
    assert rec.outcome == "answered" and rec.agent_id == "1007"
    assert _offers(rec) == [("1007", "answered")]
    assert not [f for a, f in rig.ami.calls_actions() if a == "Redirect"]
    assert rig.cc.acd.agent("1008").state is AgentState.READY


def test_router_snapshot_older_than_the_answer_holds_the_agent_on_the_call(rig):
    """Killed mid-conversation with a snapshot from before the answer (the chaos
    run's lost caller: the agent was given another call, the conversation's
    wrap-up was never seen to end and its record never finished)."""
    import copy

    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=10.0)))
    rig.run(1)
    caller(rig, "1", "5", "1")
    _run_until(rig, lambda: rig.cc.acd.waiting())
    rig.run(1)
    stale = copy.deepcopy(rig.live.data["router"]["snapshot"])
    rig.cc.acd.login("1007")
    _run_until(rig, lambda: rig.cc.acd.agent("1007").state is AgentState.ON_CALL)
    (call_id,) = rig.cc.calls
    rig.run(2)
    rig.live.data["router"]["snapshot"] = stale  # 1007 logged out, the caller waiting
    rig.kill_daemon()
    rig.start_daemon()
    view = rig.cc.acd.agent("1007")
    assert (view.state, view.item_id) == (AgentState.ON_CALL, call_id)
    caller(rig, "1", "5", "1", number="13800000002")  # must wait for 1007
    rig.run(150)
    records = rig.final_records()
    first, second = records[call_id], next(r for k, r in records.items() if k != call_id)
    assert (first.outcome, first.agent_id, first.satisfaction) == ("answered", "1007",
                                                                  "satisfied")
    answered_second = next(e.t for e in second.timeline if e.kind == "answered")
    ended_first = next(e.t for e in first.timeline if e.kind == "bridge_end")
    assert answered_second > ended_first  # never two calls at once
    assert rig.cc.calls == {} and rig.cc.acd.agent("1007").state is AgentState.READY


def _dial_event(name: str, call, dest: str, **more):
    from server.ami.codec import Message

    return Message.from_headers([("Event", name), ("Channel", call.channel),
                                 ("Context", "acd-connect"), ("Exten", "s"),
                                 ("DestChannel", dest), *more.items()])


def _restarted_with_a_waiting_caller(rig):
    """A caller queued with nobody logged in, then a kill -9 and a restart."""
    rig.run(1)
    caller(rig, "1", "5", "1")
    _run_until(rig, lambda: rig.cc.acd.waiting())
    (call_id,) = rig.cc.calls
    rig.kill_daemon()
    rig.start_daemon()
    return rig.cc.calls[call_id]


def test_dial_seen_only_after_the_restart_is_claimed_for_the_agent_it_rings(rig):
    """The reconcile found the caller in acd-connect before its Dial (nothing to
    claim yet); the DialBegin that follows names the agent: the router is told,
    and the agent's pause asked for meanwhile waits for the end of the offer."""
    call = _restarted_with_a_waiting_caller(rig)
    call_id = call.id
    rig.cc.acd.login("1007")
    rig.cc.acd.pause("1007", "meal")
    rig.events.dispatch(_dial_event("DialBegin", call, "PJSIP/1007-000000ff"))
    view = rig.cc.acd.agent("1007")
    assert (view.state, view.item_id) == (AgentState.RESERVED, call_id)
    assert (call.phase, call.agent_id, call.agent_channel) == (
        "connecting", "1007", "PJSIP/1007-000000ff")
    rig.events.dispatch(_dial_event("DialEnd", call, "PJSIP/1007-000000ff",
                                    DialStatus="NOANSWER"))
    assert call.phase == "queued" and call.agent_id is None
    view = rig.cc.acd.agent("1007")
    assert (view.state, view.pause_reason) == (AgentState.PAUSED, "meal")
    assert _offers(call.record.snapshot()) == [("1007", "no_answer")]


def test_dial_to_an_agent_the_router_cannot_give_the_call_is_hung_up(rig):
    call = _restarted_with_a_waiting_caller(rig)
    rig.events.dispatch(_dial_event("DialBegin", call, "PJSIP/1008-000000fe"))  # logged out
    hangups = [f["Channel"] for a, f in rig.ami.calls_actions() if a == "Hangup"]
    assert hangups == ["PJSIP/1008-000000fe"]
    assert call.phase == "queued" and rig.cc.acd.agent("1008").item_id is None
    assert [w.id for w in rig.cc.acd.waiting()] == [call.id]


class _OutboundRestartRig(RestartRig):
    SIDE = {**RestartRig.SIDE, "outbound": True}


def test_a_case_return_visit_keeps_its_case_across_a_kill():
    """回访: the waiting follow-up of a service case comes back from the router snapshot
    with its case id (adding it saves the snapshot: before, only a later call or agent
    change did), and the new daemon's attempt reports its end for that case."""
    rig = _OutboundRestartRig()
    try:
        rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0)))
        rig.sim.add_local_agent("13900000001", AgentBehaviour(answer_after=None),
                                "sim-customers")
        rig.run(1)
        # as server/return_visits.py adds it (no agent is logged in: nothing else moves)
        rig.cc.add_follow_up("rv-GD1-2", "general", "13900000001",
                             rig.clock.seconds() + 60, "回访 GD1", case_id="GD1")
        rig.run(2)  # the debounced router snapshot is written
        rig.kill_daemon()
        rig.run(5)
        rig.start_daemon()
        (item,) = rig.cc.acd.waiting()
        assert (item.id, item.case_id, item.note) == ("rv-GD1-2", "GD1", "回访 GD1")
        ended = []
        rig.cc.notifier.subscribe(
            lambda topic, p: ended.append(p) if topic == "followup_ended" else None)
        rig.cc.acd.login("1007")
        rig.run(120)
        assert [(p["case_id"], p["item_id"], p["outcome"]) for p in ended] == [
            ("GD1", "rv-GD1-2", "customer_no_answer")]
        assert rig.cc.acd.waiting() == []  # one attempt: the case books the next
    finally:
        rig.stop()
