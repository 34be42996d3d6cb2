"""How a call ended while the server was not there to see it, as the dialplan kept it.

AMI keeps no history: a call that ends while no AMI session of ours is logged in
leaves nothing for the next server but what the dialplan wrote down
(deploy/asterisk/extensions.conf).  Two writers, one format (``k=v`` pairs
joined by ``&``, key: the caller channel's Uniqueid, AstDB family ``hotline_end``):

* the caller's hangup handler (``hotline-facts``): when it hung up, the last
  Dial's or Queue's ``DIALSTATUS`` and ``ANSWEREDTIME_MS``, ``CHANNEL(hangupsource)``,
  the fallback reason, the fallback queue's ``MEMBERINTERFACE`` and join time;
  into AstDB while no session of ours is logged in, else, for a call on the
  fallback path, as ``UserEvent: HotlineCallEnd`` (``Facts:`` header);
* ``acd-connect`` right after a conversation the agent ended (``bridge_end``,
  ``live=1``: the caller is still there, and may stay for long).

Pure: parsing and reading the facts.  Times are Asterisk's clock, which is the
server's: the AMI user is loopback only (manager.conf), so both run on one host.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from server.records.model import CallRecorder

#: AstDB family of the facts (extensions.conf, hotline-facts and acd-connect)
FAMILY = "hotline_end"
#: dialplan context that deletes a caller's notes: Originate Local/<uid>@hotline-forget
FORGET_CONTEXT = "hotline-forget"
FORGET_DONE_EXTEN = "forgotten"
#: queues.conf's fallback queue
FALLBACK_QUEUE = "hotline-fallback"


def _seconds(text: str) -> float | None:
    try:
        return float(text) if text.strip() else None
    except ValueError:
        return None


def ended_by(source: str, agent_interface: str) -> str:
    """Who hung up first, from ``CHANNEL(hangupsource)``: the agent's phone
    (``PJSIP/1001-0000002b`` for interface ``PJSIP/1001``), the dialplan or the
    AGI (``dialplan/builtin``, ``dialplan/agi``: the system), else the caller (a
    Local caller sets none; a SIP caller's own channel names itself)."""
    if agent_interface and source.startswith(agent_interface + "-"):
        return "agent"
    if source.startswith("dialplan/"):
        return "system"
    return "caller"


@dataclass(frozen=True)
class EndFacts:
    uniqueid: str
    linkedid: str = ""
    end: float | None = None
    dialstatus: str = ""
    answered_s: float | None = None
    source: str = ""
    fallback: str = ""
    member: str = ""
    queue_join: float | None = None
    bridge_end: float | None = None
    #: the channel that answered the server's Dial (app_dial's DIALEDPEERNAME): whom a
    #: call offered just before the server went away talked to
    peer: str = ""
    #: the Dial from its start (DIALEDTIME): minus ``answered_s``, how long it rang
    dialed_s: float | None = None
    live: bool = False  # written at a conversation's end, the caller still there

    @classmethod
    def parse(cls, uniqueid: str, text: str) -> EndFacts:
        """From the dialplan's ``k=v&k=v`` text; unknown keys are ignored, bad
        numbers read as unknown (never an exception: the text is Asterisk's)."""
        raw = dict(parse_qsl(text.replace("+", "%2B"), keep_blank_values=True))
        answered_ms = _seconds(raw.get("answered_ms", ""))
        dialed_ms = _seconds(raw.get("dialed_ms", ""))
        return cls(
            uniqueid=uniqueid, linkedid=raw.get("linkedid", ""), end=_seconds(raw.get("end", "")),
            dialstatus=raw.get("dialstatus", ""),
            answered_s=None if answered_ms is None else answered_ms / 1000.0,
            source=raw.get("source", ""), fallback=raw.get("fallback", ""),
            member=raw.get("member", ""), queue_join=_seconds(raw.get("queue_join", "")),
            bridge_end=_seconds(raw.get("bridge_end", "")), peer=raw.get("peer", ""),
            dialed_s=None if dialed_ms is None else dialed_ms / 1000.0,
            live=raw.get("live") == "1")

    @property
    def call_id(self) -> str:
        """The call's id everywhere (Asterisk's Linkedid), as the server names calls."""
        return self.linkedid or self.uniqueid

    def talk_end(self, agent_interface: str) -> tuple[float, str] | None:
        """(when, who) a conversation the server connected (acd-connect) ended.

        Back from ``Dial(...,g)`` means the agent hung up (``bridge_end``); otherwise
        the caller's channel ended inside the bridge: its hangup is the talk's end."""
        if self.bridge_end is not None:
            return self.bridge_end, "agent"
        if self.end is None:
            return None
        return self.end, ended_by(self.source, agent_interface)

    @property
    def fallback_answered(self) -> bool:
        """A phone answered in the fallback queue (MEMBERINTERFACE, ANSWEREDTIME_MS)."""
        return bool(self.member) and (self.answered_s or 0.0) > 0.0


def record_fallback(rec: CallRecorder, facts: EndFacts, agent_id: str | None,
                    tier: str | None, recording: str | None) -> str:
    """Write how a call on the dialplan's fallback path ended into its record.

    Returns the outcome: ``fallback_answered`` (a phone of the fallback queue
    answered: queue wait from the first queue the caller entered, ours or the
    fallback's, to the answer; talk from the answer to the end; who hung up
    first) or ``fallback_abandoned`` (the caller hung up unanswered there).  The
    hangup handler runs as the caller's channel hangs up, and app_queue hangs the
    caller up when the agent does: its ``end`` is the end of the talk.  Hold in
    the fallback queue is not known (no dialplan variable counts it).
    """
    end = facts.end if facts.end is not None else facts.queue_join
    if not any(e.kind == "fallback" for e in rec.snapshot().timeline):
        rec.fallback(facts.queue_join if facts.queue_join is not None else (end or 0.0),
                     facts.fallback or "unknown", FALLBACK_QUEUE)
    if facts.fallback_answered and end is not None:
        answered_at = end - (facts.answered_s or 0.0)
        rec.answered(answered_at, agent_id or facts.member, tier)
        if recording:
            rec.update(recording=recording)
        rec.bridge_end(end, ended_by(facts.source, facts.member))
        return "fallback_answered"
    if end is not None:
        rec.abandoned(end)
    return "fallback_abandoned"
