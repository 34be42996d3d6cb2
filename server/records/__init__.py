"""Call records: the pure value and timeline (model, durations), the Redis store with
its local spool, and the export/retention commands.

``model`` and ``durations`` import nothing from Twisted or Redis, so the adapter, the
KPI code and the exporter share one definition of every duration.
"""

from server.records.durations import Durations, compute_durations
from server.records.model import CallRecord, CallRecorder, TimelineEvent

__all__ = ["CallRecord", "CallRecorder", "Durations", "TimelineEvent", "compute_durations"]
