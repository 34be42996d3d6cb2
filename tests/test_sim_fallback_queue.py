"""The safety net's fallback path as the simulator runs it: app_queue with members, the
recording, and the caller's hangup handler that keeps how the call ended.

Trace 14 (the server away for 65 s on a real Asterisk 22.10.1) shows app_queue's
events for callers answered in ``Queue(hotline-fallback)``; the hangup handler,
``CHANNEL(hangupsource)``, ``STRFTIME`` and ``DB_DELETE`` are never visible on
AMI and follow Asterisk 22's documented behaviour (see server/sim/core.py).
"""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from server.endfacts import EndFacts
from server.sim import AgentBehaviour, CallerScript, PhoneScript, Simulator
from tests.sim_support import Harness

NOW = 1_795_823_000.0  # a real epoch: an unset heartbeat is then long stale

#: trace 14, caller 0x32 from its HotlineFallback UserEvent on: the caller's and
#: the answering phone's events of these kinds, in order (the agent's and the
#: caller's Hangup came in either order between calls: 0x31 and 0x32)
TRACE_14_QUEUE_CALL = [
    "UserEvent", "QueueCallerJoin", "MusicOnHoldStart", "AgentCalled", "DialBegin",
    "DialState", "DialEnd", "MusicOnHoldStop", "QueueCallerLeave", "AgentConnect",
    "BridgeEnter", "BridgeEnter", "AgentComplete", "BridgeLeave", "BridgeLeave"]
KINDS = set(TRACE_14_QUEUE_CALL)


def harness(our_session: bool) -> Harness:
    """The shipped dialplan with a stale heartbeat: callers go straight to the
    fallback (server-down).  ``our_session``: the logged-in client is the user the
    dialplan watches (HOTLINE_AMI_USER), i.e. the server is there."""
    clock = Clock()
    clock.advance(NOW)
    sim = Simulator(clock)
    if our_session:
        sim.core.globals["HOTLINE_AMI_USER"] = "acd"
    return Harness(sim, clock)


def call_events(h: Harness, caller: str) -> list:
    chans = {c for c in (m.get("Channel") for m in h.client.events()) if c and (
        caller in c or c.startswith("PJSIP/"))}
    return [m for m in h.client.events() if m.get("Channel") in chans]


def test_a_member_answers_in_the_fallback_queue_like_trace_14():
    h = harness(our_session=False)
    h.sim.add_phone(PhoneScript("1001", AgentBehaviour(answer_after=2.0, talk=8.0)))
    h.run(1)
    h.sim.add_caller(CallerScript("13900000001", arrive_at=h.sim.uptime() + 0.5,
                                  patience=120))
    h.run(40)
    events = call_events(h, "13900000001@")
    start = next(i for i, m in enumerate(events) if m.name == "UserEvent")
    assert [m.name for m in events[start:] if m.name in KINDS] == TRACE_14_QUEUE_CALL
    assert sorted(m["Channel"].rsplit("-", 1)[0] for m in events if m.name == "Hangup") == [
        "Local/13900000001@sim-callers", "Local/13900000001@sim-callers", "PJSIP/1001"]
    # Recorded like any conversation (MixMonitor before the queue, stopped at hangup).
    names = [m.name for m in events]
    assert names.index("MixMonitorStart") < names.index("QueueCallerJoin")
    assert "MixMonitorStop" in names
    # app_queue's headers after the channel blocks, as trace 14 has them.
    connect = next(m for m in events if m.name == "AgentConnect")
    keys = [k for k, _ in connect.headers]
    assert keys[-5:] == ["Queue", "Interface", "MemberName", "HoldTime", "RingTime"]
    assert (connect["Queue"], connect["MemberName"], connect["Privilege"]) == (
        "hotline-fallback", "PJSIP/1001", "agent,all")
    complete = next(m for m in events if m.name == "AgentComplete")
    assert (complete["TalkTime"], complete["Reason"]) == ("8", "agent")
    join = next(m for m in events if m.name == "QueueCallerJoin")
    assert [k for k, _ in join.headers][-3:] == ["Queue", "Position", "Count"]


def test_the_hangup_handler_keeps_how_it_ended_while_no_server_listens():
    h = harness(our_session=False)
    h.sim.add_phone(PhoneScript("1001", AgentBehaviour(answer_after=2.0, talk=8.0)))
    h.run(1)
    h.sim.add_caller(CallerScript("13900000001", arrive_at=h.sim.uptime() + 0.5,
                                  patience=120))
    h.run(40)
    assert h.sim.core.channels.keys() <= {c for c in h.sim.core.channels if "PJSIP" in c}
    ((family, uid), value) = next((k, v) for k, v in h.sim.core.astdb.items()
                                  if k[0] == "hotline_end")
    facts = EndFacts.parse(uid, value)
    assert (facts.fallback, facts.member) == ("server-down", "PJSIP/1001")
    assert facts.answered_s == pytest.approx(8.0, abs=0.05)
    assert facts.source.startswith("PJSIP/1001-")  # the phone's BYE: the agent hung up
    assert facts.fallback_answered and facts.call_id == uid
    # Joined after the 5 s apology; the talk ended 2 s ring + 8 s talk later.
    assert facts.end - facts.queue_join == pytest.approx(10.0, abs=0.05)
    assert not [m for m in h.client.events("UserEvent") if m["UserEvent"] == "HotlineCallEnd"]


def test_with_the_server_there_the_end_comes_as_a_userevent_before_the_hangup():
    h = harness(our_session=True)
    h.run(1)
    h.sim.add_caller(CallerScript("13900000002", arrive_at=h.sim.uptime() + 0.5,
                                  patience=12))  # nobody answers: hangs up in the queue
    h.run(20)
    events = call_events(h, "13900000002@")
    names = [m.name for m in events]
    assert "QueueCallerAbandon" in names
    ends = [m for m in events if m.name == "UserEvent" and m["UserEvent"] == "HotlineCallEnd"]
    assert len(ends) == 1
    caller_hangup = next(i for i, m in enumerate(events)
                         if m.name == "Hangup" and m["Channel"].endswith(";1"))
    assert events.index(ends[0]) < caller_hangup  # hangup handlers run before Hangup
    facts = EndFacts.parse(ends[0]["Uniqueid"], ends[0]["Facts"])
    assert (facts.fallback, facts.member, facts.answered_s) == ("server-down", "", 0.0)
    assert not facts.fallback_answered and facts.source == ""  # a Local caller sets none
    assert h.sim.core.astdb == {}  # the server is there: nothing kept for later


def test_dialplan_functions_and_hangupsource_follow_asterisk_22():
    h = harness(our_session=False)
    core = h.sim.core
    h.clock.advance(0.25)
    chan = core.new_channel("PJSIP/9", "hotline", "s")
    assert core.expand(chan, "${STRFTIME(,,%s.%3q)}") == f"{int(NOW)}.250"
    core.astdb[("f", "k")] = "v"
    assert core.expand(chan, "${DB(f/k)}") == "v"
    assert core.expand(chan, "${DB_DELETE(f/k)}") == "v" and core.astdb == {}
    core.set_hangupsource(chan, "dialplan/builtin")
    core.set_hangupsource(chan, "PJSIP/9-00000001")  # set once: the first one stays
    assert core.expand(chan, "${CHANNEL(hangupsource)}") == "dialplan/builtin"
