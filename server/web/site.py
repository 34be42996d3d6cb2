"""The HTTP side's composition: the route table, sign-in handlers and the Site.

``build_web(...)`` is called by ``Hotline.http_site()`` (server/app.py); tests call
it with their own clock and collaborators.  Routes and who may use them:

=========================================  =========================================
public                                     POST /api/login
any signed-in role                         POST /api/logout, GET /api/me, GET /api/feed
agent (self only) or supervisor            agent state and current call, pending pause,
                                           wrap-up, disposition, stats; POST /api/followups
supervisor                                 snapshot, supervise, force, outages, queues,
                                           DELETE /api/followups/{id}, GET /api/audit,
                                           GET /api/reports (server/reports/api.py)
reviewer or supervisor                     records, recordings, QA
any signed-in role (agent: own cases)      GET /api/cases, GET /api/cases/{id}
agent (own cases) or supervisor            POST /api/cases, .../transition, .../visit
                                           (see server/web/cases_api.py; the agent on a
                                           case's return-visit call also reads it and
                                           posts its visit)
=========================================  =========================================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twisted.internet import threads
from twisted.web import server, static

from server.call.center import CallCenter
from server.config import Config
from server.reports.api import ReportsApi
from server.today import TodayFigures

from .api import QUEUE_PARAMS, DeskApi
from .audit import AuditLog
from .auth import COOKIE, Authenticator, Sessions, set_cookie, token_of
from .cases_api import AgentCalls, CasesApi, case_routes
from .feed import Feed, FeedLimits
from .http import ApiError, ApiRequest, Field, JsonResource, Route
from .live import LiveFigures
from .proxy import TrustedProxies
from .qa import load_qa_form
from .request import HardenedRequest
from .review import Review
from .throttle import LoginThrottle, ThrottlePolicy

STATIC_DIR = Path(__file__).parent / "static"
S, N, INT, B, L, D = (str,), (int, float), (int,), (bool,), (list,), (dict,)
AGENT_OR_SUP = frozenset({"agent", "supervisor"})
SUP = frozenset({"supervisor"})
REVIEW = frozenset({"reviewer", "supervisor"})
ANYONE = frozenset({"agent", "supervisor", "reviewer"})


@dataclass(frozen=True)
class WebOptions:
    idle_timeout_s: float = 8 * 3600.0
    max_session_s: float = 12 * 3600.0  # absolute lifetime, however busy
    throttle: ThrottlePolicy = ThrottlePolicy()
    feed: FeedLimits = FeedLimits()


@dataclass
class Web:
    """The built HTTP side: the Site plus the parts tests and the app poke at."""

    site: server.Site
    routes: list[Route]
    sessions: Sessions
    auth: Authenticator
    feed: Feed
    live: LiveFigures
    desk: DeskApi
    audit: AuditLog
    unsubscribe: Any


def build_web(cfg: Config, calls: CallCenter, notifier, clock, *, redis_client,
              put_record, options: WebOptions = WebOptions(), verify_in_thread=None,
              audit=None, cases=None, today: TodayFigures | None = None,
              throttle: LoginThrottle | None = None) -> Web:
    """Wire the HTTP side.  ``clock`` times sessions, rate limits and the SSE heartbeat;
    ``verify_in_thread`` defaults to ``threads.deferToThread``; ``audit`` (with
    ``record(who, action, target, detail)``) defaults to an ``AuditLog`` on Redis;
    ``cases`` is the CaseService (server/cases/service.py), or None: the case routes
    then answer 503 ``cases_disabled``; ``today`` is the root's ``TodayFigures`` (fed and
    started there), or None: one is built, subscribed and started here (the tests);
    ``throttle``: the root's sign-in throttle, shared with the phones' ``*11`` (None:
    one of the web's own, from ``options.throttle``)."""
    # Long on purpose: the whole route table in one place, so the roles read at once.
    sessions = Sessions(clock, options.idle_timeout_s, options.max_session_s)
    proxies = TrustedProxies(cfg.server.http.trusted_proxies)
    throttle = throttle if throttle is not None else LoginThrottle(clock, options.throttle)
    auth = Authenticator(cfg, sessions, throttle,
                         verify_in_thread or threads.deferToThread)
    live = LiveFigures(clock, cfg)
    audit = audit if audit is not None else AuditLog(redis_client, clock)
    own_today = today is None
    if today is None:
        today = TodayFigures(clock, cfg, redis_client,
                             case_counts=cases.counts if cases is not None else None)
    desk = DeskApi(calls, live, put_record, clock, audit=audit, today=today,
                   publish=notifier.publish)
    review = Review(redis_client, load_qa_form(cfg.directory), cfg.server.recordings.directory,
                    clock, max_lag_s=cfg.server.reports.max_record_lag_s,
                    slack_s=cfg.server.reports.clock_slack_s, acd=cfg.acd,
                    appraisal=cfg.appraisal)
    reports = ReportsApi(redis_client, cfg, clock)
    feed = Feed(notifier, clock, live, sessions, cfg.ivr, options.feed)
    unsubs = [notifier.subscribe(live.on_publish), notifier.subscribe(desk.on_publish)]
    if own_today:
        unsubs.append(notifier.subscribe(today.on_publish))
        today.start()
        unsubs.append(today.stop)

    def login(req: ApiRequest):
        b = req.body
        d = auth.login(b["username"], b["password"], proxies.client(req.request),
                       b.get("phone"))

        def done(session):
            # No Max-Age: the server times it out.
            set_cookie(req.request, session.token, None, secure=proxies.is_tls(req.request))
            out = session.public()
            out["idle_timeout_s"] = options.idle_timeout_s
            out["max_session_s"] = options.max_session_s
            if b.get("token"):
                out["token"] = session.token  # for API clients using Authorization: Bearer
            return out
        return d.addCallback(done)

    def logout(req: ApiRequest):
        token = token_of(req.request)
        if token:
            sessions.drop(token)
        req.request.addCookie(COOKIE, b"", path=b"/", httpOnly=True, sameSite="strict",
                              secure=proxies.is_tls(req.request), max_age=b"0")
        return {"signed_out": True}

    def me(req: ApiRequest):
        s = req.session
        out: dict[str, Any] = s.public()
        pol = calls.cfg.acd.policy
        out["pause_reasons"] = [{"code": c.code, "label": c.label,
                                 "limit_s": pol.pause_limits_s.get(c.code)}
                                for c in pol.pause_reasons]
        out["wrapup_default_s"] = pol.wrapup_default_s
        out["dispositions"] = [{"code": c.code, "label": c.label} for c in pol.dispositions]
        out["queues"] = sorted(calls.cfg.acd.queues)
        # The case forms' choices (cases.yaml); "cases" says whether the routes work.
        out["cases"] = cases is not None
        out["case_types"] = [{"type": str(t.type), "label": t.label,
                              "grades": [{"name": g.name, "label": g.label} for g in t.grades]}
                             for t in cfg.cases.types.values()]
        if s.role == "agent":
            agent = calls.cfg.acd.agents[s.subject]
            out["phone"] = agent.interface
            out["tier"] = agent.tier
        return out

    def audit_list(req: ApiRequest):
        raw = req.query.get("limit", "100")
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 1000:
            raise ApiError(400, "query 'limit' must be an integer 1-1000")

        def unavailable(f):
            raise ApiError(503, f"the audit trail cannot be read now: {f.getErrorMessage()}")
        return audit.recent(int(raw)).addCallbacks(lambda rows: {"entries": rows},
                                                   unavailable)

    routes = [
        Route("POST", "/api/login", login, None,
              body={"username": Field(S, True), "password": Field(S, True),
                    "phone": Field(S), "token": Field(B)}),
        Route("POST", "/api/logout", logout, ANYONE),
        Route("GET", "/api/me", me, ANYONE),
        Route("GET", "/api/feed", feed.handle, ANYONE),
        Route("POST", "/api/agents/{id}/state", desk.set_state, AGENT_OR_SUP, own_agent=True,
              body={"state": Field(S, True, ("ready", "paused", "logged_out")),
                    "reason": Field(S)}),
        Route("GET", "/api/agents/{id}", desk.current, AGENT_OR_SUP, own_agent=True),
        Route("DELETE", "/api/agents/{id}/pending-pause", desk.cancel_pending_pause,
              AGENT_OR_SUP, own_agent=True),
        Route("POST", "/api/agents/{id}/force", desk.force, SUP,
              body={"action": Field(S, True, ("pause", "ready", "logout")),
                    "reason": Field(S)}),
        Route("POST", "/api/agents/{id}/wrapup", desk.wrapup, AGENT_OR_SUP, own_agent=True,
              body={"action": Field(S, True, ("end", "extend")), "seconds": Field(N),
                    "call_id": Field(S)}),
        Route("POST", "/api/agents/{id}/disposition", desk.disposition, AGENT_OR_SUP,
              own_agent=True, body={"call_id": Field(S, True), "code": Field(S, True),
                                    "notes": Field(S)}),
        Route("GET", "/api/agents/{id}/stats", desk.stats, AGENT_OR_SUP, own_agent=True),
        Route("POST", "/api/followups", desk.followup, AGENT_OR_SUP,
              body={"queue": Field(S, True), "number": Field(S, True), "due_at": Field(N),
                    "note": Field(S)}),
        Route("DELETE", "/api/followups/{id}", desk.cancel_followup, SUP),
        Route("GET", "/api/snapshot", desk.snapshot, SUP),
        Route("POST", "/api/supervise", desk.supervise, SUP,
              body={"agent_id": Field(S, True),
                    "mode": Field(S, True, ("listen", "whisper", "barge")),
                    "phone": Field(S)}),  # refused with a clear 400 (see DeskApi.supervise)
        Route("GET", "/api/audit", audit_list, SUP),
        Route("GET", "/api/outages", desk.outages, SUP),
        Route("POST", "/api/outages", desk.add_outage, SUP,
              body={"id": Field(S, True), "start": Field(N, True), "restore": Field(N, True),
                    "area_codes": Field(L), "prefixes": Field(L), "text": Field(S)}),
        Route("DELETE", "/api/outages/{id}", desk.remove_outage, SUP),
        Route("PATCH", "/api/queues/{name}", desk.patch_queue, SUP,
              body={k: Field((int, type(None)) if k == "callback_offer_after_s" else INT)
                    for k in QUEUE_PARAMS}),
        Route("GET", "/api/records", review.list_records, REVIEW),
        Route("GET", "/api/records/{call_id}", review.get_record, REVIEW),
        Route("GET", "/api/records/{call_id}/qa", review.get_qa, REVIEW),
        Route("POST", "/api/records/{call_id}/qa", review.post_qa, REVIEW,
              body={"scores": Field(D, True), "comments": Field(S)}),
        Route("GET", "/api/recordings/{file}", review.recording, REVIEW),
        Route("GET", "/api/scorecards", review.scorecards, REVIEW),
        Route("GET", "/api/reports", reports.get, SUP),
        *case_routes(CasesApi(cases, cfg, clock, AgentCalls(calls, live)), readers=ANYONE,
                     writers=AGENT_OR_SUP),
    ]
    root = static.File(str(STATIC_DIR))
    root.putChild(b"api", JsonResource(routes, auth.session_for))
    site = server.Site(root, requestFactory=HardenedRequest)
    site.displayTracebacks = False

    def unsubscribe() -> None:
        for u in unsubs:
            u()
    return Web(site, routes, sessions, auth, feed, live, desk, audit, unsubscribe)
