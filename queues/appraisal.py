"""Appraisal (绩效考核) per tier: components scored 0-100, weighted, ranked within a tier.

Pure: what an agent did in a period comes in as ``AppraisalInput`` (built from a
scorecard), the weights as ``AppraisalConfig`` (``appraisal:`` in queues.yaml).

Each component is normalised to 0..100 (None when the agent has nothing to judge it
by, e.g. no reviewed call):

* ``qa``: the mean QA total of the agent's reviewed calls (already 0-100);
* ``satisfaction``: 100 x satisfaction rate ((satisfied + fairly satisfied) / rated);
* ``aht``: 100 at or below the AHT target T, 0 at 2T or above, linear between:
  100 x (2T - AHT) / T;
* ``missed_offers``: 100 x (offers - missed offers) / offers.

The score is the weighted mean of the components that are not None, with the
tier's weights (``sum(w_c * s_c) / sum(w_c)``, over those components), so a
missing component neither helps nor hurts.  Within each tier the agents with a
score and at least ``min_handled`` handled calls are ranked by score (highest
first); equal scores share a rank (1, 2, 2, 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

COMPONENTS = ("qa", "satisfaction", "aht", "missed_offers")
DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"qa": 40.0, "satisfaction": 30.0, "aht": 15.0, "missed_offers": 15.0})


@dataclass(frozen=True)
class AppraisalConfig:
    aht_target_s: float = 300.0
    min_handled: int = 1  # fewer handled calls in the period: shown, not ranked
    weights: Mapping[str, float] = field(
        default_factory=lambda: DEFAULT_WEIGHTS)  # every tier without its own
    tiers: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: MappingProxyType({}))  # tier -> its own weights

    def weights_for(self, tier: str | None) -> Mapping[str, float]:
        return self.tiers.get(tier or "", self.weights)


@dataclass(frozen=True)
class AppraisalInput:
    agent_id: str
    tier: str | None
    handled: int
    offers: int
    missed_offers: int
    qa_score: float | None
    satisfaction_rate: float | None
    aht_s: float | None


@dataclass(frozen=True)
class Appraisal:
    agent_id: str
    tier: str | None
    components: Mapping[str, float | None]  # component -> 0..100 or None
    score: float | None  # the weighted mean, 0..100
    rank: int | None  # within the tier; None when not ranked
    ranked_in_tier: int  # how many agents of the tier are ranked


def components(inp: AppraisalInput, aht_target_s: float) -> dict[str, float | None]:
    """Each component of ``inp`` normalised to 0..100 (None: nothing to judge by)."""
    aht: float | None = None
    if inp.aht_s is not None and inp.handled > 0:
        aht = 100.0 * min(1.0, max(0.0, (2 * aht_target_s - inp.aht_s) / aht_target_s))
    return {
        "qa": inp.qa_score,
        "satisfaction": None if inp.satisfaction_rate is None else 100.0 * inp.satisfaction_rate,
        "aht": aht,
        "missed_offers": (100.0 * (inp.offers - inp.missed_offers) / inp.offers
                          if inp.offers > 0 else None),
    }


def weighted(parts: Mapping[str, float | None], weights: Mapping[str, float]) -> float | None:
    """sum(w * s) / sum(w) over the components with a value and a weight above 0."""
    num = den = 0.0
    for name, value in parts.items():
        w = weights.get(name, 0.0)
        if value is not None and w > 0:
            num += w * value
            den += w
    return round(num / den, 2) if den > 0 else None


def appraise(inputs: Iterable[AppraisalInput], cfg: AppraisalConfig) -> list[Appraisal]:
    """Every input appraised, grouped by tier (tier name order), best first within it."""
    scored: dict[str, list[tuple[AppraisalInput, dict[str, float | None], float | None]]] = {}
    for inp in inputs:
        parts = components(inp, cfg.aht_target_s)
        score = weighted(parts, cfg.weights_for(inp.tier))
        scored.setdefault(inp.tier or "", []).append((inp, parts, score))
    out: list[Appraisal] = []
    for tier in sorted(scored):
        rows = scored[tier]
        ranked = sorted(((s, i.agent_id) for i, _, s in rows
                         if s is not None and i.handled >= cfg.min_handled),
                        key=lambda r: (-r[0], r[1]))
        rank_of: dict[str, int] = {}
        for pos, (score, agent) in enumerate(ranked):
            prev = ranked[pos - 1] if pos else None
            rank_of[agent] = rank_of[prev[1]] if prev and prev[0] == score else pos + 1
        order = {agent: pos for pos, (_, agent) in enumerate(ranked)}
        rows.sort(key=lambda r: (order.get(r[0].agent_id, len(order)), r[0].agent_id))
        out += [Appraisal(i.agent_id, i.tier, MappingProxyType(p), s, rank_of.get(i.agent_id),
                          len(ranked)) for i, p, s in rows]
    return out
