"""Agents on real SIP softphones: baresip driven by the lab's ``sipua.py``.

Each agent answers a ringing call after ``answer_s``, puts the caller on hold
for ``hold_s`` at ``hold_at_s`` if it is a holding agent, and hangs up
``talk_s`` after answering.  What each phone did is kept in ``actions`` (wall
clock), so the comparison can also check the project's records against the
phones' own account.

A call the server places itself (a callback or a return visit: the agent's phone
rings first, from 95598) is kept ``OUTBOUND_EXTRA_S`` longer: the whisper
(~6 s), the number and the customer's answer come before the talk.
"""

from __future__ import annotations

import threading
import time

OUTBOUND_EXTRA_S = 12.0
SERVER_NUMBER = "95598"  # the caller ID of the server's own Originates (server/outbound.py)


class AgentPhone:
    def __init__(self, baresip_cls, agent: str, password: str, index: int, *,
                 answer_s: float, talk_s: float, hold_at_s: float | None = None,
                 hold_s: float = 0.0, note=None) -> None:
        self.agent = agent
        self.ua = baresip_cls(agent, password, sip_port=5171 + 10 * index,
                              ctrl_port=4541 + index, rtp=f"{31000 + 100 * index}-"
                              f"{31000 + 100 * index + 99}", max_calls=1, note=note)
        self.answer_s, self.talk_s = answer_s, talk_s
        self.hold_at_s, self.hold_s = hold_at_s, hold_s
        self.actions: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"agent-{agent}", daemon=True)

    @property
    def pid(self) -> int | None:
        return self.ua.proc.pid if self.ua.proc else None

    def start(self, registered, timeout: float = 15.0) -> None:
        """Start baresip; returns once ``registered(timeout)`` says Asterisk has the
        phone's contact (RuntimeError if not).  baresip's own REGISTER_OK is no use
        here: on loopback it often comes before the control socket is connected."""
        self.ua.start()
        if not registered(timeout):
            raise RuntimeError(f"phone {self.agent} did not register")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.ua.stop()

    def _act(self, what: str) -> None:
        self.actions.append((time.time(), what))

    def _closed_within(self, seconds: float, since: int) -> bool:
        """Wait up to ``seconds``; True if the call closed meanwhile."""
        return self.ua.wait_event("CALL_CLOSED", timeout=max(seconds, 0.0),
                                  start=since) is not None

    def _loop(self) -> None:
        cursor = self.ua.index()
        while not self._stop.is_set():
            incoming = self.ua.wait_event("CALL_INCOMING", timeout=0.5, start=cursor)
            if incoming is None:
                continue  # the cursor stays: a call that rings meanwhile is seen next time
            # from just after the ring: a CALL_CLOSED that followed it at once counts
            start = cursor = next(i for i, m in enumerate(self.ua.msgs) if m is incoming) + 1
            self._act("ringing")
            if self._closed_within(self.answer_s, start):
                self._act("caller gone before answer")
                continue
            self.ua.cmd("accept")
            self._act("accept")
            if self.ua.wait_event("CALL_ESTABLISHED", timeout=5, start=start) is None:
                self._act("not established")
                continue
            answered = time.monotonic()
            peer = f"{incoming.get('peeruri', '')} {incoming.get('peerdisplayname', '')}"
            talk_s = self.talk_s + (OUTBOUND_EXTRA_S if SERVER_NUMBER in peer else 0.0)
            if self.hold_at_s is not None:
                if self._closed_within(self.hold_at_s, start):
                    self._act("caller hung up")
                    continue
                self.ua.cmd("hold")
                self._act("hold")
                if self._closed_within(self.hold_s, start):
                    self._act("caller hung up")
                    continue
                self.ua.cmd("resume")
                self._act("resume")
            if self._closed_within(talk_s - (time.monotonic() - answered), start):
                self._act("caller hung up")
                continue
            self.ua.cmd("hangup")
            self._act("hangup")
            self.ua.wait_event("CALL_CLOSED", timeout=5, start=start)
            cursor = self.ua.index()
