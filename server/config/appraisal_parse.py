"""``appraisal:`` in queues.yaml: the weights of the per-tier appraisal (queues/appraisal.py).

The section is optional (the defaults of ``AppraisalConfig`` apply); every key in it is
checked: components by name, weights finite and >= 0 with at least one above 0, tiers
known to agents.yaml.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from types import MappingProxyType

from queues.appraisal import COMPONENTS, DEFAULT_WEIGHTS, AppraisalConfig

from .section import Section, describe, suggest

__all__ = ["APPRAISAL_KEYS", "parse_appraisal"]

APPRAISAL_KEYS = ("aht_target_s", "min_handled", "weights", "tiers")


def _weights(sec: Section, key: str, raw: object) -> Mapping[str, float] | None:
    w = sec.child(key, raw)
    if w is None:
        return None
    out: dict[str, float] = {}
    for name, value in w.data.items():
        name = str(name)
        if name not in COMPONENTS:
            w.error(name, f"unknown component{suggest(name, COMPONENTS)}; known: "
                          f"{', '.join(COMPONENTS)}")
        elif (isinstance(value, bool) or not isinstance(value, (int, float))
              or not math.isfinite(value) or value < 0):
            w.error(name, f"weight must be a number >= 0, got {describe(value)}")
        else:
            out[name] = float(value)
    if len(out) == len(w.data) and not any(v > 0 for v in out.values()):
        sec.error(key, "needs at least one weight above 0")
        return None
    return MappingProxyType(out) if len(out) == len(w.data) else None


def parse_appraisal(top: Section, tiers: Collection[str],
                    aht_target_s: float = 300.0) -> AppraisalConfig:
    """The appraisal weights; problems go to ``top``'s collector (defaults stand in).
    ``aht_target_s``: the default AHT target (server.yaml ``reports.targets.aht_s``)."""
    sec = top.sub("appraisal", APPRAISAL_KEYS, required=False)
    target = sec.number("aht_target_s", float, aht_target_s, lo=10, hi=3600)
    min_handled = sec.number("min_handled", int, 1, lo=0, hi=100_000)
    weights = DEFAULT_WEIGHTS
    if "weights" in sec.data:
        weights = _weights(sec, "weights", sec.data["weights"]) or DEFAULT_WEIGHTS
    per_tier: dict[str, Mapping[str, float]] = {}
    for tier, raw in sec.items("tiers", required=False):
        if tier not in tiers:
            sec.error(f"tiers.{tier}", f"unknown tier '{tier}'{suggest(tier, tiers)} "
                                       f"(known: {', '.join(tiers)})")
            continue
        parsed = _weights(sec, f"tiers.{tier}", raw)
        if parsed is not None:
            per_tier[tier] = parsed
    return AppraisalConfig(target or aht_target_s, 1 if min_handled is None else min_handled,
                           weights, MappingProxyType(per_tier))
