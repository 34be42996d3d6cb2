"""Every KPI of the period report against hand-computed values, for every grouping.

Thirteen records, 2026-12-01 in Asia/Shanghai from 09:00 (B); times are seconds
after B. Queues fault (T 20 s), complaints (T 30 s), billing (T 20 s); the
dialplan's fallback queue has the default T 20 s; short abandon < 5 s; repeat
window 30 days. Agents 1001 trainee and 1002 agent in team-a (一班, lead 1002);
1003 senior in no team.

R1  fault   arr 0     caller A fault; enq 10, 1001 rings 11→15 answers (wait 5),
                      hold 20→30, bridge end 70, satisfied, wrap 80
                      → talk 45, hold 10, ACW 10, handling 65
R2  fault   arr 600   caller A fault (repeat of R1); enq 610, 1001 rings 611→626 no
                      answer, 1002 rings 627→640 answers (wait 30), bridge end 700,
                      dissatisfied "slow", wrap 720 → talk 60, ACW 20, handling 80
R3  fault   arr 1200  caller B fault; enq 1210, abandons 1213 (wait 3: short)
R4  compl.  arr 1800  caller C complaint; enq 1810, abandons 1850 (wait 40)
R5  billing arr 3600  caller D billing; enq 3610, overflows to fault 3640, 1003 rings
                      3641→3645 answers (wait 35), bridge end 3705, fairly satisfied,
                      wrap 3715 → talk 60, ACW 10, handling 70
R6  -       arr 3700  caller D billing (repeat of R5): self-service
R7  -       arr 3800  caller F fault: deflected by the outage notice
R8  fault   arr 4800  caller G fault; enq 4810, fallback 4830 (server away), 1001
                      answers there 4840 (wait 30), bridge end 4900: fallback_answered
R9  -       arr 4900  caller H, no intent; fallback 4905 from the menu, abandons 4925
                      (wait 20): fallback_abandoned
R10 callback arr 7200 outbound: 1002 answers 7210, bridge end 7270, wrap 7280
                      → talk 60, ACW 10, handling 70
R11 fault   arr 7300  caller I fault; enq 7310, asks for a callback 7400
R12 -       arr 7500  caller J, no intent: hangs up in the IVR
R13 fault   arr 7600  caller K fault; enq 7610, 1003 rings 7612→7615 answers (wait 5),
                      bridge end 7675, survey asked but no answer, wrap 7680
                      → talk 60, ACW 5, handling 65
"""

from __future__ import annotations

import datetime as dt

import pytest

from server.records.model import CallRecord, CallRecorder
from server.records.scorecards import agent_scorecards
from server.reports.build import Directory, ReportBuilder, Targets
from server.reports.kpi import FIGURES, Policy
from server.reports.period import period, to_csv

from .cases_support import shanghai

B = shanghai(2026, 12, 1, 9)
POLICY = Policy(short_abandon_s=5, threshold_s={"fault": 20, "complaints": 30, "billing": 20},
                repeat_contact_days=30)
DIRECTORY = Directory(tier_of={"1001": "trainee", "1002": "agent", "1003": "senior"},
                      team_of={"1001": "team-a", "1002": "team-a"},
                      teams={"team-a": ("一班", "1002")})
TIERS = {"1001": "trainee", "1002": "agent", "1003": "senior"}


def _rec(n: int, arr: float, caller: str, intent: str | None,
         kind: str = "inbound") -> CallRecorder:
    r = CallRecorder(f"R{n}", B + arr, caller=caller, dialled="95598", kind=kind)  # type: ignore[arg-type]
    if intent:
        r.update(intent=intent)
    return r


def _answer(r: CallRecorder, agent: str, ring: float, at: float, end: float,
            wrap: float | None, survey: tuple | None = None, outcome: str = "answered"):
    r.offer(B + at, agent=agent, ring_start=B + ring, outcome="answered")
    r.answered(B + at, agent=agent, tier=TIERS[agent])
    r.bridge_end(B + end, hung_up_by="caller")
    if survey is not None:
        r.survey(B + end + 2, *survey)
    if wrap is not None:
        r.wrap_up_end(B + wrap, disposition="done")
    r.finish(B + (wrap or end), outcome)


