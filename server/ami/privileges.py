"""Which manager.conf ``write`` class each AMI action needs, as Asterisk 22.10.1 registers it.

Asterisk runs an action when the user holds ANY of the classes the action was
registered with (main/manager.c ``process_message``: ``writeperm & authority``),
or when it was registered with none (Login, Ping, ...); otherwise it answers
``Response: Error`` / ``Message: Permission denied`` (the text trace 05b shows
before a login).  Originate has a second check: some applications (and data
naming some functions) need ``system`` even with ``originate`` (manager.c
``originate_app_permissions``): ``Originate Access Forbidden: app or data
blacklisted``.

Pure data, used by the simulator (it refuses like Asterisk) and by
tests/test_ami_privileges.py (every action the server sends must be allowed by
the shipped deploy/asterisk/manager.conf).  Each entry names where it is
registered, so it can be checked against the source.
"""

from __future__ import annotations

import re
from pathlib import Path

#: action (lower case) -> (classes, any of which allows it; registered in)
AUTHORITY: dict[str, tuple[frozenset[str], str]] = {
    "login": (frozenset(), "main/manager.c"),
    "challenge": (frozenset(), "main/manager.c"),
    "logoff": (frozenset(), "main/manager.c"),
    "ping": (frozenset(), "main/manager.c"),
    "events": (frozenset(), "main/manager.c"),
    "hangup": (frozenset({"system", "call"}), "main/manager.c"),
    "status": (frozenset({"system", "call", "reporting"}), "main/manager.c"),
    "setvar": (frozenset({"call"}), "main/manager.c"),
    "getvar": (frozenset({"call", "reporting"}), "main/manager.c"),
    "getconfig": (frozenset({"system", "config"}), "main/manager.c"),
    "redirect": (frozenset({"call"}), "main/manager.c"),
    "originate": (frozenset({"originate"}), "main/manager.c"),
    "command": (frozenset({"command"}), "main/manager.c"),
    "extensionstate": (frozenset({"call", "reporting"}), "main/manager.c"),
    "absolutetimeout": (frozenset({"system", "call"}), "main/manager.c"),
    "userevent": (frozenset({"user"}), "main/manager.c"),
    "reload": (frozenset({"config", "system"}), "main/manager.c"),
    "coreshowchannels": (frozenset({"system", "reporting"}), "main/manager.c"),
    "moduleload": (frozenset({"system"}), "main/manager.c"),
    "extensionstatelist": (frozenset({"call", "reporting"}), "main/pbx.c"),
    "dbget": (frozenset({"system", "reporting"}), "main/db.c"),
    "dbgettree": (frozenset({"system", "reporting"}), "main/db.c"),
    "dbput": (frozenset({"system"}), "main/db.c"),
    "dbdel": (frozenset({"system"}), "main/db.c"),
    "dbdeltree": (frozenset({"system"}), "main/db.c"),
    "agi": (frozenset({"agi"}), "res/res_agi.c"),
    "devicestatelist": (frozenset({"call", "reporting"}), "res/res_manager_devicestate.c"),
    "mixmonitor": (frozenset({"system"}), "apps/app_mixmonitor.c"),
    "stopmixmonitor": (frozenset({"system", "call"}), "apps/app_mixmonitor.c"),
    "playdtmf": (frozenset({"call"}), "apps/app_senddtmf.c"),
    "bridge": (frozenset({"call"}), "main/features.c"),
    "pjsipshowendpoints": (frozenset({"system"}), "res/res_pjsip/pjsip_configuration.c"),
}

#: Originate applications needing more than ``originate`` (manager.c
#: ``originate_app_permissions``, matched case-insensitively anywhere in the
#: application's name), and function names in Data (case-sensitive).
ORIGINATE_APPS = ("agi", "dbdeltree", "exec", "externalivr", "mixmonitor", "originate",
                  "reload", "system")
ORIGINATE_DATA = ("CURL", "DB", "EVAL", "FILE", "ODBC", "REALTIME", "SHELL")


def allowed(action: str, write: frozenset[str]) -> bool:
    """May a user with these ``write`` classes run ``action``?  Unknown: no."""
    entry = AUTHORITY.get(action.lower())
    if entry is None:
        return False
    classes = entry[0]
    return not classes or "all" in write or bool(classes & write)


def originate_permitted(app: str, data: str, write: frozenset[str]) -> bool:
    """manager.c ``is_originate_app_permitted``: the first rule that matches decides."""
    if "all" in write or "system" in write:
        return True
    lowered = app.lower()
    if any(name in lowered for name in ORIGINATE_APPS):
        return False
    if "queue" in lowered and len(data.split(",")) > 5 and data.split(",")[5]:
        return "agi" in write  # Queue with its AGI argument: agi or system
    return not any(name in data for name in ORIGINATE_DATA)


def manager_conf_write(path: str | Path, user: str) -> frozenset[str]:
    """The ``write`` classes of ``[user]`` in a manager.conf."""
    section = None
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        m = re.fullmatch(r"\[([^\]]+)\]", line)
        if m:
            section = m.group(1).strip()
            continue
        key, sep, value = line.partition("=")
        if section == user and sep and key.strip() == "write":
            return frozenset(c.strip().lower() for c in value.split(",") if c.strip())
    return frozenset()
