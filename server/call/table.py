"""The call table: the live calls and the indexes events are looked up by.

A call is found by its id (the Linkedid, for the router's outputs), by the
caller's channel (AsyncAGI, Hangup, UserEvent), by the agent's channel while an
agent's leg rings or talks (Hold, BridgeLeave, the agent's Hangup), and by the
agent whose after-call work it is (the router's WRAP_UP -> READY).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ivr.commands import AgiCommand, AgiResult
from ivr.engine import IvrSession
from ivr.hold import HoldLoop
from ivr.sequence import Sequence
from server.agi import AgiSession
from server.call.phase import CallPhase
from server.records.model import CallRecorder

__all__ = ["Call", "CallTable"]


@dataclass
class Call:
    """One caller's call; see server/call/phase.py for which field matters in which phase."""

    id: str  # Asterisk Linkedid: the call's id everywhere (records, ACD)
    channel: str
    caller: str
    dialled: str
    ivr: IvrSession
    record: CallRecorder
    session: AgiSession | None = None
    phase: CallPhase = CallPhase.IVR
    hold: HoldLoop | None = None
    queue: str | None = None
    intent: str | None = None
    priority: int | None = None
    account: str | None = None
    agent_id: str | None = None
    agent_channel: str | None = None
    ring_start: float | None = None
    talked: bool = False
    #: when the caller's channel left the bridge first (the caller ended the talk); its
    #: Hangup, which may come a little later, closes the talk at this time
    caller_left_bridge_at: float | None = None
    caller_gone: bool = False
    wrap_done: bool = True  # no agent, nothing to wait for
    outcome: str | None = None
    farewell: Sequence = field(default_factory=Sequence)
    in_farewell: bool = False
    farewell_due: AgiCommand | None = None  # the goodbye, held while another command runs
    needs_resume: bool = False  # a command was in flight when the AMI link dropped
    offer_pending: bool = False  # offered while the link was down: connect after resync
    dial_unseen: bool = False  # a Dial may have ended while we were not listening
    system_failure: bool = False  # Asterisk restarted under the call
    #: (tag, result) of an IVR command a dead process (or a lost link) left running:
    #: the resume uses its keys if they answer the step the caller is at
    resume_answer: tuple[str, AgiResult] | None = None
    saved_step: tuple[str, str] | None = None  # the IVR step the live state holds
    ended_at: float | None = None  # when it ended, if earlier than we learnt (server/endfacts.py)
    wrap_end_at: float | None = None  # likewise its after-call work (server/call/reconcile.py)
    #: (case id, owner agent) of the caller's open case, once the case store answered
    case_owner: tuple[str, str] | None = None

    def in_phase(self, *phases: CallPhase) -> bool:
        """Whether the call is in one of ``phases`` (after a step that may have moved it:
        a plain comparison there reads as always false to a type checker)."""
        return self.phase in phases

    def ivr_step(self) -> tuple[str, str]:
        """The IVR step and language: what a restarted server asks again."""
        return self.ivr.step(), self.ivr.language


class CallTable:
    """The live calls (``calls``, by id) and their indexes.

    ``by_channel``: the caller's channel while it is ours; ``by_agent_channel``: the
    agent's leg while it rings or talks; ``last_of_agent``: the call whose after-call
    work an agent does.
    """

    def __init__(self) -> None:
        self.calls: dict[str, Call] = {}
        self.by_channel: dict[str, Call] = {}
        self.by_agent_channel: dict[str, Call] = {}
        self.last_of_agent: dict[str, Call] = {}

    def add(self, call: Call, *, on_channel: bool = True) -> None:
        """A new (or restored) call; ``on_channel``: its caller's channel is still up."""
        self.calls[call.id] = call
        if on_channel:
            self.by_channel[call.channel] = call

    def owns_channel(self, call: Call) -> bool:
        return self.by_channel.get(call.channel) is call

    def drop_channel(self, call: Call) -> None:
        """The caller's channel is gone (or no longer ours)."""
        if self.by_channel.get(call.channel) is call:
            del self.by_channel[call.channel]

    def bind_agent_channel(self, call: Call, channel: str) -> None:
        """The agent's leg of ``call`` is ``channel`` (a DialBegin, or found in the list)."""
        if call.agent_channel and call.agent_channel != channel:
            self.by_agent_channel.pop(call.agent_channel, None)
        call.agent_channel = channel
        self.by_agent_channel[channel] = call

    def forget_agent_channel(self, call: Call) -> None:
        if call.agent_channel:
            self.by_agent_channel.pop(call.agent_channel, None)
        call.agent_channel = None

    def remove(self, call: Call) -> None:
        """The call's record is final: it leaves the table."""
        self.calls.pop(call.id, None)
