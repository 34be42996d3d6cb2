"""Erlang C staffing (GUIDE §4): a guide, not a promise, during outage storms.

It assumes Poisson arrivals, exponential handling and callers who never hang up.
"""

from __future__ import annotations

import math

__all__ = ["agents_needed", "erlang_c", "service_level"]


def erlang_c(traffic: float, agents: int) -> float:
    """P(wait) for ``traffic`` erlangs (A = lambda * AHT) offered to ``agents`` (c).

    Uses the Erlang B recursion B(k) = A*B(k-1) / (k + A*B(k-1)) and
    C = c*B / (c - A*(1 - B)), which equals the factorial formula in GUIDE §4 but
    neither overflows for hundreds of agents nor loses precision.
    """
    if agents <= 0 or traffic >= agents:
        return 1.0
    if traffic <= 0:
        return 0.0
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return agents * b / (agents - traffic * (1.0 - b))


def service_level(rate_per_s: float, aht_s: float, agents: int, threshold_s: float) -> float:
    """Fraction answered within ``threshold_s``: 1 - P(wait) * e^(-(c-A) t / AHT)."""
    a = rate_per_s * aht_s
    if agents <= a:
        return 0.0
    return 1.0 - erlang_c(a, agents) * math.exp(-(agents - a) * threshold_s / aht_s)


def agents_needed(
    rate_per_s: float, aht_s: float, target: float, threshold_s: float, limit: int = 100_000
) -> int:
    """Smallest agent count whose Erlang C service level reaches ``target``."""
    if rate_per_s <= 0:
        return 0
    c = max(1, math.floor(rate_per_s * aht_s) + 1)
    while c < limit and service_level(rate_per_s, aht_s, c, threshold_s) < target:
        c += 1
    return c
