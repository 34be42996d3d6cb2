"""AMI link loss and Asterisk restarts: callers resume, nothing is replayed, records close.

The real AmiService (ClientService, login, keepalive, backoff) runs on a
task.Clock against the simulator through an in-memory endpoint whose
connection the test closes, or stops delivering, for real.
"""

from __future__ import annotations

import pytest

from queues.agents import AgentState
from server.sim import COMMAND, AgentBehaviour, CallerScript, PhoneScript, Press
from tests.e2e_support import ServiceRig
from tests.test_e2e_calls import caller, key_after, one_record


@pytest.fixture
def rig():
    r = ServiceRig()
    yield r
    r.stop()


def non_agi(rig):
    return [(a, f) for a, f in rig.ami.calls_actions() if a != "AGI"]


def test_caller_in_the_menu_hears_it_again_after_the_link_comes_back(rig):
    caller(rig, "1")  # picks Mandarin, then says nothing more for a while
    rig.run(6.5)  # welcome (4 s) and the language key are done; main menu asked
    before = rig.ami.agi_commands()
    assert before[-1] == "GET DATA hotline/main-menu 5000 1"
    rig.endpoint.drop()
    assert not rig.service.connected
    rig.run(30)  # backoff, reconnect, login, resync
    assert rig.service.connected and rig.resync.resyncs == 2
    after = rig.ami.agi_commands()[len(before):]
    # A NOOP drains what the lost link left on the channel, then the menu replays
    # in the caller's language: a safe point, nothing lost.
    assert after[:3] == ["NOOP", "SET VARIABLE CHANNEL(language) zh",
                         "GET DATA hotline/main-menu 5000 1"]


def test_a_key_answering_the_menu_across_the_link_loss_is_used(rig):
    """Issue 12: the GET DATA in flight when the link dropped still runs; its result,
    delivered after the reconnect, answers the menu: the caller is not asked again."""
    rig.sim.add_caller(CallerScript("13912345678", "张伟", arrive_at=rig.sim.uptime() + 1.0,
                                    presses=(key_after("1"), Press(
                                        "4", 5.0, after=COMMAND,
                                        command="GET DATA hotline/main-menu")),
                                    patience=60.0))
    rig.run(6.5)  # the main menu is being asked
    before = rig.ami.agi_commands()
    rig.endpoint.drop()
    rig.run(30)  # reconnect and resync at once; the caller presses 4 (complaints) after
    assert rig.service.connected and rig.resync.resyncs == 2
    after = rig.ami.agi_commands()[len(before):]
    assert after[:3] == ["NOOP", "SET VARIABLE CHANNEL(language) zh",
                         "GET DATA hotline/complaints-menu 5000 1"]
    assert rig.cc.calls[next(iter(rig.cc.calls))].ivr.path == [("main", "4")]


def test_redirect_is_never_sent_twice_across_a_reconnect(rig):
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=2.0, talk=20.0)))
    rig.run(1)
    rig.cc.acd.login("1007")
    caller(rig, "1", "5", "1")
    rig.run(8.5)  # in the queue: offered to 1007, Setvar/Redirect sent, phone ringing
    redirects = [f for a, f in rig.ami.actions if a == "Redirect"]
    assert len(redirects) == 1
    rig.endpoint.drop()
    rig.run(120)
    assert [f for a, f in rig.ami.actions if a == "Redirect"] == redirects
    records = rig.final_records()
    assert [r.outcome for r in records.values()] == ["answered"]
    rec = next(iter(records.values()))
    # The answer happened while we were away; the bridge end and survey after.
    assert rec.satisfaction in ("satisfied", None)


def test_caller_who_hung_up_during_the_outage_is_closed_once(rig):
    caller(rig, "1", "5", patience=15.0)  # nobody logged in: waits, gives up at 15 s
    rig.run(10)
    rig.endpoint.refuse = True
    rig.endpoint.drop()
    rig.run(20)  # the caller leaves while we cannot hear it
    assert rig.final_records() == {}
    rig.endpoint.refuse = False
    rig.run(30)
    records = rig.final_records()
    assert len(records) == 1
    assert next(iter(records.values())).outcome == "abandoned"
    assert rig.cc.calls == {}


