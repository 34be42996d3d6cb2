"""Prometheus metrics: live state read at scrape time, plus what only events can tell.

Three sources, one registry (passed in; never the process-global default):

* ``LiveCollector`` reads the running objects when Prometheus scrapes: the ACD's
  KPI counters and waiting calls (``queues.stats`` computes them, once), agents by
  state, the AMI link, AMI events by type, the IVR counters and the spool backlog.
  Nothing is copied, so nothing can drift from what the wallboard shows.
* Duration histograms are observed from each final call record (the Notifier's
  ``record`` topic), with ``compute_durations``, the one place durations come from.
* Routing latency is timed around the adapter's calls into the ACD router; see
  ``time_router_inputs`` for what that does and does not cover.

Every collect runs in the reactor thread (server/metrics_http.py serves it
synchronously), so reading the live dicts never races the code that changes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from queues.agents import AgentState
from server.metrics_cases import CaseCollector
from server.metrics_today import TodayCollector
from server.records.durations import compute_durations
from server.records.model import CallRecord

__all__ = ["HotlineMetrics", "LiveCollector", "RecordHistograms", "time_router_inputs"]

WAIT_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200)
RING_BUCKETS = (1, 2, 3, 5, 8, 10, 15, 20, 30, 60)
TALK_BUCKETS = (15, 30, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 3600)
HOLD_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200)
ROUTING_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 1.0)

# The ACD inputs the adapter, the desk and the outbound placer call.  Each one runs
# the router's dispatch pass before it returns, so its duration is the time to
# reach (and hand out) the routing decisions that input made possible.
ROUTER_INPUTS = (
    "enqueue", "abandon", "offer_result", "call_ended", "request_callback", "hold",
    "device_state", "login", "logout", "pause", "unpause", "toggle_pause", "end_wrap_up",
    "extend_wrap_up", "add_follow_up", "cancel_item",
)

# (metric suffix, QueueKpis field, help)
_QUEUE_COUNTERS = (
    ("calls_offered", "offered", "Inbound calls offered to the queue (overflows in count too)"),
    ("calls_answered", "answered", "Inbound calls answered by an agent"),
    ("calls_abandoned", "abandoned", "Callers who hung up while waiting (short ones included)"),
    ("calls_short_abandoned", "short_abandoned",
     "Abandons within the short-abandon time; excluded from the SL denominator"),
    ("calls_overflowed", "overflowed", "Calls that left the queue by overflow or max wait"),
    ("callbacks", "callbacks", "Waiting callers who chose a callback"),
    ("calls_handled", "handled", "Items whose after-call work ended (the AHT denominator)"),
)

# CallCenter.counters key -> (metric name without _total, help)
_IVR_COUNTERS = {
    "ivr_entered": ("hotline_ivr_entered", "Calls that entered the IVR"),
    "ivr_finished": ("hotline_ivr_finished", "IVR sessions that ended in a queue"),
    "ivr_deflected": ("hotline_ivr_deflected", "Callers deflected by an outage notice"),
    "ivr_self_service": ("hotline_ivr_self_service", "Callers served by self-service"),
    "ivr_fell_back": ("hotline_ivr_fell_back",
                      "IVR sessions sent to the fallback queue (bad keys, timeouts)"),
    "ivr_hangup": ("hotline_ivr_hangups", "Callers who hung up in the IVR"),
    "calls_ended": ("hotline_calls_ended", "Calls whose final record was made"),
    "records_written": ("hotline_records_written", "Final records accepted by the store"),
    "safety_fallbacks": ("hotline_safety_net_fallbacks",
                         "Callers the dialplan's safety net took to the plain Asterisk queue "
                         "(server down or silent, AGI failure)"),
    "unseen_calls": ("hotline_unseen_calls",
                     "Callers who came and went while the server had no AMI session"),
}


class LiveCollector(Collector):
    """Gauges and counters computed from live objects at scrape time.

    :param calls: the ``CallCenter`` (``.acd``, ``.counters``, ``.cfg``).
    :param events: the AMI ``EventRouter`` (``.counts``).
    :param ami: anything with ``.connected`` and ``.reconnects`` (the ``AmiService``);
        None leaves the AMI link metrics out.
    :param records: anything with ``.backlog`` (``DurableRecords``); None leaves it out.
    """

    def __init__(self, calls: Any, events: Any, ami: Any = None, records: Any = None) -> None:
        self.calls = calls
        self.events = events
        self.ami = ami
        self.records = records

    def collect(self) -> Iterable[Metric]:
        yield from self._queues()
        yield self._agents()
        yield from self._counters()
        events = CounterMetricFamily("hotline_ami_events", "AMI events received, by type",
                                     labels=["event"])
        for name, n in sorted(self.events.counts.items()):
            events.add_metric([name], n)
        yield events
        if self.ami is not None:
            yield GaugeMetricFamily("hotline_ami_connected",
                                    "1 while the AMI link is logged in, else 0",
                                    value=1 if self.ami.connected else 0)
            yield CounterMetricFamily("hotline_ami_reconnects",
                                      "AMI connections made after the first",
                                      value=self.ami.reconnects)
        if self.records is not None:
            yield GaugeMetricFamily("hotline_records_spool_backlog",
                                    "Records spooled on disk waiting for Redis",
                                    value=self.records.backlog)

    def _queues(self) -> Iterable[Metric]:
        acd = self.calls.acd
        names = sorted(acd.config.queues)
        counters = {s: CounterMetricFamily(f"hotline_queue_{s}", h, labels=["queue"])
                    for s, _, h in _QUEUE_COUNTERS}
        within = CounterMetricFamily(
            "hotline_queue_calls_answered_within_threshold",
            "Calls answered within the queue's service-level threshold", labels=["queue"])
        waiting = GaugeMetricFamily("hotline_queue_waiting_calls",
                                    "Inbound calls waiting or ringing", labels=["queue"])
        oldest = GaugeMetricFamily("hotline_queue_oldest_wait_seconds",
                                   "Wait of the longest waiting call (0 when none)",
                                   labels=["queue"])
        sl = GaugeMetricFamily(
            "hotline_queue_service_level_ratio",
            "Service level since the ACD started counting, as queues.stats computes it "
            "(answered within T / (offered - short abandons)); absent until defined",
            labels=["queue"])
        threshold = GaugeMetricFamily("hotline_queue_service_level_threshold_seconds",
                                      "T in the service level", labels=["queue"])
        for q in names:
            k = acd.queue_kpis(q)
            for suffix, field, _ in _QUEUE_COUNTERS:
                counters[suffix].add_metric([q], getattr(k, field))
            within.add_metric([q], acd.stats.queues[q].answered_within)
            waiting.add_metric([q], k.waiting)
            oldest.add_metric([q], k.oldest_wait_s)
            if k.service_level is not None:
                sl.add_metric([q], k.service_level)
            threshold.add_metric([q], acd.config.queues[q].service_level.threshold_s)
        yield from counters.values()
        yield from (within, waiting, oldest, sl, threshold)

    def _agents(self) -> Metric:
        acd = self.calls.acd
        by_state = dict.fromkeys(AgentState, 0)
        for agent_id in acd.config.agents:
            by_state[acd.agent(agent_id).state] += 1
        family = GaugeMetricFamily("hotline_agents", "Configured agents by state",
                                   labels=["state"])
        for state, n in by_state.items():
            family.add_metric([str(state)], n)
        return family

    def _counters(self) -> Iterable[Metric]:
        counters = self.calls.counters
        for key, (name, help_) in _IVR_COUNTERS.items():
            yield CounterMetricFamily(name, help_, value=counters.get(key, 0))


class RecordHistograms:
    """Duration histograms observed once per final call record, labelled by its last queue.

    What is observed, so counts can be checked against the records:
    queue wait for every record that entered a queue; ring for every record with at
    least one offer; talk, hold and handling for every record with outcome answered.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        def hist(name: str, help_: str, buckets: tuple) -> Histogram:
            return Histogram(name, help_, ["queue"], registry=registry, buckets=buckets)

        self.queue_wait = hist("hotline_call_queue_wait_seconds",
                               "Enqueue to answer, abandon or callback (ringing included)",
                               WAIT_BUCKETS)
        self.ring = hist("hotline_call_ring_seconds", "Ringing time summed over a call's offers",
                         RING_BUCKETS)
        self.talk = hist("hotline_call_talk_seconds", "Answered to bridge end, minus hold",
                         TALK_BUCKETS)
        self.hold = hist("hotline_call_hold_seconds", "Hold time of an answered call",
                         HOLD_BUCKETS)
        self.handling = hist("hotline_call_handling_seconds",
                             "Talk + hold + after-call work (the AHT numerator)", TALK_BUCKETS)

    def on_publish(self, topic: str, payload: dict[str, Any]) -> None:
        """A ``Notifier`` listener: acts on the ``record`` topic only."""
        if topic == "record":
            self.observe(CallRecord.from_dict(payload))

    def observe(self, record: CallRecord) -> None:
        d = compute_durations(record.timeline)
        queue = record.queues[-1] if record.queues else ""
        if any(e.kind == "enqueued" for e in record.timeline):
            self.queue_wait.labels(queue).observe(d.queue_wait_s)
        if d.offers:
            self.ring.labels(queue).observe(d.ring_s)
        if record.outcome == "answered":
            self.talk.labels(queue).observe(d.talk_s)
            self.hold.labels(queue).observe(d.hold_s)
            self.handling.labels(queue).observe(d.handling_s)


