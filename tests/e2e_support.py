"""End-to-end rig: the real adapter, IVR and ACD against the simulator, on a task.Clock.

Everything between the AMI bytes and the records is production code; only
Asterisk is simulated, and time is a ``task.Clock`` advanced event by event.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from twisted.internet.task import Clock

from server.ami.privileges import manager_conf_write
from server.ami.protocol import AmiClientProtocol
from server.ami.router import EventRouter
from server.bills import FixtureBills
from server.call.center import CallCenter
from server.config import load_config
from server.features import verify_in_thread
from server.records.durations import compute_durations
from server.records.model import CallRecord
from server.safety import ALIVE_VARIABLE, SafetyNet
from server.sim import AmiUser, PromptCatalog, Simulator, connect_in_memory
from server.sim.prompts import per_language
from server.wiring import CallSide, build_call_side

ROOT = Path(__file__).resolve().parents[1]
#: the shipped AMI user's write classes: the simulator refuses any other action
#: with "Permission denied", as Asterisk would (server/ami/privileges.py)
SHIPPED_WRITE = manager_conf_write(ROOT / "deploy" / "asterisk" / "manager.conf", "hotline")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(*args: int) -> float:
    return dt.datetime(*args, tzinfo=SHANGHAI).timestamp()


def _background(action: str, fields: dict[str, str]) -> bool:
    """Sent on its own by the safety net (server/safety.py) or the keepalive."""
    return action in ("AbsoluteTimeout", "Ping") or (
        action == "Getvar" and not fields.get("Channel")) or (
        action == "Setvar" and fields.get("Variable") == ALIVE_VARIABLE)


def sounds(cfg, seconds: float | None = None) -> PromptCatalog:
    """The sounds directory deploy/prompts/synthesize.py writes for ``cfg``: one file
    per prompt and language (``zh/hotline/welcome``), nothing else, so a prompt
    looked up in a language it does not exist in is missing, as in Asterisk."""
    return PromptCatalog(durations=per_language(
        {p.name: {lang: seconds or p.duration_s or 2.0 for lang in p.texts}
         for p in cfg.ivr.prompts.values()}), default=None)


class RecordingAmi:
    """The AMI link the adapter sees: a logged-in protocol, with a log of actions."""

    def __init__(self, proto: AmiClientProtocol, router: EventRouter) -> None:
        self.proto = proto
        self.router = router
        self.actions: list[tuple[str, dict[str, str]]] = []

    def sendAction(self, action, fields=(), timeout=None):
        self.actions.append((action, dict(fields)))
        return self.proto.sendAction(action, fields, timeout)

    @property
    def connected(self) -> bool:
        return self.proto.logged_in

    def on_state(self, listener):
        pass  # this link never drops (ServiceRig's does)

    def calls_actions(self) -> list[tuple[str, dict[str, str]]]:
        """The actions about calls: without the safety net's and the keepalive's."""
        return [(a, f) for a, f in self.actions if not _background(a, f)]

    def agi_commands(self, channel: str | None = None) -> list[str]:
        return [f["Command"] for a, f in self.actions
                if a == "AGI" and (channel is None or f["Channel"] == channel)]


class Rig:
    #: what of the call side this rig builds besides the calls (server/wiring.py)
    SIDE = {"outbound": False, "features": False, "resync": False}

    def _call_side(self, clock, ami, **kw) -> CallSide:
        """The call side as the daemon builds it (server/wiring.py), with ``SIDE``'s parts."""
        kw.setdefault("verify", getattr(self, "verify", verify_in_thread))
        kw.setdefault("case_owner", getattr(self, "case_owner", None))
        kw.setdefault("login_throttle", getattr(self, "login_throttle", None))
        side = build_call_side(clock, self.cfg, ami, save=self.saved.append,
                               bills=FixtureBills(self.cfg.ivr.bill_lookup.fixture_path or ""),
                               **self.SIDE, **kw)
        self.side = side
        return side

    def __init__(self, start: float | None = None, cfg=None, seed: int = 1,
                 prompt_seconds: float | None = None, case_owner=None) -> None:
        """``case_owner``: the case store's lookup the adapter asks (server/wiring.py)."""
        self.case_owner = case_owner
        self.clock = Clock()
        self.clock.advance(start if start is not None else shanghai(2026, 11, 25, 10, 0))
        self.cfg = cfg or load_config(ROOT / "config", environ={})
        self.sim = Simulator(self.clock, users=[AmiUser("hotline", "pw", write=SHIPPED_WRITE)],
                             prompts=sounds(self.cfg, prompt_seconds), seed=seed)
        self.events = EventRouter()
        self.proto = AmiClientProtocol(self.clock, self.events)
        _, self.pump = connect_in_memory(self.sim, self.proto)
        logged_in = []
        self.proto.login("hotline", "pw").addBoth(logged_in.append)
        self.run(2)
        assert self.proto.logged_in, logged_in
        self.ami = RecordingAmi(self.proto, self.events)
        self.saved: list[dict] = []
        self.cc = self._call_side(self.clock, self.ami).calls
        self.safety = safety_net(self.clock, self.ami, self.cc, self.cfg)
        self.run(0)  # the first heartbeat: callers may come in now

    def run(self, seconds: float) -> None:
        """Advance to each pending timer in turn (exact times), delivering bytes between."""
        end = self.clock.seconds() + seconds
        self.pump.flush()
        while True:
            pending = [c.getTime() for c in self.clock.getDelayedCalls()]
            nxt = min(pending, default=end + 1)
            if nxt > end:
                break
            self.clock.advance(max(0.0, nxt - self.clock.seconds()))
            self.pump.flush()
        self.clock.advance(max(0.0, end - self.clock.seconds()))
        self.pump.flush()

    def login_agents(self, *agent_ids: str) -> None:
        for agent_id in agent_ids:
            self.cc.acd.login(agent_id)
        self.run(0)

    def final_records(self) -> dict[str, CallRecord]:
        out: dict[str, CallRecord] = {}
        for raw in self.saved:
            if raw.get("final"):
                out[raw["call_id"]] = CallRecord.from_dict(raw)
        return out

    @staticmethod
    def durations(record: CallRecord):
        return compute_durations(record.timeline)