def test_silent_dead_peer_is_detected_by_the_keepalive(rig):
    pump = rig.endpoint.pumps[-1]
    real_flush = pump.flush
    # Deliver nothing in either direction: a half-open TCP connection, no FIN.
    pump.flush = lambda *a, **k: False  # type: ignore[method-assign]
    interval, timeout = rig.service.settings.keepalive_interval, \
        rig.service.settings.keepalive_timeout
    since_login = rig.clock.seconds() - rig.started_at
    rig.run(interval + timeout - 0.5 - since_login)
    assert not pump.clientIO.disconnecting  # the Ping is not overdue yet
    rig.run(1.0)
    assert pump.clientIO.disconnecting  # no Pong in time: the link is cut
    pump.flush = real_flush  # the kernel finally reports the close
    rig.run(10)
    assert rig.service.connected and rig.resync.resyncs == 2
    assert rig.service.reconnects == 1


def test_asterisk_restart_closes_every_call_as_system_failure(rig):
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=300.0)))
    rig.run(1)
    rig.cc.acd.login("1007")
    caller(rig, "1", "5")
    caller(rig, "1", number="13800000002", at=2.0)
    rig.run(20)
    assert rig.cc.acd.agent("1007").state is AgentState.ON_CALL
    rig.endpoint.refuse = True
    rig.endpoint.drop()
    # Asterisk restarts: every channel is gone, and its uptime starts again.
    for channel in list(rig.sim.core.channels.values()):
        channel.hungup = True
    rig.sim.core.channels.clear()
    rig.sim.started_at = rig.clock.seconds()
    rig.run(5)
    rig.endpoint.refuse = False
    rig.run(10)
    outcomes = sorted(r.outcome for r in rig.final_records().values())
    assert outcomes == ["system_failure", "system_failure"]
    assert rig.cc.calls == {}
    assert rig.cc.acd.agent("1007").state is AgentState.READY


def test_link_cut_while_connecting_is_not_the_agents_miss(rig):
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=10.0)))
    rig.run(1)
    rig.cc.acd.login("1007")
    send = rig.ami.sendAction
    cut = []

    def cut_on_first_setvar(action, fields=(), timeout=None):
        d = send(action, fields, timeout)
        if action == "Setvar" and not cut:
            cut.append(True)
            rig.clock.callLater(0, rig.endpoint.drop)  # the link dies mid-connect
        return d

    rig.ami.sendAction = cut_on_first_setvar
    caller(rig, "1", "5", "1")
    rig.run(120)
    assert cut
    assert rig.cc.acd.agent("1007").misses == 0
    records = rig.final_records()
    assert [(r.outcome, r.agent_id) for r in records.values()] == [("answered", "1007")]
    offers = [e.details["outcome"] for r in records.values() for e in r.timeline
              if e.kind == "offer"]
    assert offers == ["answered"]


def test_caller_hearing_goodbye_when_the_link_drops_is_still_hung_up(rig):
    # Bill self-service to the end: the readout, no key, then goodbye and HANGUP.
    caller(rig, "1", "2", "1", "1234567890#")
    for _ in range(120):
        rig.run(0.5)
        if any("goodbye" in c for c in rig.ami.agi_commands()):
            break
    assert rig.ami.agi_commands()[-1].startswith("STREAM FILE hotline/goodbye")
    rig.endpoint.drop()  # the goodbye's result and the HANGUP are lost with the link
    rig.run(30)
    assert rig.service.connected
    assert rig.sim.core.channels == {}  # hung up, not left waiting in AsyncAGI
    rec = one_record(rig)
    assert rec.outcome == "self_service"
    assert rig.cc.calls == {}


