"""The dialplan applications the simulator runs (the documented subset).

Each returns :data:`NEXT` (done: go on to the next priority), :data:`JUMPED`
(it moved the channel, Goto) or :data:`PARKED` (asynchronous: it calls
``core.resume(chan)`` later and registers an interrupt with ``core.park`` so
that a hangup or Redirect can end it at once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from server.sim.agi import AgiSession
from server.sim.channel import Channel
from server.sim.dialplan import evaluate, split_args
from server.sim.events import chan_event

if TYPE_CHECKING:
    from server.sim.core import Core

log = logging.getLogger(__name__)

NEXT = "next"
JUMPED = "jumped"
PARKED = None


class Applications:
    def __init__(self, core: Core) -> None:
        self.core = core
        self._table: dict[str, Callable[[Channel, str], str | None]] = {
            "set": self._app_set, "answer": self._app_answer, "agi": self._app_agi,
            "gotoif": self._app_gotoif, "goto": self._app_goto, "noop": self._app_noop,
            "mixmonitor": self._app_mixmonitor, "stopmixmonitor": self._app_stopmixmonitor,
            "hangup": self._app_hangup, "playback": self._app_playback,
            "wait": self._app_wait, "queue": self._app_queue, "dial": self._app_dial,
            "userevent": self._app_userevent,
        }

    def get(self, app: str) -> Callable[[Channel, str], str | None] | None:
        return self._table.get(app.lower())

    def _app_noop(self, chan: Channel, data: str) -> str:
        return NEXT

    def _app_set(self, chan: Channel, data: str) -> str:
        name, _, value = data.partition("=")
        if not self.core.write_function(chan, name, value):
            self.core.set_var(chan, name.strip(), value)
        return NEXT

    def _app_userevent(self, chan: Channel, data: str) -> str:
        """``UserEvent(name[,Key: value[,...]])``: class ``user`` (not traced; Asterisk
        22's app_userevent documents the channel snapshot, ``UserEvent: name``, then
        each body pair as a header)."""
        name, *body = split_args(data)
        extra = [("UserEvent", name.strip())]
        for pair in body:
            key, sep, value = pair.partition(":")
            if sep and key.strip():
                extra.append((key.strip(), value.strip()))
        self.core.publish(chan_event("UserEvent", "user", chan, *extra))
        return NEXT

    def _app_answer(self, chan: Channel, data: str) -> str:
        self.core.answer(chan)
        return NEXT

    def _app_hangup(self, chan: Channel, data: str) -> str | None:
        if data.strip().isdigit():
            chan.hangup_cause = int(data)
        self.core.set_hangupsource(chan, "dialplan/builtin")  # pbx_builtins.c
        self.core.end_pbx(chan)
        return PARKED

    def _goto(self, chan: Channel, target: str) -> None:
        parts = [p.strip() for p in target.split(",")]
        if len(parts) == 3:
            chan.context, chan.exten = parts[0], parts[1]
        elif len(parts) == 2:
            chan.exten = parts[0]
        label = parts[-1]
        if label.isdigit():
            chan.priority = int(label)
        else:
            prio = self.core.dialplan.label_priority(chan.context, chan.exten, label)
            if prio is None:
                log.error("%s: no label %r in %s,%s", chan.name, label, chan.context, chan.exten)
                chan.priority = 10_000  # falls off the dialplan: hangup, like Asterisk
            else:
                chan.priority = prio

    def _app_goto(self, chan: Channel, data: str) -> str:
        self._goto(chan, data)
        return JUMPED

    def _app_gotoif(self, chan: Channel, data: str) -> str:
        cond, _, labels = data.partition("?")
        if_true, _, if_false = labels.partition(":")
        target = if_true if evaluate(cond) else if_false
        if not target:
            return NEXT
        self._goto(chan, target)
        return JUMPED

    def _app_mixmonitor(self, chan: Channel, data: str) -> str:
        filename = split_args(data)[0]
        self.core.set_var(chan, "MIXMONITOR_FILENAME", f"/var/spool/asterisk/monitor/{filename}")
        self.core.mixmonitor.add(chan.name)
        self.core.publish(chan_event("MixMonitorStart", "call", chan))
        return NEXT

    def _app_stopmixmonitor(self, chan: Channel, data: str) -> str:
        if chan.name in self.core.mixmonitor:
            self.core.mixmonitor.discard(chan.name)
            self.core.publish(chan_event("MixMonitorStop", "call", chan))
        return NEXT

    def mixmonitor_action(self, chan: Channel, filename: str, start: bool) -> None:
        if start:
            self._app_mixmonitor(chan, filename)
        else:
            self._app_stopmixmonitor(chan, "")

    def _timed(self, chan: Channel, seconds: float, before_resume: Callable[[], None] | None = None
               ) -> None:
        def done() -> None:
            if before_resume is not None:
                before_resume()
            self.core.resume(chan)

        call = self.core.clock.callLater(seconds, done)

        def interrupt(reason: str) -> None:
            if call.active():
                call.cancel()
            self.core.resume(chan)

        self.core.park(chan, interrupt)

    def _app_wait(self, chan: Channel, data: str) -> None:
        self._timed(chan, float(data or 0))

    def _app_playback(self, chan: Channel, data: str) -> None:
        name = split_args(data)[0]
        found = self.core.prompts.find(name, chan.language)
        if found is None:
            # Not traced.  Asterisk 22 app_playback.c: ast_streamfile fails (file.c
            # logs "Unable to open ..."; no AMI event), Playback logs "Playback
            # failed", sets PLAYBACKSTATUS=FAILED and returns 0: the dialplan goes on.
            self.core.set_var(chan, "PLAYBACKSTATUS", "FAILED")
            self._timed(chan, 0)
            return
        path, duration = found
        chan.played.append(path)
        self._timed(chan, duration, lambda: self.core.set_var(chan, "PLAYBACKSTATUS", "SUCCESS"))

    def _app_queue(self, chan: Channel, data: str) -> None:
        if self.core.dial is not None and self.core.dial.queue(chan, data):
            return  # members from queues.conf ring (server/sim/queue.py)
        # A queue without members (or not in queues.conf): the caller hears music
        # until they hang up (no Queue* events).  Documented limitation.
        self.core.moh_start(chan, "default")

        def interrupt(reason: str) -> None:
            self.core.moh_stop(chan)
            self.core.resume(chan)

        self.core.park(chan, interrupt)

    def _app_agi(self, chan: Channel, data: str) -> None:
        if not data.startswith("agi:async"):
            log.error("%s: only AGI(agi:async) is simulated, got %r", chan.name, data)
            self.core.end_pbx(chan)
            return

        def on_end(status: str) -> None:
            chan.agi = None
            chan.pending = None
            if chan.interrupt == "redirect":
                chan.interrupt = None
            self.core.resume(chan)

        session = AgiSession(self.core, chan, on_end)
        self.core.agi_queue(chan)  # creates the command datastore
        chan.agi = session
        self.core.park(chan, session.interrupt)
        session.start()

    def _app_dial(self, chan: Channel, data: str) -> None:
        if self.core.dial is None:
            raise RuntimeError("no Dialer attached to the core")
        self.core.dial.dial(chan, data)
