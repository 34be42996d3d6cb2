"""A simulated Asterisk channel: the mutable state behind every snapshot block.

Only the fields AMI shows (the snapshot block, in Asterisk 22's fixed order)
plus the bookkeeping the simulator needs (variables, dialplan position, the
other half of a Local pair, the AsyncAGI session, the bridge).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.sim.agi import AgiSession

DOWN, RING, RINGING, UP = 0, 4, 5, 6
STATE_DESC = {DOWN: "Down", RING: "Ring", RINGING: "Ringing", UP: "Up"}

#: Hangup causes as Asterisk names them in ``Cause-txt``.
CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "No user responding",
    21: "Call Rejected",
    32: "Unknown",  # only used in SoftHangupRequest (AST_SOFTHANGUP_EXPLICIT)
}

#: Snapshot block order, identical for every channel event in the traces.
BLOCK_KEYS = (
    "Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
    "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context",
    "Exten", "Priority", "Uniqueid", "Linkedid",
)


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    priority: int = 1
    state: int = DOWN
    caller_num: str = "<unknown>"
    caller_name: str = "<unknown>"
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    language: str = "en"
    account_code: str = ""
    tech: str = "Local"
    created: float = 0.0
    variables: dict[str, str] = field(default_factory=dict)
    peer: Channel | None = None  # the other half of a Local pair
    agi: AgiSession | None = None
    bridge: Any = None
    application: str = ""
    app_data: str = ""
    hungup: bool = False
    # Asterisk's hangupcause: 0 until something sets it (a Dial result, the
    # other side's hangup); an AGI HANGUP without a Dial shows Cause 0 (07).
    hangup_cause: int = 0
    soft_hangup_sent: bool = False
    # Originated straight into an application (ChanSpy): no pbx, so no
    # SoftHangupRequest when it ends (trace 10).
    app_only: bool = False
    # Why the dialplan was interrupted: "redirect" or "hangup".
    interrupt: str | None = None
    # The dialplan runner's pending step (a DelayedCall or a callable canceller).
    pending: Any = None
    dtmf_sink: Any = None  # callable(digit) while an app is listening for DTMF
    dialstatus_cause: int | None = None
    # TIMEOUT(absolute) / AbsoluteTimeout: the pending DelayedCall, or None.
    absolute_timeout: Any = None
    device: str = ""
    #: sound files played on the channel, as found under sounds/ (``zh/hotline/welcome``):
    #: what Asterisk's verbose log shows as "Playing 'hotline/welcome' (language 'zh')"
    played: list[str] = field(default_factory=list)
    # CHANNEL(hangupsource): set once, by whoever hung the channel (or its bridge
    # peer) up first (Asterisk 22 main/channel.c ast_set_hangupsource).
    hangup_source: str = ""
    # CHANNEL(hangup_handler_push): (context, exten, priority), run last-pushed first.
    hangup_handlers: list = field(default_factory=list)

    def block(self, prefix: str = "") -> list[tuple[str, str]]:
        values = (
            self.name, str(self.state), STATE_DESC[self.state], self.caller_num,
            self.caller_name, self.connected_num, self.connected_name, self.language,
            self.account_code, self.context, self.exten, str(self.priority),
            self.uniqueid, self.linkedid,
        )
        return [(prefix + k, v) for k, v in zip(BLOCK_KEYS, values, strict=True)]
