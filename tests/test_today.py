"""Today's figures (server/today.py) come from the records in Redis: a restart keeps them,
a newer version of a call replaces the older one's contribution, midnight starts a new
day, and Redis down at start-up says so and retries."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
import pytest_twisted
import redis
from twisted.internet import defer, task

from server.config import load_config
from server.records.model import CallRecorder
from server.records.store import SEEN, STREAM, make_client
from server.today import TodayFigures, sl_status

TZ = ZoneInfo("Asia/Shanghai")
NOON = dt.datetime(2026, 12, 7, 12, 0, tzinfo=TZ).timestamp()
CFG = load_config(__file__.rsplit("/tests/", 1)[0] + "/config", environ={})


def answered(cid: str, t0: float, *, agent="1005", wait=10.0, satisfaction=None,
             queue="fault") -> dict:
    r = CallRecorder(cid, t0, "13900000001", "95598")
    r.update(intent="fault")
    r.ivr_end(t0 + 5)
    r.enqueued(t0 + 5, queue)
    r.offer(t0 + 5 + wait, agent, t0 + 6, "answered")
    r.answered(t0 + 5 + wait, agent, "agent")
    r.bridge_end(t0 + 65 + wait, "caller")
    if satisfaction:
        r.survey(t0 + 70 + wait, satisfaction)
    r.wrap_up_end(t0 + 75 + wait, "resolved")
    r.finish(t0 + 75 + wait, "answered")
    return r.to_dict()


def abandoned(cid: str, t0: float, after: float) -> dict:
    r = CallRecorder(cid, t0, "13900000002", "95598")
    r.ivr_end(t0 + 5)
    r.enqueued(t0 + 5, "fault")
    r.abandoned(t0 + 5 + after)
    r.finish(t0 + 5 + after, "abandoned")
    return r.to_dict()


class _Store:
    """Writes final records as the store does, with the stream id the time the call
    ended on the test's clock (the reader finds a day's records by stream id; Redis'
    own clock is not the test's)."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)

    def put(self, raw: dict) -> None:
        ended = raw["timeline"][-1][0]
        self.client.xadd(STREAM, {"call_id": raw["call_id"], "version": raw["version"],
                                  "record": json.dumps(raw)}, id=f"{int(ended * 1000)}-*")
        self.client.hset(SEEN, raw["call_id"], raw["version"])

    async def close(self) -> None:
        self.client.close()


def _aclose(client) -> defer.Deferred:
    return defer.Deferred.fromFuture(asyncio.ensure_future(client.aclose()))


@pytest.fixture
def url(redis_db):
    return redis_db(9)


class _Rig:
    def __init__(self, url: str, at: float = NOON, client=None) -> None:
        self.clock = task.Clock()
        self.clock.advance(at)
        self.client = make_client(url)
        self.today = TodayFigures(self.clock, CFG, client or self.client)

    async def start(self) -> None:
        self.today.start()
        await self.today.reading

    async def close(self) -> None:
        self.today.stop()
        await _aclose(self.client)


@pytest_twisted.ensureDeferred
async def test_a_restart_keeps_todays_figures(url):
    store = _Store(url)
    yesterday = answered("y1", NOON - 86400)
    for raw in (yesterday, answered("a1", NOON - 3600, satisfaction="satisfied"),
                answered("a2", NOON - 1800, wait=40.0, satisfaction="dissatisfied"),
                abandoned("b1", NOON - 900, after=30.0)):
        store.put(raw)
    first = _Rig(url)
    await first.start()
    h = first.today.headline()
    assert h["state"] == "ok"
    # a1 within 20 s, a2 not, b1 a long abandon: SL 1 / 3; satisfaction 1 / 2
    assert (h["offered"], h["answered"]) == (3, 2)
    assert h["service_level"] == pytest.approx(1 / 3)
    assert h["satisfaction_rate"] == 0.5
    assert h["abandon_rate"] == pytest.approx(1 / 3)
    # a call ends while the first process runs: published (and written, as the adapter does)
    late = answered("a3", NOON + 60, agent="1006")
    first.clock.advance(200)
    store.put(late)
    first.today.on_publish("record", late)
    assert first.today.headline()["answered"] == 3
    before = (first.today.centre_figures(), first.today.queue_figures("fault"),
              first.today.agent_figures("1005"), first.today.agent_figures("1006"))
    await first.close()

    second = _Rig(url, at=NOON + 300)  # new process objects over the same Redis
    try:
        await second.start()
        after = (second.today.centre_figures(), second.today.queue_figures("fault"),
                 second.today.agent_figures("1005"), second.today.agent_figures("1006"))
        assert after == before
        assert after[2]["handled"] == 2 and after[3]["handled"] == 1
        assert after[0]["offered"] == 4  # yesterday's call is not today's
    finally:
        await second.close()
        await store.close()


