"""AsyncAGI as Asterisk 22 runs it (traces 02, 03, 04, 07, 08).

States of a session: ``idle`` (waiting for a queued command), ``running`` (one
command at a time), ``ended``.  The command *queue* belongs to the channel, not
to the session: a Redirect ends the session but keeps queued commands, which
start as soon as the channel enters ``AGI(agi:async)`` again (trace 08); a
hangup drops them silently (trace 04).

Per command: ``AGIExecStart`` (Asterisk's own random integer CommandId),
``AGIExecEnd`` (ResultCode/Result), ``AsyncAGIExec`` (percent-encoded Result,
then the client's ``CommandId`` as the last header, absent when the action had
none).  A result of ``-1`` or an interrupted command ends the session:
``AsyncAGIEnd`` then ``VarSet AGISTATUS`` (FAILURE, or HANGUP when the channel
was hung up or redirected).
"""

from __future__ import annotations

import logging
import shlex
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.ami.asyncagi import percent_encode
from server.sim.channel import Channel
from server.sim.events import chan_event

if TYPE_CHECKING:
    from server.sim.core import Core

log = logging.getLogger(__name__)

SAMPLES_PER_SECOND = 8000  # endpos counts 8 kHz samples (15233 for a 1.9 s prompt)

# (ResultCode, Result) of AGIExecEnd, as traced.
SUCCESS = ("200", "Success")
FAILURE = ("-1", "Failure")
UNKNOWN = ("200", "Unknown Result")
INVALID = ("510", "Invalid or unknown command")


@dataclass(frozen=True)
class QueuedCommand:
    command: str
    command_id: str | None  # the client's CommandID; None when the action had none


def env_text(chan: Channel, version: str = "22.10.1", thread_id: int = 140316341106368) -> str:
    """The decoded AsyncAGIStart Env, keys in Asterisk's order."""
    tech = chan.name.split("/", 1)[0]
    pairs = [
        ("agi_request", "async"), ("agi_channel", chan.name), ("agi_language", chan.language),
        ("agi_type", tech), ("agi_uniqueid", chan.uniqueid), ("agi_version", version),
        ("agi_callerid", chan.caller_num), ("agi_calleridname", chan.caller_name),
        ("agi_callingpres", "0"), ("agi_callingani2", "0"), ("agi_callington", "0"),
        ("agi_callingtns", "0"), ("agi_dnid", "unknown"), ("agi_rdnis", "unknown"),
        ("agi_context", chan.context), ("agi_extension", chan.exten),
        ("agi_priority", str(chan.priority)), ("agi_enhanced", "0.0"),
        ("agi_accountcode", chan.account_code), ("agi_threadid", str(thread_id)),
    ]
    return "".join(f"{k}: {v}\n" for k, v in pairs) + "\n"


