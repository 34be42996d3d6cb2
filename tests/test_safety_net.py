"""The dialplan's safety net end to end: the real SafetyNet, CallCenter and AmiService
against the simulator running deploy/asterisk/extensions.conf.

While the daemon lives, nobody falls back however long they wait.  When it is
killed (its timers and socket gone, ProcessClock.kill), Asterisk takes callers
in AsyncAGI to the fallback queue once the watchdog runs out, and sends new
callers there at once; the next daemon closes the fallen-back calls' records
exactly once, as system failures, and serves new callers again.
"""

from __future__ import annotations

import pytest

from queues.agents import AgentState
from server.safety import ALIVE_VARIABLE
from server.sim import AgentBehaviour, PhoneScript
from tests.e2e_support import RestartRig
from tests.test_e2e_calls import caller

WATCHDOG = 30  # config/server.yaml ami.watchdog_s and extensions.conf HOTLINE_WATCHDOG


@pytest.fixture
def rig():
    r = RestartRig()
    yield r
    r.stop()


def sim_epoch(rig) -> int:
    return int(rig.clock.seconds())


def fallbacks(rig) -> list:
    return [c for c in rig.sim.core.channels.values()
            if c.context == "hotline" and c.application == "Queue"]


def test_heartbeat_is_asterisks_epoch_plus_the_watchdog(rig):
    assert rig.cfg.server.ami.watchdog_s == WATCHDOG
    alive = int(rig.sim.core.globals[ALIVE_VARIABLE])
    assert sim_epoch(rig) < alive <= sim_epoch(rig) + WATCHDOG
    rig.run(60)
    assert int(rig.sim.core.globals[ALIVE_VARIABLE]) > alive + 40  # kept fresh
    assert rig.safety.beats >= 6


def test_a_long_wait_never_trips_the_watchdog_while_the_daemon_lives(rig):
    caller(rig, "1", "5")  # suggestions; nobody logged in: waits
    rig.run(4 * WATCHDOG)
    assert fallbacks(rig) == []
    assert len(rig.cc.acd.waiting()) == 1
    refreshed = [f for a, f in rig.ami.actions if a == "AbsoluteTimeout"]
    assert len(refreshed) >= 4 * WATCHDOG // (WATCHDOG // 3) - 1
    assert {f["Timeout"] for f in refreshed} == {str(WATCHDOG)}


def test_no_deadline_is_pushed_while_the_agent_rings_or_talks(rig):
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=3.0, talk=4 * WATCHDOG)))
    rig.run(1)
    rig.cc.acd.login("1007")
    caller(rig, "1", "5", "1")
    rig.run(15)
    call = next(iter(rig.cc.calls.values()))
    assert call.phase == "talking"
    sent = len(rig.ami.actions)
    rig.run(3 * WATCHDOG)  # a long conversation: the dialplan cleared the deadline
    assert [f for a, f in rig.ami.actions[sent:]
            if a == "AbsoluteTimeout" and f["Channel"] == call.channel] == []
    assert call.phase == "talking" and fallbacks(rig) == []
    rig.run(200)
    assert [r.outcome for r in rig.final_records().values()] == ["answered"]


def test_dead_daemon_callers_fall_back_and_the_next_daemon_closes_them_once(rig):
    caller(rig, "1", "5")  # in the queue's waiting loop
    caller(rig, "1", number="13800000002", at=3.0)  # in the main menu
    rig.run(10)
    assert {c.phase for c in rig.cc.calls.values()} == {"queued", "ivr"}
    rig.kill_daemon()
    rig.run(WATCHDOG - 12)
    assert fallbacks(rig) == []  # still within the last deadline the daemon gave
    rig.run(15)
    fell = fallbacks(rig)
    assert len(fell) == 2  # apologised to, and in the plain Asterisk queue
    # A caller arriving once the heartbeat is stale never enters AsyncAGI.
    caller(rig, "1", number="13800000003", at=1.0)
    rig.run(10)
    late = next(c for c in rig.sim.core.channels.values()
                if c.caller_num == "13800000003" and c.name.endswith(";1"))
    assert late.application == "Queue" and late.agi is None
    assert rig.final_records() == {}  # nobody has written anything yet

    rig.start_daemon()
    rig.run(5)
    # The fallback queue has them now, not us: their records wait for how they
    # end there (the dialplan's hangup handler tells), nobody is driven by us.
    assert rig.final_records() == {}
    assert sorted(c.caller for c in rig.cc.calls.values()) == [
        "13800000002", "13800000003", "13912345678"]
    assert {c.phase for c in rig.cc.calls.values()} == {"fallback"}
    assert rig.cc.counters["safety_fallbacks"] == 3  # hotline_safety_net_fallbacks_total
    assert rig.cc.acd.waiting() == [] and list(rig.cc.driven_channels()) == []
    rig.run(60)  # nobody answers there (no phones)
    for c in list(rig.sim.core.channels.values()):
        rig.sim.core.hangup_by_actor(c)
    rig.run(5)
    records = rig.final_records()
    assert sorted(r.caller for r in records.values()) == [
        "13800000002", "13800000003", "13912345678"]
    assert {r.outcome for r in records.values()} == {"fallback_abandoned"}
    notes = {r.caller: r.notes for r in records.values()}
    assert notes["13800000003"] == "fallback: server-down"  # noted in AstDB, never ours
    assert notes["13912345678"] == notes["13800000002"] == (
        "fallback: seen in the channel list after the link came back")
    for rec in records.values():
        d = rig.durations(rec)
        assert d.talk_s == 0 and d.queue_wait_s > 60  # waited there until they hung up
    assert rig.cc.calls == {} and rig.sim.core.astdb == {}
    finals = [r["call_id"] for r in rig.saved if r.get("final")]
    assert len(finals) == len(set(finals)) == 3
    # The heartbeat is fresh again: the next caller is ours.
    caller(rig, "1", number="13800000004", at=1.0)
    rig.run(5)
    assert [c.caller for c in rig.cc.calls.values()] == ["13800000004"]


