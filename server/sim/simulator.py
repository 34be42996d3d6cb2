"""The composition of the simulated Asterisk: core, dialplan, phones, actors, AMI.

Build one :class:`Simulator` per test or demo, with the reactor (or a
``task.Clock``) injected; nothing here is global.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred

from server.sim.actions import ACTIONS
from server.sim.actors import CallerActor
from server.sim.ami_server import AmiServerFactory, AmiSession, AmiUser
from server.sim.core import Core
from server.sim.dial import Dialer
from server.sim.dialplan import Dialplan, load
from server.sim.events import EventFilter
from server.sim.originate import Originator
from server.sim.phone_dial import PhoneDial
from server.sim.phones import PhoneRegistry
from server.sim.prompts import PromptCatalog
from server.sim.queue import DEFAULT_QUEUES, load_queues
from server.sim.scripts import AgentBehaviour, CallerScript, PhoneScript, Press

#: deploy/asterisk/extensions.conf, the dialplan the simulator runs by default
DEFAULT_DIALPLAN = Path(__file__).resolve().parents[2] / "deploy" / "asterisk" / "extensions.conf"


class TcpPort(Protocol):
    """What :meth:`Simulator.listen` returns: the reactor's TCP port (an
    ``IListeningPort``) with the address type a TCP port has."""

    def getHost(self) -> IPv4Address | IPv6Address: ...

    def stopListening(self) -> Deferred[None] | None: ...


@dataclass(frozen=True)
class Summary:
    events: dict[str, int]  # events published by the core, by name (before any filter)
    channels_active: int
    calls_started: int
    calls_active: int  # hotline legs (;1 of sim-callers pairs) still up
    sessions: int
    events_sent: int  # events written to AMI sessions after their filters
    events_sent_by_type: dict[str, int]


class Simulator:
    """A simulated Asterisk 22 for the hotline.

    :param clock: the reactor or a ``task.Clock`` (``IReactorTime``).
    :param users: AMI users (default ``acd``/``secret`` with the shipped event filter).
    :param prompts: prompt durations for STREAM FILE / GET DATA / Playback.
    :param seed: seeds Asterisk's random AGI CommandIds and bridge ids.
    :param agi_delay: seconds between a queued AGI command and its start.
    :param dialplan: a parsed dialplan; default: ``deploy/asterisk/extensions.conf``.
    """

    def __init__(
        self,
        clock: Any,
        users: list[AmiUser] | None = None,
        prompts: PromptCatalog | None = None,
        seed: int = 0,
        agi_delay: float = 0.02,
        dialplan: Dialplan | None = None,
    ) -> None:
        self.clock = clock
        self.started_at = clock.seconds()
        self.core = Core(clock, dialplan or load(DEFAULT_DIALPLAN), prompts, seed, agi_delay)
        self.phones = PhoneRegistry(self.core)
        self.dialer = Dialer(self.core, self.phones)
        self.dialer.queues = load_queues(DEFAULT_QUEUES)
        self.originator = Originator(self)
        # Default: the lab's user of traces 02-12, under trace 12's filter.
        lab_user = AmiUser("acd", "secret", EventFilter.shipped())
        self.users = {u.username: u for u in (users or [lab_user])}
        self.actions = dict(ACTIONS)
        self.sessions: list[AmiSession] = []
        self.core.ami_sessions = lambda username: sum(
            1 for s in self.sessions
            if s.state == "ready" and s.user is not None and s.user.username == username)
        self.callers: list[CallerActor] = []

    def without_safety_net(self) -> Simulator:
        """For runs with no hotline server to keep the dialplan's safety net fresh
        (trace replays, scripted AMI clients): the heartbeat never goes stale and
        callers get no AsyncAGI deadline, as in the lab that recorded the traces."""
        self.core.globals.update(HOTLINE_ALIVE_UNTIL="9999999999", HOTLINE_WATCHDOG="0")
        return self

    def uptime(self) -> float:
        return self.clock.seconds() - self.started_at

    # -- population --------------------------------------------------------
    def add_caller(self, script: CallerScript) -> None:
        """Schedule a caller to dial the hotline at ``script.arrive_at`` (sim time)."""
        delay = max(0.0, script.arrive_at - self.uptime())
        self.clock.callLater(delay, self._arrive, script)

    def _arrive(self, script: CallerScript) -> None:
        actor = CallerActor(self.core, script)
        self.callers.append(actor)
        actor.enter()
        actor.run_hotline()

    def add_originate_caller(self, exten: str, script: CallerScript) -> None:
        """Behaviour of ``Local/<exten>@sim-callers`` when a client Originates it (lab style)."""
        self.originator.callers[exten] = script

    def add_local_agent(self, exten: str, behaviour: AgentBehaviour,
                        context: str = "sim-agents") -> None:
        """Behaviour of ``Local/<exten>@<context>`` when the dialplan Dials it.

        ``context`` is ``sim-agents`` for the lab's agents; use ``sim-customers``
        for callback customers (Dial from the callback contexts).
        """
        self.dialer.local_agents[(context, exten)] = behaviour

    def add_phone(self, script: PhoneScript) -> None:
        """A PJSIP softphone ``PJSIP/<endpoint>`` (registers now if ``script.registered``)."""
        self.phones.add(script)

    def phone_dial(self, endpoint: str, exten: str, presses: tuple[Press, ...] = ()) -> str:
        """The softphone ``PJSIP/<endpoint>`` dials ``exten`` now (e.g. ``*11``).

        Returns the new channel's name; raises ``ValueError`` if the phone is
        not registered or already on a call.
        """
        phone = self.phones.phones[endpoint]
        return PhoneDial(self.core, self.phones, phone, exten, presses).start().name

    # -- connections -------------------------------------------------------
    def factory(self) -> AmiServerFactory:
        return AmiServerFactory(self)

    def listen(self, reactor: Any, port: int = 0, interface: str = "127.0.0.1") -> TcpPort:
        """Serve AMI over TCP; ``port=0`` picks a free port (``.getHost().port``)."""
        return reactor.listenTCP(port, self.factory(), interface=interface)

    # -- summary -----------------------------------------------------------
    def summary(self) -> Summary:
        live = [c for c in self.core.channels.values() if not c.hungup]
        calls = [c for c in live if "@sim-callers-" in c.name and c.name.endswith(";1")]
        sent: Counter[str] = Counter()
        for session in self.sessions:
            sent.update(session.events_sent)
        return Summary(
            events=dict(Counter(self.core.counts)),
            channels_active=len(live),
            calls_started=self.core.calls_started,
            calls_active=len(calls),
            sessions=len(self.sessions),
            events_sent=sum(sent.values()),
            events_sent_by_type=dict(sent),
        )
