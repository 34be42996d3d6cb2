"""The wait in queue: music on hold in chunks, announcements between them.

``EXEC MusicOnHold class,N`` blocks the channel for N seconds, and AsyncAGI
runs one command at a time, so the wait is a loop: a chunk of music, then
"you are number <n> in the queue, the expected wait is <m> minutes", then
music again.  When the expected wait passes a threshold the caller is
offered a callback once, so nobody must hold through an outage storm; and
once more when they reach the queue's maximum wait (a callback that keeps
their place in line, instead of the goodbye).  Declining, or giving no key or
no usable number, the caller keeps waiting: the ACD says goodbye only after
its grace time.

The ACD owns the queue; it answers ``status(now)`` with the caller's place,
or None once the call is no longer queued.  When the router connects the
call, the adapter's Redirect ends the running chunk with ``result=-1``
(trace 08): the loop stops quietly and reports nothing, because the ACD
already knows why.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from ivr.callback import CallbackDialog, CallbackPrompts
from ivr.commands import AgiCommand, AgiResult, Ask, Hangup, MusicOnHold, Play, SayNumber
from ivr.outcomes import CallbackRequested, Outcome
from ivr.sequence import KEYS, Sequence

__all__ = ["HoldLoop", "HoldPrompts", "HoldState", "QueueStatus"]


@dataclass(frozen=True)
class QueueStatus:
    position: int  # 1 = next to be served
    ewt_s: float  # estimated wait, seconds
    #: the caller reached the queue's maximum wait: offer the callback that keeps
    #: their place (the ACD says when; not in quiet hours)
    max_wait: bool = False


@dataclass(frozen=True)
class HoldPrompts:
    position: str = "queue-position"  # "you are number"
    in_queue: str = "queue-in-line"  # "in the queue"
    wait: str = "queue-wait"  # "the expected wait is about"
    minutes: str = "minutes"
    offer: str = "hold-callback-offer"  # "press 1 to be called back instead of waiting"
    # "sorry for the long wait; press 1 for a call back that keeps your place".  The
    # name starts like ``offer`` so scripted callers who answer one answer both.
    max_wait_offer: str = "hold-callback-keep-place"
    callback: CallbackPrompts = field(default_factory=CallbackPrompts)

    def names(self) -> tuple[str, ...]:
        """Every prompt file the loop may play (for check-config and the synthesis script)."""
        own = (self.position, self.in_queue, self.wait, self.minutes, self.offer,
               self.max_wait_offer)
        return own + tuple(n for n in self.callback.names() if n not in own)


class HoldState(StrEnum):
    MUSIC = "music"
    ANNOUNCE = "announce"  # position and wait, maybe ending in the callback offer
    CALLBACK = "callback"
    GOODBYE = "goodbye"
    DONE = "done"


class HoldLoop:
    def __init__(self, queue: str, caller_number: str | None,
                 status: Callable[[float], QueueStatus | None], *,
                 chunk_s: int = 20, moh_class: str = "default",
                 callback_above_ewt_s: float | None = None, timeout_ms: int = 5000,
                 intent: str | None = None, account: str | None = None,
                 prompts: HoldPrompts | None = None) -> None:
        self.queue, self.intent, self.account = queue, intent, account
        self._caller = caller_number
        self._status = status
        self._chunk = MusicOnHold(chunk_s, moh_class)
        self._threshold = callback_above_ewt_s  # None: never offer
        self._timeout_ms = timeout_ms
        self.prompts = prompts or HoldPrompts()
        self.state = HoldState.DONE
        self.offered = False  # the offer is made once: asking every minute would nag
        # ... and once more at the maximum wait, where the alternative is the goodbye
        self.max_wait_offered = False
        self._seq = Sequence()
        self._dialog: CallbackDialog | None = None

    def start(self, now: float) -> list[AgiCommand | Outcome]:
        return self._music()

    def on_result(self, result: AgiResult, now: float) -> list[AgiCommand | Outcome]:
        if self.state is HoldState.DONE:
            return []
        if result.failed:  # a Redirect to the agent, or the caller left: the ACD knows
            return self.stop()
        following, key = self._seq.advance(result)
        if following is not None:
            return [following]
        # A key that cut a prompt short answers the question it leads to (type-ahead);
        # STREAM FILE and SAY report it as an ASCII code, never as the digit itself.
        answer = key if key is not None else result.result
        if self.state is HoldState.MUSIC:
            return self._announce(now)
        if self.state is HoldState.ANNOUNCE:
            if isinstance(self._seq.final, Ask) and answer == "1":
                self._dialog = CallbackDialog(self._caller, self.prompts.callback,
                                              self._timeout_ms)
                return self._run(HoldState.CALLBACK, self._dialog.opening())
            return self._music()
        if self.state is HoldState.CALLBACK:
            assert self._dialog is not None
            step = self._dialog.decide(answer)
            if isinstance(step, list):
                return self._run(HoldState.CALLBACK, step)
            if step is None:
                return self._music()  # no usable number: keep their place
            self.state = HoldState.GOODBYE
            wanted = CallbackRequested(self.queue, step, self.intent, self.account)
            return [wanted, self._seq.start([Play(self.prompts.callback.done), Hangup()])]
        return self.stop()  # GOODBYE: the HANGUP has run

    def on_hangup(self, now: float) -> list[AgiCommand | Outcome]:
        return self.stop()

    def stop(self) -> list[AgiCommand | Outcome]:
        """The call left the queue (connected, abandoned, redirected): no more commands."""
        self.state = HoldState.DONE
        self._seq.clear()
        return []

    def _run(self, state: HoldState, commands: list[AgiCommand]) -> list[AgiCommand | Outcome]:
        self.state = state
        return [self._seq.start(commands)]

    def _music(self) -> list[AgiCommand | Outcome]:
        return self._run(HoldState.MUSIC, [self._chunk])

    def _announce(self, now: float) -> list[AgiCommand | Outcome]:
        status = self._status(now)
        if status is None:
            return self.stop()
        p = self.prompts
        minutes = max(1, math.ceil(status.ewt_s / 60))  # "about 0 minutes" helps nobody
        at_max = status.max_wait and not self.max_wait_offered
        offer = at_max or (self._threshold is not None and not self.offered
                           and status.ewt_s > self._threshold)
        # Before the offer's digit entry a key cuts the announcement short and
        # answers it (type-ahead); without the offer the caller just listens.
        escape = KEYS if offer else ""
        commands: list[AgiCommand] = [Play(p.position, escape),
                                      SayNumber(status.position, escape),
                                      Play(p.in_queue, escape), Play(p.wait, escape),
                                      SayNumber(minutes, escape), Play(p.minutes, escape)]
        if at_max:
            self.offered = self.max_wait_offered = True
            commands.append(Ask(p.max_wait_offer, self._timeout_ms, 1))
        elif offer:
            self.offered = True
            commands.append(Ask(p.offer, self._timeout_ms, 1))
        return self._run(HoldState.ANNOUNCE, commands)
