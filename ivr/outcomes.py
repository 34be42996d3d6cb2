"""What a caller's IVR journey decided: values for the server, never sent to Asterisk.

The engine returns these beside (always before) the one AGI command of an
output list.  The server acts on them: queue the call, record a score, look
a bill up, count a deflection.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BillInfo",
    "BillLookupRequest",
    "CallbackRequested",
    "Deflected",
    "Enqueue",
    "Goodbye",
    "IvrAbandoned",
    "Outcome",
    "SelfServed",
    "SurveyAnswered",
]


@dataclass(frozen=True)
class Enqueue:
    """Hand the call to the ACD.  The IVR session is done until the survey."""

    queue: str
    intent: str  # the skill the call needs
    priority: int
    account: str | None
    language: str
    fell_back: bool = False  # True: sent to the general queue after repeated bad input


@dataclass(frozen=True)
class Deflected:
    """The caller heard an outage notice and left without an agent."""

    notice_id: str


@dataclass(frozen=True)
class SelfServed:
    kind: str  # e.g. "bill_balance"
    account: str | None = None


@dataclass(frozen=True)
class CallbackRequested:
    """Call this number back when an agent for ``queue`` is free (and not at night)."""

    queue: str
    number: str
    intent: str | None = None
    account: str | None = None


@dataclass(frozen=True)
class SurveyAnswered:
    """``score`` is None when the caller gave none (no input twice, or hung up)."""

    score: str | None  # "satisfied" | "fairly_satisfied" | "dissatisfied"
    reason: str | None = None


@dataclass(frozen=True)
class BillLookupRequest:
    """Ask the bill backend; answer with ``IvrSession.on_lookup(BillInfo | None, now)``.

    No AGI command is in flight meanwhile: the channel is silent, so the
    backend's timeout (``BillLookup.timeout_s``) must be short.
    """

    account: str


@dataclass(frozen=True)
class BillInfo:
    account: str
    balance_fen: int  # 1 yuan = 100 fen; negative means arrears (money owed)
    due_epoch: int  # payment due date, epoch seconds


@dataclass(frozen=True)
class Goodbye:
    """The IVR ended the call politely without queueing it.

    ``reason``: "closed" (out of hours, no callback wanted), "bill_unavailable",
    "callback_not_confirmed".
    """

    reason: str
    queue: str | None = None


@dataclass(frozen=True)
class IvrAbandoned:
    """The caller hung up (or the channel went away) before the IVR decided."""

    state: str
    menu: str | None
    path: tuple[tuple[str, str], ...]


Outcome = (Enqueue | Deflected | SelfServed | CallbackRequested | SurveyAnswered
           | BillLookupRequest | Goodbye | IvrAbandoned)
