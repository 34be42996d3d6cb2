"""The case gauges on /metrics: open cases by type, grade and status, and the overdue
ones, read from a real CaseService on a real redis-server and scraped over a socket."""

from __future__ import annotations

import pytest
import pytest_twisted
import treq
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import defer, reactor, task

from server.cases.service import CaseService
from server.cases.store import CaseStore
from server.metrics_cases import CaseCollector
from server.metrics_http import metrics_site
from server.records.spool import DurableRecords

from .cases_support import H, rules, shanghai

START = shanghai(2026, 12, 7, 9, 0)


@pytest.fixture
def cases_url(redis_db):
    return redis_db(13)  # a database of its own, emptied


async def _scrape(port) -> dict[tuple[str, tuple], float]:
    resp = await treq.get(f"http://127.0.0.1:{port.getHost().port}/metrics", persistent=False)
    text = (await resp.content()).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples
            if s.name.startswith("hotline_cases")}


@pytest_twisted.ensureDeferred
async def test_case_gauges_follow_the_cases(cases_url, tmp_path):
    clock = task.Clock()
    clock.advance(START)
    store = CaseStore.from_url(cases_url)
    writer = DurableRecords(store, tmp_path / "cases.spool", clock)
    service = CaseService(store, writer, rules(), clock)
    registry = CollectorRegistry()
    collector = CaseCollector(service.counts, clock)
    registry.register(collector)
    port = reactor.listenTCP(0, metrics_site(registry), interface="127.0.0.1")
    try:
        first = await _scrape(port)  # nothing read yet: no figures, and "not up"
        assert first[("hotline_cases_counts_up", ())] == 0
        assert ("hotline_cases_open", ()) not in first
        await collector.refresh()  # the read that scrape started (each scrape starts one)
        base = dict(actor="1001", owner="1001", account="1234567890", phone="139")
        a, _ = await service.open(type="complaint", grade="major", **base)  # accept in 0.5 h
        await service.open(type="complaint", **base)  # general: 2 h
        c, _ = await service.open(type="fault_repair", **base)
        await service.transition(c.id, "accept", actor="1001")
        clock.advance(0.75 * H)
        await collector.refresh()
        clock.advance(10)
        got = await _scrape(port)
        assert got[("hotline_cases_counts_up", ())] == 1
        assert got[("hotline_cases_counts_age_seconds", ())] == 10
        assert got[("hotline_cases_open", ())] == 3
        assert got[("hotline_cases_overdue", ())] == 1  # the major complaint, not accepted
        assert got[("hotline_cases_open_by_type", (("type", "complaint"),))] == 2
        assert got[("hotline_cases_open_by_type", (("type", "fault_repair"),))] == 1
        assert got[("hotline_cases_open_by_grade", (("grade", "major"),))] == 1
        assert got[("hotline_cases_open_by_grade", (("grade", "general"),))] == 1
        assert got[("hotline_cases_open_by_status", (("status", "new"),))] == 2
        assert got[("hotline_cases_open_by_status", (("status", "accepted"),))] == 1

        await collector.refresh()  # the read the last scrape started
        await service.transition(a.id, "accept", actor="1001")
        await collector.refresh()
        got = await _scrape(port)
        assert got[("hotline_cases_overdue", ())] == 0
        assert got[("hotline_cases_open_by_status", (("status", "accepted"),))] == 2
    finally:
        await port.stopListening()
        writer.stop()
        await store.close()


@pytest_twisted.ensureDeferred
async def test_a_failed_read_keeps_the_figures_and_says_so():
    clock = task.Clock()
    answers = [defer.succeed({"open": 4, "overdue": 2, "state": {"new": 4},
                              "type": {"enquiry": 4}, "grade": {}}),
               defer.fail(ConnectionError("redis down"))]
    collector = CaseCollector(lambda: answers.pop(0), clock)
    await collector.refresh()
    await collector.refresh()
    samples = {s.name: s.value for f in collector.collect() for s in f.samples}
    assert samples["hotline_cases_counts_up"] == 0
    assert samples["hotline_cases_open"] == 4 and samples["hotline_cases_overdue"] == 2


@pytest_twisted.ensureDeferred
async def test_one_read_at_a_time():
    pending: list[defer.Deferred] = []

    def counts():
        pending.append(defer.Deferred())
        return pending[-1]
    collector = CaseCollector(counts, task.Clock())
    first, second = collector.refresh(), collector.refresh()
    list(collector.collect())  # a scrape while the read is in flight starts no other
    assert len(pending) == 1 and not first.called
    pending[0].callback({"open": 1, "overdue": 0, "state": {}, "type": {}, "grade": {}})
    await first
    await second
    collector.refresh()
    assert len(pending) == 2