def records() -> list[CallRecord]:
    out = []
    r = _rec(1, 0, "A", "fault")
    r.ivr_end(B + 10)
    r.enqueued(B + 10, "fault")
    r.offer(B + 15, agent="1001", ring_start=B + 11, outcome="answered")
    r.answered(B + 15, agent="1001", tier="trainee")
    r.hold_start(B + 20)
    r.hold_end(B + 30)
    r.bridge_end(B + 70, hung_up_by="caller")
    r.survey(B + 72, "satisfied")
    r.wrap_up_end(B + 80, disposition="done")
    r.finish(B + 80, "answered")
    out.append(r)
    r = _rec(2, 600, "A", "fault")
    r.enqueued(B + 610, "fault")
    r.offer(B + 626, agent="1001", ring_start=B + 611, outcome="no_answer")
    _answer(r, "1002", 627, 640, 700, 720, ("dissatisfied", "slow"))
    out.append(r)
    r = _rec(3, 1200, "B", "fault")
    r.enqueued(B + 1210, "fault")
    r.abandoned(B + 1213)
    r.finish(B + 1213, "abandoned")
    out.append(r)
    r = _rec(4, 1800, "C", "complaint")
    r.enqueued(B + 1810, "complaints")
    r.abandoned(B + 1850)
    r.finish(B + 1850, "abandoned")
    out.append(r)
    r = _rec(5, 3600, "D", "billing")
    r.enqueued(B + 3610, "billing")
    r.overflow(B + 3640, from_queue="billing", to_queue="fault")
    _answer(r, "1003", 3641, 3645, 3705, 3715, ("fairly_satisfied",))
    out.append(r)
    r = _rec(6, 3700, "D", "billing")
    r.finish(B + 3760, "self_service")
    out.append(r)
    r = _rec(7, 3800, "F", "fault")
    r.update(outage_notice="o1")
    r.finish(B + 3830, "deflected")
    out.append(r)
    r = _rec(8, 4800, "G", "fault")
    r.enqueued(B + 4810, "fault")
    r.fallback(B + 4830, "watchdog", "hotline-fallback")
    r.answered(B + 4840, agent="1001", tier="trainee")
    r.bridge_end(B + 4900, hung_up_by="agent")
    r.finish(B + 4900, "fallback_answered")
    out.append(r)
    r = _rec(9, 4900, "H", None)
    r.fallback(B + 4905, "server-down", "hotline-fallback")
    r.abandoned(B + 4925)
    r.finish(B + 4925, "fallback_abandoned")
    out.append(r)
    r = _rec(10, 7200, "L", "fault", kind="callback")
    r.answered(B + 7210, agent="1002", tier="agent")
    r.bridge_end(B + 7270, hung_up_by="caller")
    r.wrap_up_end(B + 7280, disposition="done")
    r.finish(B + 7280, "answered")
    out.append(r)
    r = _rec(11, 7300, "I", "fault")
    r.enqueued(B + 7310, "fault")
    r.callback_requested(B + 7400, "I")
    r.finish(B + 7400, "callback")
    out.append(r)
    r = _rec(12, 7500, "J", None)
    r.finish(B + 7520, "ivr_hangup")
    out.append(r)
    r = _rec(13, 7600, "K", "fault")
    r.enqueued(B + 7610, "fault")
    _answer(r, "1003", 7612, 7615, 7675, 7680, (None,))
    out.append(r)
    return [x.snapshot() for x in out]


def report(by: str, recs: list[CallRecord] | None = None, start: float = B,
           end: float = B + 3 * 3600) -> dict:
    b = ReportBuilder(start=start, end=end, by=by, policy=POLICY, directory=DIRECTORY,
                      timezone="Asia/Shanghai", targets=Targets())
    for rec in records() if recs is None else recs:
        b.add_record(rec)
    return b.report(generated_at=B + 86400)


