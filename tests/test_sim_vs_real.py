"""The simulator against a real Asterisk 22.10.1 running the same dialplan (issue 12, 9).

Trace 13b is this server's own filtered session (deploy/asterisk/manager.conf's
include list) with agents on real SIP phones.  The same scenario through the
simulator, with the same filter and our server driving it, must give each call
the same events with the same header names in the same order.  Where the real
order varies, either order is accepted: the agent leg's Hangup may come
anywhere after its BridgeLeave (trace 13); runs of AGI results and key presses
are collapsed, since their number depends on the menu path, not on Asterisk.
"""

from __future__ import annotations

from server.ami.codec import Message
from server.ami.router import ALL
from server.sim import AgentBehaviour, PhoneScript
from tests.e2e_support import Rig
from tests.sim_support import iter_blocks
from tests.test_e2e_calls import caller
from tests.trace_util import trace, wire_bytes

COLLAPSED = {"AsyncAGIExec", "DTMFEnd"}
#: header names Asterisk adds only for some values (a variable set, a peer known)
OPTIONAL = {"ActionID"}

Shape = tuple[str, tuple[str, ...]]


def call_flows(messages: list[Message]) -> list[list[Message]]:
    """The events of each answered call (by Linkedid), hotline entry to last Hangup."""
    by_link: dict[str, list[Message]] = {}
    for m in messages:
        link = m.get("Linkedid")
        if m.kind == "event" and link and m.name != "DeviceStateChange":
            by_link.setdefault(link, []).append(m)
    return [flow for flow in by_link.values()
            if any(m.name == "DialEnd" and m.get("DialStatus") == "ANSWER"
                   and (m.get("DestChannel") or "").startswith("PJSIP/") for m in flow)
            and sum(m.name == "Hangup" for m in flow) >= 3]


def shape(flow: list[Message]) -> tuple[list[Shape], bool]:
    """(ordered shapes without the agent leg's Hangup, whether that Hangup came
    after the agent's BridgeLeave).  The caller's Local ;2 half and the
    Originate that made it are the lab's caller, not the hotline: left out."""
    out: list[Shape] = []
    agent_left = hangup_after = False
    for m in flow:
        chan = m.get("Channel") or m.get("DestChannel") or ""
        if chan.endswith(";2") or m.name in ("OriginateResponse",) or (
                m.name in ("DialBegin", "DialEnd") and not (m.get("DestChannel") or "")
                .startswith("PJSIP/")):
            continue
        if chan.startswith("PJSIP/") and m.name == "BridgeLeave":
            agent_left = True
        if chan.startswith("PJSIP/") and m.name == "Hangup":
            hangup_after = agent_left
            continue
        names = tuple(k for k, _ in m.headers if k not in OPTIONAL)
        item = ("*" if m.name in COLLAPSED else m.name, names if m.name not in COLLAPSED else ())
        if out and item[0] == "*" and out[-1][0] == "*":
            continue
        out.append(item)
    return out, hangup_after


def simulated_flow(seed: int, hold: bool = False) -> list[Message]:
    """The lab's call: answered after 2 s, 8 s of talk; agent 1003 held the caller
    for 2 s after 3 s (traces README, 13-15)."""
    rig = Rig(seed=seed)
    seen: list[Message] = []
    rig.events.subscribe(ALL, seen.append)
    agent = "1003" if hold else "1001"
    rig.sim.add_phone(PhoneScript(agent, AgentBehaviour(
        answer_after=2.0, talk=8.0, hold_at=3.0 if hold else None, hold_for=2.0)))
    rig.run(1)
    rig.login_agents(agent)
    caller(rig, "1", "0", "1")  # Mandarin, 0 for an agent, then "satisfied"
    rig.run(120)
    (flow,) = call_flows(seen)
    return flow


def test_a_simulated_call_has_the_real_calls_events_and_headers():
    received = [m for m in iter_blocks(wire_bytes(trace("13b"), "<<<")) if m.kind != "banner"]
    real = [shape(f) for f in call_flows(received)]
    assert len(real) >= 20
    assert all(after for _, after in real)  # the agent's Hangup: always after its BridgeLeave
    real_shapes = {tuple(s) for s, _ in real}
    simulated = set()
    for seed in (1, 2, 3, 4, 5, 6):  # the seeds cover the simulator's Hangup orders
        for hold in (False, True):
            got, after = shape(simulated_flow(seed, hold))
            assert after
            assert tuple(got) in real_shapes, (seed, hold, _closest(got, real_shapes))
            simulated.add(tuple(got))
    assert simulated == real_shapes  # with and without hold, as on the real phones


def _closest(got: list[Shape], real: set[tuple[Shape, ...]]) -> list:
    best = min(real, key=lambda r: sum(a != b for a, b in zip(got, r, strict=False))
               + abs(len(got) - len(r)))
    return [(i, a, b) for i, (a, b) in enumerate(zip(got, best, strict=False)) if a != b][:3] + [
        (len(got), len(best))]