def test_a_server_that_stops_refreshing_learns_of_the_fallback_from_the_userevent(rig):
    # 1007 is registered but not logged in to the server: only the fallback
    # queue (queues.conf members PJSIP/1001-1008) rings it.
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=5.0)))
    rig.run(1)
    caller(rig, "1", "5")  # waits: 1007 is not logged in
    rig.run(10)
    rig.safety.stop()  # alive and linked, but no longer refreshing (a hung loop)
    for _ in range(WATCHDOG + 2):
        rig.run(1)
        if fallbacks(rig):
            break
    (call,) = rig.cc.calls.values()
    assert call.phase == "fallback" and rig.cc.acd.waiting() == []
    rig.run(20)  # the apology, 1007 answers in the fallback queue, talks 5 s, hangs up
    (rec,) = rig.final_records().values()
    assert (rec.outcome, rec.notes, rec.agent_id) == (
        "fallback_answered", "fallback: watchdog", "1007")
    assert rec.recording and rec.recording.endswith(".wav")
    bridge_end = next(e for e in rec.timeline if e.kind == "bridge_end")
    assert bridge_end.details["hung_up_by"] == "agent"
    assert rig.durations(rec).talk_s == pytest.approx(5.0, abs=0.01)
    assert rig.cc.calls == {} and rig.sim.core.astdb == {}  # told live: nothing in AstDB
    # Nothing is reserved for it: the agent who logs in now is simply ready.
    rig.cc.acd.login("1007")
    rig.run(1)
    assert rig.cc.acd.agent("1007").state is AgentState.READY


def test_a_caller_who_came_and_went_while_the_daemon_was_dead_still_gets_a_record(rig):
    rig.kill_daemon()
    rig.run(2)
    # No AMI session of ours: the dialplan notes the caller in AstDB, lets them
    # into AsyncAGI (the heartbeat is still fresh), and nobody hears of it.
    caller(rig, "1", number="13800000005", patience=1.5, at=0.5)
    rig.run(5)
    assert rig.sim.core.channels == {}  # gone before any daemon was back
    notes = {family: value for (family, uid), value in rig.sim.core.astdb.items()}
    assert sorted(notes) == ["hotline_end", "hotline_unseen"]  # its arrival and its end
    assert notes["hotline_unseen"].endswith(",95598,13800000005")
    hung_up_by = rig.clock.seconds() - 3  # patience 1.5 s after arriving at 0.5 s
    rig.start_daemon()
    rig.run(3)
    (rec,) = rig.final_records().values()
    assert (rec.caller, rec.dialled, rec.outcome) == ("13800000005", "95598", "system_failure")
    assert rec.notes == "hung up while the server was away"
    # It ended when it hung up (the hangup handler's note), not when we were back.
    assert rec.timeline[-1].t == pytest.approx(hung_up_by, abs=0.01)
    assert (rig.cc.counters["unseen_calls"], rig.cc.counters["safety_fallbacks"]) == (1, 0)
    assert rig.sim.core.astdb == {}  # collected once
    rig.endpoint.drop()  # another login: nothing is recorded twice
    rig.run(10)
    assert len([r for r in rig.saved if r.get("final")]) == 1


