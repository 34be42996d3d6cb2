"""Recordings land where the review page looks for them (issue 12, point 3).

On a real Asterisk 22 ``MixMonitor(name.wav)`` with a relative name writes under
Asterisk's monitor directory (``astspooldir``/monitor, app_mixmonitor.c
``filename_parse``) and creates any subdirectory.  The shipped configuration
said ``/var/spool/asterisk/monitor/hotline`` while the dialplan wrote into
``monitor/`` itself, so the review page's player got 404 on a default
deployment.  Every MixMonitor of the shipped dialplan must write into
``recordings.directory``, under the file name the server puts in the record.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from server.config import load_config
from server.sim.dialplan import load, substitute
from tests.e2e_support import ROOT

ASTERISK_MONITOR_DIR = PurePosixPath("/var/spool/asterisk/monitor")  # asterisk.conf default


def mixmonitor_targets() -> list[tuple[str, PurePosixPath]]:
    """(context, directory) of every MixMonitor in the shipped dialplan, with the
    globals expanded and ``${UNIQUEID}`` left as the file name."""
    plan = load(ROOT / "deploy/asterisk/extensions.conf")
    found = []
    for context, extens in plan.contexts.items():
        for steps in extens.values():
            for step in steps:
                if step.app != "MixMonitor":
                    continue
                name = substitute(step.data.split(",")[0],
                                  lambda var: "${UNIQUEID}" if var == "UNIQUEID"
                                  else plan.globals[var])
                path = PurePosixPath(name)
                assert path.name == "${UNIQUEID}.wav", (context, name)
                where = path.parent if path.is_absolute() else ASTERISK_MONITOR_DIR / path.parent
                found.append((context, where))
    return found


def test_every_recording_of_the_dialplan_lands_in_the_configured_directory():
    cfg = load_config(ROOT / "config", environ={})
    targets = mixmonitor_targets()
    assert {context for context, _ in targets} >= {"acd-connect", "acd-callback-agent"}
    for context, where in targets:
        assert where == PurePosixPath(cfg.server.recordings.directory), context
