"""What the parts of the call adapter share, handed to each part at construction.

``CallCenter`` (server/call/center.py) builds one ``CallDeps`` from what the
composition root injects, then the parts in dependency order: ``Lifecycle``,
``Inbound``, ``Connector``, ``Reconciler``, ``Restorer``.  Each part receives the
parts it calls; the two calls against that order (the lifecycle says goodbye
through the inbound side, the inbound side asks the connector how an unseen Dial
ended) go through ``CallOps``, which ``CallCenter`` implements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from twisted.logger import Logger

from ivr.hours import closed_redirect, opener
from ivr.outage import OutageBoard
from queues.router import Router
from server.agi import AgiDriver, AgiSession
from server.call.livestate import LiveStateWriter
from server.call.table import Call, CallTable
from server.config import Config
from server.notify import Notifier

__all__ = ["COUNTERS", "CallDeps", "CallOps", "Part", "SyncState"]

#: CallCenter.counters keys (server/metrics.py exports them)
COUNTERS = ("ivr_entered", "ivr_finished", "ivr_deflected", "ivr_self_service",
            "ivr_fell_back", "ivr_hangup", "records_written", "calls_ended",
            "safety_fallbacks", "unseen_calls")


@dataclass
class SyncState:
    """Between a link loss (or a restore) and the reconcile, offers wait for it."""

    syncing: bool = False
    #: the calls offered during a reconcile (the older channel list must not undo them)
    offered_now: set[str] | None = None


@dataclass
class CallDeps:
    """The collaborators every part uses.  ``cfg`` is the one field that changes:
    ``PATCH /api/queues`` replaces the ACD configuration (server/web/api.py)."""

    clock: Any  # seconds() and callLater: the reactor, or task.Clock
    cfg: Config
    ami: Any  # the AmiService: sendAction, connected
    agi: AgiDriver
    acd: Router
    table: CallTable
    livestate: LiveStateWriter
    notifier: Notifier
    outages: OutageBoard
    bills: Any  # lookup(account) -> Deferred[BillInfo | None]
    save: Callable[[dict[str, Any]], object]  # persists a record (DurableRecords.put)
    ring_timeout_s: int = 20
    hold_chunk_s: int = 20
    sync: SyncState = field(default_factory=SyncState)
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    #: dialplan contexts whose AsyncAGI callers are hotline calls (for adoption)
    entry_contexts: frozenset[str] = frozenset({"hotline", "acd-connect"})
    #: ``case_owner(account=, phone=) -> Deferred[(case id, owner) | None]``: the
    #: caller's open case and its owner (``CaseService.open_case_owner``); None: no cases
    case_owner: Callable[..., Any] | None = None


class CallOps(Protocol):
    """The calls a part makes against the construction order (see the module doc)."""

    def farewell(self, call: Call) -> None: ...
    def run(self, call: Call, outputs: list[Any]) -> None: ...
    def ask_dial(self, call: Call, session: AgiSession) -> None: ...


class Part:
    """A part of the adapter: the shared collaborators as attributes (``cfg`` read
    through, so a replaced configuration reaches every part at once)."""

    log = Logger()

    def __init__(self, deps: CallDeps) -> None:
        self.deps = deps
        self.clock = deps.clock
        self.ami = deps.ami
        self.agi = deps.agi
        self.acd = deps.acd
        self.table = deps.table
        self.livestate = deps.livestate
        self.notifier = deps.notifier
        self.outages = deps.outages
        self.counters = deps.counters
        self.sync = deps.sync
        agents = deps.cfg.acd.agents.values()
        self.agent_by_iface: dict[str, str] = {a.interface: a.id for a in agents}
        self.is_open = opener(deps.cfg.acd.queues)
        self.closed_queue = closed_redirect(deps.cfg.acd.queues)

    @property
    def cfg(self) -> Config:
        return self.deps.cfg
