"""Callbacks and follow-ups end to end: adapter + router + placer against the simulator.

Every test runs on a task.Clock; the simulated Asterisk runs the shipped
dialplan (acd-callback-agent) and the agents are PJSIP softphones.
"""

from __future__ import annotations

import pytest

from queues.agents import AgentState
from server.records.model import CallRecord
from server.sim import COMMAND, AgentBehaviour, CallerScript, PhoneScript, Press
from tests.e2e_support import Rig, shanghai

NUMBER = "13912345678"
CUSTOMER = "sim-customers"


def press(digits: str) -> Press:
    return Press(digits, 0.5, after=COMMAND, command="GET DATA")


#: zh; main menu 0 (general queue); the hold loop's callback offer: 1; confirm caller ID: 1
BOOK_CALLBACK = (press("1"), press("0"), press("1"), press("1"))


class OutboundRig(Rig):
    """The Rig with the placer wired like server/app.py, and a log of raw actions and sim events."""

    SIDE = {**Rig.SIDE, "outbound": True}

    def __init__(self, start: float | None = None) -> None:
        super().__init__(start=start)
        self.placer = self.side.outbound
        self.raw: list[tuple[str, list[tuple[str, str]]]] = []
        send = self.proto.sendAction

        def recording(action, fields=(), timeout=None):
            self.raw.append((action, list(fields)))
            return send(action, fields, timeout)

        self.proto.sendAction = recording
        self.events: list[tuple[float, object]] = []  # (sim time, event)
        self.sim.core.subscribe(lambda ev: self.events.append((self.clock.seconds(), ev)))
        self.failed: list[tuple[str, str]] = []
        original_failed = self.cc.work_item_failed

        def failed(item, reason):
            self.failed.append((item.id, reason))
            original_failed(item, reason)

        self.cc.work_item_failed = failed

    def phone(self, endpoint: str, behaviour: AgentBehaviour, *calls: AgentBehaviour) -> None:
        self.sim.add_phone(PhoneScript(endpoint, behaviour, calls=calls))

    def originates(self) -> list[dict[str, list[str]]]:
        out = []
        for action, fields in self.raw:
            if action == "Originate":
                d: dict[str, list[str]] = {}
                for k, v in fields:
                    d.setdefault(k, []).append(v)
                out.append(d)
        return out

    def records(self, kind: str) -> list[CallRecord]:
        finals = [CallRecord.from_dict(r) for r in self.saved if r.get("final")]
        return sorted((r for r in finals if r.kind == kind), key=lambda r: r.call_id)

    def sim_events(self, name: str, **match: str) -> list:
        return [e for _, e in self.events
                if e.name == name and all(e.get(k) == v for k, v in match.items())]

    def sim_time(self, name: str, **match: str) -> float:
        return next(t for t, e in self.events
                    if e.name == name and all(e.get(k) == v for k, v in match.items()))


def book_callback(rig: OutboundRig, number: str = NUMBER, after: float = 1.0) -> None:
    rig.sim.add_caller(CallerScript(number, "张伟", arrive_at=rig.sim.uptime() + after,
                                    presses=BOOK_CALLBACK))


def offered_at(record: CallRecord) -> dict:
    return next(dict(e.details) | {"t": e.t} for e in record.timeline if e.kind == "offer")