class AgiSession:
    """One ``AGI(agi:async)`` run on one channel.  ``on_end(status)`` resumes the dialplan."""

    def __init__(self, core: Core, chan: Channel, on_end: Callable[[str], None]) -> None:
        self.core = core
        self.chan = chan
        self.on_end = on_end
        self.state = "idle"
        self.current: QueuedCommand | None = None
        self._exec_id = ""
        self._timers: list = []
        self._on_interrupt: Callable[[], tuple[str, tuple[str, str]]] | None = None
        self._play_started = 0.0
        self._wakeup = None
        self._pumping = False

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        env = percent_encode(env_text(self.chan))
        self.core.publish(chan_event("AsyncAGIStart", "agi", self.chan, ("Env", env)))
        self._pump()  # commands left queued by a Redirect start at once (trace 08)

    def enqueue(self, cmd: QueuedCommand) -> None:
        self.queue.append(cmd)
        if self.state == "idle" and self._wakeup is None:
            # The AGI loop notices new commands a little later (20-100 ms in the traces).
            self._wakeup = self.core.clock.callLater(self.core.agi_delay, self._wake)

    @property
    def queue(self) -> deque[QueuedCommand]:
        return self.core.agi_queue(self.chan)

    def _wake(self) -> None:
        self._wakeup = None
        self._pump()

    def _pump(self) -> None:
        # A trampoline: commands that finish at once (NOOP, SET VARIABLE) call
        # back into _pump from _finish; the outer loop picks the next one, so a
        # long queue does not recurse.
        if self._pumping:
            return
        self._pumping = True
        try:
            while self.state == "idle" and self.queue:
                self._run(self.queue.popleft())
        finally:
            self._pumping = False

    def interrupt(self, reason: str) -> None:
        """The channel was hung up (``hangup``) or redirected (``redirect``)."""
        if self._wakeup is not None:
            self._wakeup.cancel()
            self._wakeup = None
        if reason == "hangup":
            self.queue.clear()  # queued commands are dropped silently (trace 04)
        if self.state == "running" and self._on_interrupt is not None:
            result, code = self._on_interrupt()
            self._finish(result, code, interrupted=True)
        elif self.state != "ended":
            self._end("HANGUP")

    # -- command plumbing --------------------------------------------------
    def _run(self, cmd: QueuedCommand) -> None:
        self.state = "running"
        self.current = cmd
        self._exec_id = str(self.core.rng.randrange(1, 2**31))
        self.core.publish(chan_event("AGIExecStart", "agi", self.chan,
                                     ("CommandId", self._exec_id), ("Command", cmd.command)))
        try:
            words = shlex.split(cmd.command)
        except ValueError:
            words = cmd.command.split()
        for n in (3, 2, 1):
            handler = _COMMANDS.get(" ".join(words[:n]).upper())
            if handler is not None and len(words) >= n:
                handler(self, words[n:])
                return
        self._finish("510 Invalid or unknown command", INVALID)

    def _finish(
        self,
        result: str,
        code: tuple[str, str],
        interrupted: bool = False,
        end: str | None = None,
    ) -> None:
        if self.state != "running":
            return
        for t in self._timers:
            if t.active():
                t.cancel()
        self._timers = []
        self._on_interrupt = None
        self.chan.dtmf_sink = None
        cmd = self.current
        assert cmd is not None
        self.core.publish(chan_event(
            "AGIExecEnd", "agi", self.chan, ("CommandId", self._exec_id),
            ("Command", cmd.command), ("ResultCode", code[0]), ("Result", code[1])))
        extra = [("Result", percent_encode(result + "\n"))]
        if cmd.command_id is not None:
            extra.append(("CommandId", cmd.command_id))
        self.core.publish(chan_event("AsyncAGIExec", "agi", self.chan, *extra))
        self.current = None
        self.state = "idle"
        if end is not None:
            self._end(end)  # ASYNCAGI BREAK / HANGUP: AsyncAGIExec, then AsyncAGIEnd
        elif interrupted or self.chan.hungup or self.chan.interrupt:
            self._end("HANGUP")
        elif code == FAILURE:
            # res_agi: the handler returned RESULT_FAILURE (STREAM FILE of a missing
            # file, trace 07).  Not every -1 result: GET DATA reports -1 as SUCCESS.
            self._end("FAILURE")
        elif self.state == "idle":
            self._pump()

    def _end(self, status: str) -> None:
        if self.state == "ended":
            return
        self.state = "ended"
        if self._wakeup is not None:
            self._wakeup.cancel()
            self._wakeup = None
        self.core.publish(chan_event("AsyncAGIEnd", "agi", self.chan))
        self.core.set_var(self.chan, "AGISTATUS", status)
        self.on_end(status)

    # -- media primitives --------------------------------------------------
    def later(self, delay: float, fn: Callable[[], None]) -> None:
        self._timers.append(self.core.clock.callLater(delay, fn))

    def play(self, name: str, escape: str, done: Callable[[str | None, float], None]) -> bool:
        """Play a prompt; ``done(digit or None, seconds played)``.  False if it is missing.

        The file is looked up in the channel's language, as Asterisk does
        (server/sim/prompts.py); the path played is kept in ``chan.played``.
        """
        found = self.core.prompts.find(name, self.chan.language)
        if found is None:
            return False
        path, duration = found
        self.chan.played.append(path)
        started = self.core.clock.seconds()

        def on_digit(digit: str) -> None:
            if digit in escape:
                self.chan.dtmf_sink = None
                for t in self._timers:
                    if t.active():
                        t.cancel()
                done(digit, self.core.clock.seconds() - started)

        def on_end() -> None:
            self.chan.dtmf_sink = None
            done(None, duration)

        self.chan.dtmf_sink = on_digit if escape else None
        self.later(duration, on_end)
        self._play_started = started
        return True

    def played(self) -> float:
        """Seconds of the current prompt played so far."""
        return self.core.clock.seconds() - self._play_started

    def wait_digit(self, timeout: float | None, done: Callable[[str | None], None]) -> None:
        """Wait up to ``timeout`` seconds (None: forever) for one digit."""

        def on_digit(digit: str) -> None:
            self.chan.dtmf_sink = None
            for t in self._timers:
                if t.active():
                    t.cancel()
            done(digit)

        def timed_out() -> None:
            self.chan.dtmf_sink = None
            done(None)

        self.chan.dtmf_sink = on_digit
        if timeout is not None:
            self.later(timeout, timed_out)


def endpos(seconds: float) -> int:
    return int(round(seconds * SAMPLES_PER_SECOND))


# -- commands ----------------------------------------------------------------

