"""A customer's history and the repeat flag the screen pop shows.

The store (server/cases/store.py) keeps previous calls and cases per account
number and per phone; this module only decides what they mean.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .model import Case

__all__ = ["CallSummary", "CustomerHistory", "RepeatFlag", "repeat_flag"]

DAY_S = 86400.0


@dataclass(frozen=True)
class CallSummary:
    """One earlier call as the history shows it."""

    call_id: str
    at: float  # when the call started
    account: str
    phone: str
    intent: str  # the IVR intent, "" if the caller never chose one
    outcome: str  # e.g. answered, self_service, abandoned; the disposition when known
    satisfaction: int | None = None  # the survey's 1-3, if answered


@dataclass(frozen=True)
class CustomerHistory:
    calls: tuple[CallSummary, ...]  # newest first
    cases: tuple[Case, ...]  # newest first

    @property
    def open_cases(self) -> tuple[Case, ...]:
        return tuple(c for c in self.cases if c.is_open)


@dataclass(frozen=True)
class RepeatFlag:
    repeat: bool
    same_intent_calls: tuple[str, ...]  # call ids with the same intent inside the window
    open_cases: tuple[str, ...]  # case ids still open


def repeat_flag(calls: Iterable[CallSummary], cases: Iterable[Case], *, intent: str,
                now: float, window_days: int, exclude_call: str = "") -> RepeatFlag:
    """Repeat when an earlier call had the same intent within ``window_days``, or a case
    is still open.  ``exclude_call`` is the present call, which is not its own repeat."""
    since = now - window_days * DAY_S
    same = tuple(c.call_id for c in calls
                 if intent and c.intent == intent and since <= c.at <= now
                 and c.call_id != exclude_call)
    open_ids = tuple(c.id for c in cases if c.is_open)
    return RepeatFlag(bool(same or open_ids), same, open_ids)
