"""GET /api/feed: Server-Sent Events pushed from Notifier publications.

Each publication becomes ``event: <topic>`` with a JSON ``data:`` line, written
the moment it is published (no polling).  Who sees what:

* supervisor: everything (agent, call, offer, record);
* agent: their own ``agent`` changes, their own ``offer``s (screen-pops,
  enriched with the IVR path in words and previous calls from the same number in
  the last 7 days) and the
  final ``record``s of calls they answered (the desk's figures today);
* reviewer: ``record`` (a call's record became final).

A ``: heartbeat`` comment every 15 s keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet import task
from twisted.logger import Logger

from .auth import Session
from .http import HANDLED, ApiRequest
from .live import LiveFigures
from .screen import enrich

HEARTBEAT_S = 15.0


def visible(session: Session, topic: str, payload: dict[str, Any]) -> bool:
    if session.role == "supervisor":
        return True
    if session.role == "agent":
        return (topic in ("agent", "offer", "record")
                and payload.get("agent_id") == session.subject)
    return topic == "record"


class Feed:
    log = Logger()

    def __init__(self, notifier, clock, live: LiveFigures, sessions, ivr) -> None:
        self.notifier, self.clock, self.live, self.sessions = notifier, clock, live, sessions
        self.ivr = ivr  # the IVR config: the screen-pop's path in words
        self.open = 0

    def handle(self, req: ApiRequest):
        request, session = req.request, req.session
        request.setHeader("Content-Type", "text/event-stream; charset=utf-8")
        request.setHeader("Cache-Control", "no-store")
        request.setHeader("X-Accel-Buffering", "no")  # nginx: do not buffer the stream
        request.write(b": connected\n\n")
        self.open += 1

        def send(topic: str, payload: dict[str, Any]) -> None:
            if not self.sessions.alive(session.token):
                finish()  # signed out or expired: the stream ends with the session
                return
            if not visible(session, topic, payload):
                return
            if topic == "offer" and payload.get("screen"):
                payload = dict(payload, screen=enrich(payload["screen"], self.ivr, self.live))
            data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
            request.write(f"event: {topic}\ndata: {data}\n\n".encode())

        unsubscribe = self.notifier.subscribe(send)
        beat = task.LoopingCall(lambda: request.write(b": heartbeat\n\n"))
        beat.clock = self.clock
        beat.start(HEARTBEAT_S, now=False).addErrback(
            lambda f: self.log.failure("SSE heartbeat failed", f))

        def finish() -> None:
            if not request.finished and not request._disconnected:
                request.finish()

        def closed(_: object) -> None:
            self.open -= 1
            unsubscribe()
            if beat.running:
                beat.stop()

        request.notifyFinish().addBoth(closed)
        return HANDLED
