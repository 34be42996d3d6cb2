"""Return visits (回访) of service cases through the follow-up machinery, end to end:
the case service on a real redis-server, the router, the outbound placer and the
simulator running the shipped dialplan, the desk API over real sockets.

A resolved case books its return visit; each attempt is a follow-up item that
carries the case id; an unreached call is recorded on the case by the server and
the next one goes out ``retry_after`` later; the configured number of unreached
calls closes the case; a reached call is linked to the case and the agent on it
(not necessarily the owner) records the outcome on the desk.
"""

from __future__ import annotations

import pytest
import pytest_twisted

from cases.model import CaseState
from queues.agents import AgentState
from server.return_visits import ReturnVisits, visit_queue
from server.sim import AgentBehaviour
from tests.test_outbound_e2e import CUSTOMER, NUMBER, OutboundRig
from tests.test_web_support import WebRig

ACCOUNT = "1234567890"


class VisitRig:
    """The outbound rig (simulator, router, placer on a task.Clock) with the desk's web
    side and a CaseService on redis, and ReturnVisits wired as server/app.py does."""

    def __init__(self, url: str, tmp_path) -> None:
        self.o = OutboundRig()
        self.notifier = self.o.cc.notifier
        self.web = WebRig(url, tmp_path / "rec", cfg=self.o.cfg, ami=self.o.ami,
                          calls=self.o.cc, notifier=self.notifier, clock=self.o.clock)
        self.cases = self.web.cases
        self.visits = ReturnVisits(self.cases, self.o.cc, self.notifier)
        self.visits.startService()

    async def settle(self) -> None:
        """Let the case writes started by the notifier's events reach Redis (real I/O),
        then deliver what the router placed to the simulator."""
        for _ in range(4):
            for _ in range(10):
                await self.cases.find(open_only=False)
            await self.cases.drained()
            self.o.run(0)

    async def resolved_case(self, owner: str = "1001") -> str:
        case, _ = await self.cases.open(type="enquiry", account=ACCOUNT, phone=NUMBER,
                                        actor="supervisor1", owner=owner)
        for inp in ("accept", "start", "resolve"):
            await self.cases.transition(case.id, inp, actor=owner)
        await self.settle()
        return case.id

    async def close(self) -> None:
        self.visits.stopService()
        await self.web.close()


@pytest.fixture
def visit_url(redis_db):
    return redis_db(15)


@pytest_twisted.ensureDeferred
async def test_unreached_calls_are_recorded_retried_and_close_the_case(visit_url, tmp_path):
    r = VisitRig(visit_url, tmp_path)
    try:
        o = r.o
        o.phone("1007", AgentBehaviour(answer_after=1.0))
        o.sim.add_local_agent(NUMBER, AgentBehaviour(answer_after=None), CUSTOMER)
        o.login_agents("1007")
        cid = await r.resolved_case()
        case = await r.cases.get(cid)
        assert case.state is CaseState.RETURN_VISIT
        assert case.audit[-1].actor == "system" and case.visit_at == o.clock.seconds()
        item = o.cc.acd.item(f"rv-{cid}-1")
        assert (item.case_id, item.number, item.queue) == (cid, NUMBER, "general")
        assert visit_queue(case, o.cfg.acd) == "general"

        placed = []
        for attempt in (1, 2, 3):
            start = o.clock.seconds()
            o.run(80)  # the agent answers, the whisper, the customer rings out (30 s)
            await r.settle()
            placed.append(start)
            case = await r.cases.get(cid)
            assert [v.reached for v in case.visits] == [False] * attempt
            assert case.visits[-1].call_id == f"rv-{cid}-{attempt}#1"
            assert case.visits[-1].reason == "customer_no_answer"
            if attempt < 3:
                assert case.state is CaseState.RETURN_VISIT
                assert case.visit_at == pytest.approx(case.visits[-1].at + 2 * 3600)
                nxt = o.cc.acd.item(f"rv-{cid}-{attempt + 1}")
                assert (nxt.case_id, nxt.due_at) == (cid, case.visit_at)
                assert len(o.originates()) == attempt  # not before its time
                o.run(case.visit_at - o.clock.seconds() - 1)
                assert len(o.originates()) == attempt
                o.run(1)
                assert len(o.originates()) == attempt + 1
        assert case.state is CaseState.CLOSED
        assert case.audit[-1].input == "visit_gave_up"
        assert [i for i, _ in o.failed] == [f"rv-{cid}-{n}" for n in (1, 2, 3)]
        assert o.cc.acd.waiting() == []
        assert [rec.outcome for rec in o.records("followup")] == ["customer_no_answer"] * 3
        assert o.cc.acd.agent("1007").state is AgentState.READY
    finally:
        await r.close()


