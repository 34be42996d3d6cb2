"""Calls into service cases (server/case_flow.py), on a real Redis and the shipped cases.yaml.

A final call record feeds its customer's history; a wrap-up disposition that
cases.yaml lists under ``auto_open`` opens one case for the call, owned by its agent
(again for a repeated record: idempotent per call); a case coming due is announced
on the notifier by the tick.
"""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import task

from server.case_flow import CaseFlow, summary_of
from server.cases.service import CaseService
from server.cases.store import CaseStore
from server.config import load_config
from server.notify import Notifier
from server.records.spool import DurableRecords
from tests.cases_support import shanghai
from tests.e2e_support import ROOT

START = shanghai(2026, 12, 7, 10, 0)  # a Monday morning: business hours


@pytest.fixture
def cases_url(redis_db):
    return redis_db(13)  # a database of its own, emptied


def final_record(call_id: str, disposition: str | None, intent: str = "complaint") -> dict:
    return {"call_id": call_id, "kind": "inbound", "final": True, "caller": "13800000001",
            "account": "1234567890", "intent": intent, "outcome": "answered",
            "disposition": disposition, "agent_id": "1005", "satisfaction": "dissatisfied",
            "notes": "meter reads twice the usual", "timeline": [[START - 300, "arrived", {}]]}


class Flow:
    def __init__(self, url: str, spool) -> None:
        self.clock = task.Clock()
        self.clock.advance(START)
        self.cfg = load_config(ROOT / "config", environ={})
        self.store = CaseStore.from_url(url, timeout=1.0)
        self.writer = DurableRecords(self.store, spool, self.clock)
        self.service = CaseService(self.store, self.writer, self.cfg.cases, self.clock)
        self.notifier = Notifier()
        self.published: list[tuple[str, dict]] = []
        self.notifier.subscribe(lambda topic, payload: self.published.append((topic, payload)))
        self.flow = CaseFlow(self.clock, self.service, self.notifier, tick_s=30.0)
        self.flow.startService()

    async def settle(self) -> None:
        """Let the Redis writes the flow started finish (they are real I/O)."""
        for _ in range(50):
            await self.service.find(open_only=False)

    async def close(self) -> None:
        self.flow.stopService()
        self.writer.stop()
        await self.store.close()


def test_a_record_becomes_a_history_entry_with_the_survey_as_1_to_3():
    s = summary_of(final_record("1.1", "work_order"))
    assert (s.call_id, s.account, s.phone, s.intent) == ("1.1", "1234567890", "13800000001",
                                                         "complaint")
    assert (s.outcome, s.satisfaction, s.at) == ("work_order", 1, START - 300)


@pytest_twisted.ensureDeferred
async def test_a_work_order_disposition_opens_one_case_owned_by_the_agent(cases_url, tmp_path):
    f = Flow(cases_url, tmp_path / "spool.jsonl")
    try:
        f.notifier.publish("record", final_record("1.1", "work_order"))
        f.notifier.publish("record", final_record("1.1", "work_order"))  # a repeated record
        f.notifier.publish("record", final_record("1.2", "resolved"))  # not listed: no case
        f.notifier.publish("record", {**final_record("1.3", "work_order"), "final": False})
        await f.settle()
        cases = await f.service.find(open_only=True)
        assert [(c.type, c.owner, c.call_ids) for c in cases] == [("complaint", "1005", ("1.1",))]
        opened = [p for t, p in f.published if t == "case" and p["kind"] == "opened"]
        assert len(opened) == 1 and opened[0]["call_id"] == "1.1"
        history, _ = await f.service.history(account="1234567890")
        assert sorted(c.call_id for c in history.calls) == ["1.1", "1.2"]
    finally:
        await f.close()


@pytest_twisted.ensureDeferred
async def test_a_work_order_set_after_the_call_opens_the_case_too(cases_url, tmp_path):
    """The desk's disposition on a call whose record is already final is a revision
    (``record_revised``, server/web/api.py): it opens the case like one set during the
    call, once."""
    f = Flow(cases_url, tmp_path / "spool.jsonl")
    try:
        f.notifier.publish("record", final_record("3.1", None))
        await f.settle()
        assert await f.service.find(open_only=True) == []
        revised = {**final_record("3.1", "work_order"), "version": 2}
        f.notifier.publish("record_revised", revised)
        f.notifier.publish("record_revised", revised)
        await f.settle()
        (case,) = await f.service.find(open_only=True)
        assert (case.type, case.owner, case.call_ids) == ("complaint", "1005", ("3.1",))
    finally:
        await f.close()


@pytest_twisted.ensureDeferred
async def test_the_tick_announces_a_case_coming_due(cases_url, tmp_path):
    f = Flow(cases_url, tmp_path / "spool.jsonl")
    try:
        f.notifier.publish("record", final_record("2.1", "work_order"))
        await f.settle()
        (case,) = await f.service.find(open_only=True)
        assert case.deadline is not None
        f.clock.advance(max(0.0, case.deadline.remind_at - f.clock.seconds()) + 31)
        await f.flow.tick()
        notices = [p for t, p in f.published if t == "case" and p["kind"] != "opened"]
        assert notices and notices[0]["case_id"] == case.id
        assert notices[0]["kind"] in ("reminder", "escalation")
    finally:
        await f.close()