N = None  # a rate with an empty denominator
# FIGURES in order: offered, answered, abandoned, short_abandoned, self_service,
# deflected, callbacks, overflowed, handled, connection_rate, service_level, asa_s,
# abandon_rate, aht_s, occupancy, surveyed, rated, satisfied, satisfaction_rate,
# survey_response_rate, repeat_contacts, repeat_contact_rate, missed_offers
TOTAL = (
    9,  # offered: R1 R2 R3 R4 R5 R8 R9 R11 R13 entered a queue
    5,  # answered: R1 R2 R5 R8 R13
    3, 1,  # abandoned R3 R4 R9; short R3 (3 s < 5 s)
    1, 1, 1,  # self-service R6, deflected R7, callback R11
    2,  # overflowed: R5 (overflow), R8 (fallback after its queue)
    5,  # handled: R1 R2 R5 R10 R13 (R8 answered in the fallback queue: no ACW known)
    (5 + 1) / 10,  # connection: (answered + self-service) / (12 inbound - 1 short - 1 deflected)
    2 / 7,  # SL: within T R1 (5), R13 (5) / (5 answered + 3 abandoned - 1 short)
    (5 + 30 + 35 + 30 + 5) / 5,  # ASA
    3 / 9,  # abandon rate
    (65 + 80 + 70 + 70 + 65) / 5,  # AHT
    N,  # occupancy: no agent-state log fed
    4, 3, 2,  # surveyed R1 R2 R5 R13; rated R1 R2 R5; satisfied R1 + fairly R5
    2 / 3, 3 / 4,
    2, 2 / 10,  # repeats R2 (A fault), R6 (D billing) / 10 calls with caller and intent
    1,  # missed: R2's offer to 1001
)


def _row(figures: dict) -> tuple:
    return tuple(figures[k] for k in FIGURES)


def _check(got: dict, want: tuple) -> None:
    assert len(want) == len(FIGURES)
    for name, g, w in zip(FIGURES, _row(got), want, strict=True):
        # durations are rounded to the millisecond
        assert g == pytest.approx(w, abs=1e-3) if w is not None else g is None, name


def test_total_and_centre():
    rep = report("centre")
    _check(rep["total"], TOTAL)
    assert [g["key"] for g in rep["groups"]] == ["centre"]
    _check(rep["groups"][0], TOTAL)
    assert (rep["total"]["calls"], rep["total"]["wanted"]) == (12, 10)
    assert rep["satisfaction"] == {"satisfied": 1, "fairly_satisfied": 1, "dissatisfied": 1,
                                   "no_answer": 1, "reasons": {"slow": 1}}
    assert rep["targets"]["connection_rate"] == 0.95 and rep["timezone"] == "Asia/Shanghai"
    assert rep["from_local"] == "2026-12-01T09:00:00+08:00"


def test_by_queue_after_overflow():
    groups = {g["key"]: g for g in report("queue")["groups"]}
    assert list(groups) == ["(no queue)", "complaints", "fault", "hotline-fallback"]
    # fault: R1 R2 R3 R5 (overflowed in) R11 R13
    _check(groups["fault"], (6, 4, 1, 1, 0, 0, 1, 1, 4, 4 / 5, 2 / (4 + 1 - 1),
                             (5 + 30 + 35 + 5) / 4, 1 / 6, (65 + 80 + 70 + 65) / 4, N,
                             4, 3, 2, 2 / 3, 3 / 4, 1, 1 / 6, 1))
    _check(groups["complaints"], (1, 0, 1, 0, 0, 0, 0, 0, 0, 0.0, 0.0, N, 1.0, N, N,
                                  0, 0, 0, N, N, 0, 0.0, 0))
    # R8 answered there (wait 30 > 20), R9 abandoned there (20 s, not short)
    _check(groups["hotline-fallback"], (2, 1, 1, 0, 0, 0, 0, 1, 0, 1 / 2, 0 / 2, 30.0, 1 / 2,
                                        N, N, 0, 0, 0, N, N, 0, 0.0, 0))
    # R6 self-service, R7 deflected, R12 IVR hang-up, R10 (outbound, handled)
    _check(groups["(no queue)"], (0, 0, 0, 0, 1, 1, 0, 0, 1, 1 / 2, N, N, N, 70.0, N,
                                  0, 0, 0, N, N, 1, 1 / 2, 0))


AGENT_1001 = (2, 2, 0, 0, 0, 0, 0, 1, 1, 1.0, 1 / 2, (5 + 30) / 2, 0.0, 65.0, N,
              1, 1, 1, 1.0, 1.0, 0, 0.0, 1)  # R1, R8 (fallback, not handled); missed R2
