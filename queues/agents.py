"""The agent state machine: named states, one transition table, per-agent runtime.

    logged_out --login--> ready --offer--> reserved --answer--> on_call --hangup--> wrap_up
        ^                 |  ^               |  |                                     |
        |               pause |            miss cancel_offer                      wrap_done
        |                 v  |unpause        v  v                                     v
        +--logout------ paused <---------- (ready or paused:missed_call) <------- ready

Voice capacity is 1: an agent in ``reserved`` or ``on_call`` holds exactly one work
item and nothing else can be offered.  ``Agent.capacity`` from the config is kept for
the chat/e-mail channels a later issue may add; the router ignores it for voice.

The device state reported by AMI (DeviceStateChange) is kept beside the agent state:
an unregistered phone pauses the agent with ``device_offline``; a phone in use is
never offered a call whatever the agent state says (a personal call, a stuck channel).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from queues.clock import DelayedCall
from queues.model import Agent

__all__ = [
    "DEVICE_OFFLINE",
    "MISSED_CALL",
    "TRANSITIONS",
    "AgentEvent",
    "AgentRuntime",
    "AgentState",
    "AgentView",
    "Device",
    "InvalidTransition",
    "SavedAgent",
    "device_from_ami",
]

# Built-in pause reasons the router itself applies; the rest (break, meal, training,
# meeting, ...) are codes from AcdPolicy.pause_reasons and pass through as strings.
DEVICE_OFFLINE = "device_offline"
MISSED_CALL = "missed_call"


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RESERVED = "reserved"  # offered, phone ringing
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"  # after-call work
    PAUSED = "paused"


class AgentEvent(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    OFFER = "offer"
    ANSWER = "answer"
    MISS = "miss"  # no answer / busy / failed on the agent leg
    CANCEL_OFFER = "cancel_offer"  # caller hung up while the agent's phone rang
    HANGUP = "hangup"
    WRAP_DONE = "wrap_done"


S, E = AgentState, AgentEvent

# The one transition table.  Anything not listed raises InvalidTransition, so a
# forgotten case shows up as an error instead of a silently wrong state.
TRANSITIONS: dict[tuple[AgentState, AgentEvent], AgentState] = {
    (S.LOGGED_OUT, E.LOGIN): S.READY,
    (S.LOGGED_OUT, E.PAUSE): S.PAUSED,  # login while the phone is unregistered
    (S.READY, E.LOGOUT): S.LOGGED_OUT,
    (S.PAUSED, E.LOGOUT): S.LOGGED_OUT,
    (S.WRAP_UP, E.LOGOUT): S.LOGGED_OUT,
    (S.RESERVED, E.LOGOUT): S.LOGGED_OUT,  # the router cancels the offer first
    (S.READY, E.PAUSE): S.PAUSED,
    (S.PAUSED, E.PAUSE): S.PAUSED,  # a new reason replaces the old one
    (S.WRAP_UP, E.PAUSE): S.PAUSED,  # pausing ends after-call work
    (S.RESERVED, E.PAUSE): S.PAUSED,  # missed-call pause straight from ringing
    (S.PAUSED, E.UNPAUSE): S.READY,
    (S.READY, E.OFFER): S.RESERVED,
    (S.RESERVED, E.ANSWER): S.ON_CALL,
    (S.RESERVED, E.MISS): S.READY,
    (S.RESERVED, E.CANCEL_OFFER): S.READY,
    (S.ON_CALL, E.HANGUP): S.WRAP_UP,
    (S.WRAP_UP, E.WRAP_DONE): S.READY,
}


class InvalidTransition(Exception):
    def __init__(self, agent_id: str, state: AgentState, event: AgentEvent) -> None:
        super().__init__(f"agent {agent_id}: {event} not allowed in state {state}")
        self.agent_id, self.state, self.event = agent_id, state, event


class Device(StrEnum):
    FREE = "free"
    BUSY = "busy"
    OFFLINE = "offline"


# AMI DeviceStateChange State values.  UNKNOWN is what Asterisk says for a device it
# has no opinion about; treating it as free matches app_queue's default.
_AMI_DEVICE = {
    "NOT_INUSE": Device.FREE,
    "UNKNOWN": Device.FREE,
    "INUSE": Device.BUSY,
    "BUSY": Device.BUSY,
    "RINGING": Device.BUSY,
    "RINGINUSE": Device.BUSY,
    "ONHOLD": Device.BUSY,
    "UNAVAILABLE": Device.OFFLINE,
    "INVALID": Device.OFFLINE,
}


def device_from_ami(state: str) -> Device:
    return _AMI_DEVICE.get(state.upper(), Device.FREE)


@dataclass(frozen=True)
class AgentView:
    """What the desk and wallboard show for one agent."""

    id: str
    state: AgentState
    since: float
    pause_reason: str | None
    device: Device
    item_id: str | None
    misses: int
    wrap_up_ends_at: float | None
    pending_pause: str | None = None  # a pause asked for during a call, applied after it


@dataclass(frozen=True)
class SavedAgent:
    """An agent's state as a restart brings it back (``queues.snapshot`` decides it)."""

    id: str
    state: AgentState
    since: float
    pause_reason: str | None
    pending_pause: str | None
    resume_reason: str | None
    device: Device
    misses: int
    idle_since: float
    item_id: str | None  # the answered item, on call or in wrap-up
    wrap_ends_at: float | None  # in wrap-up: its timer is armed again


@dataclass(eq=False)
class AgentRuntime:
    """Mutable live state of one agent; only the router touches it."""

    spec: Agent
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0
    pause_reason: str | None = None
    # When the device drops we pause with device_offline; this remembers what to go
    # back to when it returns: None = ready, otherwise the earlier pause reason.
    resume_reason: str | None = None
    device: Device = Device.FREE
    item_id: str | None = None
    misses: int = 0
    idle_since: float = 0.0  # when the agent last became ready: longest-idle ranks by it
    pending_pause: str | None = None  # pause asked for during a call, applied after it
    wrap_timer: DelayedCall | None = None
    wrap_ends_at: float | None = None
    # (start, end, busy) spans of ready (busy=False) and on_call/wrap_up (busy=True)
    # time for the one-hour occupancy the least-occupied strategy ranks by.
    spans: deque[tuple[float, float, bool]] = field(default_factory=deque)

    def apply(self, event: AgentEvent) -> AgentState:
        try:
            return TRANSITIONS[(self.state, event)]
        except KeyError:
            raise InvalidTransition(self.spec.id, self.state, event) from None

    def offerable(self) -> bool:
        return self.state is AgentState.READY and self.device is Device.FREE

    def occupancy(self, now: float, window_s: float = 3600.0) -> float:
        """Handling / (handling + ready idle) over the last window; 0 when no data."""
        start = now - window_s
        while self.spans and self.spans[0][1] < start:
            self.spans.popleft()
        busy = idle = 0.0
        spans = list(self.spans)
        if self.state in (AgentState.READY, AgentState.ON_CALL, AgentState.WRAP_UP):
            spans.append((self.since, now, self.state is not AgentState.READY))
        for s, e, is_busy in spans:
            d = e - max(s, start)
            if d <= 0:
                continue
            if is_busy:
                busy += d
            else:
                idle += d
        total = busy + idle
        return busy / total if total else 0.0

    def view(self) -> AgentView:
        return AgentView(
            self.spec.id,
            self.state,
            self.since,
            self.pause_reason,
            self.device,
            self.item_id,
            self.misses,
            self.wrap_ends_at,
            self.pending_pause,
        )