@pytest_twisted.ensureDeferred
async def test_a_reached_call_pops_the_case_and_its_agent_records_the_outcome(visit_url,
                                                                             tmp_path):
    r = VisitRig(visit_url, tmp_path)
    try:
        o = r.o
        o.phone("1007", AgentBehaviour(answer_after=1.0))
        o.sim.add_local_agent(NUMBER, AgentBehaviour(answer_after=1.0, talk=60.0), CUSTOMER)
        offers = []
        r.notifier.subscribe(lambda topic, p: offers.append(p) if topic == "offer" else None)
        token = await r.web.login("1007", phone="PJSIP/1007")
        cid = await r.resolved_case(owner="1001")  # 1007 is not the owner
        code, body, _ = await r.web.request("GET", f"/api/cases/{cid}", token=token)
        assert (code, body["code"]) == (403, "not_your_case")
        o.login_agents("1007")
        assert [p["screen"]["case_id"] for p in offers] == [cid]  # the screen-pop
        o.run(30)  # talking to the customer
        assert o.cc.acd.agent("1007").state is AgentState.ON_CALL
        code, me, _ = await r.web.request("GET", "/api/agents/1007", token=token)
        assert me["visit_case"] == cid
        code, case, _ = await r.web.request("GET", f"/api/cases/{cid}", token=token)
        assert (code, case["state"]) == (200, "return_visit")
        code, done, _ = await r.web.request(
            "POST", f"/api/cases/{cid}/visit",
            {"reached": True, "resolved": True, "satisfaction": 3, "reason": "fixed"},
            token=token)
        assert (code, done["state"]) == (200, "closed")
        assert done["visits"][-1]["actor"] == "1007"
        o.run(90)  # the talk ends, the wrap-up ends
        await r.settle()
        case = await r.cases.get(cid)
        assert case.call_ids[-1] == f"rv-{cid}-1#1"  # the return-visit call is evidence
        assert len(case.visits) == 1 and o.cc.acd.waiting() == []
        assert len(o.originates()) == 1
        code, body, _ = await r.web.request("GET", f"/api/cases/{cid}", token=token)
        assert (code, body["code"]) == (403, "not_your_case")  # only while on its call
    finally:
        await r.close()


@pytest_twisted.ensureDeferred
async def test_reconcile_places_a_visit_the_router_lost_and_nothing_twice(visit_url, tmp_path):
    """After a restart the router snapshot may predate the case write that booked the
    call: reconcile places it, once; a reopened case's waiting call is withdrawn."""
    r = VisitRig(visit_url, tmp_path)
    try:
        o = r.o
        r.visits.stopService()  # a crash right after the writes: nothing placed
        cid = await r.resolved_case()
        await r.cases.transition(cid, "schedule_visit", actor="system",
                                 visit_at=o.clock.seconds() + 3600)
        assert o.cc.acd.waiting() == []
        r.visits.startService()
        assert await r.visits.reconcile() == 1
        assert await r.visits.reconcile() == 1
        (item,) = o.cc.acd.waiting()
        assert (item.id, item.case_id, item.due_at) == (f"rv-{cid}-1", cid,
                                                        o.clock.seconds() + 3600)
        await r.cases.transition(cid, "reopen", actor="supervisor1")
        await r.settle()
        assert o.cc.acd.waiting() == []
        assert o.failed == [(f"rv-{cid}-1", f"case {cid} is reopened")]
    finally:
        await r.close()


def test_a_configured_return_visit_queue_makes_every_visit(tmp_path):
    """cases.yaml ``return_visit.queue``: a 回访 team's queue makes every case's visit;
    unset, the queue serving the case's intent does."""
    from dataclasses import replace as _replace

    from cases.model import Case, CaseType
    from server.config import load_config

    from .test_config_support import broken_copy

    cfg = load_config(broken_copy({"file": "cases.yaml",
                                   "set": {"return_visit.queue": "complaints"}}, tmp_path),
                      environ={"HOTLINE_AMI_SECRET": "x"})
    assert cfg.cases.visit_queue == "complaints"
    case = Case("GD20261207-000001", 1, CaseType.FAULT_REPAIR, None, CaseState.RESOLVED,
                "", "13800000000", "1007", None, 0.0, 0.0, intent="fault")
    assert visit_queue(case, cfg.acd, cfg.cases.visit_queue) == "complaints"
    assert visit_queue(case, cfg.acd) == "fault"  # by the intent when none is set
    assert visit_queue(_replace(case, intent=""), cfg.acd) == "fault"  # by the type's skill