def _answer(s: AgiSession, args: list[str]) -> None:
    s.core.answer(s.chan)
    s._finish("200 result=0", SUCCESS)


def _noop(s: AgiSession, args: list[str]) -> None:
    s._finish("200 result=0", SUCCESS)


def _verbose(s: AgiSession, args: list[str]) -> None:
    s._finish("200 result=1", SUCCESS)


def _stream_file(s: AgiSession, args: list[str]) -> None:
    name = args[0] if args else ""
    escape = args[1] if len(args) > 1 else ""

    def done(digit: str | None, played: float) -> None:
        s.core.set_var(s.chan, "PLAYBACKSTATUS", "SUCCESS")
        s._finish(f"200 result={ord(digit) if digit else 0} endpos={endpos(played)}", SUCCESS)

    if not s.play(name, escape, done):
        # Trace 07, and Asterisk 22 res_agi.c handle_streamfile: ast_openstream finds
        # no file in the channel's language (nor without one, nor in en) -> "200
        # result=-1 endpos=<offset>", RESULT_FAILURE: AGIExecEnd -1 Failure, AsyncAGI ends.
        s._finish("200 result=-1 endpos=0", FAILURE)
        return

    def cut() -> tuple[str, tuple[str, str]]:
        s.core.set_var(s.chan, "PLAYBACKSTATUS", "FAILED")
        return f"200 result=-1 endpos={endpos(s.played())}", FAILURE

    s._on_interrupt = cut


def _get_data(s: AgiSession, args: list[str]) -> None:
    name = args[0] if args else ""
    # res_agi: timeout in ms; without one Asterisk uses 6 s per digit (documented default).
    timeout = int(args[1]) / 1000.0 if len(args) > 1 and args[1].lstrip("-").isdigit() else 6.0
    max_digits = int(args[2]) if len(args) > 2 and args[2].isdigit() else 1024
    digits: list[str] = []

    def finish(timed_out: bool) -> None:
        text = "".join(digits)
        s._finish(f"200 result={text} (timeout)" if timed_out else f"200 result={text}", SUCCESS)

    def take(digit: str | None) -> None:
        if digit is None:
            finish(True)
        elif digit == "#":
            finish(False)
        else:
            digits.append(digit)
            if len(digits) >= max_digits:
                finish(False)
            else:
                s.wait_digit(timeout, take)

    def prompt_done(digit: str | None, played: float) -> None:
        if digit is None:
            s.wait_digit(timeout, take)  # nothing typed during the prompt
        else:
            take(digit)  # type-ahead: the digit that cut the prompt counts

    s._on_interrupt = lambda: ("200 result=-1", SUCCESS)
    if not name:
        s.wait_digit(timeout, take)  # GET DATA "" ...: no prompt, straight to the digits
    elif not s.play(name, "0123456789*#", prompt_done):
        # Not in the traces.  Asterisk 22 res_agi.c handle_getdata: ast_app_getdata_full
        # returns -1 when ast_streamfile cannot open the prompt (main/file.c logs
        # "Unable to open ..."; no AMI event), so it answers "200 result=-1" but
        # returns RESULT_SUCCESS: AGIExecEnd 200 Success, and AsyncAGI goes on.
        s._finish("200 result=-1", SUCCESS)


def _wait_for_digit(s: AgiSession, args: list[str]) -> None:
    ms = int(args[0]) if args and args[0].lstrip("-").isdigit() else -1
    s._on_interrupt = lambda: ("200 result=-1", FAILURE)
    s.wait_digit(None if ms < 0 else ms / 1000.0,
                 lambda d: s._finish(f"200 result={ord(d) if d else 0}", SUCCESS))


def _say(s: AgiSession, words: int, escape: str) -> None:
    s._on_interrupt = lambda: ("200 result=-1", FAILURE)
    duration = words * s.core.prompts.say_seconds

    def on_digit(digit: str) -> None:
        if digit in escape:
            s._finish(f"200 result={ord(digit)}", SUCCESS)

    s.chan.dtmf_sink = on_digit if escape else None
    s.later(duration, lambda: s._finish("200 result=0", SUCCESS))


def _say_digits(s: AgiSession, args: list[str]) -> None:
    _say(s, len(args[0]) if args else 0, args[1] if len(args) > 1 else "")


def _say_number(s: AgiSession, args: list[str]) -> None:
    # Approximation: one sound file per digit (real SAY NUMBER says "twenty-one").
    _say(s, len(args[0].lstrip("-")) if args else 0, args[1] if len(args) > 1 else "")