AGENT_1002 = (1, 1, 0, 0, 0, 0, 0, 0, 2, 1.0, 0.0, 30.0, 0.0, (80 + 70) / 2, N,
              1, 1, 0, 0.0, 1.0, 1, 1.0, 0)  # R2, and the outbound R10 (handled only)
AGENT_1003 = (2, 2, 0, 0, 0, 0, 0, 1, 2, 1.0, 1 / 2, (35 + 5) / 2, 0.0, (70 + 65) / 2, N,
              2, 1, 1, 1.0, 1 / 2, 0, 0.0, 0)  # R5, R13
NO_AGENT = (4, 0, 3, 1, 1, 1, 1, 0, 0, (0 + 1) / 5, 0 / (3 - 1), N, 3 / 4, N, N,
            0, 0, 0, N, N, 1, 1 / 5, 0)  # R3 R4 R6 R7 R9 R11 R12: 7 calls, 5 wanted


def test_by_agent_and_missed_offers_go_to_the_offered_agent():
    groups = {g["key"]: g for g in report("agent")["groups"]}
    assert list(groups) == ["(no agent)", "1001", "1002", "1003"]
    for key, want in (("1001", AGENT_1001), ("1002", AGENT_1002), ("1003", AGENT_1003),
                      ("(no agent)", NO_AGENT)):
        _check(groups[key], want)


def test_by_tier_and_the_tier_comparison():
    rep = report("tier")
    groups = {g["key"]: g for g in rep["groups"]}
    assert list(groups) == ["(no agent)", "agent", "senior", "trainee"]
    for key, want in (("trainee", AGENT_1001), ("agent", AGENT_1002), ("senior", AGENT_1003),
                      ("(no agent)", NO_AGENT)):
        _check(groups[key], want)
    assert [t["key"] for t in rep["tiers"]] == ["agent", "senior", "trainee"]  # agents only


def test_by_team_with_an_agent_outside_every_team():
    rep = report("team")
    groups = {g["key"]: g for g in rep["groups"]}
    assert list(groups) == ["(no agent)", "(no team)", "team-a"]
    # team-a = 1001 + 1002: R1 R8 R2 (+ R10 handled); SL within R1 only / 3
    _check(groups["team-a"], (3, 3, 0, 0, 0, 0, 0, 1, 3, 1.0, 1 / 3, (5 + 30 + 30) / 3, 0.0,
                              (65 + 80 + 70) / 3, N, 2, 2, 1, 1 / 2, 1.0, 1, 1 / 3, 1))
    _check(groups["(no team)"], AGENT_1003)
    _check(groups["(no agent)"], NO_AGENT)
    teams = rep["teams"]
    assert [(t["key"], t["label"], t["lead"]) for t in teams] == [
        ("(no team)", "(no team)", None), ("team-a", "一班", "1002")]


def test_by_day_and_by_hour_and_the_hourly_chart():
    day = report("day")["groups"]
    assert [g["key"] for g in day] == ["2026-12-01"]
    _check(day[0], TOTAL)
    rep = report("hour")
    groups = {g["key"]: g for g in rep["groups"]}
    assert list(groups) == ["2026-12-01 09:00", "2026-12-01 10:00", "2026-12-01 11:00"]
    _check(groups["2026-12-01 09:00"], (4, 2, 2, 1, 0, 0, 0, 0, 2, 2 / 3, 1 / 3, 35 / 2, 2 / 4,
                                        145 / 2, N, 2, 2, 1, 1 / 2, 1.0, 1, 1 / 4, 1))
    _check(groups["2026-12-01 10:00"], (3, 2, 1, 0, 1, 1, 0, 2, 1, 3 / 4, 0 / 3, 65 / 2, 1 / 3,
                                        70.0, N, 1, 1, 1, 1.0, 1.0, 1, 1 / 4, 0))
    _check(groups["2026-12-01 11:00"], (2, 1, 0, 0, 0, 0, 1, 0, 2, 1 / 3, 1.0, 5.0, 0.0,
                                        135 / 2, N, 1, 0, 0, N, 0.0, 0, 0.0, 0))
    assert [(h["label"], h["offered"], h["answered"], h["abandoned"], h["service_level"])
            for h in rep["hourly"]] == [("2026-12-01 09:00", 4, 2, 2, pytest.approx(1 / 3)),
                                        ("2026-12-01 10:00", 3, 2, 1, 0.0),
                                        ("2026-12-01 11:00", 2, 1, 0, 1.0)]


