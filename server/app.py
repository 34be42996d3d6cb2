"""The composition root: the one place that builds the object graph.

Everything long-lived hangs under one ``MultiService``; nothing registers
itself in a module global, and no part is handed its collaborators later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from redis.exceptions import (
    AuthenticationError,
    AuthenticationWrongNumberOfArgsError,
    NoPermissionError,
)
from twisted.application.service import MultiService, Service
from twisted.internet import defer
from twisted.internet.endpoints import clientFromString
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.logger import Logger

from ivr.outage import OutageBoard
from server.ami.router import EventRouter
from server.ami.service import AmiOptions, AmiService
from server.bills import make_bill_lookup
from server.case_flow import CaseFlow
from server.cases.service import CaseService
from server.cases.store import CaseStore
from server.config import Config
from server.notify import Notifier
from server.records.spool import DurableRecords
from server.records.store import RecordStore
from server.reports.agentlog import AgentLogStore, AgentStateLog
from server.return_visits import ReturnVisits
from server.safety import SafetyNet
from server.today import TodayFigures
from server.web.throttle import LoginThrottle
from server.wiring import build_call_side


@dataclass(frozen=True)
class RedisAuth:
    """The ACL user the server logs in to Redis as (None, None: no AUTH)."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Overrides:
    """What the demo and the tests change from the config files."""

    ami_endpoint: str | None = None
    redis_url: str | None = None
    spool_dir: str | None = None  # the records' spool; the cases' goes into its "cases"


class _RecordsService(Service):
    """Starts the durable writer (replaying a spool left by an earlier run) and stops it."""

    def __init__(self, records: DurableRecords,
                 store: RecordStore | CaseStore | AgentLogStore) -> None:
        self.records = records
        self.store = store

    def startService(self) -> None:
        super().startService()
        self.records.start()

    @defer.inlineCallbacks
    def stopService(self):
        super().stopService()
        self.records.stop()
        yield self.store.close()


class _StoreLiveState:
    """The adapter's ``LiveState`` on the record store's ``hotline:live:*`` hashes."""

    def __init__(self, store: RecordStore) -> None:
        self._store = store

    def put(self, kind: str, id: str, state: dict) -> defer.Deferred:
        return self._store.put_live_state(kind, id, state)

    def delete(self, kind: str, id: str) -> defer.Deferred:
        return self._store.delete_live_state(kind, id)


class _TodayService(Service):
    """Reads today's figures from Redis at start (retrying while it is down) and at
    each local midnight; stops its timers with the server."""

    def __init__(self, today: TodayFigures) -> None:
        self.today = today

    def startService(self) -> None:
        super().startService()
        self.today.start()

    def stopService(self):
        super().stopService()
        self.today.stop()


class _StartUp(Service):
    """Loads the live state a previous run left in Redis, then brings the AMI link up.

    The order matters: the first resync after login must find the restored calls
    and the router's places, or it would take every caller for a stranger.
    If Redis is down the server still starts, with nothing restored (logged).
    """

    log = Logger()

    def __init__(self, hotline: Hotline) -> None:
        self.hotline = hotline
        self.restored: defer.Deferred | None = None

    def startService(self) -> None:
        super().startService()
        self.restored = self._restore()

    @defer.inlineCallbacks
    def _restore(self):
        h = self.hotline
        try:
            live = yield h.store.load_live_state()
            records = yield h.store.load_live_calls()
            n = h.calls.restore(live, records)
        except (AuthenticationError, AuthenticationWrongNumberOfArgsError,
                NoPermissionError) as exc:
            who = h.cfg.server.redis.username or "default"
            self.log.error("Redis refused user {who}: {e}. Check redis.username and "
                           "password_env/password_file in server.yaml against the ACL in "
                           "deploy/redis; records are spooled until it accepts us; "
                           "starting empty", who=who, e=exc)
            n = 0
        except Exception as exc:
            self.log.error("Could not load live state from Redis: {e}; starting empty", e=exc)
            n = 0
        if self.running:
            # Cases resolved or due a return visit whose follow-up the snapshot lacks.
            h.visits.reconcile()
            h.ami.startService()
            h.safety.start()
        return n

    @defer.inlineCallbacks
    def stopService(self):
        super().stopService()
        self.hotline.safety.stop()
        self.hotline.calls.stop()
        if self.hotline.ami.running:
            yield self.hotline.ami.stopService()


