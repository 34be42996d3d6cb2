"""Least privilege (issue 16 point 5): every AMI action the server sends is allowed by
the shipped manager.conf, by the class Asterisk 22.10.1 registers it with, and the
user has no ``system`` (Originate of System(), GetConfig of pjsip.conf, ModuleLoad).

The server's actions are found in its source (every ``sendAction``/``sendListAction``
takes its action name as a literal, which this test also enforces), so a new action
the user may not send fails here; the simulator refuses it too (``Permission
denied``), so the end-to-end tests would fail as well.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from twisted.internet.task import Clock

from server.ami.privileges import (
    AUTHORITY,
    allowed,
    manager_conf_write,
    originate_permitted,
)
from server.sim import AmiUser, Simulator
from tests.e2e_support import ROOT, SHIPPED_WRITE
from tests.sim_support import Harness

SERVER = ROOT / "server"
#: the simulator and the load tools stand in for Asterisk or drive it as a lab
#: user; the daemon is everything else under server/
NOT_THE_DAEMON = ("sim", "bench", "soak")
#: modules that pass an action through (the wrappers themselves)
PASS_THROUGH = {("ami/service.py", "return proto.sendAction(action"),
                ("ami/service.py", "return proto.sendListAction(action")}
MIRROR = Path("/work/.mirror/asterisk+asterisk/repo")
_CALL = re.compile(r"send(?:List)?Action\(\s*")
_FLAG = {"EVENT_FLAG_SYSTEM": "system", "EVENT_FLAG_CALL": "call", "EVENT_FLAG_AGI": "agi",
         "EVENT_FLAG_REPORTING": "reporting", "EVENT_FLAG_ORIGINATE": "originate",
         "EVENT_FLAG_CONFIG": "config", "EVENT_FLAG_COMMAND": "command",
         "EVENT_FLAG_USER": "user"}


def daemon_sources() -> list[Path]:
    return [p for p in SERVER.rglob("*.py")
            if p.relative_to(SERVER).parts[0] not in NOT_THE_DAEMON]


def actions_sent() -> set[str]:
    """Every action name the daemon's code passes to sendAction/sendListAction."""
    found, dynamic = set(), []
    for path in daemon_sources():
        text = path.read_text(encoding="utf-8")
        rel = str(path.relative_to(SERVER))
        for m in _CALL.finditer(text):
            if text[m.start() - 4:m.start()] == "def " or text[m.start() - 2:m.start()] == "``":
                continue  # the definition, or its mention in a docstring
            rest = text[m.end():]
            literal = re.match(r'"(\w+)"', rest)
            if literal:
                found.add(literal.group(1))
                continue
            line = text[text.rfind("\n", 0, m.start()) + 1:text.find("\n", m.end())].strip()
            if not any(rel == f and line.startswith(p) for f, p in PASS_THROUGH):
                dynamic.append(f"{rel}: {line}")
    assert not dynamic, f"AMI actions named at run time cannot be checked: {dynamic}"
    return found


def test_the_shipped_user_may_not_write_system_config_or_command():
    assert SHIPPED_WRITE == frozenset({"agi", "call", "originate", "reporting"})
    assert not SHIPPED_WRITE & {"system", "config", "command", "all"}


def test_every_action_the_server_sends_is_allowed_by_the_shipped_manager_conf():
    sent = actions_sent()
    # The scan finds what the server is known to send (a broken scan finds nothing).
    assert {"AGI", "Setvar", "Redirect", "Originate", "CoreShowChannels", "DBGetTree",
            "AbsoluteTimeout", "Login", "Challenge", "Ping"} <= sent
    assert "DBDel" not in sent  # needs system: the dialplan deletes its notes instead
    unknown = sorted(a for a in sent if a.lower() not in AUTHORITY)
    assert not unknown, f"add these actions' Asterisk 22 classes to privileges.py: {unknown}"
    refused = sorted(a for a in sent if not allowed(a, SHIPPED_WRITE))
    assert not refused, f"manager.conf's write= does not allow: {refused}"


