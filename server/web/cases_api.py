"""The case (工单) HTTP API: thin handlers over ``CaseService`` (server/cases/service.py).

Routes (registered by ``build_web``; docs/openapi.yaml documents each):

================================  ==============================================================
GET  /api/cases                   filters status, type, grade, owner, overdue=true (no status:
                                  the open cases); an agent sees only their own cases (another
                                  ``owner`` is 403)
GET  /api/cases/{id}              an agent only their own case
POST /api/cases                   agent (owner: themselves) or supervisor (any owner); idempotent
                                  on the body's ``client_key``: a repeat answers 200 with the
                                  first case and ``created: false`` (a new case is 201)
POST /api/cases/{id}/transition   agent on their own case: accept, start, resolve, schedule_visit,
                                  note, link_call; supervisor also reassign, escalate, reopen
POST /api/cases/{id}/visit        the return-visit outcome: the owner agent or a supervisor
================================  ==============================================================

An agent on a case's return-visit call (a follow-up item carrying the case id, from the ring
until the wrap-up ends) may also read that case and record its visit outcome.  A ``call_id``
in an agent's POST /api/cases must be that agent's current or recent call (403
``not_your_call``, 409 ``unknown_call``).

Reviewers read (the two GETs) and change nothing.  Errors carry a stable ``code`` the pages
translate (server/web/static/common.js): ``bad_account``, ``bad_phone``, ``unknown_owner``,
``unknown_responsible``, ``not_your_case``, ``supervisor_only``, ``deadline_past``,
``deadline_too_late``, ``bad_filter``, ``case_invalid``, ``not_your_call`` (400/403);
``case_not_found`` (404); ``transition_not_allowed``, ``unknown_call`` (409);
``cases_disabled``, ``cases_unavailable``, ``case_ids_unavailable`` (503).
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from twisted.internet import defer

from cases.machine import CaseError, InvalidTransition
from cases.model import Case, CaseState, CaseType
from ivr.account import valid_account
from server.cases.service import CaseIdsUnavailable, CaseNotFound
from server.records.spool import REDIS_DOWN

from .http import ApiError, ApiRequest, Field, Route

__all__ = ["AGENT_INPUTS", "AgentCalls", "CasesApi", "case_routes"]

S, N, B = (str,), (int, float), (bool,)
_PHONE = re.compile(r"\+?[0-9]{3,20}")
# What an agent may do to their own case; reassign, escalate and reopen are the supervisor's.
AGENT_INPUTS = ("accept", "start", "resolve", "schedule_visit", "note", "link_call")
SUPERVISOR_INPUTS = ("reassign", "escalate", "reopen")
MAX_TEXT = 2000  # a summary or note; longer is a paste gone wrong


def case_json(case: Case, now: float) -> dict[str, Any]:
    out = case.to_dict()
    dl = case.deadline
    out["overdue"] = bool(dl is not None and case.is_open and dl.overdue(now))
    out["due_at"] = dl.due_at if dl is not None and case.is_open else None
    return out


class AgentCalls:
    """Which calls are an agent's: the router's current item (ringing, talking, wrap-up)
    and the adapter's live calls, then the recent final records (``LiveFigures``)."""

    def __init__(self, calls, live) -> None:
        self._calls, self._live = calls, live

    def owner_of(self, call_id: str) -> str | None:
        """The agent who took ``call_id``; "" if it had none; None if it is unknown here."""
        acd = self._calls.acd
        for agent_id in self._calls.cfg.acd.agents:
            if acd.agent(agent_id).item_id == call_id:
                return agent_id
        call = self._calls.calls.get(call_id)
        if call is not None:
            return call.agent_id or ""
        rec = self._live.record(call_id)
        return None if rec is None else (rec.agent_id or "")

    def visit_case(self, agent_id: str) -> str | None:
        """The case whose return-visit call the agent is ringing for, on or wrapping up."""
        acd = self._calls.acd
        item_id = acd.agent(agent_id).item_id
        item = acd.item(item_id) if item_id else None
        return item.case_id if item is not None else None


