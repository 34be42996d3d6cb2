"""KPI figures against hand-computed numbers; Erlang C against a textbook case."""

from __future__ import annotations

import pytest

from queues.erlang import agents_needed, erlang_c, service_level
from queues.items import Outcome
from queues.stats import SlDefinition
from server.bench.acd_sample import make_agent, make_queue
from tests.test_acd_routing import build


def test_queue_kpis_hand_computed():
    # SL threshold 20 s, short abandon 5 s, wrap-up 10 s, one agent.
    r, clock, out = build([make_queue("q", {"s": 1}, sl=(0.8, 20))], [make_agent("a", {"s": 1})],
                          wrapup_s=10, short_abandon_s=5)  # fmt: skip
    # t=0 c1..c4 arrive; t=3 c3 abandons (short); t=10 the agent logs in and answers c1
    # (wait 10 s, within T); t=50..70 c1 on hold; t=70 c4 abandons (70 s, not short);
    # t=110 c1 ends (100 s: talk 80 + hold 20), wrap-up ended at once; c2 answered
    # (wait 110 s, not within T); t=170 c2 ends (talk 60); t=180 its 10 s wrap-up ends.
    for c in ("c1", "c2", "c3", "c4"):
        r.enqueue(c, "q")
    clock.advance(3)
    r.abandon("c3")
    clock.advance(7)
    r.login("a")  # c1 offered at t=10
    r.offer_result("c1", Outcome.ANSWERED)
    clock.advance(40)
    r.hold("c1", True)
    clock.advance(20)
    r.hold("c1", False)
    r.abandon("c4")
    clock.advance(40)
    r.call_ended("c1")  # t=110
    r.end_wrap_up("a")  # acw 0 s: c2 offered at t=110 (waited 110 s)
    r.offer_result("c2", Outcome.ANSWERED)
    clock.advance(60)
    r.call_ended("c2")
    clock.advance(10)  # full 10 s wrap-up
    k = r.queue_kpis("q")
    assert (k.offered, k.answered, k.abandoned, k.short_abandoned) == (4, 2, 2, 1)
    # SL = answered within 20 s / (answered + abandoned - short) = 1 / (2 + 2 - 1)
    assert k.service_level == pytest.approx(1 / 3)
    assert r.stats.service_level("q", SlDefinition.EXCLUDE_SHORT_ABANDONS) == pytest.approx(
        1 / 3)  # within T / (offered - short) = 1 / (4 - 1)
    assert r.stats.service_level("q", SlDefinition.ALL_OFFERED) == pytest.approx(1 / 4)
    assert r.stats.service_level("q", SlDefinition.ANSWERED_ONLY) == pytest.approx(1 / 2)
    # ASA = (10 + 110) / 2
    assert k.asa_s == pytest.approx(60)
    # AHT = (talk 80 + hold 20 + acw 0) + (talk 60 + acw 10) over 2 handled = 85
    assert k.aht_s == pytest.approx(85)
    assert k.abandon_rate == pytest.approx(0.5)
    assert k.connection_rate == pytest.approx(0.5)
    # the agent was never ready and idle: offered at login, then back to back
    assert r.stats.occupancy("a") == pytest.approx(1.0)
    assert r.queue_kpis("q").waiting == 0


def test_occupancy_counts_ready_idle_time():
    r, clock, out = build([make_queue("q", {"s": 1})], [make_agent("a", {"s": 1})], wrapup_s=30)
    r.login("a")
    clock.advance(90)  # 90 s ready
    r.enqueue("c", "q")
    r.offer_result("c", Outcome.ANSWERED)
    clock.advance(60)  # 60 s talk
    r.call_ended("c")
    clock.advance(30)  # 30 s wrap-up, then ready
    # (60 + 30) / (60 + 30 + 90)
    assert r.stats.occupancy("a") == pytest.approx(0.5)


def test_erlang_c_textbook():
    # lambda = 100 calls/h, AHT = 180 s -> A = 100 * 180 / 3600 = 5 erlangs.
    # c = 6: sum_{k<6} 5^k/k! = 1 + 5 + 12.5 + 20.833 + 26.042 + 26.042 = 91.417
    #        5^6/6! * 6/(6-5) = 21.701 * 6 = 130.208
    #        P(wait) = 130.208 / (91.417 + 130.208) = 0.5875
    #        SL(20 s) = 1 - 0.5875 * e^(-(6-5)*20/180) = 1 - 0.5875 * 0.8948 = 0.4743
    # c = 7: P(wait) = 0.3242, SL = 1 - 0.3242 * e^(-40/180) = 0.7404
    # c = 8: P(wait) = 0.1673, SL = 1 - 0.1673 * e^(-60/180) = 0.8801 -> 8 agents for 80/20
    rate = 100 / 3600
    assert erlang_c(5, 6) == pytest.approx(0.5875, abs=1e-4)
    assert service_level(rate, 180, 6, 20) == pytest.approx(0.4743, abs=1e-4)
    assert service_level(rate, 180, 7, 20) == pytest.approx(0.7404, abs=1e-4)
    assert service_level(rate, 180, 8, 20) == pytest.approx(0.8801, abs=1e-4)
    assert agents_needed(rate, 180, 0.8, 20) == 8
    assert erlang_c(5, 5) == 1.0 and erlang_c(0, 3) == 0.0
    # large centres do not overflow floats
    assert 0 < erlang_c(900, 950) < 1
