"""Sign-in, sessions and the login rate limit.

* Agents sign in with their id and PIN (``cfg.acd.agents[id].pin_hash``);
  supervisors and reviewers with name and password (``cfg.users``).
* PBKDF2 takes ~0.3 s at 600 000 iterations, so it runs in a thread
  (``deferToThread``): the reactor keeps serving calls meanwhile.
* A session is a random token (``secrets.token_urlsafe``), sent as an HttpOnly,
  SameSite=Strict cookie (Secure when the request came over TLS, directly or as a
  trusted proxy says) and also accepted as ``Authorization: Bearer``.  It
  expires after ``idle_timeout_s`` without use, and ``max_age_s`` after sign-in
  however busy (a stolen token is not good forever), on the injected clock.
* Attempts are throttled per account and per client before any hash is checked
  (throttle.py); the client is the real one behind trusted proxies (proxy.py).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import server

from server.config import Config, verify_secret

from .http import ApiError
from .throttle import LoginThrottle

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


class Sessions:
    """Token -> Session, expiring after ``idle_timeout_s`` of inactivity or
    ``max_age_s`` after it was created, whichever comes first."""

    def __init__(self, clock, idle_timeout_s: float = 8 * 3600.0,
                 max_age_s: float = 12 * 3600.0) -> None:
        self.clock, self.idle_timeout_s, self.max_age_s = clock, idle_timeout_s, max_age_s
        self._by_token: dict[str, Session] = {}

    def _expired(self, s: Session, now: float) -> bool:
        return now - s.last_seen > self.idle_timeout_s or now - s.created_at > self.max_age_s

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
        if self._expired(s, now):
            del self._by_token[token]
            return None
        s = replace(s, last_seen=now)
        self._by_token[token] = s
        return s

    def alive(self, token: str) -> bool:
        """Whether the session still exists, without counting this as use."""
        s = self._by_token.get(token)
        return s is not None and not self._expired(s, self.clock.seconds())

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

    def __init__(self, cfg: Config, sessions: Sessions, throttle: LoginThrottle,
                 verify_in_thread: Callable[..., defer.Deferred]) -> None:
        self.cfg, self.sessions, self.throttle = cfg, sessions, throttle
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
        429 (throttled, with Retry-After) or 400 (phone not this agent's)."""
        ticket = self.throttle.admit(username, client)  # 429 before any hash
        agent = self.cfg.acd.agents.get(username)
        user = next((u for u in self.cfg.users if u.name == username), None)
        stored = agent.pin_hash if agent else user.password_hash if user else self._decoy
        try:
            ok = yield self._verify(verify_secret, secret, stored)
        except Exception:
            self.throttle.failed(ticket)
            raise
        if not ok or (agent is None and user is None):
            self.throttle.failed(ticket)
            wait = self.throttle.wait_s(username, client)
            self.log.info("Failed sign-in for {user!r} from {client}", user=username,
                          client=client)
            later = f"; the next attempt is possible in {math.ceil(wait)} s" if wait else ""
            raise ApiError(401, f"wrong name or PIN/password{later}", code="bad_credentials")
        self.throttle.succeeded(ticket)
        if agent is not None:
            if phone is not None and phone != agent.interface:
                raise ApiError(400, f"field 'phone' must be this agent's phone "
                                    f"{agent.interface}", code="wrong_phone")
            session = self.sessions.create("agent", agent.id, agent.name)
        else:
            assert user is not None  # no agent and no user failed above
            session = self.sessions.create(user.role, user.name, user.name)
        self.log.info("{role} {who} signed in from {client}", role=session.role,
                      who=session.subject, client=client)
        return session


def set_cookie(request: server.Request, token: str, max_age: int | None, *,
               secure: bool) -> None:
    """``secure``: the client reached us over TLS (see TrustedProxies.is_tls)."""
    request.addCookie(COOKIE, token.encode("ascii"), path=b"/", httpOnly=True,
                      secure=secure, sameSite="strict",
                      max_age=None if max_age is None else str(max_age).encode())