def time_router_inputs(router: Any, histogram: Histogram,
                       timer: Callable[[], float] = time.perf_counter) -> Callable[[], None]:
    """Time each call into ``router``'s input methods; returns a function that undoes it.

    Wraps the methods on this one instance (``queues/router.py`` is untouched), so the
    figure is wall time of one input: its dispatch pass, and the adapter's synchronous
    reaction to the outputs (offer publications, AMI writes).  Dispatch passes the
    router starts from its own timers (escalation steps, wrap-up timeouts) are not
    seen: timing those needs a hook inside the router.
    """
    wrapped = []
    for name in ROUTER_INPUTS:
        method = getattr(router, name, None)
        if method is None:
            continue
        child = histogram.labels(name)

        def timed(*args, _method=method, _child=child, **kwargs):
            start = timer()
            try:
                return _method(*args, **kwargs)
            finally:
                _child.observe(timer() - start)

        setattr(router, name, timed)
        wrapped.append(name)

    def undo() -> None:
        for name in wrapped:
            router.__dict__.pop(name, None)

    return undo


class HotlineMetrics:
    """All the hotline's metrics in ``registry``; ``close()`` detaches them again.

    :param calls: the ``CallCenter``; its ``notifier`` feeds the histograms and its
        ``acd`` router is timed.
    :param timer: the clock for routing latency (wall time, not the domain clock:
        it measures our own CPU, not the calls).
    :param case_counts: ``CaseService.counts`` (a callable firing with the counts), for
        the case gauges (server/metrics_cases.py); None leaves them out.
    :param clock: the injected clock the case figures' age is read from.
    :param today: ``server.today.TodayFigures``, for the ``hotline_today_*`` gauges
        (server/metrics_today.py); None leaves them out.
    """

    def __init__(self, registry: CollectorRegistry, *, calls: Any, events: Any,
                 ami: Any = None, records: Any = None,
                 timer: Callable[[], float] = time.perf_counter,
                 case_counts: Callable[[], Any] | None = None, clock: Any = None,
                 today: Any = None) -> None:
        self.registry = registry
        self.live = LiveCollector(calls, events, ami, records)
        registry.register(self.live)
        self.cases = CaseCollector(case_counts, clock) if case_counts is not None else None
        if self.cases is not None:
            registry.register(self.cases)
        if today is not None:
            registry.register(TodayCollector(today))
        self.histograms = RecordHistograms(registry)
        self.routing = Histogram(
            "hotline_routing_decision_seconds",
            "Wall time of one ACD input, including its dispatch pass and the offers it made",
            ["input"], registry=registry, buckets=ROUTING_BUCKETS)
        self._undo = (calls.notifier.subscribe(self.histograms.on_publish),
                      time_router_inputs(calls.acd, self.routing, timer))

    def close(self) -> None:
        for undo in self._undo:
            undo()
