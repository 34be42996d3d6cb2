"""A call's lifecycle as the server sees it: one ``(phase, input) -> phase`` table.

Every phase change of a call goes through ``next_phase``; a pair the table does
not list raises ``InvalidPhaseTransition`` (as the agent machine in
``queues/agents.py`` does), so a forgotten case shows instead of leaving a call
in a phase nobody handles.  docs/state-machines.md is generated from ``TRANSITIONS``
(scripts/state_diagrams.py).

Phases are ``StrEnum`` members: the live state in Redis, the notifier's ``call``
events and the web pages carry the same strings as before.

Per-phase data stays on ``Call`` (server/call/table.py), each field meaningful in
the phases its comment names:

* ``offer_pending`` (connecting): offered while the link was down or the resync had
  not seen the channels; connect once it has.
* ``ring_start`` (connecting, talking): when the agent's phone began to ring.
* ``dial_unseen`` (queued, connecting): a Dial may have ended while we were not
  listening; ask ``DIALSTATUS`` when the caller is back in AsyncAGI.
* ``caller_left_bridge_at`` (talking): the caller left the bridge first.
* ``in_farewell`` (any but fallback): the goodbye sequence owns the AGI channel.  It is
  not a phase: a farewell runs in ``ivr`` after a refused command as well as in
  ``ended``, and the phase keeps saying where the caller was.  ``farewell_due``: its
  goodbye, held until the command then running (a music chunk) ends.
* ``case_owner`` (ivr, queued): the caller's open case and its owner, once the case
  store answered; the router tries the owner first.
* ``needs_resume`` (any): a command was in flight when the link dropped.
* ``caller_gone`` (ended): the caller's channel is gone.  ``ended`` alone is not
  enough: after an overflow or without a survey the server says goodbye in
  ``ended`` while the channel is still up.
* ``system_failure`` (any, final): Asterisk failed under the call; the record's
  outcome says so whatever else happened.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["TRANSITIONS", "CallPhase", "InvalidPhaseTransition", "PhaseInput", "next_phase"]


class CallPhase(StrEnum):
    IVR = "ivr"  # in the menus (AsyncAGI, ivr/engine.py)
    QUEUED = "queued"  # waiting for an agent, the hold loop playing (ivr/hold.py)
    CONNECTING = "connecting"  # offered: Setvar/Redirect sent, the agent's phone ringing
    TALKING = "talking"  # bridged with the agent
    SURVEY = "survey"  # back in AsyncAGI after the talk, the survey playing
    FALLBACK = "fallback"  # the dialplan's safety net took the caller to app_queue
    ENDED = "ended"  # nothing more of ours; the goodbye may still be playing


class PhaseInput(StrEnum):
    ENQUEUED = "enqueued"  # the IVR put the caller in a queue
    FOUND_WAITING = "found_waiting"  # restored: the router's snapshot has the caller waiting
    OFFERED = "offered"  # the router offered the caller to an agent
    CLAIMED = "claimed"  # Asterisk is dialling an agent we did not order (after a restart)
    ANSWERED = "answered"  # DialEnd ANSWER, or a bridge seen after a link loss
    DIAL_FAILED = "dial_failed"  # DialEnd NOANSWER/BUSY/...: back to the queue
    CONNECT_FAILED = "connect_failed"  # Setvar/Redirect refused
    OFFER_WITHDRAWN = "offer_withdrawn"  # the router cancelled the offer
    OFFER_LOST = "offer_lost"  # the offer ended while we were away, without our seeing how
    TALK_ENDED = "talk_ended"  # the agent's leg left the bridge; the survey follows
    TALK_ENDED_NO_SURVEY = "talk_ended_no_survey"  # likewise, with the survey disabled
    OVERFLOWED = "overflowed"  # the queue's overflow has no target: goodbye
    FELL_BACK = "fell_back"  # the dialplan's safety net took the caller
    FALLBACK_ENDED = "fallback_ended"  # the hangup handler told how it ended there
    HUNG_UP = "hung_up"  # the caller's channel is gone


P, In = CallPhase, PhaseInput

TRANSITIONS: dict[tuple[CallPhase, PhaseInput], CallPhase] = {
    (P.IVR, In.ENQUEUED): P.QUEUED,
    (P.IVR, In.FOUND_WAITING): P.QUEUED,
    (P.QUEUED, In.OFFERED): P.CONNECTING,
    (P.QUEUED, In.CLAIMED): P.CONNECTING,
    (P.CONNECTING, In.ANSWERED): P.TALKING,
    (P.CONNECTING, In.DIAL_FAILED): P.QUEUED,
    (P.CONNECTING, In.CONNECT_FAILED): P.QUEUED,
    (P.CONNECTING, In.OFFER_WITHDRAWN): P.QUEUED,
    (P.CONNECTING, In.OFFER_LOST): P.QUEUED,
    (P.QUEUED, In.OVERFLOWED): P.ENDED,
    (P.TALKING, In.TALK_ENDED): P.SURVEY,
    (P.TALKING, In.TALK_ENDED_NO_SURVEY): P.ENDED,
    (P.IVR, In.FELL_BACK): P.FALLBACK,
    (P.QUEUED, In.FELL_BACK): P.FALLBACK,
    (P.CONNECTING, In.FELL_BACK): P.FALLBACK,
    (P.SURVEY, In.FELL_BACK): P.FALLBACK,
    (P.FALLBACK, In.FALLBACK_ENDED): P.ENDED,
    (P.IVR, In.HUNG_UP): P.ENDED,
    (P.QUEUED, In.HUNG_UP): P.ENDED,
    (P.CONNECTING, In.HUNG_UP): P.ENDED,
    (P.TALKING, In.HUNG_UP): P.ENDED,
    (P.SURVEY, In.HUNG_UP): P.ENDED,
    (P.FALLBACK, In.HUNG_UP): P.ENDED,  # without the hangup handler's facts
    (P.ENDED, In.HUNG_UP): P.ENDED,  # the channel goes after the goodbye
}


class InvalidPhaseTransition(Exception):
    """An input the table has no transition for in the call's phase."""

    def __init__(self, call_id: str, phase: CallPhase, event: PhaseInput) -> None:
        super().__init__(f"call {call_id}: {event} not allowed in phase {phase}")
        self.call_id, self.phase, self.event = call_id, phase, event


def next_phase(call_id: str, phase: CallPhase, event: PhaseInput) -> CallPhase:
    """The phase ``event`` leads to from ``phase``; raises ``InvalidPhaseTransition``."""
    try:
        return TRANSITIONS[(CallPhase(phase), event)]
    except KeyError:
        raise InvalidPhaseTransition(call_id, phase, event) from None
