"""Agent and supervisor handlers: thin calls into the router, the board and the records.

Each handler takes an ``ApiRequest`` (already authenticated, authorised and with
its body checked) and returns a JSON-able dict, ``(status, dict)`` or a Deferred.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from ivr.outage import OutageNotice
from queues.agents import DEVICE_OFFLINE, MISSED_CALL, AgentState, AgentView, InvalidTransition
from queues.items import Kind, dialable
from server.call.center import CallCenter
from server.records.model import CallRecord
from server.today import TodayFigures

from .audit import AuditLog
from .http import ApiError, ApiRequest
from .live import LiveFigures
from .screen import current_call

DUE_PAST_S, DUE_AHEAD_S = 86400.0, 366 * 86400.0  # a follow-up's due_at window around now
MAX_EPOCH = 4102444800.0  # 2100-01-01: outage times past it are typos (or 1e308)
_DIGITS = re.compile(r"[0-9]{1,20}")
SPY_OPTIONS = {"listen": "qE", "whisper": "qEw", "barge": "qEB"}
# Queue parameters PATCH /api/queues/{name} may change; each applies to calls that
# enter the queue (or start a waiting-loop chunk) after the change.
QUEUE_PARAMS = ("priority", "announce_interval_s", "callback_offer_after_s", "max_wait_s")


def agent_json(view: AgentView, now: float, name: str | None = None,
               queue: str | None = None) -> dict[str, Any]:
    return {"id": view.id, "name": name, "state": str(view.state), "since": view.since,
            "in_state_s": max(0.0, now - view.since), "pause_reason": view.pause_reason,
            "pending_pause": view.pending_pause, "device": str(view.device),
            "call_id": view.item_id, "queue": queue, "misses": view.misses,
            "wrap_up_ends_at": view.wrap_up_ends_at}


class DeskApi:
    log = Logger()

    def __init__(self, calls: CallCenter, live: LiveFigures, put_record, clock, *,
                 audit: AuditLog, today: TodayFigures,
                 publish: Callable[[str, dict[str, Any]], None]) -> None:
        self.calls, self.live, self.put_record, self.clock = calls, live, put_record, clock
        self.publish = publish  # the notifier's: a revised record (record_revised)
        self.today = today  # today's figures from the records (server/today.py)
        self.audit = audit  # .record(who, action, target, detail): supervisor actions
        # call_id -> (disposition, notes) set while the call was live: re-applied if
        # the adapter's wrap-up end writes its own "none" over it.
        self._pending: dict[str, tuple[str, str]] = {}

    @property
    def cfg(self):
        return self.calls.cfg  # PATCH /api/queues replaces it

    def _agent(self, agent_id: str):
        agent = self.cfg.acd.agents.get(agent_id)
        if agent is None:
            raise ApiError(404, f"no agent {agent_id}")
        return agent

    # ------------------------------------------------------------ agents
    def _json(self, agent_id: str) -> dict[str, Any]:
        view = self.calls.acd.agent(agent_id)
        call = self.calls.calls.get(view.item_id) if view.item_id else None
        return agent_json(view, self.clock.seconds(), self.cfg.acd.agents[agent_id].name,
                          call.queue if call is not None else None)

    def _apply_state(self, agent_id: str, state: str, reason: str | None) -> None:
        """ready / paused / logged_out for the desk and the supervisor's force action.

        "ready" means ready: it cancels a pause asked for during the call (which the
        desk shows as pending) and ends a wrap-up.  "paused" on a call or in wrap-up
        is kept pending and applied when the wrap-up ends (AgentView.pending_pause)."""
        acd = self.calls.acd
        try:
            if state == "ready":
                if reason is not None:
                    raise ApiError(400, "field 'reason' is only for state 'paused'")
                current = acd.agent(agent_id).state
                if current is AgentState.LOGGED_OUT:
                    acd.login(agent_id)
                else:
                    acd.unpause(agent_id)  # also drops a pending pause
                    if current is AgentState.WRAP_UP:
                        acd.end_wrap_up(agent_id)
            elif state == "paused":
                codes = [c.code for c in self.cfg.acd.policy.pause_reasons
                         if c.code not in (DEVICE_OFFLINE, MISSED_CALL)]  # the router's own
                if reason not in codes:
                    raise ApiError(400, f"field 'reason' must be one of {', '.join(codes)}",
                                   code="bad_pause_reason")
                if acd.agent(agent_id).state is AgentState.LOGGED_OUT:
                    acd.login(agent_id)
                acd.pause(agent_id, str(reason))  # one of the codes, checked above
            else:
                acd.logout(agent_id)
        except InvalidTransition as e:
            code = "on_call" if e.state is AgentState.ON_CALL else "invalid_transition"
            raise ApiError(409, str(e), code=code) from None

    def set_state(self, req: ApiRequest) -> dict[str, Any]:
        agent = self._agent(req.params["id"])
        state = req.body["state"]
        self._apply_state(agent.id, state, req.body.get("reason"))
        who = req.session.subject
        self.log.info("{who} set agent {agent} to {state}", who=who, agent=agent.id, state=state)
        return self._json(agent.id)

    def cancel_pending_pause(self, req: ApiRequest) -> dict[str, Any]:
        """Drop a pause asked for during a call; the agent stays in the call or wrap-up.
        Idempotent: nothing pending is no error."""
        agent = self._agent(req.params["id"])
        view = self.calls.acd.agent(agent.id)
        if view.pending_pause is not None and view.state is not AgentState.PAUSED:
            self.calls.acd.unpause(agent.id)  # only clears the pending pause here
        return self._json(agent.id)

    def current(self, req: ApiRequest) -> dict[str, Any]:
        """The agent's state and current call (screen-pop, disposition and notes so far):
        what the desk restores after a reload."""
        agent = self._agent(req.params["id"])
        out = self._json(agent.id)
        view = self.calls.acd.agent(agent.id)
        out["call"] = current_call(self.calls, self.live, view, self._pending)
        # A return-visit call: the desk shows its case with the visit-outcome form.
        item = self.calls.acd.item(view.item_id) if view.item_id else None
        out["visit_case"] = item.case_id if item is not None else None
        return out

    def force(self, req: ApiRequest) -> dict[str, Any]:
        """A supervisor pauses, readies or logs out an agent; recorded in the audit log."""
        agent = self._agent(req.params["id"])
        action, reason = req.body["action"], req.body.get("reason")
        before = self.calls.acd.agent(agent.id)
        state = {"pause": "paused", "ready": "ready", "logout": "logged_out"}[action]
        if action != "pause" and reason is not None:
            raise ApiError(400, "field 'reason' is only for action 'pause'")
        self._apply_state(agent.id, state, reason)
        after = self.calls.acd.agent(agent.id)
        self.audit.record(req.session.subject, f"force_{action}", agent.id,
                          {"reason": reason, "from": str(before.state),
                           "to": str(after.state), "pending_pause": after.pending_pause})
        return self._json(agent.id)

    def wrapup(self, req: ApiRequest) -> dict[str, Any]:
        """``end`` is idempotent: a wrap-up already over (a double click, the timer) is
        no error; with ``call_id``, only that call's wrap-up is ended."""
        agent = self._agent(req.params["id"])
        acd = self.calls.acd
        view = acd.agent(agent.id)
        if req.body["action"] == "end":
            if "seconds" in req.body:
                raise ApiError(400, "field 'seconds' is only for action 'extend'")
            if view.state is AgentState.WRAP_UP and req.body.get("call_id", view.item_id) \
                    == view.item_id:
                acd.end_wrap_up(agent.id)
        elif view.state is not AgentState.WRAP_UP:
            raise ApiError(409, f"agent {agent.id} is not in wrap-up", code="not_in_wrap_up")
        else:
            seconds = req.body.get("seconds")
            if seconds is None or not 0 < seconds <= 3600:
                raise ApiError(400, "field 'seconds' must be between 1 and 3600")
            acd.extend_wrap_up(agent.id, float(seconds))
        return self._json(agent.id)

    def disposition(self, req: ApiRequest):
        """Live call: set on its recorder (and kept, see ``on_publish``).  Ended call: a
        new final record version with the disposition goes through the records' put."""
        agent = self._agent(req.params["id"])
        call_id, code = req.body["call_id"], req.body["code"]
        notes = req.body.get("notes", "")
        codes = [c.code for c in self.cfg.acd.policy.dispositions]
        if code not in codes:
            raise ApiError(400, f"field 'code' must be one of {', '.join(codes)}",
                           code="bad_disposition")
        call = self.calls.calls.get(call_id)
        if call is not None:
            if call.agent_id != agent.id:
                raise ApiError(403, f"call {call_id} is not agent {agent.id}'s")
            call.record.update(disposition=code, notes=notes)
            self._pending[call_id] = (code, notes)
            return {"call_id": call_id, "disposition": code, "notes": notes, "live": True}
        rec = self.live.record(call_id)
        if rec is None:
            raise ApiError(404, f"no recent call {call_id}", code="no_such_call")
        if rec.agent_id != agent.id:
            raise ApiError(403, f"call {call_id} is not agent {agent.id}'s")
        if (rec.disposition, rec.notes or "") == (code, notes):  # a repeat: nothing new
            return {"call_id": call_id, "disposition": code, "notes": notes, "live": False}
        return self._rewrite(rec.to_dict(), code, notes).addCallback(
            lambda _: {"call_id": call_id, "disposition": code, "notes": notes, "live": False})

    def _rewrite(self, raw: dict[str, Any], code: str, notes: str) -> defer.Deferred:
        new = dict(raw, disposition=code, notes=notes, version=int(raw["version"]) + 1)
        self.live.add_record(new)
        self.today.add(CallRecord.from_dict(new))
        d = defer.maybeDeferred(self.put_record, new)
        # Not on "record": the metrics would observe the call twice.  server/case_flow.py
        # reads it (a work_order set after the call opens its case too).
        self.publish("record_revised", new)
        return d

    def on_publish(self, topic: str, payload: dict[str, Any]) -> None:
        """A final record that lost a disposition set during the call gets it back."""
        if topic != "record" or not payload.get("final"):
            return
        pending = self._pending.pop(payload["call_id"], None)
        if pending and (payload.get("disposition"), payload.get("notes")) != pending:
            self._rewrite(payload, *pending).addErrback(
                lambda f: self.log.failure("Disposition for {call} not saved", f,
                                           call=payload["call_id"]))

    def stats(self, req: ApiRequest) -> dict[str, Any]:
        agent = self._agent(req.params["id"])
        out = self.today.agent_figures(agent.id)
        out["state"] = self._json(agent.id)
        return out

    def followup(self, req: ApiRequest) -> tuple[int, dict[str, Any]]:
        b = req.body
        if b["queue"] not in self.cfg.acd.queues:
            raise ApiError(400, f"field 'queue': no queue {b['queue']}")
        if not dialable(b["number"]):
            raise ApiError(400, "field 'number' must be 3-20 ASCII digits, optionally after "
                                "a leading +")
        now = self.clock.seconds()
        due = b.get("due_at", now)
        if not now - DUE_PAST_S <= due <= now + DUE_AHEAD_S:
            raise ApiError(400, "field 'due_at' must be epoch seconds from a day ago to a "
                                "year ahead")
        item_id = f"fu-{secrets.token_hex(6)}"
        item = self.calls.add_follow_up(item_id, b["queue"], b["number"], float(due),
                                        b.get("note", ""))
        self.log.info("{who} created follow-up {id} to {number}", who=req.session.subject,
                      id=item.id, number=item.number)
        return 201, {"id": item.id, "queue": item.queue, "number": item.number,
                     "due_at": item.due_at, "note": item.note}

    def cancel_followup(self, req: ApiRequest) -> dict[str, Any]:
        item = self.calls.acd.item(req.params["id"])
        if item is None or item.kind is Kind.CALL:
            raise ApiError(404, f"no waiting callback or follow-up {req.params['id']}")
        if not self.calls.cancel_item(item.id, f"cancelled by {req.session.subject}"):
            raise ApiError(409, f"{item.id} is ringing an agent; try again shortly")
        return {"id": item.id, "cancelled": True}

    # ------------------------------------------------------------ supervisors
    def snapshot(self, req: ApiRequest) -> dict[str, Any]:
        now = self.clock.seconds()
        acd, cfg = self.calls.acd, self.cfg
        waiting = acd.waiting()
        queues = []
        for name, q in cfg.acd.queues.items():
            k = acd.queue_kpis(name)  # what waits now; the day's figures are the records'
            day = self.today.queue_figures(name)
            queues.append({
                "name": name, "waiting": k.waiting, "longest_wait_s": k.oldest_wait_s,
                "calls": [{"call_id": w.id, "kind": str(w.kind), "number": w.number,
                           "wait_s": now - w.enqueued_at} for w in waiting if w.queue == name],
                "offered": day["offered"], "answered": day["answered"],
                "abandoned": day["abandoned"], "short_abandoned": day["short_abandoned"],
                "service_level": day["service_level"],
                "service_level_15m": self.live.recent_service_level(name),
                "sl_target": q.service_level.target, "sl_threshold_s": q.service_level.threshold_s,
                "asa_s": day["asa_s"], "aht_s": day["aht_s"], "abandon_rate": day["abandon_rate"],
                "arrivals_per_hour": self.live.arrival_rate(name) * 3600,
                "agents_needed": self.live.agents_needed(name, day["aht_s"]),
                "priority": q.priority, "announce_interval_s": q.announce_interval_s,
            })
        agents = [self._json(a.id) for a in cfg.acd.agents.values()]
        by_state: dict[str, int] = {str(s): 0 for s in AgentState}
        for a in agents:
            by_state[a["state"]] += 1
        # Today's figures count ended calls (the records); the calls still going
        # (waiting or ringing in a queue, or with an agent) are said beside them.
        today = {**self.today.headline(), "in_progress": sum(
            1 for w in waiting if w.kind is Kind.CALL) + by_state[str(AgentState.ON_CALL)]}
        return {"at": now, "today": today, "queues": queues, "agents": agents,
                "agents_by_state": by_state,
                "outages": [n.to_dict() for n in self.calls.outages.notices()]}

    def supervise(self, req: ApiRequest):
        """Rings the signed-in supervisor's own ``device`` (agents.yaml) into ChanSpy on
        the agent's phone; no other phone can be named.  Audited either way."""
        agent = self._agent(req.body["agent_id"])
        mode, who = req.body["mode"], req.session.subject
        if "phone" in req.body:
            raise ApiError(400, "field 'phone' is refused: supervision rings only your own "
                                "device (users[].device in agents.yaml)", code="phone_refused")
        phone = next((u.device for u in self.cfg.users if u.name == who), None)
        if phone is None:
            raise ApiError(409, f"user {who} has no device in agents.yaml; supervision rings "
                                "only the supervisor's own phone", code="no_device")
        if self.calls.acd.agent(agent.id).state is not AgentState.ON_CALL:
            raise ApiError(409, f"agent {agent.id} is not on a call", code="not_on_call")
        fields = [("Channel", phone), ("Application", "ChanSpy"),
                  ("Data", f"{agent.interface},{SPY_OPTIONS[mode]}"),
                  ("CallerID", f'"Supervisor {who}" <{phone.split("/")[-1]}>'),
                  ("Async", "true")]
        d = self.calls.ami.sendAction("Originate", fields)

        def sent(_):
            self.audit.record(who, mode, agent.id, {"device": phone, "result": "originated"})
            return {"agent_id": agent.id, "mode": mode, "phone": phone}

        def failed(f):
            err = f.getErrorMessage()
            self.audit.record(who, mode, agent.id, {"device": phone, "result": f"failed: {err}"})
            raise ApiError(502, f"Asterisk refused the Originate: {err}")
        return d.addCallbacks(sent, failed)

    def outages(self, req: ApiRequest) -> dict[str, Any]:
        return {"outages": [n.to_dict() for n in self.calls.outages.notices()]}

    def add_outage(self, req: ApiRequest) -> tuple[int, dict[str, Any]]:
        b = req.body
        for key in ("area_codes", "prefixes"):
            values = b.get(key, [])
            if len(values) > 1000 or not all(isinstance(x, str) and _DIGITS.fullmatch(x)
                                             for x in values):
                raise ApiError(400, f"field '{key}' must be a list of at most 1000 strings "
                                    "of 1-20 ASCII digits")
        for key in ("start", "restore"):
            if not 0 <= b[key] <= MAX_EPOCH:
                raise ApiError(400, f"field '{key}' must be epoch seconds before 2100")
        notice = OutageNotice(b["id"], float(b["start"]), float(b["restore"]),
                              tuple(b.get("area_codes", ())), tuple(b.get("prefixes", ())),
                              b.get("text", ""))
        try:
            self.calls.outages.add(notice)
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        self.log.info("{who} posted outage notice {id}", who=req.session.subject, id=notice.id)
        return 201, notice.to_dict()

    def remove_outage(self, req: ApiRequest) -> dict[str, Any]:
        if not self.calls.outages.remove(req.params["id"]):
            raise ApiError(404, f"no outage notice {req.params['id']}")
        self.log.info("{who} removed outage notice {id}", who=req.session.subject,
                      id=req.params["id"])
        return {"id": req.params["id"], "removed": True}

    def patch_queue(self, req: ApiRequest) -> dict[str, Any]:
        name = req.params["name"]
        acd_cfg = self.calls.acd.config
        q = acd_cfg.queues.get(name)
        if q is None:
            raise ApiError(404, f"no queue {name}")
        changes = dict(req.body)
        for key, value in changes.items():
            if value is not None and not 0 <= value <= 86400:
                raise ApiError(400, f"field '{key}' must be between 0 and 86400")
            if value is None and key != "callback_offer_after_s":
                raise ApiError(400, f"field '{key}' must be an integer")
        new_acd = replace(acd_cfg, queues=MappingProxyType({**acd_cfg.queues,
                                                             name: replace(q, **changes)}))
        # The router and the adapter read queue parameters from these at each use.
        self.calls.acd.reconfigure(new_acd)
        self.calls.cfg = replace(self.calls.cfg, acd=new_acd)
        self.log.info("{who} changed queue {name}: {changes}", who=req.session.subject,
                      name=name, changes=changes)
        nq = new_acd.queues[name]
        return {"name": name, **{k: getattr(nq, k) for k in QUEUE_PARAMS}}