def test_nothing_stale_plays_after_the_conversation_when_a_reconnect_came_mid_music(rig):
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=5.0)))
    rig.run(1)
    caller(rig, "1", "5")  # suggestions; nobody logged in: the waiting loop's music
    rig.run(15)
    assert rig.ami.agi_commands()[-1].startswith("EXEC MusicOnHold")
    rig.endpoint.drop()  # the music chunk keeps playing in Asterisk
    rig.run(5)
    assert rig.service.connected
    rig.cc.acd.login("1007")  # offered while the old chunk still plays
    rig.run(12)  # rings, answered, 5 s of talk, the agent hangs up: the survey
    (chan,) = [c for c in rig.sim.core.channels.values() if c.name.endswith(";1")]
    # Only the probe could be left queued behind the Redirect; it ran at once, so
    # the caller hears the survey now, not a stale minute of music.
    assert chan.agi is not None and chan.agi.current is not None
    assert chan.agi.current.command == "GET DATA hotline/survey 5000 1"
    rig.run(60)
    assert [r.outcome for r in rig.final_records().values()] == ["answered"]


def test_conversation_held_entirely_during_the_outage_is_not_queued_again(rig):
    """Ringing when the link died; answered, talked and over before it came back.
    The caller is back in AsyncAGI after the Dial: the server asks the channel
    (DIALSTATUS) and goes on to the survey, instead of requeueing them as a miss."""
    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=2.0, talk=6.0)))
    rig.run(1)
    rig.cc.acd.login("1007")
    caller(rig, "1", "5", "1")  # survey: satisfied
    for _ in range(400):
        rig.run(0.05)
        if any(c.agent_channel for c in rig.cc.calls.values()):
            break
    rig.endpoint.refuse = True
    rig.endpoint.drop()
    rig.run(15)  # answered at 2 s, over at 8 s, all unseen
    rig.endpoint.refuse = False
    rig.run(120)
    assert rig.resync.resyncs == 2
    asked = [f["Variable"] for a, f in rig.ami.calls_actions() if a == "Getvar"]
    assert "DIALSTATUS" in asked
    rec = one_record(rig)
    assert (rec.outcome, rec.agent_id, rec.satisfaction) == ("answered", "1007", "satisfied")
    offers = [(e.details["agent"], e.details["outcome"]) for e in rec.timeline
              if e.kind == "offer"]
    assert offers == [("1007", "answered")]
    assert rig.cc.acd.agent("1007").misses == 0
    assert rig.cc.acd.agent("1007").state is AgentState.READY


def test_a_failed_resync_drops_the_link_and_nothing_connects_until_one_succeeds(rig, monkeypatch):
    """CoreShowChannels refused after a reconnect: the server does not carry on
    unsynced (it would connect callers it has not seen); it drops the link, and
    the next login's resync lets the waiting caller through."""
    from twisted.internet import defer

    from server.ami.protocol import AmiClientProtocol, AmiError

    rig.sim.add_phone(PhoneScript("1007", AgentBehaviour(answer_after=1.0, talk=5.0)))
    rig.run(1)
    caller(rig, "1", "5", "1")
    rig.run(20)  # waiting: nobody is logged in
    real = AmiClientProtocol.sendListAction
    refused = []

    def flaky(self, action, fields=(), *a, **kw):
        if action == "CoreShowChannels" and not refused:
            refused.append(action)
            return defer.fail(AmiError("Internal failure"))
        return real(self, action, fields, *a, **kw)

    monkeypatch.setattr(AmiClientProtocol, "sendListAction", flaky)
    rig.endpoint.drop()
    rig.run(4)  # reconnected; its resync failed and dropped the link again
    assert refused and rig.resync.resyncs == 1 and rig.cc.syncing
    rig.cc.acd.login("1007")  # offered, but not connected while unsynced
    assert not [f for a, f in rig.ami.calls_actions() if a == "Redirect"]
    rig.run(60)
    assert rig.resync.resyncs == 2 and not rig.cc.syncing
    redirects = [f for a, f in rig.ami.calls_actions() if a == "Redirect"]
    assert len(redirects) == 1
    rig.run(60)
    rec = one_record(rig)
    assert (rec.outcome, rec.agent_id) == ("answered", "1007")