def _say_datetime(s: AgiSession, args: list[str]) -> None:
    # SAY DATETIME <time> <escape digits> [format] [timezone] (Asterisk 22 AGI docs):
    # 200 result=0, or the escape key's ASCII code.  The traces do not cover it;
    # one sound per format letter approximates its length ("HM" = hour, minute).
    fmt = args[2] if len(args) > 2 else "ABdY 'digits/at' IMp"
    words = sum(ch.isalpha() for ch in fmt.replace("'", ""))
    if not args or not args[0].lstrip("-").isdigit():
        s._finish("200 result=-1", FAILURE)
        return
    _say(s, max(words, 1), args[1] if len(args) > 1 else "")


def _set_variable(s: AgiSession, args: list[str]) -> None:
    # res_agi handle_setvariable -> pbx_builtin_setvar_helper, which writes a
    # function (a name ending in ")", e.g. CHANNEL(language)) with ast_func_write:
    # no VarSet for those.
    if args:
        value = args[1] if len(args) > 1 else ""
        if not (args[0].endswith(")") and s.core.write_function(s.chan, args[0], value)):
            s.core.set_var(s.chan, args[0], value)
    s._finish("200 result=1", SUCCESS)


def _get_variable(s: AgiSession, args: list[str]) -> None:
    value = s.chan.variables.get(args[0]) if args else None
    s._finish("200 result=0" if value is None else f"200 result=1 ({value})", SUCCESS)


def _get_full_variable(s: AgiSession, args: list[str]) -> None:
    value = s.core.expand(s.chan, args[0]) if args else ""
    s._finish(f"200 result=1 ({value})", SUCCESS)


def _channel_status(s: AgiSession, args: list[str]) -> None:
    s._finish(f"200 result={s.chan.state}", SUCCESS)


def _hangup(s: AgiSession, args: list[str]) -> None:
    s.core.publish(chan_event("SoftHangupRequest", "call", s.chan, ("Cause", "32")))
    s.chan.interrupt = "agi-hangup"
    s.core.set_hangupsource(s.chan, "dialplan/agi")  # res_agi.c handle_hangup
    s._finish("200 result=1", SUCCESS, end="HANGUP")


def _asyncagi_break(s: AgiSession, args: list[str]) -> None:
    s._finish("200 result=0", SUCCESS, end="SUCCESS")


def _exec(s: AgiSession, args: list[str]) -> None:
    app = args[0].lower() if args else ""
    data = " ".join(args[1:])
    if app == "playback":
        name = data.split(",")[0]

        def played(_d: str | None, _t: float) -> None:
            s.core.set_var(s.chan, "PLAYBACKSTATUS", "SUCCESS")
            s._finish("200 result=0", SUCCESS)

        s._on_interrupt = lambda: ("200 result=-1", UNKNOWN)
        if not s.play(name, "", played):
            s.core.set_var(s.chan, "PLAYBACKSTATUS", "FAILED")
            s._finish("200 result=0", SUCCESS)
    elif app == "musiconhold":
        parts = data.split(",")
        klass = parts[0] or "default"
        secs = float(parts[1]) if len(parts) > 1 and parts[1] else None
        s.core.moh_start(s.chan, klass)

        def stop() -> tuple[str, tuple[str, str]]:
            s.core.moh_stop(s.chan)
            return "200 result=-1", UNKNOWN

        s._on_interrupt = stop
        def elapsed() -> None:
            s.core.moh_stop(s.chan)
            s._finish("200 result=0", SUCCESS)

        if secs is not None:
            s.later(secs, elapsed)
    elif app == "wait":
        s._on_interrupt = lambda: ("200 result=-1", UNKNOWN)
        s.later(float(data or 0), lambda: s._finish("200 result=0", SUCCESS))
    elif app in ("set", "noop"):
        if app == "set" and "=" in data:
            k, _, v = data.partition("=")
            s.core.set_var(s.chan, k, v)
        s._finish("200 result=0", SUCCESS)
    else:
        # Asterisk: "Could not find application"; result -2, AGI goes on (trace 07).
        s._finish("200 result=-2", UNKNOWN)


_COMMANDS: dict[str, Callable[[AgiSession, list[str]], None]] = {
    "ANSWER": _answer,
    "NOOP": _noop,
    "VERBOSE": _verbose,
    "STREAM FILE": _stream_file,
    "GET DATA": _get_data,
    "WAIT FOR DIGIT": _wait_for_digit,
    "SAY DIGITS": _say_digits,
    "SAY NUMBER": _say_number,
    "SAY DATETIME": _say_datetime,
    "SET VARIABLE": _set_variable,
    "GET VARIABLE": _get_variable,
    "GET FULL VARIABLE": _get_full_variable,
    "CHANNEL STATUS": _channel_status,
    "HANGUP": _hangup,
    "ASYNCAGI BREAK": _asyncagi_break,
    "EXEC": _exec,
}
