"""What the IVR asks of a channel, and what comes back: the engine's vocabulary.

The engine returns these values; ``server`` turns each into one AsyncAGI
command (``Action: AGI``), sends it, and feeds the decoded ``AsyncAGIExec``
result back as an :class:`AgiResult`.  Commands run one at a time, as
Asterisk runs them: the engine never has two in flight.

``Outcome`` values are not sent to Asterisk: they tell the server what the
caller's journey decided (queue the call, record a survey score, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = [
    "AgiCommand",
    "AgiResult",
    "Ask",
    "Hangup",
    "MusicOnHold",
    "Play",
    "SayDateTime",
    "SayDigits",
    "SayNumber",
    "SetLanguage",
    "SetVariable",
    "to_agi",
]


def _quote(text: str) -> str:
    # AGI arguments are space separated; Asterisk strips surrounding quotes.
    return '"' + text.replace('"', "") + '"'


@dataclass(frozen=True)
class Play:
    """STREAM FILE: play a prompt; a key in ``escape`` cuts it short (type-ahead)."""

    prompt: str
    escape: str = ""

    def agi(self) -> str:
        return f"STREAM FILE {self.prompt} {_quote(self.escape)}"


@dataclass(frozen=True)
class Ask:
    """GET DATA: play a prompt and collect up to ``max_digits`` keys; ``#`` ends input.

    A key pressed during the prompt stops it and counts (type-ahead).
    """

    prompt: str  # "": no prompt, straight to the digits (the caller is typing already)
    timeout_ms: int
    max_digits: int

    def agi(self) -> str:
        return f"GET DATA {self.prompt or _quote('')} {self.timeout_ms} {self.max_digits}"


@dataclass(frozen=True)
class SayNumber:
    number: int
    escape: str = ""

    def agi(self) -> str:
        return f"SAY NUMBER {self.number} {_quote(self.escape)}"


@dataclass(frozen=True)
class SayDigits:
    digits: str
    escape: str = ""

    def agi(self) -> str:
        return f"SAY DIGITS {self.digits} {_quote(self.escape)}"


@dataclass(frozen=True)
class SayDateTime:
    """SAY DATETIME: ``epoch`` seconds spoken with an Asterisk say format."""

    epoch: int
    format: str = "HM"  # hour and minute: "power is expected back at 18:30"
    timezone: str = "Asia/Shanghai"
    escape: str = ""

    def agi(self) -> str:
        return f"SAY DATETIME {self.epoch} {_quote(self.escape)} {self.format} {self.timezone}"


@dataclass(frozen=True)
class SetVariable:
    name: str
    value: str

    def agi(self) -> str:
        return f"SET VARIABLE {self.name} {_quote(self.value)}"


@dataclass(frozen=True)
class SetLanguage:
    """Asterisk then looks prompts up under sounds/<code>/ for this channel."""

    code: str

    def agi(self) -> str:
        return f"SET VARIABLE CHANNEL(language) {self.code}"


@dataclass(frozen=True)
class MusicOnHold:
    """Music on hold in a bounded chunk, so announcements can play between chunks."""

    seconds: int
    moh_class: str = "default"

    def agi(self) -> str:
        return f"EXEC MusicOnHold {self.moh_class},{self.seconds}"


@dataclass(frozen=True)
class Hangup:
    def agi(self) -> str:
        return "HANGUP"


AgiCommand = Play | Ask | SayNumber | SayDigits | SayDateTime | SetVariable | SetLanguage | (
    MusicOnHold
) | Hangup


def to_agi(command: AgiCommand, sound_dir: str = "") -> str:
    """The ``Command:`` header text for ``command``.

    ``sound_dir`` prefixes prompt names (``welcome`` -> ``hotline/welcome``):
    Asterisk then finds the file under ``sounds/<CHANNEL(language)>/hotline/``.
    """
    if sound_dir and isinstance(command, (Play, Ask)) and command.prompt:
        command = replace(command, prompt=f"{sound_dir}/{command.prompt}")
    return command.agi()


@dataclass(frozen=True)
class AgiResult:
    """A decoded ``AsyncAGIExec`` ``Result``: ``200 result=49 endpos=18240``.

    ``code`` is the AGI status (200, 510, ...), ``result`` the text after
    ``result=`` and ``data`` the rest, e.g. ``(timeout)`` or ``endpos=18240``.
    """

    code: int
    result: str
    data: str = ""

    @property
    def failed(self) -> bool:
        """-1: the channel hung up or the command could not run (ends AsyncAGI)."""
        return self.code != 200 or self.result == "-1"

    @property
    def timed_out(self) -> bool:
        return "(timeout)" in self.data

    @property
    def digit(self) -> str | None:
        """The key that cut a STREAM FILE / WAIT FOR DIGIT short, if any.

        Those commands report the key as its ASCII code (``result=49`` is
        ``1``); GET DATA reports the digit string itself in ``result``.
        """
        try:
            value = int(self.result)
        except ValueError:
            return None
        # DTMF keys are ASCII; anything else is not a key press.
        return chr(value) if 0 < value < 128 else None
