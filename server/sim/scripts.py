"""Values describing simulated people: callers, agents' phones, their timing."""

from __future__ import annotations

from dataclasses import dataclass

ARRIVAL = "arrival"
COMMAND = "command"


@dataclass(frozen=True)
class Press:
    """Type ``digits`` ``delay`` seconds after the caller's arrival or after a command starts.

    With ``after=COMMAND`` the press is armed by the next ``AGIExecStart`` on
    the caller's channel whose command starts with ``command`` (any command
    when empty); each press is used once, in order.  Digits are ``gap``
    seconds apart; each lasts 100 ms (DTMFBegin .. DTMFEnd, trace 02).
    """

    digits: str
    delay: float
    after: str = ARRIVAL
    command: str = ""
    gap: float = 0.25


@dataclass(frozen=True)
class CallerScript:
    """A caller: arrives at ``arrive_at`` (seconds after the simulation starts).

    ``patience``: hang up that many seconds after arrival (None: stay until the
    call ends).  The caller enters as a Local pair like the traces:
    ``Local/<exten>@sim-callers-<8hex>;1`` runs the hotline dialplan at
    ``dialled`` while ``;2`` is this script.  ``exten`` defaults to the number.
    """

    number: str
    name: str = "Sim Caller"
    arrive_at: float = 0.0
    dialled: str = "95598"
    presses: tuple[Press, ...] = ()
    patience: float | None = None
    exten: str | None = None

    @property
    def local_exten(self) -> str:
        return self.exten or self.number


@dataclass(frozen=True)
class AgentBehaviour:
    """How an agent answers: after ``answer_after`` s (None: never), or rejects (486)."""

    answer_after: float | None = 0.0
    reject: bool = False
    talk: float = 5.0
    hold_at: float | None = None  # seconds after answering
    hold_for: float = 0.0
    #: indicate ringing while waiting to answer (a phone's 180; the lab's Local
    #: agent 1009 ran Ringing(), 1010 answered after Wait(1) without it, trace 08)
    ring: bool = True


REGISTER, UNREGISTER, DIE = "register", "unregister", "die"


@dataclass(frozen=True)
class PhoneScript:
    """A PJSIP softphone for endpoint ``endpoint`` (``PJSIP/<endpoint>``).

    ``timeline``: ``(seconds, REGISTER | UNREGISTER | DIE)`` changes.  A phone
    that dies sends nothing; Asterisk notices at the next failed qualify.
    """

    endpoint: str
    behaviour: AgentBehaviour = AgentBehaviour()
    registered: bool = True
    timeline: tuple[tuple[float, str], ...] = ()
    caller_name: str | None = None  # default "Agent <endpoint>"
    #: behaviour for the 1st, 2nd, ... call; later calls use ``behaviour``
    calls: tuple[AgentBehaviour, ...] = ()

    def behaviour_for(self, call_index: int) -> AgentBehaviour:
        if call_index < len(self.calls):
            return self.calls[call_index]
        return self.behaviour
