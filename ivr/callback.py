"""Confirming the number for a callback: a small dialog both the IVR and hold loop use.

"Press 1 to be called back on 1 3 8 ..., press 2 to enter another number."
A withheld or short caller ID goes straight to number entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.commands import AgiCommand, Ask, Play, SayDigits
from ivr.sequence import KEYS

__all__ = ["CallbackDialog", "CallbackPrompts", "usable_number"]

MIN_DIGITS, MAX_DIGITS = 5, 20


def usable_number(number: str | None) -> bool:
    # isascii: str.isdigit() also takes full-width digits and superscripts, which a
    # caller ID could carry and no dialplan could dial.
    return (number is not None and number.isascii() and number.isdigit()
            and MIN_DIGITS <= len(number) <= MAX_DIGITS)


@dataclass(frozen=True)
class CallbackPrompts:
    confirm: str = "callback-confirm"  # "we will call you back on"
    confirm_keys: str = "callback-confirm-keys"  # "press 1 to confirm, 2 for another"
    enter_number: str = "callback-enter-number"  # "enter the number, then #"
    done: str = "callback-done"  # "thank you, we will call you back"

    def names(self) -> tuple[str, ...]:
        return (self.confirm, self.confirm_keys, self.enter_number, self.done)


class CallbackDialog:
    """``opening()`` then ``decide(digits)`` per answer (a timeout is empty digits).

    ``decide`` returns the next commands to send, the confirmed number
    (``str``), or ``None`` when the caller gave up after ``max_tries``.
    """

    def __init__(self, caller_number: str | None, prompts: CallbackPrompts, timeout_ms: int,
                 max_tries: int = 3) -> None:
        self._caller = caller_number if usable_number(caller_number) else None
        self._prompts, self._timeout_ms, self._max_tries = prompts, timeout_ms, max_tries
        self.stage = "confirm" if self._caller else "number"
        self.tries = 0

    def _confirm(self) -> list[AgiCommand]:
        assert self._caller is not None
        # Any key cuts the readout short and answers the question (type-ahead): a
        # wrong one is then "invalid", not silently lost.
        return [Play(self._prompts.confirm, KEYS), SayDigits(self._caller, KEYS),
                Ask(self._prompts.confirm_keys, self._timeout_ms, 1)]

    def _number(self) -> list[AgiCommand]:
        return [Ask(self._prompts.enter_number, self._timeout_ms, MAX_DIGITS)]

    def opening(self) -> list[AgiCommand]:
        return self._confirm() if self.stage == "confirm" else self._number()

    def decide(self, digits: str) -> list[AgiCommand] | str | None:
        digits = digits.strip().rstrip("#")
        if self.stage == "confirm":
            if digits == "1":
                return self._caller
            if digits == "2":
                self.stage, self.tries = "number", 0
                return self._number()
        elif usable_number(digits):
            return digits
        self.tries += 1
        if self.tries >= self._max_tries:
            return None
        return self.opening()
