"""The HTTP side over real sockets on 127.0.0.1, for the web tests (no tests here).

The graph: the shipped config (hashes swapped for cheap ones with the same PINs
and passwords, so a sign-in takes milliseconds), a real CallCenter with the real
Router on the real reactor, an AMI stub that records actions (the API only needs
the router; Originate is checked by its fields), a real redis-server, and the
Site listening on port 0.  Sessions, rate limits and the SSE heartbeat run on a
``task.Clock`` started at the reactor's time, so expiry is tested by advancing it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import redis
import treq
from twisted.internet import defer, reactor, task

from server.ami.router import EventRouter
from server.call.center import CallCenter
from server.cases.service import CaseService
from server.cases.store import CaseStore
from server.config import hash_secret, load_config
from server.notify import Notifier
from server.records.spool import DurableRecords
from server.records.store import RecordStore, make_client
from server.web import WebOptions, build_web

ROOT = Path(__file__).resolve().parents[1]
PASSWORDS = {"supervisor1": "change-me-supervisor1", "supervisor2": "change-me-supervisor2",
             "reviewer1": "change-me-reviewer1"}


def with_trusted_proxies(cfg, *networks: str):
    http = replace(cfg.server.http, trusted_proxies=tuple(networks))
    return replace(cfg, server=replace(cfg.server, http=http))


def cheap_config(recordings: Path):
    cfg = load_config(ROOT / "config", environ={})
    agents = {i: replace(a, pin_hash=hash_secret(i, iterations=1000))
              for i, a in cfg.acd.agents.items()}
    users = tuple(replace(u, password_hash=hash_secret(PASSWORDS[u.name], iterations=1000))
                  for u in cfg.users)
    server = replace(cfg.server, recordings=replace(cfg.server.recordings,
                                                    directory=str(recordings)))
    return replace(cfg, acd=replace(cfg.acd, agents=MappingProxyType(agents)), users=users,
                   server=server)


class StubAmi:
    """What the CallCenter and the API send; every action succeeds."""

    def __init__(self) -> None:
        self.router = EventRouter()
        self.actions: list[tuple[str, dict[str, str]]] = []

    def sendAction(self, action, fields=(), timeout=None):
        self.actions.append((action, dict(fields)))
        return defer.succeed({"Response": "Success"})


def flush_db(url: str) -> None:
    client = redis.Redis.from_url(url)  # test setup only, before the reactor work
    client.flushdb()
    client.close()


class WebRig:
    def __init__(self, redis_url: str, recordings: Path, options: WebOptions | None = None,
                 cfg=None, ami=None, calls=None, notifier=None, clock=None,
                 verify_in_thread=None, audit=None, with_cases: bool = True,
                 cases_url: str | None = None) -> None:
        flush_db(redis_url)
        self.cfg = cfg or cheap_config(recordings)
        if clock is None:
            clock = task.Clock()
            clock.advance(reactor.seconds())
        self.clock = clock
        self.ami = ami or StubAmi()
        self.notifier = notifier or Notifier()
        self.store = RecordStore.from_url(redis_url)
        self.client = make_client(redis_url)
        self.saved: list[dict] = []
        self.calls = calls or CallCenter(reactor, self.cfg, self.ami, save=self.saved.append,
                                         bills=None, notifier=self.notifier)
        # Service cases on the same redis (or ``cases_url``), the spool beside the recordings.
        self.case_store = CaseStore.from_url(cases_url or redis_url, timeout=1.0)
        self.case_writer = DurableRecords(self.case_store,
                                          recordings.parent / f"{recordings.name}-cases.spool",
                                          self.clock)
        self.cases = CaseService(self.case_store, self.case_writer, self.cfg.cases,
                                 self.clock, publish=self.notifier.publish) \
            if with_cases else None
        self.web = build_web(self.cfg, self.calls, self.notifier, self.clock,
                             redis_client=self.client, put_record=self.store.put,
                             options=options or WebOptions(),
                             verify_in_thread=verify_in_thread, audit=audit, cases=self.cases)
        self.port = reactor.listenTCP(0, self.web.site, interface="127.0.0.1")
        self.base = f"http://127.0.0.1:{self.port.getHost().port}"

    async def close(self) -> None:
        self.web.unsubscribe()
        await self.port.stopListening()
        if isinstance(self.clock, task.Clock):
            for call in self.clock.getDelayedCalls():
                call.cancel()
        await defer.Deferred.fromFuture(asyncio.ensure_future(self.client.aclose()))
        await self.store.close()
        self.case_writer.stop()
        await self.case_store.close()

    # ------------------------------------------------------------ HTTP helpers
    async def request(self, method: str, path: str, body=None, token: str | None = None,
                      raw: bytes | None = None, headers: dict | None = None):
        """Fires with (status, parsed JSON or bytes, response)."""
        h = {"Content-Type": ["application/json"]}
        if token:
            h["Authorization"] = [f"Bearer {token}"]
        for k, v in (headers or {}).items():
            h[k] = [v]
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        resp = await treq.request(method, self.base + path, data=data, headers=h,
                                  persistent=False)
        content = await resp.content()
        ctype = resp.headers.getRawHeaders("content-type", [""])[0]
        parsed = json.loads(content) if ctype.startswith("application/json") else content
        return resp.code, parsed, resp

    async def login(self, username: str, password: str | None = None, **extra) -> str:
        secret = password if password is not None else PASSWORDS.get(username, username)
        code, body, _ = await self.request("POST", "/api/login", {
            "username": username, "password": secret, "token": True, **extra})
        assert code == 200, body
        return body["token"]


class RecordingAudit:
    """An ``AuditLog`` stand-in that keeps every ``record(...)`` call, in order."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str, dict]] = []

    def record(self, who: str, action: str, target: str, detail: dict) -> None:
        self.entries.append((who, action, target, detail))