def test_a_caller_noted_while_the_daemon_was_away_is_adopted_not_recorded_twice(rig):
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=5.0)))
    rig.run(1)
    rig.cc.acd.login("1007")
    rig.run(1)  # the router snapshot with 1007 ready reaches the live state
    rig.kill_daemon()
    caller(rig, "1", "5", "1", at=0.5)  # waits in AsyncAGI for a daemon
    rig.run(3)
    assert len(rig.sim.core.astdb) == 1
    rig.start_daemon()
    rig.run(120)
    (rec,) = rig.final_records().values()
    assert rec.outcome == "answered" and rec.agent_id == "1007"
    assert rig.sim.core.astdb == {}


def test_a_caller_sent_to_the_fallback_while_the_daemon_was_down_is_recorded(rig):
    rig.kill_daemon()
    rig.run(WATCHDOG + 5)  # the heartbeat is stale now
    caller(rig, "1", number="13800000006", at=0.5, patience=40.0)
    rig.run(8)  # the apology (5 s), then the queue
    assert [c.caller_num for c in fallbacks(rig)] == ["13800000006"]
    rig.start_daemon()
    rig.run(3)
    assert rig.final_records() == {}  # still waiting there: not over yet
    (call,) = rig.cc.calls.values()
    assert call.phase == "fallback" and list(rig.cc.driven_channels()) == []
    assert rig.sim.core.astdb == {}  # its note collected
    rig.run(40)  # hangs up unanswered (no phones), while we are logged in
    (rec,) = rig.final_records().values()
    assert (rec.caller, rec.outcome, rec.notes) == (
        "13800000006", "fallback_abandoned", "fallback: server-down")
    assert rec.queues == ("hotline-fallback",)
    assert rig.cc.calls == {} and rig.sim.core.astdb == {}


def test_notes_are_not_collected_when_the_dialplan_names_another_ami_user(rig):
    # A misconfigured [globals] would have every caller noted, seen or not:
    # collecting them would record handled calls a second time.
    rig.sim.core.globals["HOTLINE_AMI_USER"] = "someone-else"
    caller(rig, "1", patience=2.0, at=0.5)  # seen by us, and noted by the dialplan
    rig.run(6)
    assert len(rig.final_records()) == 1 and len(rig.sim.core.astdb) == 2  # arrival, end
    rig.endpoint.drop()
    rig.run(10)  # the login after the reconnect
    assert rig.service.connected
    assert len([r for r in rig.saved if r.get("final")]) == 1  # nothing recorded twice
    assert len(rig.sim.core.astdb) == 2  # left for the operator to see


def _fallback_events(rig) -> list[str]:
    """The channels of every HotlineFallback UserEvent Asterisk emits from now on."""
    seen: list[str] = []
    rig.sim.core.subscribe(lambda ev: seen.append(ev.get("Channel") or "")
                           if ev.name == "UserEvent" and ev.get("UserEvent") == "HotlineFallback"
                           else None)
    return seen


def test_a_restart_while_callers_wait_in_the_fallback_queue_leaves_them_there(rig):
    # Trace 15: the restarted server sent AbsoluteTimeout to restored callers already
    # in Queue(hotline-fallback) before its first resync; 30 s later they were taken
    # out again for a second apology and a new place at the back.
    caller(rig, "1", "5")  # in the queue's waiting loop
    caller(rig, "1", number="13800000002", at=3.0)  # in the main menu
    rig.run(10)
    assert {c.phase for c in rig.cc.calls.values()} == {"queued", "ivr"}
    rig.kill_daemon()
    fell_back = _fallback_events(rig)
    rig.run(WATCHDOG + 10)
    in_queue = {c.name for c in fallbacks(rig)}
    assert len(in_queue) == 2 and sorted(fell_back) == sorted(in_queue)

    assert rig.start_daemon() == 2  # both restored from the live state
    assert [f for a, f in rig.ami.actions
            if a == "AbsoluteTimeout" or f.get("Variable") == "TIMEOUT(absolute)"] == []
    assert all(c.absolute_timeout is None for c in fallbacks(rig))
    # Recognised as on the fallback path: app_queue has them; their records wait
    # for how it ends there (the dialplan's hangup handler).
    assert {c.phase for c in rig.cc.calls.values()} == {"fallback"}

    rig.run(3 * WATCHDOG)
    assert sorted(fell_back) == sorted(in_queue)  # nobody fell back a second time
    assert {c.name for c in fallbacks(rig)} == in_queue


def test_callers_restored_after_a_link_loss_get_no_deadline_before_the_resync(rig, monkeypatch):
    caller(rig, "1", "5")
    rig.run(10)
    (call,) = rig.cc.calls.values()
    resyncs = rig.resync.resyncs
    pushes: list[int] = []  # how many resyncs had completed at each push for the call
    send = rig.ami.sendAction

    def noting(action, fields=(), timeout=None):
        if action == "AbsoluteTimeout" and dict(fields)["Channel"] == call.channel:
            pushes.append(rig.resync.resyncs)
        return send(action, fields, timeout)

    monkeypatch.setattr(rig.ami, "sendAction", noting)
    rig.endpoint.drop()
    rig.run(15)  # reconnect (backoff), login, resync, refreshes
    assert rig.resync.resyncs == resyncs + 1
    assert pushes and min(pushes) == resyncs + 1  # refreshed, but only once it was seen
    assert call.phase == "queued" and fallbacks(rig) == []