class CasesApi:
    """``service`` is a CaseService, or None when cases are not wired: every route then
    answers 503 ``cases_disabled``.  ``cfg`` gives the agents, desk users and the
    account-number rule (ivr.yaml ``account``); ``agent_calls`` (an ``AgentCalls``)
    says whose a call is."""

    def __init__(self, service, cfg, clock, agent_calls: AgentCalls) -> None:
        self._service, self._cfg, self._clock = service, cfg, clock
        self._agent_calls = agent_calls

    # -- checks -------------------------------------------------------------------------

    def _svc(self):
        if self._service is None:
            raise ApiError(503, "service cases are not enabled on this server",
                           code="cases_disabled")
        return self._service

    def _customer(self, account: str, phone: str) -> None:
        rule = self._cfg.ivr.account
        if account and not valid_account(account, rule):
            raise ApiError(400, f"account '{account[:40]}' is not a valid account number "
                           f"({rule.digits} digits, check digit {rule.check_digit})",
                           code="bad_account")
        if phone and not _PHONE.fullmatch(phone):
            raise ApiError(400, "phone must be 3-20 digits, optionally after '+'",
                           code="bad_phone")
        if not account and not phone:
            raise ApiError(400, "a case needs the customer's account number or phone",
                           code="case_invalid")

    def _people(self, owner: str | None, responsible: str | None) -> None:
        if owner is not None and owner not in self._cfg.acd.agents:
            raise ApiError(400, f"no agent '{owner[:40]}' to own the case", code="unknown_owner")
        if responsible is not None and responsible not in self._cfg.acd.agents and not any(
                u.name == responsible and u.role == "supervisor" for u in self._cfg.users):
            raise ApiError(400, f"no agent or supervisor '{responsible[:40]}' to be responsible",
                           code="unknown_responsible")

    @staticmethod
    def _text(body: dict[str, Any], name: str) -> str:
        value = body.get(name) or ""
        if len(value) > MAX_TEXT:
            raise ApiError(400, f"field '{name}' is longer than {MAX_TEXT} characters")
        return value

    async def _case(self, req: ApiRequest, visit: bool = False) -> Case:
        """The case in the path, if this session may see it; ``visit``: also an agent
        on its return-visit call."""
        case = await self._read(self._svc().get(req.params["id"]))
        if case is None:
            raise ApiError(404, f"no case {req.params['id'][:40]}", code="case_not_found")
        s = req.session
        if s.role == "agent" and case.owner != s.subject and (
                not visit or self._agent_calls.visit_case(s.subject) != case.id):
            raise ApiError(403, "an agent may only see and change their own cases (and "
                           "the one whose return visit they are calling)",
                           code="not_your_case")
        return case

    @staticmethod
    async def _read(d: defer.Deferred) -> Any:
        try:
            return await d
        except REDIS_DOWN as e:
            raise ApiError(503, f"cases cannot be read now: {e!r}"[:200],
                           code="cases_unavailable") from None

    @staticmethod
    async def _write(d: defer.Deferred) -> Any:
        try:
            return await d
        except InvalidTransition as e:
            raise ApiError(409, str(e), code="transition_not_allowed") from None
        except CaseNotFound as e:
            raise ApiError(404, str(e), code="case_not_found") from None
        except CaseError as e:
            raise ApiError(400, str(e), code="case_invalid") from None
        except CaseIdsUnavailable as e:
            raise ApiError(503, str(e), code="case_ids_unavailable") from None
        except REDIS_DOWN as e:
            raise ApiError(503, f"cases cannot be read now: {e!r}"[:200],
                           code="cases_unavailable") from None

    # -- handlers -----------------------------------------------------------------------

    def history(self, req: ApiRequest) -> defer.Deferred:
        """The customer's earlier calls and cases, by account number and by phone, with
        the repeat flag (the same intent within cases.yaml's window, or a case still
        open): what the screen pop shows."""
        return defer.ensureDeferred(self._history(req))

    async def _history(self, req: ApiRequest) -> dict[str, Any]:
        svc, q = self._svc(), req.query
        account, phone = q.get("account") or "", q.get("phone") or ""
        if account and not valid_account(account, self._cfg.ivr.account):
            raise ApiError(400, f"account '{account[:40]}' is not a valid account number",
                           code="bad_account")
        if phone and not _PHONE.fullmatch(phone):
            raise ApiError(400, "phone must be 3-20 digits, optionally after '+'",
                           code="bad_phone")
        if not account and not phone:
            raise ApiError(400, "query 'account' or 'phone' is needed", code="bad_filter")
        intent, exclude = (q.get("intent") or "")[:40], (q.get("exclude_call") or "")[:80]
        hist, flag = await self._read(svc.history(account=account, phone=phone, intent=intent,
                                                  exclude_call=exclude))
        now = self._clock.seconds()
        return {"calls": [asdict(c) for c in hist.calls],
                "cases": [case_json(c, now) for c in hist.cases],
                "repeat": flag.repeat, "same_intent_calls": list(flag.same_intent_calls),
                "open_cases": list(flag.open_cases)}

    def find(self, req: ApiRequest) -> defer.Deferred:
        return defer.ensureDeferred(self._find(req))

    async def _find(self, req: ApiRequest) -> dict[str, Any]:
        svc, q = self._svc(), req.query
        status, ctype = q.get("status") or None, q.get("type") or None
        grade, owner = q.get("grade") or None, q.get("owner") or None
        if status is not None and status not in {s.value for s in CaseState}:
            raise ApiError(400, f"query 'status' must be one of "
                           f"{', '.join(s.value for s in CaseState)}", code="bad_filter")
        if ctype is not None and ctype not in {t.value for t in CaseType}:
            raise ApiError(400, f"query 'type' must be one of "
                           f"{', '.join(t.value for t in CaseType)}", code="bad_filter")
        if q.get("overdue", "false") not in ("true", "false"):
            raise ApiError(400, "query 'overdue' must be true or false", code="bad_filter")
        if req.session.role == "agent":
            if owner is not None and owner != req.session.subject:
                raise ApiError(403, "an agent may only list their own cases",
                               code="not_your_case")
            owner = req.session.subject
        # Without a status only the open cases: status=closed asks for the closed ones.
        cases = await self._read(svc.find(state=status, type=ctype, grade=grade, owner=owner,
                                          overdue=q.get("overdue") == "true",
                                          open_only=status is None))
        now = self._clock.seconds()
        return {"cases": [case_json(c, now) for c in cases]}

    def get(self, req: ApiRequest) -> defer.Deferred:
        async def run() -> dict[str, Any]:
            return case_json(await self._case(req, visit=True), self._clock.seconds())
        return defer.ensureDeferred(run())

    def create(self, req: ApiRequest) -> defer.Deferred:
        return defer.ensureDeferred(self._create(req))

    async def _create(self, req: ApiRequest) -> tuple[int, dict[str, Any]]:
        svc, b, s = self._svc(), req.body, req.session
        account, phone = b.get("account") or "", b.get("phone") or ""
        self._customer(account, phone)
        owner, responsible = b.get("owner"), b.get("responsible")
        if s.role == "agent":
            if owner not in (None, s.subject):
                raise ApiError(403, "an agent opens cases for themselves; a supervisor "
                               "assigns them to others", code="not_your_case")
            owner = s.subject
            if b.get("call_id"):
                self._own_call(s.subject, b["call_id"])
        self._people(owner, responsible)
        case, created = await self._write(svc.open(
            type=b["type"], grade=b.get("grade"), account=account, phone=phone,
            actor=s.subject, owner=owner, responsible=responsible,
            call_id=b.get("call_id") or None, intent=b.get("intent") or "",
            summary=self._text(b, "summary"), client_key=b.get("client_key") or ""))
        out = case_json(case, self._clock.seconds())
        out["created"] = created
        return (201 if created else 200), out

    def _own_call(self, agent_id: str, call_id: str) -> None:
        who = self._agent_calls.owner_of(call_id)
        if who is None:
            raise ApiError(409, f"call {call_id[:80]} is neither live nor recent here; open "
                           "the case without it, or ask a supervisor", code="unknown_call")
        if who != agent_id:
            raise ApiError(403, f"call {call_id[:80]} is not agent {agent_id}'s call",
                           code="not_your_call")

    def transition(self, req: ApiRequest) -> defer.Deferred:
        return defer.ensureDeferred(self._transition(req))

    async def _transition(self, req: ApiRequest) -> dict[str, Any]:
        b, s = req.body, req.session
        inp = b["input"]
        if s.role == "agent" and inp not in AGENT_INPUTS:
            raise ApiError(403, f"only a supervisor may {inp} a case", code="supervisor_only")
        owner, responsible = b.get("owner"), b.get("responsible")
        self._people(owner, responsible)
        note = self._text(b, "note")
        visit_at = None
        if "visit_at" in b:
            if inp != "schedule_visit":
                raise ApiError(400, "field 'visit_at' goes with schedule_visit only")
            note = self._visit_note(b["visit_at"], note)
            visit_at = float(b["visit_at"])
        await self._case(req)  # 404 / 403 before anything changes
        if inp == "link_call" and s.role == "agent" and b.get("call_id"):
            self._own_call(s.subject, b["call_id"])
        case = await self._write(self._svc().transition(
            req.params["id"], inp, actor=s.subject, note=note, owner=owner,
            responsible=responsible, call_id=b.get("call_id") or None, visit_at=visit_at))
        return case_json(case, self._clock.seconds())

    def _visit_note(self, at: float, note: str) -> str:
        """The booked return-visit time: not in the past, not past the return-visit limit."""
        now = self._clock.seconds()
        if at < now:
            raise ApiError(400, "field 'visit_at' is in the past", code="deadline_past")
        if at > now + 366 * 86400.0:
            raise ApiError(400, "field 'visit_at' is more than a year ahead",
                           code="deadline_too_late")
        return f"return visit booked for {at:.0f}" + (f": {note}" if note else "")

    def visit(self, req: ApiRequest) -> defer.Deferred:
        async def run() -> dict[str, Any]:
            b = req.body
            await self._case(req, visit=True)
            case = await self._write(self._svc().record_visit(
                req.params["id"], actor=req.session.subject, reached=b["reached"],
                resolved=b.get("resolved"), satisfaction=b.get("satisfaction"),
                reason=self._text(b, "reason")))
            return case_json(case, self._clock.seconds())
        return defer.ensureDeferred(run())


