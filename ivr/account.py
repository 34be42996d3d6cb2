"""Customer account numbers: length and check-digit rules.

The rule names are the ones ``ivr.yaml`` may use for ``account.check_digit``:

``luhn``
    ISO/IEC 7812 Luhn: starting from the rightmost digit (the check digit)
    and moving left, double every second digit, subtract 9 from any product
    above 9, and sum everything.  Valid when the sum is a multiple of 10.
``mod10``
    GS1 weighted mod 10 (EAN/GTIN style): weight the payload digits 3, 1, 3,
    1, ... starting from the digit just left of the check digit.  The check
    digit is ``(10 - (weighted sum mod 10)) mod 10``.  Unlike Luhn it catches
    no twin errors, but it is what several utility billing systems print.
``none``
    Only the length and "digits only" are checked.
"""

from __future__ import annotations

from ivr.model import AccountRule

__all__ = ["RULES", "check_digit", "is_valid", "valid_account"]

RULES = ("luhn", "mod10", "none")


def _luhn_sum(digits: str, double_rightmost: bool) -> int:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if (i % 2 == 0) == double_rightmost:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total


def _mod10_sum(payload: str) -> int:
    return sum(int(ch) * (3 if i % 2 == 0 else 1) for i, ch in enumerate(reversed(payload)))


def check_digit(payload: str, rule: str) -> str:
    """The digit that ``rule`` appends to ``payload`` (tests and fixtures use it)."""
    if not payload.isdigit():
        raise ValueError(f"payload must be digits: {payload!r}")
    if rule == "luhn":
        # the check digit will sit rightmost, so the payload's rightmost digit is doubled
        return str((10 - _luhn_sum(payload, double_rightmost=True) % 10) % 10)
    if rule == "mod10":
        return str((10 - _mod10_sum(payload) % 10) % 10)
    raise ValueError(f"rule {rule!r} has no check digit")


def is_valid(number: str, digits: int, rule: str) -> bool:
    """True when ``number`` is exactly ``digits`` digits and passes ``rule``."""
    if len(number) != digits or not number.isascii() or not number.isdigit():
        return False
    if rule == "none":
        return True
    if rule == "luhn":
        return _luhn_sum(number, double_rightmost=False) % 10 == 0
    if rule == "mod10":
        return check_digit(number[:-1], "mod10") == number[-1] if digits > 1 else False
    raise ValueError(f"unknown check-digit rule {rule!r} (known: {', '.join(RULES)})")


def valid_account(number: str, rule: AccountRule) -> bool:
    return is_valid(number, rule.digits, rule.check_digit)
