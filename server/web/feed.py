"""GET /api/feed: Server-Sent Events pushed from Notifier publications.

Each publication becomes ``event: <topic>`` with a JSON ``data:`` line, written
the moment it is published (no polling).  Who sees what:

* supervisor: everything (agent, call, offer, record, case);
* agent: their own ``agent`` changes, their own ``offer``s (screen-pops,
  enriched with the IVR path in words and previous calls from the same number in
  the last 7 days) and the
  final ``record``s of calls they answered (the desk's figures today), and the
  ``case`` events of the cases they own (opened, changed, reminders, escalations);
* reviewer: ``record`` (a call's record became final).

A ``: heartbeat`` comment every 15 s keeps proxies from closing an idle stream.

Limits (``FeedLimits``): at most ``per_session`` open streams per session (429)
and ``total`` in all (503), so one client cannot hold every socket.  A stream
whose client stops reading is dropped: the stream registers as the connection's
producer, so Twisted tells it when the socket's buffers are full; paused longer
than ``stall_s``, or with more than ``max_paused_bytes`` queued meanwhile, the
connection is aborted (an unread stream would otherwise grow in memory with
every event).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from twisted.internet import task
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from zope.interface import implementer

from .auth import Session
from .http import HANDLED, ApiError, ApiRequest
from .live import LiveFigures
from .screen import enrich

HEARTBEAT_S = 15.0


@dataclass(frozen=True)
class FeedLimits:
    per_session: int = 3  # a desk, a wallboard and one spare tab
    total: int = 200  # about one per seat of a large floor
    stall_s: float = 30.0
    max_paused_bytes: int = 1 << 20


@implementer(IPushProducer)
class _Watch:
    """The stream's producer: paused when the client stops reading (the socket's
    buffers are full); ``drop`` runs when it stays paused or queues too much."""

    def __init__(self, clock, limits: FeedLimits, drop) -> None:
        self.clock, self.limits, self.drop = clock, limits, drop
        self.paused_bytes = 0
        self._timer = None

    @property
    def paused(self) -> bool:
        return self._timer is not None

    def wrote(self, n: int) -> None:
        if self.paused:
            self.paused_bytes += n
            if self.paused_bytes > self.limits.max_paused_bytes:
                self.drop("too much unread")

    def pauseProducing(self) -> None:
        if self._timer is None:
            self._timer = self.clock.callLater(self.limits.stall_s, self.drop, "stalled")

    def resumeProducing(self) -> None:
        self.cancel()
        self.paused_bytes = 0

    def stopProducing(self) -> None:
        self.cancel()

    def cancel(self) -> None:
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None


def visible(session: Session, topic: str, payload: dict[str, Any]) -> bool:
    if session.role == "supervisor":
        return True
    if session.role == "agent":
        if topic == "case":  # their own cases (and one reassigned away from them)
            return session.subject in (payload.get("owner"), payload.get("previous_owner"))
        return (topic in ("agent", "offer", "record")
                and payload.get("agent_id") == session.subject)
    return topic == "record"


class Feed:
    log = Logger()

    def __init__(self, notifier, clock, live: LiveFigures, sessions, ivr,
                 limits: FeedLimits = FeedLimits()) -> None:
        self.notifier, self.clock, self.live, self.sessions = notifier, clock, live, sessions
        self.ivr = ivr  # the IVR config: the screen-pop's path in words
        self.limits = limits
        self.open = 0
        self._by_session: Counter[str] = Counter()
        self.dropped = 0  # streams aborted because the client stopped reading

    def handle(self, req: ApiRequest):
        # Long on purpose: the stream's limits, heartbeat and teardown share this one closure scope.
        request, session = req.request, req.session
        if self._by_session[session.token] >= self.limits.per_session:
            raise ApiError(429, f"at most {self.limits.per_session} open event streams per "
                                "session; close another tab first", {"Retry-After": "15"})
        if self.open >= self.limits.total:
            raise ApiError(503, "the server has as many event streams open as it serves; "
                                "try again shortly", {"Retry-After": "15"})
        request.setHeader("Content-Type", "text/event-stream; charset=utf-8")
        request.setHeader("Cache-Control", "no-store")
        request.setHeader("X-Accel-Buffering", "no")  # nginx: do not buffer the stream
        request.write(b": connected\n\n")
        self.open += 1
        self._by_session[session.token] += 1

        def write(data: bytes) -> None:
            if not request.finished and not request._disconnected:
                request.write(data)
                watch.wrote(len(data))

        def drop(why: str) -> None:
            self.dropped += 1
            self.log.info("Dropping the event stream of {who}: {why}", who=session.subject,
                          why=why)
            watch.cancel()
            transport = getattr(getattr(request, "channel", None), "transport", None)
            if transport is not None:
                transport.abortConnection()

        watch = _Watch(self.clock, self.limits, drop)
        request.registerProducer(watch, True)

        def send(topic: str, payload: dict[str, Any]) -> None:
            if not self.sessions.alive(session.token):
                finish()  # signed out or expired: the stream ends with the session
                return
            if not visible(session, topic, payload):
                return
            if topic == "offer" and payload.get("screen"):
                payload = dict(payload, screen=enrich(payload["screen"], self.ivr, self.live))
            data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
            write(f"event: {topic}\ndata: {data}\n\n".encode())

        unsubscribe = self.notifier.subscribe(send)
        beat = task.LoopingCall(write, b": heartbeat\n\n")
        beat.clock = self.clock
        beat.start(HEARTBEAT_S, now=False).addErrback(
            lambda f: self.log.failure("SSE heartbeat failed", f))

        def finish() -> None:
            if not request.finished and not request._disconnected:
                watch.cancel()
                request.unregisterProducer()  # before finish(), which complains otherwise
                request.finish()

        def closed(_: object) -> None:
            self.open -= 1
            self._by_session[session.token] -= 1
            if self._by_session[session.token] <= 0:
                del self._by_session[session.token]
            watch.cancel()
            # The channel is gone once the connection is lost (or the request finished).
            if getattr(request, "channel", None) is not None and request.producer:
                request.unregisterProducer()
            unsubscribe()
            if beat.running:
                beat.stop()

        request.notifyFinish().addBoth(closed)
        return HANDLED
