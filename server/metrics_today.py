"""Prometheus gauges of today's centre-wide figures, read at scrape time from
``server.today.TodayFigures`` (the records in Redis plus what the notifier published
since; the same numbers as the wallboard's headline).

Rates are 0..1; a rate with an empty denominator (no calls yet today) is left out
rather than exported as NaN, so alert rules see no series instead of a false alarm.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["TodayCollector"]

# (metric suffix, headline key, help)
_COUNTS = (
    ("offered", "offered", "Inbound calls offered to agents today (local day)"),
    ("answered", "answered", "Inbound calls answered by an agent today"),
)
_RATES = (
    ("connection_rate", "connection_rate",
     "一拨就通 today: (answered + self-service) / callers who wanted service"),
    ("service_level", "service_level",
     "Service level today: answered within T / (answered + abandons after the short threshold)"),
    ("abandon_rate", "abandon_rate", "Abandoned / offered today"),
    ("satisfaction_rate", "satisfaction_rate",
     "Satisfaction today: (satisfied + fairly satisfied) / rated"),
)
_TARGETS = (
    ("connection_rate", "connection_rate_target"), ("service_level", "service_level_target"),
    ("abandon_rate", "abandon_rate_target"), ("satisfaction_rate", "satisfaction_rate_target"),
)


class TodayCollector(Collector):
    """:param today: the ``TodayFigures`` the composition root built."""

    def __init__(self, today: Any) -> None:
        self.today = today

    def collect(self) -> Iterable[Metric]:
        h = self.today.headline()
        yield GaugeMetricFamily(
            "hotline_today_figures_up",
            "1 when today's figures were read from Redis in full (0: loading or Redis "
            "unavailable; the figures then count only what was published since)",
            value=1.0 if h["state"] == "ok" else 0.0)
        for suffix, key, help_ in _COUNTS:
            yield GaugeMetricFamily(f"hotline_today_{suffix}", help_, value=float(h[key]))
        for suffix, key, help_ in _RATES:
            g = GaugeMetricFamily(f"hotline_today_{suffix}", help_)
            if h[key] is not None:
                g.add_metric([], float(h[key]))
            yield g
        target = GaugeMetricFamily("hotline_today_target",
                                   "Targets of today's figures (server.yaml reports.targets)",
                                   labels=["figure"])
        for figure, key in _TARGETS:
            target.add_metric([figure], float(h[key]))
        yield target
