"""Scripted callers and PJSIP phones through the shipped hotline dialplan."""

from __future__ import annotations

from twisted.internet.task import Clock

from server.ami.asyncagi import parse_agi_result
from server.sim import (
    COMMAND,
    DIE,
    UNREGISTER,
    AgentBehaviour,
    AmiUser,
    CallerScript,
    EventFilter,
    PhoneScript,
    Press,
    Simulator,
)
from tests.sim_support import Client, Harness


def hotline(seed: int = 1, users: list[AmiUser] | None = None) -> Harness:
    clock = Clock()
    return Harness(Simulator(clock, seed=seed, users=users).without_safety_net(), clock)


def connect(h: Harness, chan: str, iface: str) -> None:
    h.send("Setvar", {"Channel": chan, "Variable": "AGENT_IFACE", "Value": iface}, "sv")
    h.send("Redirect", {"Channel": chan, "Context": "acd-connect", "Exten": "s",
                        "Priority": "1"}, "rd")


def test_full_call_to_a_pjsip_agent_with_hold() -> None:
    h = hotline()
    h.sim.add_phone(PhoneScript("1001", AgentBehaviour(2.0, talk=10.0, hold_at=3.0,
                                                       hold_for=2.0)))
    h.sim.add_caller(CallerScript("13912345678", "李四", arrive_at=5.0, presses=(
        Press("1", 0.5, after=COMMAND, command="GET DATA"),)))
    h.run(5.01)
    chan = h.client.events("AsyncAGIStart")[0]["Channel"]
    assert chan.startswith("Local/13912345678@sim-callers-")
    assert parse_agi_result(h.agi(chan, "GET DATA menu 5000 1", "m")["Result"]) == (200, "1", "")
    connect(h, chan, "PJSIP/1001")
    h.run(1.0)
    assert [m["DialStatus"] for m in h.client.events("DialState")] == ["RINGING"]
    h.send("DeviceStateList", {}, "d1")
    ringing = [m for m in h.client.events("DeviceStateChange") if m.get("ActionID") == "d1"]
    assert [(m["Device"], m["State"]) for m in ringing] == [("PJSIP/1001", "RINGING")]
    h.run(1.5)
    assert h.client.events("DialEnd")[-1]["DialStatus"] == "ANSWER"
    assert len(h.client.events("BridgeEnter")) == 2
    h.run(3.0)
    hold = h.client.events("Hold")[0]
    assert hold["MusicClass"] == "default" and hold["Channel"].startswith("PJSIP/1001-")
    assert h.client.events("MusicOnHoldStart")[-1]["Channel"] == chan
    h.send("DeviceStateList", {}, "d2")
    during = [m for m in h.client.events("DeviceStateChange") if m.get("ActionID") == "d2"]
    assert [m["State"] for m in during] == ["INUSE"]  # hold changes no device state
    h.run(10.0)
    assert len(h.client.events("Unhold")) == 1
    assert len(h.client.events("AsyncAGIStart")) == 2  # back in AGI after the agent hung up
    assert parse_agi_result(h.agi(chan, "GET VARIABLE DIALSTATUS", "d")["Result"]) == (
        200, "1", "(ANSWER)")
    h.agi(chan, "HANGUP", "bye")
    s = h.sim.summary()
    assert (s.calls_started, s.calls_active, s.channels_active) == (1, 0, 0)
    assert s.events["Hold"] == s.events["Unhold"] == 1
    assert s.events["BridgeCreate"] == s.events["BridgeDestroy"] == 1
    assert s.events_sent == len([m for m in h.client.events() if "Privilege" in m])
    assert h.pending_calls() == 0


def test_unregistered_phone_is_chanunavail_and_busy_phone_is_busy() -> None:
    h = hotline()
    h.sim.add_phone(PhoneScript("1001", registered=False))
    h.sim.add_phone(PhoneScript("1002", AgentBehaviour(1.0, reject=True)))
    h.sim.add_caller(CallerScript("1"))
    h.run(0.01)
    chan = h.client.events("AsyncAGIStart")[0]["Channel"]
    connect(h, chan, "PJSIP/1001")
    h.run(0.01)
    assert parse_agi_result(h.agi(chan, "GET VARIABLE DIALSTATUS", "d")["Result"]) == (
        200, "1", "(CHANUNAVAIL)")
    assert h.client.events("DialBegin")[-1:] == [] or "PJSIP" not in h.client.events(
        "DialBegin")[-1].get("DestChannel", "")
    connect(h, chan, "PJSIP/1002")
    h.run(1.5)
    assert parse_agi_result(h.agi(chan, "GET VARIABLE DIALSTATUS", "d2")["Result"]) == (
        200, "1", "(BUSY)")
    hangup = [m for m in h.client.events("Hangup") if m["Channel"].startswith("PJSIP/1002-")]
    assert [(m["Cause"], m["Cause-txt"], m["TechCause"]) for m in hangup] == [
        ("17", "User busy", "486")]