def test_every_originate_application_the_server_uses_needs_no_system():
    apps = set()
    for path in daemon_sources():
        apps |= set(re.findall(r'\("Application",\s*"(\w+)"\)', path.read_text("utf-8")))
    assert apps == {"ChanSpy"}  # supervision; callbacks and note deletion use Context/Exten
    for app in apps:
        assert originate_permitted(app, "PJSIP/1001,qE", SHIPPED_WRITE)
    # What `system` used to allow is refused now.
    for app, data in (("System", "rm -rf /"), ("Exec", "System(id)"), ("MixMonitor", "x.wav"),
                      ("NoOp", "${SHELL(id)}"), ("NoOp", "${DB(a/b)}")):
        assert not originate_permitted(app, data, SHIPPED_WRITE)


def test_the_table_matches_asterisk_22_10_1s_registrations():
    if not (MIRROR / "HEAD").exists():
        pytest.skip("no Asterisk source mirror on this machine")
    for action, (classes, where) in AUTHORITY.items():
        source = subprocess.run(["git", "--git-dir", str(MIRROR), "show", f"22.10.1:{where}"],
                                capture_output=True, text=True, check=True).stdout
        if action == "pjsipshowendpoints":
            action_name = "AMI_SHOW_ENDPOINTS"
        else:
            names = re.findall(r'ast_manager_register_xml(?:_core)?\("(\w+)"', source)
            action_name = next(n for n in names if n.lower() == action)
            action_name = f'"{action_name}"'
        m = re.search(r"ast_manager_register_xml(?:_core)?\(\s*" + re.escape(action_name)
                      + r"\s*,\s*([^,]+),", source)
        assert m, action
        flags = {_FLAG[f.strip()] for f in m.group(1).split("|") if f.strip() != "0"}
        assert flags == set(classes), (action, flags, classes)


def _reply(h: Harness, action: str, fields: dict[str, str]):
    aid = f"t-{len(h.client.messages)}"
    h.send(action, fields, aid)
    return next(m for m in h.client.responses() if m.action_id == aid)


def test_the_simulator_refuses_what_the_user_may_not_do_like_asterisk():
    clock = Clock()
    sim = Simulator(clock, users=[AmiUser("acd", "secret", write=manager_conf_write(
        ROOT / "deploy" / "asterisk" / "manager.conf", "hotline"))])
    h = Harness(sim, clock)
    sim.core.astdb[("hotline_unseen", "1.1")] = "note"
    events = []
    sim.core.subscribe(lambda ev: events.append(ev.name))
    for action, fields in (("DBDel", {"Family": "hotline_unseen", "Key": "1.1"}),
                           ("MixMonitor", {"Channel": "PJSIP/1001-00000001"}),
                           ("PJSIPShowEndpoints", {})):
        reply = _reply(h, action, fields)
        assert (reply["Response"], reply["Message"]) == ("Error", "Permission denied")
    assert events.count("RequestNotAllowed") == 3
    assert sim.core.astdb  # nothing was deleted
    reply = _reply(h, "Originate", {"Channel": "Local/1@sim-callers", "Application": "System",
                                    "Data": "id", "Async": "true"})
    assert (reply["Response"], reply["Message"]) == (
        "Error", "Originate Access Forbidden: app or data blacklisted")
    # What the server does instead: the dialplan deletes the notes of one caller.
    sim.core.astdb[("hotline_end", "1.1")] = "end=1"
    reply = _reply(h, "Originate", {"Channel": "Local/1.1@hotline-forget",
                                    "Context": "hotline-forget", "Exten": "forgotten",
                                    "Priority": "1"})
    assert (reply["Response"], reply["Message"]) == ("Success", "Originate successfully queued")
    assert sim.core.astdb == {}
    h.run(1)
    assert not [c for c in sim.core.channels.values() if "hotline-forget" in c.name]
