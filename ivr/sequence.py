"""A run of AGI commands sent one per result, ending in one decision.

Asterisk runs one AsyncAGI command at a time, so a readout such as "your
balance is <number> yuan, due on <date>, press 0 for an agent" is queued
here and released one command per result.  A key that cuts a prompt short
(STREAM FILE / SAY reports it as an ASCII code) skips the rest of the
readout: the caller has already answered the question that ends it.
"""

from __future__ import annotations

from collections import deque

from ivr.commands import AgiCommand, AgiResult, Ask, Play, SayDateTime, SayDigits, SayNumber

__all__ = ["KEYS", "Sequence", "is_choice"]

KEYS = "0123456789*#"  # escape set for prompts that type-ahead may cut short


def is_choice(command: AgiCommand | None) -> bool:
    """A one-key question: a key typed ahead can answer it without asking."""
    return isinstance(command, Ask) and command.max_digits == 1


def _cut_key(command: AgiCommand | None, result: AgiResult) -> str | None:
    if not isinstance(command, Play | SayNumber | SayDigits | SayDateTime) or not command.escape:
        return None
    # STREAM FILE reports the key as its ASCII code; anything else (a GET DATA
    # digit string fed here by mistake, garbage) is not a key.  AgiResult.digit
    # itself raises on codes beyond chr()'s range, hence the check first.
    if not result.result.isdigit() or int(result.result) > 127:
        return None
    key = result.digit
    return key if key is not None and key in command.escape else None


class Sequence:
    def __init__(self) -> None:
        self._pending: deque[AgiCommand] = deque()
        self.sent: AgiCommand | None = None
        self.final: AgiCommand | None = None

    def start(self, commands: list[AgiCommand]) -> AgiCommand:
        if not commands:
            raise ValueError("a sequence needs at least one command")
        self._pending = deque(commands[1:])
        self.final = commands[-1]
        self.sent = commands[0]
        return self.sent

    def lead(self, command: AgiCommand) -> AgiCommand:
        """Send ``command`` first; the one about to be sent follows it."""
        if self.sent is not None:
            self._pending.appendleft(self.sent)
        self.sent = command
        if self.final is None:
            self.final = command
        return command

    def clear(self) -> None:
        self._pending.clear()
        self.sent = self.final = None

    def advance(self, result: AgiResult) -> tuple[AgiCommand | None, str | None]:
        """``(next command, None)`` while the run goes on; ``(None, key)`` when it is over.

        ``key`` is the key that cut the last prompt short, if one did.
        """
        key = _cut_key(self.sent, result)
        if key is None and self._pending:
            self.sent = self._pending.popleft()
            return self.sent, None
        self._pending.clear()
        return None, key