def safety_net(clock, ami, cc: CallCenter, cfg) -> SafetyNet:
    """The daemon's safety net (server/app.py wires it the same way), started."""
    net = SafetyNet(clock, ami, cc.driven_channels, cfg.server.ami.watchdog_s)
    net.start()
    return net


class MemoryEndpoint:
    """An IStreamClientEndpoint that connects to the simulator in memory.

    Lets the real ``AmiService`` (ClientService, login, keepalive, backoff) run
    on a task.Clock; ``drop()`` closes the current connection like a dead link.
    """

    def __init__(self, sim) -> None:
        self.sim = sim
        self.pumps: list = []
        self.refuse = False

    def connect(self, factory):
        from twisted.internet import defer
        from twisted.internet.error import ConnectionRefusedError

        if self.refuse:
            return defer.fail(ConnectionRefusedError("simulated outage"))
        proto = factory.buildProtocol(None)
        _, pump = connect_in_memory(self.sim, proto)
        self.pumps.append(pump)
        return defer.succeed(proto)

    def flush(self) -> None:
        for pump in self.pumps:
            pump.flush()

    def drop(self) -> None:
        """Both ends see the TCP connection close (the sim keeps its channels)."""
        pump = self.pumps[-1]
        pump.clientIO.loseConnection()
        pump.serverIO.loseConnection()
        pump.flush()