def test_callback_from_the_hold_offer_rings_the_agent_first_then_the_customer():
    rig = OutboundRig()
    rig.phone("1007", AgentBehaviour(answer_after=2.0))
    rig.sim.add_local_agent(NUMBER, AgentBehaviour(answer_after=3.0, talk=40.0), CUSTOMER)
    book_callback(rig)
    rig.run(120)
    inbound = rig.final_records()
    assert [r.outcome for r in inbound.values()] == ["callback"]
    assert rig.originates() == []  # nobody logged in yet: the callback waits in the queue
    (cb,) = rig.cc.acd.waiting()
    assert (cb.kind, cb.number, cb.queue) == ("callback", NUMBER, "general")

    rig.login_agents("1007")
    t0 = rig.clock.seconds()
    (orig,) = rig.originates()
    assert orig == {
        "Channel": ["PJSIP/1007"], "Context": ["acd-callback-agent"], "Exten": ["s"],
        "Priority": ["1"], "Timeout": ["20000"], "CallerID": ['"95598 callback" <95598>'],
        "Variable": [f"CALLBACK_NUMBER={NUMBER}", "CALLBACK_TIMEOUT=30",
                     f"HOTLINE_ITEM={cb.id}", f"HOTLINE_ATTEMPT={cb.id}#1"],
        "Async": ["true"]}
    assert rig.cc.acd.agent("1007").state is AgentState.RESERVED
    rig.run(2.5)
    agent_chan = rig.sim_events("OriginateResponse")[0].get("Channel")
    assert agent_chan.startswith("PJSIP/1007-")
    assert rig.ami.agi_commands(agent_chan) == [
        "GET VARIABLE HOTLINE_ATTEMPT", 'STREAM FILE hotline/callback-whisper ""']
    assert rig.sim_events("DialBegin", Channel=agent_chan) == []  # the customer waits for nobody
    rig.run(30)
    assert rig.ami.agi_commands(agent_chan) == [
        "GET VARIABLE HOTLINE_ATTEMPT", 'STREAM FILE hotline/callback-whisper ""',
        f'SAY DIGITS {NUMBER} ""', "ASYNCAGI BREAK"]
    (begin,) = rig.sim_events("DialBegin", Channel=agent_chan)
    assert begin.get("DialString") == f"{NUMBER}@{CUSTOMER}"
    assert rig.sim_events("MixMonitorStart", Channel=agent_chan)
    (end,) = rig.sim_events("DialEnd", Channel=agent_chan)
    assert end.get("DialStatus") == "ANSWER"
    assert rig.cc.acd.agent("1007").state is AgentState.ON_CALL
    assert not any(a == "Bridge" for a, _ in rig.raw)  # trace 11: never the Bridge action

    answered = rig.sim_time("DialEnd", Channel=agent_chan)
    rig.run(answered + 40 - rig.clock.seconds())  # the customer talks 40 s, then hangs up
    assert rig.cc.acd.agent("1007").state is AgentState.WRAP_UP
    rig.run(30)
    assert rig.cc.acd.agent("1007").state is AgentState.READY
    (rec,) = rig.records("callback")
    assert (rec.call_id, rec.caller, rec.agent_id, rec.agent_tier, rec.outcome) == (
        f"{cb.id}#1", NUMBER, "1007", "agent", "answered")
    offer = offered_at(rec)
    assert (offer["ring_start"], offer["outcome"]) == (t0, "answered")
    # The agent answered (and heard the whisper) before the customer's phone rang.
    assert offer["t"] == t0 + 2.0 < rig.sim_time("DialBegin", Channel=agent_chan)
    d = rig.durations(rec)
    assert (d.ring_s, d.talk_s, d.acw_s, d.offers, d.missed_offers) == (2.0, 40.0, 30.0, 1, 0)
    assert rec.recording is not None and rec.recording.endswith(".wav")
    assert rig.cc.acd.waiting() == []
    assert rig.placer.attempts == {}
    rig.safety.stop()  # the one timer that runs for ever
    assert rig.clock.getDelayedCalls() == []  # no guard timer or sim timer left behind


def test_customer_no_answer_then_busy_then_answers_on_the_third_attempt():
    rig = OutboundRig()
    rig.phone("1007", AgentBehaviour(answer_after=1.0))
    rig.sim.add_local_agent(NUMBER, AgentBehaviour(answer_after=None), CUSTOMER)
    rig.login_agents("1007")
    due = rig.clock.seconds() + 10
    rig.cc.acd.add_follow_up("fu-7", "general", NUMBER, due, note="repair done?")
    rig.run(80)
    (first,) = rig.records("followup")
    assert first.outcome == "customer_no_answer"
    agent = rig.cc.acd.agent("1007")
    assert (agent.state, agent.misses) == (AgentState.READY, 0)  # not the agent's miss
    (item,) = rig.cc.acd.waiting()
    assert item.attempt == 1

    rig.sim.add_local_agent(NUMBER, AgentBehaviour(answer_after=2.0, reject=True), CUSTOMER)
    rig.run(300)
    assert [r.outcome for r in rig.records("followup")] == ["customer_no_answer",
                                                            "customer_busy"]
    rig.sim.add_local_agent(NUMBER, AgentBehaviour(answer_after=1.0, talk=20.0), CUSTOMER)
    rig.run(400)
    recs = rig.records("followup")
    assert [r.call_id for r in recs] == ["fu-7#1", "fu-7#2", "fu-7#3"]
    assert [r.outcome for r in recs] == ["customer_no_answer", "customer_busy", "answered"]
    placed = [min(e.t for e in r.timeline) for r in recs]
    assert placed[1] - placed[0] == pytest.approx(300 + 30 + 1 + whisper_s(rig), abs=1)
    assert rig.durations(recs[2]).talk_s == 20.0
    assert rig.failed == []
    assert rig.sim_events("DialEnd", DialStatus="BUSY")