def test_dead_phone_is_noticed_at_the_next_failed_qualify() -> None:
    h = hotline()
    h.sim.add_phone(PhoneScript("1002", timeline=((6.0, DIE), (30.0, UNREGISTER))))
    h.run(6.0)
    mark = len(h.client.events())
    h.run(5.9)  # qualifies at 5 and 10 s; the one at 10 s times out at 12 s
    assert h.client.events()[mark:] == []
    h.run(0.2)
    got = [(m.name, m.get("State") or m.get("PeerStatus") or m.get("ContactStatus")
            or m.get("StatusText")) for m in h.client.events()[mark:]]
    assert sorted(got) == sorted([("PeerStatus", "Unreachable"),
                                  ("ExtensionStatus", "Unavailable"),
                                  ("DeviceStateChange", "UNAVAILABLE"),
                                  ("ContactStatus", "Unreachable")])


def test_caller_abandons_while_the_agent_rings() -> None:
    h = hotline()
    h.sim.add_phone(PhoneScript("1001", AgentBehaviour(None)))
    h.sim.add_caller(CallerScript("1", patience=3.0))
    h.run(0.01)
    chan = h.client.events("AsyncAGIStart")[0]["Channel"]
    connect(h, chan, "PJSIP/1001")
    h.run(3.5)
    assert h.client.events("DialEnd")[-1]["DialStatus"] == "CANCEL"
    assert len(h.client.events("AsyncAGIStart")) == 1
    assert h.sim.summary().channels_active == 0
    h.send("DeviceStateList", {}, "d")
    assert [m["State"] for m in h.client.events("DeviceStateChange")
            if m.get("ActionID") == "d"] == ["NOT_INUSE"]
    assert h.pending_calls() == 0


def test_same_seed_same_bytes_and_unfiltered_users_see_more_varsets() -> None:
    def run(seed: int, filt: EventFilter) -> bytes:
        clock = Clock()
        sim = Simulator(clock, seed=seed, users=[AmiUser("acd", "secret", filt)])
        sim.without_safety_net()
        sim.add_phone(PhoneScript("1001"))
        sim.add_caller(CallerScript("1", arrive_at=1.0, patience=20.0))
        h = Harness(sim, clock)
        wire: list[bytes] = []
        write = h.server.session._write
        h.server.session._write = lambda data: (wire.append(data), write(data))
        h.run(1.01)
        chan = h.client.events("AsyncAGIStart")[0]["Channel"]
        h.agi(chan, "ANSWER", "a")
        connect(h, chan, "PJSIP/1001")
        h.run(25)
        return b"".join(wire)

    first = run(3, EventFilter.shipped())
    assert first == run(3, EventFilter.shipped())
    assert first != run(4, EventFilter.shipped())  # AGI CommandIds and bridge ids differ
    full = run(3, EventFilter.unfiltered())
    assert full.count(b"Event: VarSet") > first.count(b"Event: VarSet") > 0
    assert b"Variable: AGISTATUS" in full and b"Variable: AGISTATUS" not in first


def test_two_clients_both_get_events() -> None:
    h = hotline()
    other = Client()
    from server.sim import connect_in_memory

    _, pump = connect_in_memory(h.sim, other)
    other.send("Login", {"Username": "acd", "Secret": "secret"}, "x")
    pump.flush()
    h.sim.add_caller(CallerScript("1"))
    h.run(0.01)
    pump.flush()
    assert len(other.events("AsyncAGIStart")) == len(h.client.events("AsyncAGIStart")) == 1
    assert h.sim.summary().sessions == 2


def test_hangup_action_on_the_agent_leg_returns_the_caller_to_agi() -> None:
    h = hotline()
    h.sim.add_phone(PhoneScript("1001", AgentBehaviour(0.5, talk=60.0)))
    h.sim.add_phone(PhoneScript("1002", AgentBehaviour(None)))
    h.sim.add_caller(CallerScript("1"))
    h.run(0.01)
    chan = h.client.events("AsyncAGIStart")[0]["Channel"]
    connect(h, chan, "PJSIP/1001")
    h.run(1.0)
    agent = h.client.events("BridgeEnter")[0]["Channel"]
    h.send("Hangup", {"Channel": agent, "Cause": "16"}, "kill")
    assert h.client.responses()[-1]["Message"] == "Channel Hungup"
    assert len(h.client.events("AsyncAGIStart")) == 2
    assert [m["Channel"] for m in h.client.events("Hangup")] == [agent]
    connect(h, chan, "PJSIP/1002")  # rings for ever: hang the ringing leg up
    h.run(1.0)
    ringing = h.client.events("DialBegin")[-1]["DestChannel"]
    h.send("Hangup", {"Channel": ringing}, "kill2")
    assert h.client.events("DialEnd")[-1]["DialStatus"] == "NOANSWER"
    assert len(h.client.events("AsyncAGIStart")) == 3
    h.agi(chan, "HANGUP", "bye")
    assert h.sim.summary().channels_active == 0
    assert h.pending_calls() == 0


