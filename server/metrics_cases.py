"""Prometheus gauges for service cases (工单): open cases by type, grade and status, and
the overdue ones.

The counts live in Redis (``CaseService.counts()``, a Deferred), but a collector's
``collect`` is synchronous and runs in the reactor thread.  So ``CaseCollector``
serves the last counts it read and, at each scrape, starts the next read (one at a
time): what Prometheus sees is at most one scrape interval old, and
``hotline_cases_counts_age_seconds`` says exactly how old.  Redis is never scanned:
``counts()`` is one SINTERCARD per name.  A failed read keeps the last figures and
sets ``hotline_cases_counts_up`` to 0, so an outage is an alert of its own rather
than a drop to zero open cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from twisted.internet import defer
from twisted.logger import Logger

__all__ = ["CaseCollector"]

_BY = (("type", "type", "Open service cases by type"),
       ("grade", "grade", "Open complaint and report cases by grade"),
       ("state", "status", "Open service cases by status"))


class CaseCollector(Collector):
    """:param counts: fires with ``CaseService.counts()``'s dict ({"open", "overdue",
        "state", "type", "grade"}); the composition root passes ``service.counts``.
    :param clock: the injected clock (``seconds()``), for the age of the figures."""

    log = Logger()

    def __init__(self, counts: Callable[[], defer.Deferred], clock: Any) -> None:
        self._counts, self._clock = counts, clock
        self._last: dict[str, Any] | None = None
        self._read_at: float | None = None
        self._up = False
        self._reading: defer.Deferred | None = None

    def refresh(self) -> defer.Deferred:
        """Read the counts now (or join the read under way).  Fires with None, never
        fails: a failure is logged and shows as ``hotline_cases_counts_up`` 0."""
        if self._reading is None:
            d = defer.maybeDeferred(self._counts)
            d.addCallbacks(self._got, self._failed)
            if d.called:  # answered at once (a stub, a cache): nothing is in flight
                return defer.succeed(None)
            d.addBoth(self._done)
            self._reading = d
        waiter: defer.Deferred = defer.Deferred()

        def release(result: Any) -> Any:
            waiter.callback(None)
            return result

        self._reading.addBoth(release)
        return waiter

    def _got(self, counts: dict[str, Any]) -> None:
        self._last, self._read_at, self._up = counts, self._clock.seconds(), True

    def _failed(self, failure) -> None:
        self._up = False
        self.log.warn("case counts for /metrics not read: {error}",
                      error=failure.getErrorMessage())

    def _done(self, _: Any) -> None:
        self._reading = None

    def collect(self) -> Iterable[Metric]:
        self.refresh()  # for the next scrape; this one serves what was read before
        last = self._last or {}
        yield GaugeMetricFamily("hotline_cases_counts_up",
                                "1 if the last read of the case counts from Redis succeeded",
                                value=1 if self._up else 0)
        age = GaugeMetricFamily("hotline_cases_counts_age_seconds",
                                "Seconds since the case figures below were read")
        if self._read_at is not None:
            age.add_metric([], max(0.0, self._clock.seconds() - self._read_at))
        yield age
        open_ = GaugeMetricFamily("hotline_cases_open", "Open service cases (not closed)")
        overdue = GaugeMetricFamily("hotline_cases_overdue",
                                    "Open service cases past their running time limit")
        if self._last is not None:
            open_.add_metric([], last.get("open", 0))
            overdue.add_metric([], last.get("overdue", 0))
        yield open_
        yield overdue
        for key, label, help_ in _BY:
            family = GaugeMetricFamily(f"hotline_cases_open_by_{label}", help_, labels=[label])
            for name, n in sorted((last.get(key) or {}).items()):
                family.add_metric([name], n)
            yield family