@pytest_twisted.ensureDeferred
async def test_a_newer_version_replaces_the_older_ones_contribution(url):
    store = _Store(url)
    v1 = answered("c1", NOON - 600, wait=30.0)
    store.put(v1)
    rig = _Rig(url)
    try:
        await rig.start()
        assert rig.today.centre_figures()["rated"] == 0
        # The same version again (the reading and the notifier both bring it): once.
        rig.today.on_publish("record", v1)
        # the same call, surveyed: a newer final version
        v2 = dict(answered("c1", NOON - 600, wait=30.0, satisfaction="satisfied"),
                  version=v1["version"] + 1)
        rig.today.on_publish("record", v2)
        rig.today.on_publish("record", v1)  # an older version late: ignored
        f = rig.today.centre_figures()
        assert (f["offered"], f["answered"], f["handled"], f["rated"], f["satisfied"]) == (
            1, 1, 1, 1, 1)
        assert f["service_level"] == 0.0  # answered after 30 s > T, counted once
        assert rig.today.agent_figures("1005")["handled"] == 1
        assert rig.today.queue_figures("fault")["answered"] == 1
    finally:
        await rig.close()
        await store.close()


@pytest_twisted.ensureDeferred
async def test_midnight_starts_a_new_day_from_redis(url):
    store = _Store(url)
    store.put(answered("d1", NOON))
    midnight = dt.datetime(2026, 12, 8, 0, 0, tzinfo=TZ).timestamp()
    rig = _Rig(url, at=midnight - 120)
    try:
        await rig.start()
        assert rig.today.centre_figures()["answered"] == 1
        after = answered("n1", midnight + 30)
        store.put(after)
        rig.clock.advance(120)  # local midnight: a new day, read again
        await rig.today.reading
        assert rig.today.day_start == midnight
        f = rig.today.centre_figures()
        assert (f["offered"], f["answered"]) == (1, 1)  # n1 only; d1 was yesterday
        rig.today.on_publish("record", answered("d2", NOON + 3600))  # yesterday's: ignored
        assert rig.today.centre_figures()["offered"] == 1
    finally:
        await rig.close()
        await store.close()


class _Down:
    """A Redis client that refuses the first ``n`` reads (the server down at start-up)."""

    def __init__(self, real, n: int) -> None:
        self.real, self.n = real, n

    async def xrange(self, *args, **kwargs):
        if self.n:
            self.n -= 1
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        return await self.real.xrange(*args, **kwargs)

    async def hmget(self, *args, **kwargs):
        return await self.real.hmget(*args, **kwargs)


@pytest_twisted.ensureDeferred
async def test_redis_down_at_start_says_so_and_retries(url):
    store = _Store(url)
    store.put(answered("r1", NOON - 60))
    real = make_client(url)
    rig = _Rig(url, client=_Down(real, 2))
    try:
        await rig.start()
        h = rig.today.headline()
        assert h["state"] == "unavailable" and "Connection refused" in h["error"]
        assert h["offered"] == 0 and h["service_level_status"] == "none"
        # a record published meanwhile is counted already, and not twice after the read
        rig.today.on_publish("record", answered("r1", NOON - 60))
        rig.clock.advance(1)  # first retry (1 s): refused again
        await rig.today.reading
        assert rig.today.state == "unavailable"
        rig.clock.advance(2)  # second retry (2 s): read
        await rig.today.reading
        h = rig.today.headline()
        assert (h["state"], h["error"], h["offered"], h["answered"]) == ("ok", None, 1, 1)
    finally:
        await rig.close()
        await _aclose(real)
        await store.close()


def test_service_level_colours():
    assert [sl_status(v, 0.8) for v in (None, 0.8, 0.92, 0.79, 0.75, 0.7499)] == [
        "none", "green", "green", "amber", "amber", "red"]


@pytest_twisted.ensureDeferred
async def test_prometheus_gauges_read_todays_figures_at_scrape_time(url):
    from prometheus_client import CollectorRegistry

    from server.metrics_today import TodayCollector

    store = _Store(url)
    store.put(answered("m1", NOON - 600, satisfaction="dissatisfied"))
    rig = _Rig(url)
    registry = CollectorRegistry()
    registry.register(TodayCollector(rig.today))
    try:
        await rig.start()
        value = registry.get_sample_value
        assert value("hotline_today_figures_up") == 1.0
        assert (value("hotline_today_offered"), value("hotline_today_answered")) == (1.0, 1.0)
        assert value("hotline_today_service_level") == 1.0
        assert value("hotline_today_satisfaction_rate") == 0.0
        assert value("hotline_today_target", {"figure": "satisfaction_rate"}) == 0.98
        rig.today.on_publish("record", abandoned("m2", NOON - 300, after=60.0))
        assert value("hotline_today_service_level") == 0.5  # read at scrape time
        assert value("hotline_today_abandon_rate") == 0.5
    finally:
        await rig.close()
        await store.close()


def test_a_rate_without_calls_is_absent_not_nan():
    from prometheus_client import CollectorRegistry

    from server.metrics_today import TodayCollector

    clock = task.Clock()
    clock.advance(NOON)
    registry = CollectorRegistry()
    registry.register(TodayCollector(TodayFigures(clock, CFG, None)))
    assert registry.get_sample_value("hotline_today_offered") == 0.0
    assert registry.get_sample_value("hotline_today_service_level") is None
    assert registry.get_sample_value("hotline_today_figures_up") == 0.0  # never read