def case_routes(api: CasesApi, *, readers: frozenset[str], writers: frozenset[str]
                ) -> list[Route]:
    """The case routes for ``build_web``'s table; per-case rules are in the handlers."""
    inputs = AGENT_INPUTS + SUPERVISOR_INPUTS
    return [
        Route("GET", "/api/customers/history", api.history, readers),
        Route("GET", "/api/cases", api.find, readers),
        Route("GET", "/api/cases/{id}", api.get, readers),
        Route("POST", "/api/cases", api.create, writers,
              body={"type": Field(S, True, tuple(t.value for t in CaseType)),
                    "grade": Field(S), "account": Field(S), "phone": Field(S),
                    "owner": Field(S), "responsible": Field(S), "call_id": Field(S),
                    "intent": Field(S), "summary": Field(S), "client_key": Field(S)}),
        Route("POST", "/api/cases/{id}/transition", api.transition, writers,
              body={"input": Field(S, True, inputs), "note": Field(S), "owner": Field(S),
                    "responsible": Field(S), "call_id": Field(S), "visit_at": Field(N)}),
        Route("POST", "/api/cases/{id}/visit", api.visit, writers,
              body={"reached": Field(B, True), "resolved": Field(B),
                    "satisfaction": Field((int,)), "reason": Field(S)}),
    ]