def whisper_s(rig: OutboundRig) -> float:
    """How long the follow-up whisper takes, from the records of the first attempt."""
    rec = rig.records("followup")[0]
    offer = offered_at(rec)
    ended = next(e.t for e in rec.timeline if e.kind == "ended")
    return ended - offer["t"] - 30  # the customer rang CALLBACK_TIMEOUT=30 s


def test_customer_never_answers_three_attempts_then_the_router_gives_up():
    rig = OutboundRig()
    rig.phone("1007", AgentBehaviour(answer_after=1.0))
    rig.sim.add_local_agent(NUMBER, AgentBehaviour(answer_after=None), CUSTOMER)
    rig.login_agents("1007")
    rig.cc.acd.add_follow_up("fu-9", "general", NUMBER, rig.clock.seconds() + 1)
    rig.run(1200)
    assert [r.outcome for r in rig.records("followup")] == ["customer_no_answer"] * 3
    assert len(rig.originates()) == 3
    assert rig.failed == [("fu-9", "no answer after 3 attempts")]
    assert rig.cc.acd.waiting() == []
    assert rig.cc.acd.agent("1007").state is AgentState.READY


def test_agent_does_not_answer_the_originate_is_ring_no_answer():
    rig = OutboundRig()
    rig.phone("1007", AgentBehaviour(answer_after=None))
    rig.sim.add_local_agent(NUMBER, AgentBehaviour(answer_after=1.0), CUSTOMER)
    rig.login_agents("1007")
    rig.cc.acd.add_follow_up("fu-3", "general", NUMBER, rig.clock.seconds() + 1)
    rig.run(21.5)
    (resp,) = rig.sim_events("OriginateResponse")
    assert (resp.get("Response"), resp.get("Reason"), resp.get("Channel")) == (
        "Failure", "3", "PJSIP/1007")
    (rec,) = rig.records("followup")
    assert rec.outcome == "agent_no_answer"
    assert offered_at(rec)["outcome"] == "no_answer"
    assert rig.durations(rec).ring_s == 20.0
    assert rig.sim_events("DialBegin") == []  # the customer was never called
    agent = rig.cc.acd.agent("1007")
    assert agent.misses == 1
    (item,) = rig.cc.acd.waiting()
    assert item.attempt == 0  # the customer's retries are untouched
    rig.run(30)  # offered to the only agent again: second miss, paused
    agent = rig.cc.acd.agent("1007")
    assert (agent.state, agent.pause_reason) == (AgentState.PAUSED, "missed_call")
    assert [r.outcome for r in rig.records("followup")] == ["agent_no_answer"] * 2


def test_agent_rejects_the_originate():
    rig = OutboundRig()
    rig.phone("1007", AgentBehaviour(answer_after=1.0, reject=True))
    rig.login_agents("1007")
    rig.cc.acd.add_follow_up("fu-4", "general", NUMBER, rig.clock.seconds() + 1)
    rig.run(2.5)  # placed at +1 s, declined (486) at +2 s
    (resp,) = rig.sim_events("OriginateResponse")
    assert (resp.get("Response"), resp.get("Reason")) == ("Failure", "5")
    (rec,) = rig.records("followup")
    assert (rec.outcome, offered_at(rec)["outcome"]) == ("agent_busy", "rejected")
    assert rig.cc.acd.agent("1007").misses == 1