def test_a_deadline_that_crossed_the_fallback_is_cancelled(rig):
    # The safety net pushes a deadline just as the old one fires: app_queue would
    # be interrupted when the new one ran out.  The UserEvent makes us cancel it.
    caller(rig, "1", "5")
    rig.run(10)
    (call,) = rig.cc.calls.values()
    rig.safety.stop()
    fell_back = _fallback_events(rig)

    def crossing_push(ev) -> None:  # processed by Asterisk right after the T extension
        if ev.name == "UserEvent" and len(fell_back) == 1:
            rig.sim.core.set_absolute_timeout(rig.sim.core.find(call.channel), str(WATCHDOG))

    rig.sim.core.subscribe(crossing_push)
    rig.run(WATCHDOG + 1)
    assert fell_back == [call.channel]
    rig.run(7)  # the apology, the queue
    assert any(a == "Setvar" and f.get("Channel") == call.channel
               and f.get("Variable") == "TIMEOUT(absolute)" and f.get("Value") == "0"
               for a, f in rig.ami.actions)
    rig.run(2 * WATCHDOG)
    assert fell_back == [call.channel]  # cancelled: no second apology
    assert [c.name for c in fallbacks(rig)] == [call.channel]


def test_a_hold_in_the_fallback_queue_while_the_daemon_listens_is_recorded(rig):
    # Lab run lab2-a (real Asterisk 22.10.1): a caller answered in the fallback
    # queue after the daemon was back; the phone held the caller 2 s (Hold/Unhold on
    # the agent's channel reached the daemon), yet the record had talk 8 s, hold 0.
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=8.0,
                                                         hold_at=3.0, hold_for=2.0)))
    rig.run(1)
    caller(rig, "1", "5")  # waits: 1007 is not logged in to the server
    rig.run(10)
    rig.safety.stop()  # the watchdog runs out: to the fallback queue, 1007 answers
    rig.run(WATCHDOG + 30)
    (rec,) = rig.final_records().values()
    assert (rec.outcome, rec.agent_id) == ("fallback_answered", "1007")
    d = rig.durations(rec)
    assert (d.hold_s, d.holds) == (pytest.approx(2.0, abs=0.01), 1)
    assert d.talk_s == pytest.approx(6.0, abs=0.01)


def test_a_hold_after_a_restart_during_a_fallback_talk_is_recorded(rig):
    # Trace 15's situation: the daemon comes back while a caller talks to a phone
    # of the fallback queue; the channel list names that phone's leg, so a hold
    # the phone makes afterwards is the record's.
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=30.0,
                                                         hold_at=20.0, hold_for=2.0)))
    rig.run(1)
    caller(rig, "1", "5")
    rig.run(10)
    rig.kill_daemon()
    rig.run(WATCHDOG + 10)
    (fell,) = fallbacks(rig)
    assert fell.bridge is not None  # talking to 1007 in the fallback queue
    assert rig.start_daemon() == 1
    (call,) = rig.cc.calls.values()
    assert call.phase == "fallback" and call.agent_channel.startswith("PJSIP/1007-")
    rig.run(40)
    (rec,) = rig.final_records().values()
    assert (rec.outcome, rec.agent_id) == ("fallback_answered", "1007")
    d = rig.durations(rec)
    assert (d.hold_s, d.holds) == (pytest.approx(2.0, abs=0.01), 1)
    assert d.talk_s == pytest.approx(28.0, abs=0.01)


def test_a_caller_who_falls_back_from_the_menus_keeps_the_keys_pressed_before(rig):
    # Lab run lab2-a: a caller had keyed main-menu 1 before the daemon went; it
    # fell back from the IVR, and the record's ivr_path was empty.
    caller(rig, "1", "2", patience=60.0)  # Mandarin, billing: then the billing menu
    rig.run(12)
    (call,) = rig.cc.calls.values()
    assert call.phase == "ivr" and call.ivr.path == [("main", "2")]
    rig.kill_daemon()
    rig.run(WATCHDOG + 10)
    assert len(fallbacks(rig)) == 1
    rig.start_daemon()
    rig.run(60)  # nobody answers there: the caller's patience ends
    (rec,) = rig.final_records().values()
    assert rec.outcome == "fallback_abandoned"
    assert rec.ivr_path == (("main", "2"),)
