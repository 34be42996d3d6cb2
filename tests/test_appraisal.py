"""The per-tier appraisal (queues/appraisal.py) against figures worked out by hand."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from queues.appraisal import AppraisalConfig, AppraisalInput, appraise, components, weighted

CFG = AppraisalConfig(
    aht_target_s=300.0, min_handled=2,
    weights=MappingProxyType({"qa": 40.0, "satisfaction": 30.0, "aht": 15.0,
                              "missed_offers": 15.0}),
    tiers=MappingProxyType({"trainee": MappingProxyType({"qa": 1.0, "aht": 1.0})}))


def _in(agent, tier, *, handled=10, offers=10, missed=0, qa=None, sat=None, aht=None):
    return AppraisalInput(agent, tier, handled, offers, missed, qa, sat, aht)


def test_each_component_is_normalised_to_0_100():
    c = components(_in("a", "agent", offers=8, missed=2, qa=88.5, sat=0.9, aht=360.0), 300.0)
    # aht: 100 x (600 - 360) / 300 = 80; missed: 100 x 6 / 8 = 75
    assert c == {"qa": 88.5, "satisfaction": 90.0, "aht": pytest.approx(80.0),
                 "missed_offers": 75.0}
    assert components(_in("a", None, aht=120.0), 300.0)["aht"] == 100.0  # under the target
    assert components(_in("a", None, aht=900.0), 300.0)["aht"] == 0.0  # past twice it
    empty = components(_in("a", None, handled=0, offers=0), 300.0)
    assert empty == {"qa": None, "satisfaction": None, "aht": None, "missed_offers": None}


def test_score_is_the_weighted_mean_of_the_components_present():
    w = {"qa": 40.0, "satisfaction": 30.0, "aht": 15.0, "missed_offers": 15.0}
    # (40 x 90 + 30 x 100 + 15 x 80 + 15 x 60) / 100 = 87
    assert weighted({"qa": 90.0, "satisfaction": 100.0, "aht": 80.0,
                     "missed_offers": 60.0}, w) == 87.0
    # no QA review: (30 x 100 + 15 x 80 + 15 x 60) / 60 = 85
    assert weighted({"qa": None, "satisfaction": 100.0, "aht": 80.0,
                     "missed_offers": 60.0}, w) == 85.0
    assert weighted({"qa": None, "satisfaction": None, "aht": None,
                     "missed_offers": None}, w) is None


def test_ranking_within_each_tier_with_its_own_weights_and_shared_ranks():
    out = appraise([
        # agent tier, default weights
        _in("1005", "agent", qa=90.0, sat=1.0, aht=360.0, offers=5, missed=2),  # 87
        _in("1006", "agent", qa=80.0, sat=1.0, aht=300.0, offers=4, missed=0),  # 92
        _in("1007", "agent", qa=90.0, sat=1.0, aht=360.0, offers=5, missed=2),  # 87 (tie)
        _in("1008", "agent", qa=100.0, sat=1.0, aht=100.0, handled=1),  # 100, too few calls
        # trainee tier: only qa and aht, 1:1
        _in("1001", "trainee", qa=70.0, sat=0.0, aht=450.0, missed=9),  # (70 + 50) / 2 = 60
        _in("1002", "trainee", qa=None, sat=1.0, aht=300.0),  # aht only: 100
    ], CFG)
    rows = [(a.tier, a.agent_id, a.score, a.rank, a.ranked_in_tier) for a in out]
    assert rows == [
        ("agent", "1006", 92.0, 1, 3), ("agent", "1005", 87.0, 2, 3),
        ("agent", "1007", 87.0, 2, 3), ("agent", "1008", 100.0, None, 3),
        ("trainee", "1002", 100.0, 1, 2), ("trainee", "1001", 60.0, 2, 2)]
    assert out[1].components["missed_offers"] == 60.0


def test_an_agent_with_nothing_to_judge_is_shown_unranked():
    (a,) = appraise([_in("x", "senior", handled=5, offers=0)], CFG)
    assert (a.score, a.rank, a.ranked_in_tier) == (None, None, 0)


def test_the_shipped_weights_and_one_aht_target(tmp_path):
    from server.config import load_config
    from tests.test_config_support import broken_copy

    env = {"HOTLINE_AMI_SECRET": "s3cret"}
    shipped = load_config(broken_copy({"file": "queues.yaml", "set": {}}, tmp_path / "a"),
                          environ=env).appraisal
    assert (shipped.min_handled, shipped.aht_target_s) == (5, 300.0)
    assert shipped.weights_for("trainee")["qa"] == 50.0
    assert shipped.weights_for("senior") == shipped.weights  # no weights of its own
    # The AHT target is the reports' unless the appraisal names its own.
    moved = load_config(broken_copy({"file": "server.yaml",
                                     "set": {"reports.targets.aht_s": 240}}, tmp_path / "b"),
                        environ=env).appraisal
    assert moved.aht_target_s == 240.0
    own = load_config(broken_copy({"file": "queues.yaml",
                                   "set": {"appraisal.aht_target_s": 200}}, tmp_path / "c"),
                      environ=env).appraisal
    assert own.aht_target_s == 200.0
