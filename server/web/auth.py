"""Sign-in, sessions and the login rate limit.

* Agents sign in with their id and PIN (``cfg.acd.agents[id].pin_hash``);
  supervisors and reviewers with name and password (``cfg.users``).
* PBKDF2 takes ~0.3 s at 600 000 iterations, so it runs in a thread
  (``deferToThread``): the reactor keeps serving calls meanwhile.
* A session is a random token (``secrets.token_urlsafe``), sent as an HttpOnly,
  SameSite=Strict cookie and also accepted as ``Authorization: Bearer``.  It
  expires after ``idle_timeout_s`` without use, measured on the injected clock.
* Failed logins are counted per user name and per client address; at
  ``max_failures`` within ``window_s`` further attempts get 429 with Retry-After,
  before any hash is computed.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import server

from server.config import Config, verify_secret

from .http import ApiError

COOKIE = b"hotline_session"
ROLES = ("agent", "supervisor", "reviewer")


@dataclass(frozen=True)
class Session:
    token: str
    role: str  # agent | supervisor | reviewer
    subject: str  # agent id or user name
    name: str  # for people: the agent's name, or the user name
    created_at: float
    last_seen: float

    def public(self) -> dict[str, str]:
        return {"role": self.role, "id": self.subject, "name": self.name}


class RateLimiter:
    """At most ``max_failures`` failed logins per key per ``window_s``."""

    def __init__(self, clock, max_failures: int = 5, window_s: float = 300.0) -> None:
        self.clock, self.max_failures, self.window_s = clock, max_failures, window_s
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        q = self._failures.get(key)
        if not q:
            return 0.0
        now = self.clock.seconds()
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self._failures[key]
            return 0.0
        return q[0] + self.window_s - now if len(q) >= self.max_failures else 0.0

    def failed(self, key: str) -> None:
        self._failures.setdefault(key, deque()).append(self.clock.seconds())

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)


class Sessions:
    """Token -> Session, expiring after ``idle_timeout_s`` of inactivity."""

    def __init__(self, clock, idle_timeout_s: float = 8 * 3600.0) -> None:
        self.clock, self.idle_timeout_s = clock, idle_timeout_s
        self._by_token: dict[str, Session] = {}

    def create(self, role: str, subject: str, name: str) -> Session:
        now = self.clock.seconds()
        s = Session(secrets.token_urlsafe(32), role, subject, name, now, now)
        self._by_token[s.token] = s
        return s

    def get(self, token: str) -> Session | None:
        s = self._by_token.get(token)
        if s is None:
            return None
        now = self.clock.seconds()
        if now - s.last_seen > self.idle_timeout_s:
            del self._by_token[token]
            return None
        s = replace(s, last_seen=now)
        self._by_token[token] = s
        return s

    def alive(self, token: str) -> bool:
        """Whether the session still exists, without counting this as use."""
        s = self._by_token.get(token)
        return s is not None and self.clock.seconds() - s.last_seen <= self.idle_timeout_s

    def drop(self, token: str) -> None:
        self._by_token.pop(token, None)


def token_of(request: server.Request) -> str | None:
    auth = request.getHeader("authorization") or ""
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    raw = request.getCookie(COOKIE)
    return raw.decode("ascii", "replace") if raw else None


class Authenticator:
    """Checks credentials against the config; see the module docstring."""

    log = Logger()

    def __init__(self, cfg: Config, sessions: Sessions, limiter: RateLimiter,
                 verify_in_thread: Callable[..., defer.Deferred]) -> None:
        self.cfg, self.sessions, self.limiter = cfg, sessions, limiter
        self._verify = verify_in_thread  # deferToThread in production
        # Verified when the name is unknown, so a wrong name costs the same time as
        # a wrong password and response timing does not reveal which names exist.
        self._decoy = next((a.pin_hash for a in cfg.acd.agents.values()),
                           next((u.password_hash for u in cfg.users), ""))

    def session_for(self, request: server.Request) -> Session | None:
        token = token_of(request)
        return self.sessions.get(token) if token else None

    @defer.inlineCallbacks
    def login(self, username: str, secret: str, client: str, phone: str | None = None):
        """Fires with a new Session; fails with ApiError 401 (bad credentials),
        429 (rate limited) or 400 (phone not this agent's)."""
        keys = (f"user:{username}", f"addr:{client}")
        wait = max(self.limiter.retry_after(k) for k in keys)
        if wait > 0:
            raise ApiError(429, "too many failed sign-ins; try again later",
                           {"Retry-After": str(int(wait) + 1)}, code="rate_limited")
        agent = self.cfg.acd.agents.get(username)
        user = next((u for u in self.cfg.users if u.name == username), None)
        stored = agent.pin_hash if agent else user.password_hash if user else self._decoy
        ok = yield self._verify(verify_secret, secret, stored)
        if not ok or (agent is None and user is None):
            for k in keys:
                self.limiter.failed(k)
            self.log.info("Failed sign-in for {user!r} from {client}", user=username,
                          client=client)
            raise ApiError(401, "wrong name or PIN/password", code="bad_credentials")
        self.limiter.clear(keys[0])
        if agent is not None:
            if phone is not None and phone != agent.interface:
                raise ApiError(400, f"field 'phone' must be this agent's phone "
                                    f"{agent.interface}", code="wrong_phone")
            session = self.sessions.create("agent", agent.id, agent.name)
        else:
            session = self.sessions.create(user.role, user.name, user.name)
        self.log.info("{role} {who} signed in from {client}", role=session.role,
                      who=session.subject, client=client)
        return session


def set_cookie(request: server.Request, token: str, max_age: int | None) -> None:
    request.addCookie(COOKIE, token.encode("ascii"), path=b"/", httpOnly=True,
                      secure=request.isSecure(), sameSite="strict",
                      max_age=None if max_age is None else str(max_age).encode())