class ServiceRig(Rig):
    """Like :class:`Rig`, but through the real AmiService and the Resync hook."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("seed", 1)
        self.clock = Clock()
        self.clock.advance(kwargs.pop("start", None) or shanghai(2026, 11, 25, 10, 0))
        self.cfg = kwargs.pop("cfg", None) or load_config(ROOT / "config", environ={})
        self.sim = Simulator(self.clock, users=[AmiUser("hotline", "pw", write=SHIPPED_WRITE)],
                             prompts=sounds(self.cfg), seed=kwargs["seed"])
        self.endpoint = MemoryEndpoint(self.sim)
        self.saved = []
        self._daemon()
        self.started_at = self.clock.seconds()  # the login (and keepalive) start here
        self.service.startService()
        self.run(2)
        assert self.service.connected

    SIDE = {**Rig.SIDE, "resync": True}

    def _daemon(self) -> None:
        from server.ami.service import AmiOptions, AmiService

        self.events = EventRouter()
        self.service = AmiService(self.clock, self.endpoint, AmiOptions(
            "hotline", "pw", keepalive_interval=10, keepalive_timeout=5, backoff_initial=1.0,
            backoff_max=4.0), self.events)
        self.ami = RecordingService(self.service)
        side = self._call_side(self.clock, self.ami)
        self.cc, self.resync = side.calls, side.resync
        self.safety = safety_net(self.clock, self.ami, self.cc, self.cfg)

    @property
    def pump(self):  # Rig.run flushes self.pump
        return self.endpoint

    def stop(self) -> None:
        self.service.stopService()
        self.run(1)


class RecordingService(RecordingAmi):
    """RecordingAmi over an AmiService (so actions fail while the link is down)."""

    def __init__(self, service) -> None:
        super().__init__(None, service.router)
        self.service = service

    def sendAction(self, action, fields=(), timeout=None):
        self.actions.append((action, dict(fields)))
        return self.service.sendAction(action, fields, timeout)

    @property
    def connected(self) -> bool:
        return self.service.connected

    def on_connect(self, hook):
        self.service.on_connect(hook)

    def on_state(self, listener):
        self.service.on_state(listener)


class ProcessClock:
    """One daemon's view of the shared clock: ``kill()`` cancels all its timers (kill -9)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._calls: list = []

    def seconds(self) -> float:
        return self._clock.seconds()

    def callLater(self, delay, f, *args, **kwargs):
        call = self._clock.callLater(delay, f, *args, **kwargs)
        self._calls.append(call)
        return call

    def getDelayedCalls(self):
        return [c for c in self._calls if c.active()]

    def kill(self) -> None:
        for call in self._calls:
            if call.active():
                call.cancel()
        self._calls = []


class MemoryLive:
    """The adapter's LiveState in a dict: what Redis would hold across a restart."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, dict]] = {}

    def put(self, kind, id, state):
        import json

        from twisted.internet import defer

        self.data.setdefault(kind, {})[id] = json.loads(json.dumps(state))
        return defer.succeed(None)

    def delete(self, kind, id):
        from twisted.internet import defer

        return defer.succeed(self.data.get(kind, {}).pop(id, None) is not None)


class RestartRig(ServiceRig):
    """A daemon that can be killed (-9) and started again against the same Asterisk."""

    def __init__(self, **kwargs) -> None:
        self.live = MemoryLive()
        self.generation = 0
        super().__init__(**kwargs)

    def _daemon(self):
        from server.ami.service import AmiOptions, AmiService
        self.pclock = ProcessClock(self.clock)
        self.events = EventRouter()
        self.service = AmiService(self.pclock, self.endpoint, AmiOptions(
            "hotline", "pw", keepalive_interval=10, keepalive_timeout=5, backoff_initial=1.0,
            backoff_max=4.0), self.events)
        self.ami = RecordingService(self.service)
        side = self._call_side(self.pclock, self.ami, live=self.live)
        self.cc, self.resync = side.calls, side.resync
        self.safety = safety_net(self.pclock, self.ami, self.cc, self.cfg)
        self.generation += 1

    def kill_daemon(self) -> None:
        """Everything of the old process stops at once; the kernel closes its socket."""
        self.service._client.stopService()  # the kernel closes the socket; nothing sent
        self.run(0)
        self.pclock.kill()  # and every timer of the old process is gone

    def start_daemon(self) -> int:
        live_records = {}
        for raw in self.saved:  # what the live hashes in Redis hold: the newest versions
            if not raw.get("final"):
                live_records[raw["call_id"]] = raw
            else:
                live_records.pop(raw["call_id"], None)
        self._daemon()
        restored = self.cc.restore(self.live.data, live_records)
        self.started_at = self.clock.seconds()
        self.service.startService()
        self.run(2)
        return restored
