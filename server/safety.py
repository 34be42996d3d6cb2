"""Keeps the dialplan's safety net away from callers while this server is alive.

Asterisk 22's AsyncAGI never times out: a caller whose server has died would
wait in silence for ever.  deploy/asterisk/extensions.conf therefore sends a
caller to a plain ``Queue(hotline-fallback)``, after an apology, when either

* the global ``HOTLINE_ALIVE_UNTIL`` is in the past as the caller arrives (the
  server is down: the caller never enters AsyncAGI), or
* the caller's ``TIMEOUT(absolute)`` runs out while in AsyncAGI (the ``T``
  extension: the server stopped driving the call).

This class is the other half.  Every ``watchdog_s / 3`` seconds, while the AMI
link is up, it

* reads Asterisk's own clock (``Getvar EPOCH``, so the two hosts' clocks never
  have to agree) and sets ``HOTLINE_ALIVE_UNTIL`` to that + ``watchdog_s``;
* sends ``AbsoluteTimeout`` (``watchdog_s``) for each channel the server is
  driving in AsyncAGI, spread over the ticks as the calls arrived.

A server that dies, hangs, or loses Asterisk for longer than ``watchdog_s``
stops doing both, and Asterisk takes over.  A link that comes back refreshes
everything at once.  Only callers in the IVR, the queue's waiting loop, the
survey or a goodbye are watched: the dialplan clears the deadline while an
agent's phone rings and during the conversation (``acd-connect``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from twisted.internet import defer
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from server.ami.protocol import AmiActionError, AmiNotConnected

ALIVE_VARIABLE = "HOTLINE_ALIVE_UNTIL"


class SafetyNet:
    """Refreshes the heartbeat and the callers' deadlines; see the module docstring.

    :param channels: the channels to keep alive now (``CallCenter.driven_channels``).
    :param watchdog_s: the grace Asterisk gives; 0 turns the refreshing off (the
        dialplan's ``HOTLINE_WATCHDOG`` must then be 0 too, or callers fall back).
    """

    log = Logger()

    def __init__(self, clock, ami, channels: Callable[[], Iterable[str]],
                 watchdog_s: float, tick_s: float = 1.0) -> None:
        self.clock = clock
        self.ami = ami
        self.channels = channels
        self.watchdog_s = int(watchdog_s)
        self.refresh_s = watchdog_s / 3.0
        self.tick_s = tick_s
        self._refreshed: dict[str, float] = {}  # channel -> when its deadline was last pushed
        self._beat_at: float | None = None
        self._loop: LoopingCall | None = None
        self.beats = 0  # heartbeats Asterisk accepted (tests, metrics)
        self.refreshes = 0  # AbsoluteTimeout actions sent
        ami.on_state(self._link)

    @property
    def enabled(self) -> bool:
        return self.watchdog_s > 0

    def start(self) -> None:
        if not self.enabled or self._loop is not None:
            return
        self._loop = LoopingCall(self.tick)
        self._loop.clock = self.clock
        self._loop.start(self.tick_s, now=True)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def _link(self, up: bool) -> None:
        # After a (re)login nothing Asterisk holds can be trusted to be fresh.
        self._refreshed.clear()
        self._beat_at = None
        if up and self._loop is not None:
            self.tick()

    def tick(self) -> None:
        if not self.enabled or not self.ami.connected:
            return
        now = self.clock.seconds()
        if self._beat_at is None or now - self._beat_at >= self.refresh_s:
            self._beat_at = now
            self._beat()
        seen = set()
        for channel in self.channels():
            seen.add(channel)
            last = self._refreshed.get(channel)
            if last is not None and now - last < self.refresh_s:
                continue
            self._refreshed[channel] = now
            self.refreshes += 1
            d = self.ami.sendAction("AbsoluteTimeout", [("Channel", channel),
                                                        ("Timeout", str(self.watchdog_s))])
            d.addErrback(self._refresh_failed, channel)
        for channel in [c for c in self._refreshed if c not in seen]:
            del self._refreshed[channel]

    @defer.inlineCallbacks
    def _beat(self):
        try:
            reply = yield self.ami.sendAction("Getvar", [("Variable", "EPOCH")])
            epoch = int(reply.get("Value") or "")
            yield self.ami.sendAction("Setvar", [("Variable", ALIVE_VARIABLE),
                                                 ("Value", str(epoch + self.watchdog_s))])
        except AmiNotConnected:
            return  # the link went down in between: the next login beats again
        except (ValueError, TypeError):
            self.log.error("Asterisk gave no usable EPOCH; the safety-net heartbeat is not set")
            return
        except Exception as exc:
            self.log.warn("Safety-net heartbeat failed: {e}", e=exc)
            return
        self.beats += 1

    def _refresh_failed(self, failure, channel: str) -> None:
        if failure.check(AmiNotConnected):
            return  # refreshed after the next login
        if (failure.check(AmiActionError)
                and failure.value.response.get("Message") == "No such channel"):
            return  # it hung up since; the call leaves the watch list
        self.log.warn("Could not push the safety-net deadline of {channel}: {e}",
                      channel=channel, e=failure.getErrorMessage())
