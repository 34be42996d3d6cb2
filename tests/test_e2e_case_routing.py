"""Routing that follows the case, end to end through the simulator (issue 14, point 6).

The case store is stood in for by its lookup's contract (``CaseService.open_case_owner``,
tested against a real Redis in tests/test_cases_store.py): a Deferred that fires later,
or fails as it does when Redis is down.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from twisted.internet import defer

from server.sim import COMMAND, AgentBehaviour, CallerScript, PhoneScript, Press
from tests.e2e_support import Rig

ANSWER_S = 0.5


def keys(*digits: str) -> tuple[Press, ...]:
    return tuple(Press(d, 0.5, after=COMMAND, command="GET DATA") for d in digits)


def records_by_caller(rig: Rig):
    return {r.caller: r for r in rig.final_records().values()}


def test_a_caller_with_an_open_case_gets_its_owner_first_and_redis_down_loses_nobody():
    asked: list[dict] = []

    def lookup(*, account: str = "", phone: str = ""):
        asked.append({"account": account, "phone": phone})
        d: defer.Deferred = defer.Deferred()
        if phone == "13900000001":  # Redis down: the lookup fails a moment later
            rig.clock.callLater(1.0, d.errback, ConnectionError("Redis is down"))
        else:  # the caller's open case, owned by 1007, read a moment later
            rig.clock.callLater(1.0, d.callback, ("GD20261125-000007", "1007"))
        return d

    rig = Rig(case_owner=lookup)
    for agent in ("1007", "1009"):
        rig.sim.add_phone(PhoneScript(agent, AgentBehaviour(answer_after=ANSWER_S, talk=5.0)))
    rig.run(1)
    rig.login_agents("1007")
    rig.run(5)
    rig.login_agents("1009")  # 1007 has been ready longest
    rig.sim.add_caller(CallerScript("13900000001", arrive_at=rig.sim.uptime() + 1,
                                    presses=keys("1", "5", "1")))
    rig.run(90)  # talk, survey, and 1007's 30 s wrap-up: now 1009 is ready longest
    rig.sim.add_caller(CallerScript("13900000002", arrive_at=rig.sim.uptime() + 1,
                                    presses=keys("1", "5", "1")))
    rig.run(90)

    recs = records_by_caller(rig)
    down, known = recs["13900000001"], recs["13900000002"]
    # Redis down: routed by the queue's rule (longest idle), nothing lost
    assert down.outcome == "answered" and down.agent_id == "1007"
    assert [e.kind for e in down.timeline if e.kind == "case_owner"] == []
    # the open case's owner, 1007, although 1009 had been ready longer
    assert known.outcome == "answered" and known.agent_id == "1007"
    (tried,) = [e.details for e in known.timeline if e.kind == "case_owner"]
    assert (tried["case"], tried["agent"]) == ("GD20261125-000007", "1007")
    offers = [e.details for e in known.timeline if e.kind == "offer"]
    assert [(o["agent"], o["outcome"], o.get("case_owner")) for o in offers] == [
        ("1007", "answered", True)]
    assert [a["phone"] for a in asked] == ["13900000001", "13900000002"]


def test_max_wait_offers_a_callback_in_the_callers_place_and_a_decliner_keeps_waiting():
    base = Rig().cfg
    queues = dict(base.acd.queues)
    # no overflow to general: the maximum wait applies here
    queues["suggestions"] = replace(queues["suggestions"], max_wait_s=50, escalation=())
    cfg = replace(base, acd=replace(base.acd, queues=queues))
    rig = Rig(cfg=cfg)
    first = CallerScript("13900000011", arrive_at=rig.sim.uptime() + 1, presses=(
        *keys("1", "5"),
        # the scripted caller answers the new offer like the old one (server/sim/traffic.py)
        Press("1", 1.0, after=COMMAND, command="GET DATA hotline/hold-callback"),
        Press("1", 1.0, after=COMMAND, command="GET DATA hotline/callback-conf")))
    rig.sim.add_caller(first)
    rig.run(10)
    rig.sim.add_caller(CallerScript("13900000012", arrive_at=rig.sim.uptime() + 1,
                                    presses=keys("1", "5")))  # presses nothing in the queue
    rig.run(150)

    commands = rig.ami.agi_commands()
    assert commands.count("GET DATA hotline/hold-callback-keep-place 5000 1") == 2
    recs = records_by_caller(rig)
    assert list(recs) == ["13900000011"]  # the second caller was not thanked and hung up
    rec = recs["13900000011"]
    assert rec.outcome == "callback"
    (enqueued,) = [e.t for e in rec.timeline if e.kind == "enqueued"]
    (asked,) = [e.t for e in rec.timeline if e.kind == "callback_requested"]
    assert asked - enqueued >= 50
    waiting = rig.cc.acd.waiting()
    assert [(w.kind, w.number) for w in waiting] == [("callback", "13900000011"),
                                                     ("call", "13900000012")]
    assert waiting[0].enqueued_at == pytest.approx(enqueued)  # the caller's own place
    # The grace runs out for the one who stayed: then the goodbye, as before.
    grace = cfg.acd.policy.max_wait_grace_s
    rig.run(50 + grace + 70)  # the goodbye waits for the music chunk under way
    rec2 = records_by_caller(rig)["13900000012"]
    assert rec2.outcome == "overflowed"
    (enq2,) = [e.t for e in rec2.timeline if e.kind == "enqueued"]
    (bye,) = [e.t for e in rec2.timeline if e.kind == "ended"]
    assert 50 + grace <= bye - enq2 <= 50 + grace + 61  # after the chunk playing then
    # the goodbye is said after the chunk under way (it used to be refused as a second
    # command in flight, and the chunk's end taken for its: a hang-up without a word)
    assert rig.ami.agi_commands()[-2:] == ['STREAM FILE hotline/goodbye ""', "HANGUP"]