def test_demo_scenario_runs_deterministically_under_a_clock() -> None:
    from server.sim.__main__ import scenario

    def run() -> tuple[list[str], object]:
        h = hotline(seed=5)
        scenario(h.sim, callers=3, every=2.0, phones=2, seed=5)
        h.run(8.0)
        for start in h.client.events("AsyncAGIStart"):
            h.send("AGI", {"Channel": start["Channel"], "Command": "GET DATA menu 3000 1",
                           "CommandID": "m"}, "m")
        h.run(6.0)
        return [m["Result"] for m in h.client.events("AsyncAGIExec")], h.sim.summary()

    first, summary = run()
    assert first == run()[0]
    assert len(first) == 3 and all(r.startswith("200%20result%3D") for r in first)
    assert summary.calls_started == 3 and summary.events_sent_by_type["DTMFEnd"] == 3


def test_play_dtmf_mixmonitor_and_event_class_mask() -> None:
    h = hotline()
    h.sim.add_caller(CallerScript("1"))
    h.run(0.01)
    chan = h.client.events("AsyncAGIStart")[0]["Channel"]
    h.send("AGI", {"Channel": chan, "Command": "WAIT FOR DIGIT 5000", "CommandID": "w"}, "w")
    h.run(0.05)
    h.send("PlayDTMF", {"Channel": chan, "Digit": "7"}, "p")
    h.run(0.2)
    assert parse_agi_result(h.client.events("AsyncAGIExec")[-1]["Result"]) == (200, "55", "")
    h.send("MixMonitor", {"Channel": chan, "File": "x.wav"}, "mm")
    h.send("StopMixMonitor", {"Channel": chan}, "smm")
    assert [m.name for m in h.client.events()][-2:] == ["MixMonitorStart", "MixMonitorStop"]
    h.send("Events", {"EventMask": "agi"}, "e")
    h.send("AGI", {"Channel": chan, "Command": "NOOP", "CommandID": "n"}, "n")
    h.send("PlayDTMF", {"Channel": chan, "Digit": "1"}, "p2")
    h.run(0.5)
    late = h.client.events()[-3:]
    assert [m.name for m in late] == ["AGIExecStart", "AGIExecEnd", "AsyncAGIExec"]  # no DTMF


def test_originate_an_agent_phone_into_the_dialplan_then_dial_a_customer() -> None:
    """The callback shape: agent phone first, then the customer (GUIDE §2.6)."""
    from server.sim.dialplan import parse

    clock = Clock()
    sim = Simulator(clock, dialplan=parse("""
[cb-agent]
exten => s,1,AGI(agi:async)
 same => n,Dial(Local/${CUSTOMER}@sim-customers,30,g)
 same => n,Hangup()
"""))
    sim.add_phone(PhoneScript("1001", AgentBehaviour(1.0, talk=30.0)))
    sim.add_local_agent("95598123", AgentBehaviour(2.0, talk=4.0, ring=True),
                        context="sim-customers")
    h = Harness(sim, clock)
    h.send("Originate", {"Channel": "PJSIP/1001", "Context": "cb-agent", "Exten": "s",
                         "Priority": "1", "Async": "true", "CallerID": "95598 <95598>",
                         "Variable": "CUSTOMER=95598123"}, "o1")
    assert h.client.responses()[-1]["Message"] == "Originate successfully queued"
    h.run(1.01)
    resp = h.client.events("OriginateResponse")[0]
    assert (resp["Response"], resp["Reason"]) == ("Success", "4")
    agent = resp["Channel"]
    assert agent.startswith("PJSIP/1001-")
    start = h.client.events("AsyncAGIStart")[0]
    assert start["Channel"] == agent
    h.agi(agent, "ASYNCAGI BREAK", "b")
    h.run(2.5)
    assert h.client.events("DialEnd")[-1]["DialStatus"] == "ANSWER"
    assert h.client.events("DialBegin")[-1]["DestChannel"].startswith(
        "Local/95598123@sim-customers-")
    h.run(5.0)  # the customer hangs up after 4 s; g: the agent leg goes on, then Hangup()
    assert h.sim.summary().channels_active == 0
    h.send("DeviceStateList", {}, "d")
    assert [m["State"] for m in h.client.events("DeviceStateChange")
            if m.get("ActionID") == "d"] == ["NOT_INUSE"]