def test_quiet_hours_hold_a_callback_until_eight():
    rig = OutboundRig(start=shanghai(2026, 11, 25, 21, 5))
    rig.phone("1007", AgentBehaviour(answer_after=1.0))
    rig.sim.add_local_agent(NUMBER, AgentBehaviour(answer_after=1.0, talk=10.0), CUSTOMER)
    book_callback(rig)
    rig.run(120)
    assert [r.outcome for r in rig.final_records().values()] == ["callback"]
    rig.login_agents("1007")
    rig.run(shanghai(2026, 11, 26, 8, 0) - rig.clock.seconds() - 1)
    assert rig.originates() == []
    assert rig.cc.acd.agent("1007").state is AgentState.READY
    rig.run(1)
    assert len(rig.originates()) == 1
    rig.run(120)
    (rec,) = rig.records("callback")
    assert rec.outcome == "answered"
    assert min(e.t for e in rec.timeline) == shanghai(2026, 11, 26, 8, 0)


def test_a_caller_who_asks_twice_gets_one_callback():
    rig = OutboundRig()
    rig.phone("1007", AgentBehaviour(answer_after=1.0))
    rig.sim.add_local_agent(NUMBER, AgentBehaviour(answer_after=1.0, talk=10.0), CUSTOMER)
    book_callback(rig)
    book_callback(rig, after=20.0)
    rig.run(200)
    inbound = rig.final_records()
    assert [r.outcome for r in inbound.values()] == ["callback", "callback"]
    assert [(i.kind, i.number) for i in rig.cc.acd.waiting()] == [("callback", NUMBER)]
    rig.login_agents("1007")
    rig.run(300)
    assert len(rig.originates()) == 1
    assert [r.outcome for r in rig.records("callback")] == ["answered"]
    assert rig.cc.acd.waiting() == []


def test_follow_up_is_placed_only_at_its_due_time_with_its_own_whisper():
    rig = OutboundRig()
    # complaints need a senior: 1016 (senior, complaint 4)
    rig.phone("1016", AgentBehaviour(answer_after=1.0))
    rig.sim.add_local_agent(NUMBER, AgentBehaviour(answer_after=1.0, talk=10.0), CUSTOMER)
    rig.login_agents("1016")
    due = rig.clock.seconds() + 600
    rig.cc.acd.add_follow_up("fu-2", "complaints", NUMBER, due, note="complaint 42")
    rig.run(599)
    assert rig.originates() == []
    rig.run(1)
    (orig,) = rig.originates()
    assert orig["Channel"] == ["PJSIP/1016"]
    assert orig["CallerID"] == ['"95598 follow-up" <95598>']
    rig.run(200)
    chan = rig.sim_events("OriginateResponse")[0].get("Channel")
    assert rig.ami.agi_commands(chan)[1] == 'STREAM FILE hotline/followup-whisper ""'
    (rec,) = rig.records("followup")
    assert (rec.kind, rec.notes, rec.outcome, rec.agent_id) == (
        "followup", "complaint 42", "answered", "1016")
    assert min(e.t for e in rec.timeline) == due


def test_offer_withdrawn_while_the_agent_phone_rings_is_hung_up_when_answered():
    rig = OutboundRig()
    rig.phone("1007", AgentBehaviour(answer_after=5.0))
    rig.sim.add_local_agent(NUMBER, AgentBehaviour(answer_after=1.0), CUSTOMER)
    rig.login_agents("1007")
    rig.cc.acd.add_follow_up("fu-5", "general", NUMBER, rig.clock.seconds() + 1)
    rig.run(2)
    rig.cc.acd.logout("1007")  # from the desk, while the phone rings
    (rec,) = rig.records("followup")
    assert rec.outcome == "cancelled"
    rig.run(10)
    chan = rig.sim_events("OriginateResponse")[0].get("Channel")
    assert rig.ami.agi_commands(chan) == ["GET VARIABLE HOTLINE_ATTEMPT", "HANGUP"]
    assert rig.sim_events("DialBegin") == []  # the customer was never called
    assert rig.cc.acd.agent("1007").state is AgentState.LOGGED_OUT
    (item,) = rig.cc.acd.waiting()
    assert (item.id, item.attempt) == ("fu-5", 0)
    assert len(rig.records("followup")) == 1
