"""End-to-end rig: the real adapter, IVR and ACD against the simulator, on a task.Clock.

Everything between the AMI bytes and the records is production code; only
Asterisk is simulated, and time is a ``task.Clock`` advanced event by event.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from twisted.internet.task import Clock

from server.ami.protocol import AmiClientProtocol
from server.ami.router import EventRouter
from server.bills import FixtureBills
from server.calls import CallCenter
from server.config import load_config
from server.records.durations import compute_durations
from server.records.model import CallRecord
from server.sim import AmiUser, PromptCatalog, Simulator, connect_in_memory

ROOT = Path(__file__).resolve().parents[1]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(*args: int) -> float:
    return dt.datetime(*args, tzinfo=SHANGHAI).timestamp()


class RecordingAmi:
    """The AMI link the adapter sees: a logged-in protocol, with a log of actions."""

    def __init__(self, proto: AmiClientProtocol, router: EventRouter) -> None:
        self.proto = proto
        self.router = router
        self.actions: list[tuple[str, dict[str, str]]] = []

    def sendAction(self, action, fields=(), timeout=None):
        self.actions.append((action, dict(fields)))
        return self.proto.sendAction(action, fields, timeout)

    def agi_commands(self, channel: str | None = None) -> list[str]:
        return [f["Command"] for a, f in self.actions
                if a == "AGI" and (channel is None or f["Channel"] == channel)]


class Rig:
    def __init__(self, start: float | None = None, cfg=None, seed: int = 1,
                 prompt_seconds: float | None = None) -> None:
        self.clock = Clock()
        self.clock.advance(start if start is not None else shanghai(2026, 11, 25, 10, 0))
        self.cfg = cfg or load_config(ROOT / "config", environ={})
        durations = {f"hotline/{p.name}": prompt_seconds or p.duration_s or 2.0
                     for p in self.cfg.ivr.prompts.values()}
        self.sim = Simulator(self.clock, users=[AmiUser("hotline", "pw")],
                             prompts=PromptCatalog(durations=durations), seed=seed)
        self.events = EventRouter()
        self.proto = AmiClientProtocol(self.clock, self.events)
        _, self.pump = connect_in_memory(self.sim, self.proto)
        logged_in = []
        self.proto.login("hotline", "pw").addBoth(logged_in.append)
        self.run(2)
        assert self.proto.logged_in, logged_in
        self.ami = RecordingAmi(self.proto, self.events)
        self.saved: list[dict] = []
        self.cc = CallCenter(self.clock, self.cfg, self.ami, save=self.saved.append,
                             bills=FixtureBills(self.cfg.ivr.bill_lookup.fixture_path or ""))

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
