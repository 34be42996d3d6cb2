"""deploy/asterisk/manager.conf passes every event the server subscribes to."""

from __future__ import annotations

import re
from pathlib import Path

from server.ami.router import EventRouter
from server.wiring import build_call_side, subscriptions
from tests.e2e_support import ROOT, Rig

CONF = ROOT / "deploy" / "asterisk" / "manager.conf"


def included_events() -> set[str]:
    return set(re.findall(r"^eventfilter\(action\(include\),name\((\w+)\)\)",
                          CONF.read_text(), flags=re.M))


class _Ami:
    def __init__(self) -> None:
        self.router = EventRouter()

    def on_connect(self, hook):
        pass

    def on_state(self, listener):
        pass


def test_every_subscribed_event_passes_the_shipped_filter():
    rig = Rig()
    ami = _Ami()
    side = build_call_side(rig.clock, rig.cfg, ami, save=lambda r: None, bills=None)
    subscribed = {name for name, handlers in ami.router._handlers.items() if handlers}
    assert subscribed == {name for name, _ in subscriptions(side)}  # the one table
    assert {"AsyncAGIStart", "DialEnd", "DeviceStateChange", "OriginateResponse"} <= subscribed
    missing = subscribed - included_events()
    assert not missing, f"manager.conf filters out events the server needs: {sorted(missing)}"


def test_the_ami_user_is_loopback_only_and_least_privilege():
    text = CONF.read_text()
    assert re.search(r"^bindaddr\s*=\s*127\.0\.0\.1", text, flags=re.M)
    assert re.search(r"^deny\s*=\s*0\.0\.0\.0/0\.0\.0\.0", text, flags=re.M)
    write = re.search(r"^write\s*=\s*(.+)$", text, flags=re.M).group(1)
    assert "command" not in write and "all" not in write.split(",")
    assert Path(CONF).exists()