def test_groups_add_up_to_the_total_for_every_grouping():
    counts = ("offered", "answered", "abandoned", "handled", "surveyed", "missed_offers",
              "repeat_contacts", "self_service", "deflected")
    total = report("centre")["total"]
    for by in ("queue", "tier", "team", "agent", "day", "hour"):
        groups = report(by)["groups"]
        assert {k: sum(g[k] for g in groups) for k in counts} == {k: total[k] for k in counts}


def test_no_calls():
    rep = report("agent", recs=[], end=B + 86400)
    assert rep["groups"] == [] and rep["tiers"] == [] and rep["teams"] == []
    assert all(rep["total"][k] in (0, None) for k in FIGURES)
    assert rep["total"]["connection_rate"] is None and rep["total"]["service_level"] is None
    assert len(rep["hourly"]) == 24 and {h["offered"] for h in rep["hourly"]} == {0}


def test_only_abandons():
    recs = [records()[2], records()[3]]  # R3 (short) and R4
    t = report("centre", recs=recs)["total"]
    # offered 2, abandoned 2 (1 short); wanted 2 - 1 short = 1; SL 0 / (0 + 2 - 1)
    _check(t, (2, 0, 2, 1, 0, 0, 0, 0, 0, 0.0, 0.0, N, 1.0, N, N, 0, 0, 0, N, N, 0, 0.0, 0))


def test_a_period_across_midnight_and_a_month_end_in_shanghai():
    def call(n: int, arrived: float) -> CallRecord:
        r = CallRecorder(f"m{n}", arrived, caller=f"c{n}", dialled="95598")
        r.enqueued(arrived + 5, "fault")
        r.abandoned(arrived + 65)
        r.finish(arrived + 65, "abandoned")
        return r.snapshot()
    start, end = period("2026-11-30", "2026-12-01", "Asia/Shanghai")
    assert (start, end) == (shanghai(2026, 11, 30), shanghai(2026, 12, 2))
    # 23:59:30 on the 30th ends after midnight: the 30th (by arrival); 16:00 UTC on
    # the 30th is 00:00 on 1 December in Shanghai
    recs = [call(1, shanghai(2026, 11, 30, 23, 59) + 30), call(2, shanghai(2026, 12, 1)),
            call(3, shanghai(2026, 12, 1, 0, 30))]
    assert shanghai(2026, 12, 1) == dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC).timestamp()
    days = report("day", recs, start, end)["groups"]
    assert [(g["key"], g["abandoned"]) for g in days] == [("2026-11-30", 1), ("2026-12-01", 2)]
    rep = report("hour", recs, start, end)
    assert [(g["key"], g["offered"]) for g in rep["groups"]] == [
        ("2026-11-30 23:00", 1), ("2026-12-01 00:00", 2)]
    assert len(rep["hourly"]) == 48 and rep["hourly"][0]["label"] == "2026-11-30 00:00"


def test_the_scorecards_agree_with_the_report():
    cards = agent_scorecards(records())
    groups = {g["key"]: g for g in report("agent")["groups"]}
    for agent in ("1001", "1002", "1003"):
        c, g = cards[agent], groups[agent]
        assert (c.handled, c.aht_s, c.missed_offers, c.satisfaction_rate) == (
            g["handled"], g["aht_s"], g["missed_offers"], g["satisfaction_rate"])
    assert (cards["1001"].fallback_answered, cards["1001"].fallback_talk_s) == (1, 60.0)


def test_csv_has_the_figures_in_order_and_a_total_row():
    lines = to_csv(report("queue")).splitlines()
    assert lines[0] == "key,label," + ",".join(FIGURES)
    assert [line.split(",")[0] for line in lines[1:]] == [
        "(no queue)", "complaints", "fault", "hotline-fallback", "total"]
    total = lines[-1].split(",")
    assert total[2:5] == ["9", "5", "3"] and total[2 + FIGURES.index("occupancy")] == ""
