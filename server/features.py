"""Agents' feature codes from their phones, through AsyncAGI.

``*11`` log in (agent number + PIN), ``*12`` log out, ``*13`` pause / unpause.
The dialplan (``agent-features``, included in the phones' ``agent-phones``
context) answers and runs ``AGI(agi:async)``; because the extension is found
through an ``include``, AsyncAGI reports the phone's own context, so both
contexts are routed here.  Each code confirms with a prompt and hangs up.

Who is calling is the phone: ``PJSIP/1007-00000004`` is device ``PJSIP/1007``.
``*12`` and ``*13`` act on the agent whose configured interface that is; ``*11``
also needs the agent's number and PIN, and only logs an agent in on their own
phone (the router rings the configured interface, so a login elsewhere would
send calls to a phone nobody sits at).

A dialog, per call::

    *11: ask id ─▶ ask PIN ─▶ verify (in a thread) ─▶ logged in | failed ─▶ HANGUP
    *12: logout ─▶ logged out | failed ─▶ HANGUP
    *13: toggle ─▶ paused | unpaused ─▶ HANGUP
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Protocol

from twisted.internet import defer, threads
from twisted.logger import Logger

from ivr.commands import AgiResult, Ask, Play, to_agi
from queues.agents import AgentState, InvalidTransition
from queues.router import Router
from server.agi import AgiDriver, AgiSession, AgiSessionEnded
from server.ami.codec import Message
from server.config import verify_secret

FEATURE_CONTEXTS = ("agent-phones", "agent-features")
SOUND_DIR = "hotline"
LOGIN, LOGOUT, PAUSE = "*11", "*12", "*13"
PAUSE_REASON = "break"

Verify = Callable[[str, str], "defer.Deferred[bool]"]


class Throttle(Protocol):
    """The sign-in throttle the web's sign-in uses too (server/web/throttle.py)."""

    def try_admit(self, account: str, client: str) -> Any: ...
    def failed(self, ticket: Any) -> None: ...
    def succeeded(self, ticket: Any) -> None: ...


def verify_in_thread(pin: str, stored: str) -> defer.Deferred[bool]:
    """PBKDF2 takes ~0.3 s at 600 000 iterations: keep it off the reactor thread."""
    return threads.deferToThread(verify_secret, pin, stored)


def device_of(channel: str) -> str:
    """``PJSIP/1007-00000004`` -> ``PJSIP/1007``."""
    return channel.rsplit("-", 1)[0]


class FeatureCodes:
    """Handles the feature-code AsyncAGI sessions (``FEATURE_CONTEXTS``; the subscription
    table in server/wiring.py sends them to ``started``).

    :param agi: the AGI driver the calls share; ``acd``: the router (its ``config``
        names the agents).
    :param verify: ``verify(pin, pin_hash) -> Deferred[bool]``; default
        :func:`verify_in_thread`; tests pass a synchronous one.
    :param timeout_ms: GET DATA timeout for the agent's number and PIN.
    :param throttle: the sign-in throttle shared with the web's sign-in (the agent's
        id is the account, the phone the client); None: none (tests).
    """

    log = Logger()

    def __init__(self, agi: AgiDriver, acd: Router, *, verify: Verify = verify_in_thread,
                 timeout_ms: int = 5000, throttle: Throttle | None = None) -> None:
        self.agi = agi
        self.acd = acd
        self.verify = verify
        self.throttle = throttle
        self.timeout_ms = timeout_ms
        self._agent_of = {a.interface: a.id for a in acd.config.agents.values()}

    def started(self, session: AgiSession, event: Message) -> None:
        code = session.env.get("agi_extension", "")
        d = self._dialog(session, code)
        d.addErrback(self._failed, session, code)

    def _failed(self, failure, session: AgiSession, code: str) -> None:
        if failure.check(AgiSessionEnded):
            return  # the agent hung up first
        self.log.failure("{chan}: feature code {code} failed", failure, chan=session.channel,
                         code=code)
        self._run(session, "HANGUP").addErrback(lambda _: None)

    def _run(self, session: AgiSession, command) -> defer.Deferred[AgiResult]:
        text = command if isinstance(command, str) else to_agi(command, SOUND_DIR)
        return self.agi.run(session, text)

    @defer.inlineCallbacks
    def _dialog(self, session: AgiSession, code: str) -> Generator[Any, Any, None]:
        device = device_of(session.channel)
        if code == LOGIN:
            prompt = yield self._login(session, device)
        elif code in (LOGOUT, PAUSE) and device in self._agent_of:
            prompt = self._logout(self._agent_of[device]) if code == LOGOUT else self._toggle(
                self._agent_of[device])
        else:
            self.log.warn("{chan}: feature code {code} not available", chan=session.channel,
                          code=code)
            prompt = "agent-feature-failed"
        yield self._run(session, Play(prompt))
        yield self._run(session, "HANGUP")

    @defer.inlineCallbacks
    def _login(self, session: AgiSession, device: str) -> Generator[Any, Any, str]:
        typed = yield self._run(session, Ask("agent-enter-id", self.timeout_ms, 8))
        agent_id = typed.result.strip().rstrip("#")
        typed = yield self._run(session, Ask("agent-enter-pin", self.timeout_ms, 12))
        pin = typed.result.strip().rstrip("#")
        agent = self.acd.config.agents.get(agent_id)
        if agent is None or agent.interface != device or not pin:
            self.log.warn("Login refused on {device}: agent {id!r} unknown, on another phone, "
                          "or no PIN", device=device, id=agent_id)
            return "agent-login-failed"
        throttle, ticket = self.throttle, None
        if throttle is not None:
            ticket = throttle.try_admit(agent_id, device)
            if ticket is None:  # refused before any hash: guessing costs minutes per try
                self.log.warn("Login refused on {device}: too many failed sign-ins for agent "
                              "{id}; try again later", device=device, id=agent_id)
                return "agent-login-failed"
        ok = False
        try:
            ok = yield self.verify(pin, agent.pin_hash)
        finally:  # a check that failed to run counts as a failed attempt
            if throttle is not None:
                (throttle.succeeded if ok else throttle.failed)(ticket)
        if not ok:
            self.log.warn("Login refused on {device}: wrong PIN for agent {id}", device=device,
                          id=agent_id)
            return "agent-login-failed"
        self.acd.login(agent_id)
        self.log.info("Agent {id} logged in from {device}", id=agent_id, device=device)
        return "agent-logged-in"

    def _logout(self, agent_id: str) -> str:
        try:
            self.acd.logout(agent_id)
        except InvalidTransition as exc:  # on a call on another line
            self.log.warn("Agent {id}: logout refused: {err}", id=agent_id, err=exc)
            return "agent-feature-failed"
        return "agent-logged-out"

    def _toggle(self, agent_id: str) -> str:
        acd = self.acd
        before = acd.agent(agent_id).state
        if before is AgentState.LOGGED_OUT:
            return "agent-feature-failed"
        try:
            after = acd.toggle_pause(agent_id, PAUSE_REASON).state
        except InvalidTransition as exc:
            self.log.warn("Agent {id}: pause refused: {err}", id=agent_id, err=exc)
            return "agent-feature-failed"
        if after is AgentState.PAUSED:
            return "agent-paused"
        if before is AgentState.PAUSED:
            return "agent-unpaused"
        # Busy (wrap-up): the toggle armed or disarmed a pause for after it.
        pending = next((a["pending_pause"] for a in acd.snapshot()["agents"]
                        if a["id"] == agent_id), None)
        return "agent-paused" if pending else "agent-unpaused"
