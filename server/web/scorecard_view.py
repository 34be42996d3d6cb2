"""The shape of ``GET /api/scorecards``: agent or team cards, QA, appraisal and tier ranking.

Pure: the cards come from ``server.records.scorecards`` (fed by the review API),
tiers and teams from agents.yaml, the weights from ``appraisal:`` in queues.yaml,
the appraisal itself from ``queues.appraisal``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from queues.appraisal import AppraisalConfig, AppraisalInput, appraise
from queues.model import AcdConfig
from server.records.scorecards import AgentScorecard

BY = ("agent", "team")


def team_map(acd: AcdConfig, tier: str | None) -> dict[str, str]:
    """agent id -> team id, for the agents of ``tier`` only when one is given."""
    return {m: t.id for t in acd.teams for m in t.members
            if tier is None or (m in acd.agents and acd.agents[m].tier == tier)}


def _input(card: AgentScorecard, tier: str | None) -> AppraisalInput:
    return AppraisalInput(card.agent_id, tier, card.handled, card.offers, card.missed_offers,
                          card.qa_score, card.satisfaction_rate, card.aht_s)


def shape_scorecards(agent_cards: Mapping[str, AgentScorecard],
                     team_cards: Mapping[str, AgentScorecard] | None, acd: AcdConfig,
                     appraisal: AppraisalConfig, *, tier: str | None = None,
                     agent: str | None = None) -> dict[str, Any]:
    """``agents`` (each card with name, tier, team and its ``appraisal``), ``tiers``
    (the ranking within each tier) and, when ``team_cards`` is given, ``teams`` (each
    team's card with its name and lead)."""
    def tier_of(agent_id: str) -> str | None:
        a = acd.agents.get(agent_id)
        return a.tier if a is not None else None

    cards = {k: c for k, c in agent_cards.items()
             if (tier is None or tier_of(k) == tier) and (agent is None or k == agent)}
    # The ranking covers the whole tier even when one agent's card is asked for.
    pool = {k: c for k, c in agent_cards.items() if tier is None or tier_of(k) == tier}
    if agent is not None:
        pool = {k: c for k, c in pool.items() if tier_of(k) == tier_of(agent)}
    judged = {a.agent_id: a for a in appraise((_input(c, tier_of(k)) for k, c in pool.items()),
                                              appraisal)}
    agents = []
    for k, c in cards.items():
        a, known, team = judged[k], acd.agents.get(k), acd.team_of(k)
        agents.append({**asdict(c), "name": known.name if known else None,
                       "tier": tier_of(k), "team": team.id if team else None,
                       "appraisal": {"components": dict(a.components), "score": a.score,
                                     "rank": a.rank, "ranked_in_tier": a.ranked_in_tier}})
    ranking: dict[str, list[dict[str, Any]]] = {}
    for a in judged.values():
        known = acd.agents.get(a.agent_id)
        ranking.setdefault(a.tier or "", []).append(
            {"agent_id": a.agent_id, "name": known.name if known else None,
             "score": a.score, "rank": a.rank})
    order = {t.name: t.rank for t in acd.tiers}
    out: dict[str, Any] = {
        "agents": agents,
        "tiers": [{"tier": t or None, "ranking": rows}
                  for t, rows in sorted(ranking.items(), key=lambda r: order.get(r[0], -1))],
        "weights": {"default": dict(appraisal.weights),
                    **{t: dict(w) for t, w in appraisal.tiers.items()}},
        "aht_target_s": appraisal.aht_target_s, "min_handled": appraisal.min_handled,
        "tier_names": [t.name for t in acd.tiers],  # agents.yaml's, junior first
    }
    if team_cards is not None:
        teams = {t.id: t for t in acd.teams}
        out["teams"] = []
        for k, c in team_cards.items():
            t = teams.get(k)
            lead = acd.agents.get(t.lead) if t is not None else None
            out["teams"].append({**asdict(c), "team": k, "name": t.name if t else None,
                                 "lead": t.lead if t else None,
                                 "lead_name": lead.name if lead else None})
    return out