class Hotline:
    """The running server: AMI link, records, and the call handling on top."""

    def __init__(self, reactor, cfg: Config, ami_endpoint: IStreamClientEndpoint,
                 ami_options: AmiOptions, redis_url: str, spool_dir: str, *,
                 redis_auth: RedisAuth = RedisAuth(), case_spool_dir: str | None = None) -> None:
        self.reactor = reactor
        self.cfg = cfg
        self.services = MultiService()
        self.events = EventRouter()
        self.notifier = Notifier()
        self.ami = AmiService(reactor, ami_endpoint, ami_options, self.events)
        Path(spool_dir).mkdir(parents=True, exist_ok=True)
        self.store = RecordStore.from_url(redis_url, username=redis_auth.username,
                                          password=redis_auth.password)
        self.records = DurableRecords(self.store, Path(spool_dir) / "spool.jsonl", reactor)
        _RecordsService(self.records, self.store).setServiceParent(self.services)
        # Service cases (工单): their own store and spool beside the records', the same
        # no-loss rules; CaseFlow feeds them from final call records and ticks.
        case_spool = Path(case_spool_dir or Path(spool_dir) / "cases")
        case_spool.mkdir(parents=True, exist_ok=True)
        self.case_store = CaseStore.from_url(redis_url, username=redis_auth.username,
                                             password=redis_auth.password)
        self.case_writer = DurableRecords(self.case_store, case_spool / "spool.jsonl", reactor)
        _RecordsService(self.case_writer, self.case_store).setServiceParent(self.services)
        self.cases = CaseService(self.case_store, self.case_writer, cfg.cases, reactor,
                                 publish=self.notifier.publish)
        # The agent-state log (server/reports/agentlog.py): every agent state change,
        # durable like the records, so the reports can compute occupancy.
        agent_spool = Path(spool_dir) / "agents"
        agent_spool.mkdir(parents=True, exist_ok=True)
        self.agent_log_store = AgentLogStore.from_url(redis_url, username=redis_auth.username,
                                                      password=redis_auth.password)
        self.agent_log = DurableRecords(self.agent_log_store, agent_spool / "spool.jsonl",
                                        reactor)
        _RecordsService(self.agent_log, self.agent_log_store).setServiceParent(self.services)
        self.notifier.subscribe(AgentStateLog(self.agent_log.put).on_publish)
        CaseFlow(reactor, self.cases, self.notifier).setServiceParent(self.services)
        # Today's figures (wallboard, desk, /metrics) from the records in Redis, then
        # every final record published: a restart does not zero them.
        self.today = TodayFigures(reactor, cfg, self.store.client, case_counts=self.cases.counts)
        self.notifier.subscribe(self.today.on_publish)
        _TodayService(self.today).setServiceParent(self.services)
        self.outages = OutageBoard()
        # One sign-in throttle for the desk's sign-in and the phones' *11: an agent's
        # PIN is one secret, however it is guessed.
        self.login_throttle = LoginThrottle(reactor)
        # The calls with the ACD router, the AGI driver, the callback placer, the
        # feature codes and the resync, each handed what it needs; the one AMI
        # subscription table is in server/wiring.py.
        side = build_call_side(
            reactor, cfg, self.ami, save=self.records.put,
            bills=make_bill_lookup(reactor, cfg.ivr.bill_lookup, cfg.acd.policy.timezone),
            notifier=self.notifier, live=_StoreLiveState(self.store), outages=self.outages,
            case_owner=self.cases.open_case_owner, login_throttle=self.login_throttle)
        self.calls, self.features, self.resync = side.calls, side.features, side.resync
        self.outbound = side.outbound
        # 回访: a resolved case's return visit is a follow-up in the router (with the
        # case id); each attempt's end goes back to the case.
        self.visits = ReturnVisits(self.cases, self.calls, self.notifier,
                                   queue=cfg.cases.visit_queue)
        self.visits.setServiceParent(self.services)
        # Started after the records writer, and it starts the AMI link itself once
        # the live state is loaded (see _StartUp).
        self.startup = _StartUp(self)
        self.startup.setServiceParent(self.services)
        # Keeps the dialplan's fallback away from callers while we are alive.
        self.safety = SafetyNet(reactor, self.ami, self.calls.driven_channels,
                                cfg.server.ami.watchdog_s)

    @classmethod
    def from_config(cls, reactor, cfg: Config, secret: str,
                    overrides: Overrides = Overrides(), *,
                    redis_password: str | None = None) -> Hotline:
        """``redis_password``: read by the caller (``cfg.server.redis.password``); it and
        ``redis.username`` apply to the configured Redis, not to an override URL."""
        a = cfg.server.ami
        options = AmiOptions(
            username=a.username,
            secret=secret,
            keepalive_interval=a.keepalive_interval_s,
            keepalive_timeout=a.keepalive_timeout_s,
            action_timeout=a.action_timeout_s,
            backoff_initial=a.reconnect_initial_s,
            backoff_max=a.reconnect_max_s,
        )
        endpoint = clientFromString(reactor, overrides.ami_endpoint or a.endpoint)
        r = cfg.server.redis
        auth = RedisAuth() if overrides.redis_url else RedisAuth(r.username, redis_password)
        return cls(reactor, cfg, endpoint, options,
                   redis_url=overrides.redis_url or r.url,
                   spool_dir=overrides.spool_dir or cfg.server.records.spool, redis_auth=auth,
                   case_spool_dir=None if overrides.spool_dir else cfg.cases.spool)

    def start_metrics(self):
        """Build the Prometheus metrics and serve /metrics on ``cfg.server.metrics.listen``.

        The listener is a child of ``self.services``: it starts with them (at once if
        they already run) and stops with them.  Returns the ``HotlineMetrics``.
        """
        from prometheus_client import CollectorRegistry

        from server.metrics import HotlineMetrics
        from server.metrics_http import metrics_service

        registry = CollectorRegistry()
        metrics = HotlineMetrics(registry, calls=self.calls, events=self.events, ami=self.ami,
                                 records=self.records, case_counts=self.cases.counts,
                                 clock=self.reactor, today=self.today)
        metrics_service(self.reactor, self.cfg.server.metrics.listen,
                        registry).setServiceParent(self.services)
        return metrics

    def http_site(self, listen: str | None = None):
        """Build the HTTP side (server/web) and hang its listener under ``services``.

        Returns the ``server.web.Web`` (its ``site`` is the twisted.web Site).
        """
        from twisted.application import strports

        from server.web import build_web

        # The review API reads records with the store's own redis.asyncio client.
        web = build_web(self.cfg, self.calls, self.notifier, self.reactor,
                        redis_client=self.store.client, put_record=self.records.put,
                        cases=self.cases, today=self.today, throttle=self.login_throttle)
        strports.service(listen or self.cfg.server.http.listen, web.site).setServiceParent(
            self.services)
        return web
