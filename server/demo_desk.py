"""The demo's simulated agents at their desks: service cases through the HTTP API.

What a person at the desk page does, done by the demo (server/demo.py) through the
same routes the page calls, on loopback:

* on a complaint or fault call they are talking on, some set the wrap-up
  disposition ``work_order`` (``POST /api/agents/{id}/disposition``): the final
  record then opens the case (cases.yaml ``auto_open``, server/case_flow.py);
* the case's owner accepts, starts and resolves it a few seconds later
  (``POST /api/cases/{id}/transition``): resolving books the return visit
  (server/return_visits.py), a follow-up call placed like any other;
* the agent on a return-visit call records the outcome in the wrap-up
  (``POST /api/cases/{id}/visit``).

The customers of those cases answer the return-visit call (``add_customer``
registers their number with the simulator).  Failures are logged and dropped:
the demo goes on.
"""

from __future__ import annotations

import json
import random
from collections import OrderedDict
from collections.abc import Callable
from io import BytesIO
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web.client import Agent, FileBodyProducer, readBody
from twisted.web.http_headers import Headers

__all__ = ["DemoDesk"]

CASE_INTENTS = ("complaint", "fault")


class DemoDesk:
    """``base``: the HTTP side's URL (``http://127.0.0.1:<port>``); ``phones``: agent id ->
    interface (their sign-in checks it); ``add_customer(number)``: the simulator's
    customer answers that number; ``share``: of complaint and fault calls, those that
    get the ``work_order`` disposition."""

    log = Logger()

    def __init__(self, reactor: Any, base: str, phones: dict[str, str], rng: random.Random,
                 add_customer: Callable[[str], None], *, share: float = 0.7,
                 work_s: tuple[float, float] = (2.0, 6.0)) -> None:
        self.reactor, self.base, self.phones, self.rng = reactor, base, phones, rng
        self.add_customer = add_customer
        self.share, self.work_s = share, work_s
        self._http = Agent(reactor)
        self._tokens: dict[str, str] = {}
        self._locks: dict[str, defer.DeferredLock] = {}
        self._login_lock = defer.DeferredLock()
        self._intents: OrderedDict[str, str] = OrderedDict()  # call id -> IVR intent
        self._visiting: dict[str, str] = {}  # agent id -> case of the return-visit call
        self.pending: set[defer.Deferred] = set()

    # -- what the desks see on the feed ------------------------------------------------

    def on_publish(self, topic: str, payload: dict[str, Any]) -> None:
        if topic == "offer":
            screen = payload.get("screen") or {}
            agent = str(payload.get("agent_id") or "")
            self._intents[str(payload.get("call_id"))] = str(screen.get("intent") or "")
            while len(self._intents) > 1000:
                self._intents.popitem(last=False)
            if screen.get("case_id"):
                self._visiting[agent] = str(screen["case_id"])
            else:
                self._visiting.pop(agent, None)
        elif topic == "call" and payload.get("phase") == "talking" and payload.get("agent_id"):
            intent = self._intents.pop(str(payload["call_id"]), "")
            if intent in CASE_INTENTS and self.rng.random() < self.share:
                self._run(self._disposition(str(payload["agent_id"]), str(payload["call_id"]),
                                            intent))
        elif topic == "case" and payload.get("kind") == "changed" \
                and payload.get("input") == "open" and payload.get("owner"):
            delay = self.rng.uniform(*self.work_s)
            self.reactor.callLater(delay, self._run, self._work(str(payload["case_id"]),
                                                                str(payload["owner"])))
        elif topic == "agent" and payload.get("new") == "wrap_up":
            case_id = self._visiting.pop(str(payload.get("agent_id")), None)
            if case_id is not None:
                self._run(self._visit(str(payload["agent_id"]), case_id))

    # -- the desk's requests -----------------------------------------------------------

    async def _disposition(self, agent: str, call_id: str, intent: str) -> None:
        await self._api(agent, "POST", f"/api/agents/{agent}/disposition",
                        {"call_id": call_id, "code": "work_order",
                         "notes": f"demo: {intent} needs a work order"})

    async def _work(self, case_id: str, owner: str) -> None:
        case = await self._api(owner, "GET", f"/api/cases/{case_id}")
        if case.get("phone"):
            self.add_customer(case["phone"])
        for step in ("accept", "start", "resolve"):
            await self._api(owner, "POST", f"/api/cases/{case_id}/transition",
                            {"input": step, "note": f"demo: {step}"})

    async def _visit(self, agent: str, case_id: str) -> None:
        solved = self.rng.random() < 0.9
        await self._api(agent, "POST", f"/api/cases/{case_id}/visit", {
            "reached": True, "resolved": solved,
            "satisfaction": self.rng.choice((3, 3, 3, 2, 1)) if solved else 1,
            "reason": "" if solved else "demo: the fault came back"})

    async def _api(self, agent: str, method: str, path: str,
                   body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One request as ``agent``; a desk does one thing at a time (and signs in first)."""
        lock = self._locks.setdefault(agent, defer.DeferredLock())
        await lock.acquire()
        try:
            if agent not in self._tokens:
                # One sign-in at a time: the server checks at most a few hashes at once
                # and counts this one client's sign-ins in flight (server/web/throttle.py).
                await self._login_lock.acquire()
                try:
                    code, out = await self._request("POST", "/api/login", {
                        "username": agent, "password": agent, "phone": self.phones[agent],
                        "token": True})
                finally:
                    self._login_lock.release()
                if code != 200:
                    raise RuntimeError(f"sign-in of {agent}: {code} {out.get('error')}")
                self._tokens[agent] = str(out["token"])
            code, out = await self._request(method, path, body, self._tokens[agent])
        finally:
            lock.release()
        if code >= 400:
            raise RuntimeError(f"{method} {path} as {agent}: {code} {out.get('code')} "
                               f"{out.get('error')}")
        return out

    async def _request(self, method: str, path: str, body: dict[str, Any] | None,
                       token: str | None = None) -> tuple[int, dict[str, Any]]:
        headers = Headers({"Content-Type": ["application/json"]})
        if token:
            headers.addRawHeader("Authorization", f"Bearer {token}")
        producer = FileBodyProducer(BytesIO(json.dumps(body).encode())) \
            if body is not None else None
        resp = await self._http.request(method.encode(), (self.base + path).encode(), headers,
                                        producer)
        data = await readBody(resp)
        return resp.code, (json.loads(data) if data else {})

    def _run(self, coro: Any) -> None:
        d = defer.ensureDeferred(coro)
        self.pending.add(d)
        d.addErrback(lambda f: self.log.warn("demo desk: {e}", e=f.getErrorMessage()))
        d.addBoth(lambda _: self.pending.discard(d))
