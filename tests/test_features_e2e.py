"""Feature codes dialled from an agent's softphone, end to end through the simulator.

The PIN check is the real PBKDF2 (``verify_secret`` against agents.yaml's
hash; the demo PIN is the agent's id), run synchronously here instead of in a
thread so the test stays on the task.Clock.
"""

from __future__ import annotations

from twisted.internet import defer

from queues.agents import AgentState
from server.config import verify_secret
from server.features import device_of
from server.sim import COMMAND, AgentBehaviour, PhoneScript, Press
from server.web.throttle import LoginThrottle
from tests.e2e_support import Rig


def typed(digits: str) -> Press:
    return Press(digits, 0.3, after=COMMAND, command="GET DATA", gap=0.2)


class FeatureRig(Rig):
    SIDE = {**Rig.SIDE, "features": True}

    def verify(self, pin: str, stored: str) -> defer.Deferred[bool]:
        self.checked.append((pin, stored))
        return defer.succeed(verify_secret(pin, stored))

    def __init__(self) -> None:
        self.checked: list[tuple[str, str]] = []
        super().__init__()
        self.features = self.side.features
        self.sim.add_phone(PhoneScript("1007", AgentBehaviour()))
        self.run(1)

    def dial(self, code: str, *presses: Press) -> str:
        channel = self.sim.phone_dial("1007", code, presses)
        self.run(30)
        return channel


def test_login_with_the_right_pin():
    rig = FeatureRig()
    assert rig.cc.acd.agent("1007").state is AgentState.LOGGED_OUT
    chan = rig.dial("*11", typed("1007#"), typed("1007#"))
    assert device_of(chan) == "PJSIP/1007"
    assert rig.ami.agi_commands(chan) == [
        "GET DATA hotline/agent-enter-id 5000 8", "GET DATA hotline/agent-enter-pin 5000 12",
        'STREAM FILE hotline/agent-logged-in ""', "HANGUP"]
    assert rig.checked == [("1007", rig.cfg.acd.agents["1007"].pin_hash)]
    agent = rig.cc.acd.agent("1007")
    assert agent.state is AgentState.READY
    assert agent.device.value == "free"  # the phone hung up: free for calls again
    assert rig.sim.core.channels == {}
    assert rig.final_records() == {}  # a feature code is not a call


def test_login_with_a_wrong_pin_is_refused():
    rig = FeatureRig()
    chan = rig.dial("*11", typed("1007#"), typed("9999#"))
    assert rig.ami.agi_commands(chan)[2:] == [
        'STREAM FILE hotline/agent-login-failed ""', "HANGUP"]
    assert rig.cc.acd.agent("1007").state is AgentState.LOGGED_OUT


class ThrottledRig(FeatureRig):
    """The daemon's shared sign-in throttle (server/web/throttle.py), on the rig's clock."""

    @property
    def login_throttle(self) -> LoginThrottle:
        if not hasattr(self, "_throttle"):
            self._throttle = LoginThrottle(self.clock)
        return self._throttle


def test_pin_guessing_on_the_keypad_is_throttled_like_the_web_sign_in():
    """Wrong PINs for 1007 on its phone, one every 30 s: past three the delay doubles
    (1, 2, 4 ... s); after eight it outlasts a dial, and even the right PIN is refused
    without a hash check until it has passed.  The web's sign-in, sharing the throttle,
    waits as well (one account, however the PIN is guessed)."""
    rig = ThrottledRig()
    for _ in range(8):
        rig.dial("*11", typed("1007#"), typed("9999#"))
    assert len(rig.checked) == 8
    throttle = rig.login_throttle
    assert throttle.wait_s("1007", "203.0.113.9") > 0  # the web's sign-in waits too
    chan = rig.dial("*11", typed("1007#"), typed("1007#"))
    assert rig.ami.agi_commands(chan)[2] == 'STREAM FILE hotline/agent-login-failed ""'
    assert len(rig.checked) == 8  # refused before any hash
    assert rig.cc.acd.agent("1007").state is AgentState.LOGGED_OUT
    rig.run(throttle.wait_s("1007", "PJSIP/1007") + 1)
    rig.dial("*11", typed("1007#"), typed("1007#"))
    assert rig.cc.acd.agent("1007").state is AgentState.READY
    assert throttle.wait_s("1007", "203.0.113.9") == 0  # success clears the account


def test_login_as_another_agent_from_this_phone_is_refused_without_checking_the_pin():
    rig = FeatureRig()
    chan = rig.dial("*11", typed("1008#"), typed("1008#"))
    assert rig.ami.agi_commands(chan)[2] == 'STREAM FILE hotline/agent-login-failed ""'
    assert rig.checked == []
    assert rig.cc.acd.agent("1008").state is AgentState.LOGGED_OUT


def test_login_timeout_without_digits_fails_politely():
    rig = FeatureRig()
    chan = rig.dial("*11")
    assert rig.ami.agi_commands(chan) == [
        "GET DATA hotline/agent-enter-id 5000 8", "GET DATA hotline/agent-enter-pin 5000 12",
        'STREAM FILE hotline/agent-login-failed ""', "HANGUP"]
    assert rig.cc.acd.agent("1007").state is AgentState.LOGGED_OUT


def test_logout():
    rig = FeatureRig()
    rig.login_agents("1007")
    chan = rig.dial("*12")
    assert rig.ami.agi_commands(chan) == ['STREAM FILE hotline/agent-logged-out ""', "HANGUP"]
    assert rig.cc.acd.agent("1007").state is AgentState.LOGGED_OUT


def test_pause_toggle():
    rig = FeatureRig()
    rig.login_agents("1007")
    first = rig.dial("*13")
    agent = rig.cc.acd.agent("1007")
    assert (agent.state, agent.pause_reason) == (AgentState.PAUSED, "break")
    second = rig.dial("*13")
    assert rig.cc.acd.agent("1007").state is AgentState.READY
    assert rig.ami.agi_commands(first) == ['STREAM FILE hotline/agent-paused ""', "HANGUP"]
    assert rig.ami.agi_commands(second) == ['STREAM FILE hotline/agent-unpaused ""', "HANGUP"]


def test_pause_when_logged_out_and_unknown_codes_say_it_did_not_work():
    rig = FeatureRig()
    pause = rig.dial("*13")
    other = rig.dial("*19")
    for chan in (pause, other):
        assert rig.ami.agi_commands(chan) == [
            'STREAM FILE hotline/agent-feature-failed ""', "HANGUP"]
    assert rig.cc.acd.agent("1007").state is AgentState.LOGGED_OUT


def test_feature_code_channel_runs_the_shipped_dialplan():
    rig = FeatureRig()
    seen: list = []
    rig.sim.core.subscribe(seen.append)
    chan = rig.dial("*12")
    start = next(e for e in seen if e.name == "AsyncAGIStart" and e.get("Channel") == chan)
    # Found through agent-phones' include: the channel keeps the phone's context.
    assert (start.get("Context"), start.get("Exten")) == ("agent-phones", "*12")
    states = [e.get("State") for e in seen
              if e.name == "DeviceStateChange" and e.get("Device") == "PJSIP/1007"]
    assert states == ["INUSE", "NOT_INUSE"]
