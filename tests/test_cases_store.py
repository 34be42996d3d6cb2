"""Cases in a real redis-server: idempotent create, indexes, the due set, customer history,
and nothing lost through a Redis outage or a kill -9 of the daemon (the spool replays)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import pytest_twisted
import redis
from twisted.internet import task

from cases.due import Escalation, Reminder
from cases.history import CallSummary
from cases.machine import CaseError, InvalidTransition
from cases.model import Case, CaseState
from server.cases.service import CaseIdsUnavailable, CaseNotFound, CaseService
from server.cases.store import DEADLINE, DUE, CaseStore, case_entry, index_key
from server.records.spool import DurableRecords
from server.redisproc import RedisProcess, free_port

from .cases_support import H, in_state, rules, shanghai

RULES = rules()
START = shanghai(2026, 12, 6, 9, 0)


@pytest.fixture
def cases_url(redis_db):
    return redis_db(14)  # a database of its own, emptied


@pytest.fixture
def own_redis():
    proc = RedisProcess().start()
    yield proc
    proc.cleanup()


class Rig:
    """A service over a real store and spool, on a task.Clock."""

    def __init__(self, url: str, spool, clock: task.Clock | None = None, keep: int = 50):
        self.clock = clock or task.Clock()
        if clock is None:
            self.clock.advance(START)
        self.store = CaseStore.from_url(url, timeout=1.0, keep=keep)
        self.writer = DurableRecords(self.store, spool, self.clock)
        self.service = CaseService(self.store, self.writer, RULES, self.clock)

    async def close(self) -> None:
        self.writer.stop()
        await self.store.close()


def _raw(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


async def _open(service: CaseService, n: int = 1, **kw) -> Case:
    kw.setdefault("type", "complaint")
    kw.setdefault("account", "1234567890")
    kw.setdefault("phone", "13800000000")
    case, _ = await service.open(actor="1001", owner="1001", responsible="lead1",
                                 call_id=f"1700000000.{n}", **kw)
    return case


@pytest_twisted.ensureDeferred
async def test_create_is_idempotent_on_the_client_key(cases_url, tmp_path):
    rig = Rig(cases_url, tmp_path / "cases.spool")
    try:
        first = await _open(rig.service, client_key="desk-42")
        again, created = await rig.service.open(type="complaint", account="1", phone="",
                                                actor="1001", client_key="desk-42")
        assert (again, created) == (first, False)
        assert first.id == "GD20261206-000001"
        with pytest.raises(CaseError):  # refused before it is numbered: no gap
            await _open(rig.service, 2, grade="huge")
        other = await _open(rig.service, 2)
        assert other.id == "GD20261206-000002"
    finally:
        await rig.close()
    # A restarted daemon finds the key in Redis, and counts on from the stored number.
    rig = Rig(cases_url, tmp_path / "cases.spool")
    try:
        again, created = await rig.service.open(type="enquiry", account="9", phone="",
                                                actor="1002", client_key="desk-42")
        assert (again.id, again.version, created) == (first.id, 1, False)
        assert (await _open(rig.service, 3)).id == "GD20261206-000003"
    finally:
        await rig.close()


@pytest_twisted.ensureDeferred
async def test_indexes_follow_every_change_and_listing_needs_no_scan(cases_url, tmp_path):
    rig = Rig(cases_url, tmp_path / "cases.spool")
    s = rig.service
    try:
        a = await _open(s, 1)
        b = await _open(s, 2, type="fault_repair")
        c = await _open(s, 3, grade="major")
        await s.transition(a.id, "accept", actor="1001")
        await s.transition(b.id, "reassign", actor="lead1", owner="1002")
        assert [x.id for x in await s.find(state="new")] == [b.id, c.id]
        assert [x.id for x in await s.find(state="accepted")] == [a.id]
        assert [x.id for x in await s.find(type="complaint", grade="major")] == [c.id]
        assert [x.id for x in await s.find(owner="1002")] == [b.id]
        assert [x.id for x in await s.find()] == [a.id, b.id, c.id]
        r = _raw(cases_url)
        assert r.smembers(index_key("owner", "1001")) == {a.id, c.id}
        assert r.smembers(index_key("state", "new")) == {b.id, c.id}
        assert json.loads(r.hget(f"hotline:case:{a.id}", "case"))["version"] == 2
        with pytest.raises(InvalidTransition):
            await s.transition(a.id, "resolve", actor="1001")
        with pytest.raises(CaseNotFound):
            await s.transition("GD20261206-999999", "accept", actor="1001")
        counts = await s.counts()
        assert counts["open"] == 3 and counts["type"] == {"complaint": 2, "fault_repair": 1}
        assert counts["state"] == {"new": 2, "accepted": 1}
        assert counts["grade"] == {"general": 1, "major": 1} and counts["overdue"] == 0
        r.close()
    finally:
        await rig.close()


@pytest_twisted.ensureDeferred
async def test_due_set_drives_reminders_escalations_and_the_overdue_view(cases_url, tmp_path):
    rig = Rig(cases_url, tmp_path / "cases.spool")
    s, clock, r = rig.service, rig.clock, _raw(cases_url)
    try:
        case = await _open(s)  # complaint, general: accept within 2 h, remind at 1.5 h
        quiet = await _open(s, 2, type="suggestion")  # 4 business hours: not due for a while
        assert r.zscore(DUE, case.id) == START + 1.5 * H
        clock.advance(1.5 * H - 1)
        assert await s.tick() == []
        clock.advance(1)
        assert await s.tick() == [Reminder(case.id, "1001", case.deadline.phase,
                                           START + 2 * H)]
        assert r.zscore(DUE, case.id) == START + 2 * H
        assert await s.find(overdue=True) == []
        clock.advance(0.5 * H)
        [esc] = await s.tick()
        assert isinstance(esc, Escalation) and (esc.grade_from, esc.grade_to) == (
            "general", "important")
        assert [c.id for c in await s.find(overdue=True)] == [case.id]
        assert r.smembers(index_key("grade", "important")) == {case.id}
        assert r.smembers(index_key("grade", "general")) == set()
        assert r.zscore(DUE, case.id) == clock.seconds() + 4 * H
        assert await s.tick() == []  # nothing more until the next round
        # accepting starts the handling limit: off the overdue view, new due time
        await s.transition(case.id, "accept", actor="1001")
        assert await s.find(overdue=True) == []
        assert r.zscore(DEADLINE, case.id) == clock.seconds() + 24 * H  # "important" now
        assert r.zscore(DUE, quiet.id) is not None
    finally:
        r.close()
        await rig.close()


@pytest_twisted.ensureDeferred
async def test_closing_leaves_the_due_set_and_a_replayed_old_version_changes_nothing(
        cases_url, tmp_path):
    rig = Rig(cases_url, tmp_path / "cases.spool")
    s, r = rig.service, _raw(cases_url)
    try:
        case = await _open(s)
        old = case
        for inp in ("accept", "start", "resolve", "schedule_visit"):
            case = await s.transition(case.id, inp, actor="1001")
        for _ in range(RULES.visit_max_attempts):
            case = await s.record_visit(case.id, actor="1001", reached=False)
        assert case.state is CaseState.CLOSED and len(case.visits) == 3
        assert r.zscore(DUE, case.id) is None and r.zscore(DEADLINE, case.id) is None
        assert r.smembers(index_key("state", "closed")) == {case.id}
        assert await rig.store.put(case_entry(old.to_dict(), 1.0)) is False
        assert r.smembers(index_key("state", "new")) == set()
        assert r.zscore(DUE, case.id) is None
        assert json.loads(r.hget(f"hotline:case:{case.id}", "case"))["version"] == case.version
    finally:
        r.close()
        await rig.close()


@pytest_twisted.ensureDeferred
async def test_customer_history_by_account_and_phone_with_repeat_flag(cases_url, tmp_path):
    rig = Rig(cases_url, tmp_path / "cases.spool", keep=3)
    s, now = rig.service, START
    try:
        for i, (intent, days) in enumerate([("billing", 40), ("fault", 10), ("fault", 3),
                                            ("billing", 2)]):
            await s.record_call(CallSummary(f"c{i}", now - days * 86400, "1234567890",
                                            "13800000000", intent, "answered", 3))
        await s.record_call(CallSummary("c9", now - 86400, "", "13900000000", "fault",
                                        "abandoned"))
        history, flag = await s.history(account="1234567890", intent="fault")
        assert [c.call_id for c in history.calls] == ["c3", "c2", "c1"]  # kept: the last 3
        assert flag.repeat and flag.same_intent_calls == ("c2", "c1") and not flag.open_cases
        history, flag = await s.history(phone="13900000000", intent="billing")
        assert [c.call_id for c in history.calls] == ["c9"] and not flag.repeat
        case = await _open(s, account="1234567890", phone="13700000000")
        history, flag = await s.history(phone="13700000000", intent="billing")
        assert [c.id for c in history.open_cases] == [case.id] and flag.open_cases == (case.id,)
        r = _raw(cases_url)
        assert r.hlen("hotline:cust:acct:1234567890:calldata") == 3  # trimmed with the zset
        r.close()
    finally:
        await rig.close()


@pytest_twisted.ensureDeferred
async def test_redis_outage_mid_run_loses_nothing(own_redis, tmp_path):
    rig = Rig(own_redis.url, tmp_path / "cases.spool")
    s = rig.service
    try:
        first = [await _open(s, i) for i in range(3)]
        own_redis.kill()
        during = [await _open(s, 10 + i, type="fault_repair") for i in range(3)]
        moved = await s.transition(first[0].id, "accept", actor="1001")
        moved = await s.transition(moved.id, "start", actor="1001")
        await s.transition(during[0].id, "accept", actor="1001")
        assert rig.writer.backlog == 6
        assert (await s.get(during[0].id)).state is CaseState.ACCEPTED  # read from the cache
        own_redis.start()  # same port and directory: the AOF has the first three
        assert await rig.writer.retry_now() == 0
        r = _raw(own_redis.url)
        stored = {k.split(":")[-1]: json.loads(r.hget(k, "case")) for k in
                  r.scan_iter("hotline:case:*")}
        ids = [f"GD20261206-{n:06d}" for n in range(1, 7)]
        assert sorted(stored) == ids
        assert stored[first[0].id]["state"] == "in_progress" and stored[first[0].id][
            "version"] == 3
        assert stored[during[0].id]["state"] == "accepted"
        assert r.get("hotline:cases:seq:20261206") == "6"
        assert r.zcard(DUE) == 6
        r.close()
        assert (await _open(s, 99)).id == "GD20261206-000007"
    finally:
        await rig.close()


@pytest_twisted.ensureDeferred
async def test_kill_9_with_a_spool_replays_on_start_and_numbers_on(own_redis, tmp_path):
    spool = tmp_path / "cases.spool"
    rig = Rig(own_redis.url, spool)
    await _open(rig.service, 1)
    own_redis.kill()
    spooled = [await _open(rig.service, 2 + i) for i in range(2)]
    assert spool.read_text().count("\n") == 2
    # kill -9: nothing is stopped or flushed; only the spool file is left behind.
    rig.writer.stop()
    own_redis.start()
    clock = task.Clock()
    clock.advance(START + 60)
    again = Rig(own_redis.url, spool, clock)
    try:
        assert await again.writer.start() == 2
        case = await _open(again.service, 9)  # drains the spool before numbering
        assert case.id == "GD20261206-000004"
        assert [c.id for c in await again.service.find()] == [
            "GD20261206-000001", *(c.id for c in spooled), case.id]
        assert spool.read_text() == ""
    finally:
        await again.close()
        await rig.store.close()


@pytest_twisted.ensureDeferred
async def test_no_case_numbers_while_redis_was_never_reachable(tmp_path):
    rig = Rig(f"redis://127.0.0.1:{free_port()}/0", tmp_path / "cases.spool")
    try:
        with pytest.raises(CaseIdsUnavailable):
            await _open(rig.service)
        assert rig.writer.backlog == 0 and not (tmp_path / "cases.spool").exists()
    finally:
        await rig.close()


@pytest_twisted.ensureDeferred
async def test_auto_open_from_a_disposition_is_idempotent_per_call(cases_url, tmp_path):
    rig = Rig(cases_url, tmp_path / "cases.spool")
    s = rig.service
    try:
        kw = dict(call_id="1700000000.5", account="1234567890", phone="138", owner="1001")
        case = await s.auto_open(disposition="work_order", intent="complaint", **kw)
        assert (case.type, case.grade, case.call_ids) == ("complaint", "general",
                                                          ("1700000000.5",))
        assert await s.auto_open(disposition="work_order", intent="complaint", **kw) == case
        assert await s.auto_open(disposition="resolved", intent="complaint", **kw) is None
        fault = await s.auto_open(disposition="work_order", intent="fault",
                                  **{**kw, "call_id": "1700000000.6"})
        assert fault.type == "fault_repair" and fault.grade is None
    finally:
        await rig.close()


@pytest_twisted.ensureDeferred
async def test_open_case_owner_is_the_newest_open_case_with_its_owner(cases_url, tmp_path):
    """What the routing asks (issue 14, point 6): the caller's open case and its owner."""
    rig = Rig(cases_url, tmp_path / "cases.spool")
    s = rig.service
    try:
        assert await s.open_case_owner(phone="13800000000") is None  # no case yet
        assert await s.open_case_owner() is None
        older = await _open(s, 1, phone="13800000000")
        rig.clock.advance(60)
        newer = await _open(s, 2, account="9876543210", phone="13800000000")
        await s.transition(newer.id, "reassign", actor="lead1", owner="1002")
        assert await s.open_case_owner(phone="13800000000") == (newer.id, "1002")
        assert await s.open_case_owner(account="1234567890") == (older.id, "1001")
        # a closed case no longer routes anyone (written as the store keeps it)
        closed = in_state(await s.get(newer.id), CaseState.CLOSED)
        await rig.store.put(case_entry(replace(closed, version=closed.version + 1).to_dict(),
                                       None))
        fresh = CaseService(rig.store, rig.writer, RULES, rig.clock)  # reads the store
        assert await fresh.open_case_owner(phone="13800000000") == (older.id, "1001")
    finally:
        await rig.close()
