"""Daemon faults during a lab run, and what the recorded sessions must show after them.

``DaemonFaults`` stops the daemon (SIGTERM, or SIGKILL for ``kill -9``) at a set
time into the run, by the PID of the process the harness started, and starts it
again after a set time with the same config directory (so the same Redis, the
same ports, the same recordings directory).  Each step is bounded in time.

``session_checks`` reads the daemon's sessions as the recording proxy saw them and
the observer's account, and checks what issue 12 points 7 and 8 promise:

* ``quiet_until_resync``: a restarted daemon sends no action naming a channel
  before its first ``CoreShowChannels`` list is complete (its
  ``CoreShowChannelsComplete``): until then it does not know where a restored
  caller is (trace 15: ``AbsoluteTimeout 30`` to callers already in the
  fallback queue);
* ``one_fallback``: no caller gets a second ``UserEvent HotlineFallback``.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# Actions that name a channel but do nothing to it.
READ_ONLY = {"Getvar", "Status", "CoreShowChannels", "DBGet", "DBGetTree"}


@dataclass
class FaultPlan:
    at_s: float            # seconds after the first caller was originated
    away_s: float          # seconds between the daemon's end and its new start
    kill: bool             # SIGKILL (kill -9) rather than SIGTERM

    @property
    def name(self) -> str:
        return "kill -9" if self.kill else "SIGTERM"


@dataclass
class FaultLog:
    """Monotonic times of what the fault thread did (the harness converts them)."""
    plan: FaultPlan
    stopped: float | None = None       # the signal was sent
    exited: float | None = None        # the old process was gone
    started: float | None = None       # the new process was started
    serving: float | None = None       # its HTTP API answered a sign-in
    errors: list[str] = field(default_factory=list)


class DaemonFaults(threading.Thread):
    """Runs one ``FaultPlan`` against the daemon; ``restart()`` (a callable of the
    harness) starts the new process and waits for its API, returning True once it
    serves.  ``current()`` gives the live Popen (the harness owns it)."""

    def __init__(self, plan: FaultPlan, t0: float, current, restart, note) -> None:
        super().__init__(name="daemon-faults", daemon=True)
        self.plan, self.t0 = plan, t0
        self.current, self.restart, self.note = current, restart, note
        self.log = FaultLog(plan)
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    def run(self) -> None:
        if self._cancelled.wait(max(0.0, self.t0 + self.plan.at_s - time.monotonic())):
            return
        proc = self.current()
        if proc is None or proc.poll() is not None:
            self.log.errors.append("daemon not running at fault time")
            return
        self.note(f"{FAULT_NOTE}{self.plan.name} to daemon pid {proc.pid} "
                  f"({self.plan.at_s:g} s into the run)")
        self.log.stopped = time.monotonic()
        proc.send_signal(signal.SIGKILL if self.plan.kill else signal.SIGTERM)
        try:
            proc.wait(20)
        except Exception:  # subprocess.TimeoutExpired: a daemon that ignores SIGTERM
            self.log.errors.append("daemon still up 20 s after SIGTERM; SIGKILL")
            proc.kill()
            proc.wait()
        self.log.exited = time.monotonic()
        self.note(f"{FAULT_NOTE}daemon pid {proc.pid} exited ({proc.returncode}); "
                  f"back in {self.plan.away_s:g} s")
        if self._cancelled.wait(max(0.0, self.log.stopped + self.plan.away_s - time.monotonic())):
            return
        self.log.started = time.monotonic()
        try:
            ok = self.restart()
        except Exception as exc:  # reported in the comparison, never a traceback
            self.log.errors.append(f"restart failed: {exc}")
            return
        if ok:
            self.log.serving = time.monotonic()
        else:
            self.log.errors.append("restarted daemon did not serve its API in time")


# ---------------------------------------------------------------- the sessions
def read_sessions(path: Path) -> list[list[tuple[float, str, dict[str, str]]]]:
    """The proxy's transcript as sessions (one per daemon connection), each a list
    of (proxy seconds, '>>>' from the daemon or '<<<' from Asterisk, headers)."""
    sessions: list[list] = []
    cur: dict[str, dict[str, str]] = {">>>": {}, "<<<": {}}
    t_first: dict[str, float] = {}
    for raw in Path(path).read_bytes().split(b"\n"):
        line = raw.decode("utf-8", "replace").rstrip("\r")
        marker = line[:3]
        if marker == "###":
            if "daemon connected" in line:
                sessions.append([])
                cur = {">>>": {}, "<<<": {}}
            continue
        if marker not in cur or not sessions:
            continue
        body = line[16:]
        if not body:
            if cur[marker]:
                sessions[-1].append((t_first.pop(marker), marker, cur[marker]))
            cur[marker] = {}
            continue
        if not cur[marker]:
            t_first[marker] = float(line[4:15])
        key, _, value = body.partition(": ")
        cur[marker].setdefault(key, value)
    return sessions


def restart_actions(session: list[tuple[float, str, dict[str, str]]]) -> dict:
    """What a (re)started daemon sent to channels before its first complete
    channel list: {'resync_at': proxy seconds or None, 'early': [...]}."""
    resync_at = None
    early: list[str] = []
    for t, direction, msg in session:
        if direction == "<<<" and msg.get("Event") == "CoreShowChannelsComplete":
            resync_at = t
            break
        if direction == ">>>" and msg.get("Channel") and msg.get("Action") not in READ_ONLY:
            early.append(f"{t:.3f} {msg.get('Action')} {msg.get('Channel')}"
                         + (f" {msg.get('Timeout')}" if msg.get("Timeout") else ""))
    return {"resync_at": resync_at, "early": early}


OFFSET_NOTE = "lab: proxy clock = observer clock - "
FAULT_NOTE = "FAULT: "


def observer_notes(path: Path) -> list[tuple[float, str]]:
    """The harness's ``###`` notes in the observer's transcript (observer seconds)."""
    out = []
    for raw in Path(path).read_bytes().split(b"\n"):
        line = raw.decode("utf-8", "replace")
        if line.startswith("### ") and line[4:15].replace(".", "").isdigit():
            out.append((float(line[4:15]), line[16:]))
    return out


def away_windows(observer: Path, server_session: Path) -> tuple[list[tuple[float, float]],
                                                                  list[str]]:
    """Observer-time windows in which no daemon listened: from each fault's signal
    (the harness's note) to the end of the restarted daemon's first channel list
    (its CoreShowChannelsComplete, proxy time moved onto the observer's clock).
    Also the fault notes themselves.  Read from the files, so ``compare`` can redo it."""
    notes = observer_notes(observer)
    offset = next((float(text[len(OFFSET_NOTE):].split()[0]) for _, text in notes
                   if text.startswith(OFFSET_NOTE)), None)
    signals = [t for t, text in notes if text.startswith(FAULT_NOTE) and "to daemon pid" in text]
    resyncs = [r["resync_at"] for r in
               (restart_actions(s) for s in read_sessions(server_session)[1:])]
    windows = []
    for i, start in enumerate(signals):
        end = resyncs[i] if i < len(resyncs) else None
        windows.append((start, end + offset if end is not None and offset is not None
                        else float("inf")))
    return windows, [f"{t:.3f} {text}" for t, text in notes if text.startswith(FAULT_NOTE)]


def stale_results(sessions: list) -> list[str]:
    """Results of a previous session's AGI commands delivered to a later session
    (a dead process's GET DATA still running when the new one logged in)."""
    out, prefixes = [], set()
    for sess in sessions:
        mine = {(m.get("CommandID") or "").split("-")[0] for _, d, m in sess
                if d == ">>>" and m.get("Action") == "AGI"}
        for t, d, m in sess:
            cid = m.get("CommandId") or m.get("CommandID") or ""
            if d == "<<<" and m.get("Event") == "AsyncAGIExec" and \
                    cid.split("-")[0] in prefixes - mine:
                out.append(f"{t:.3f} {m.get('Channel')} {cid} {m.get('Result', '')[:24]}")
        prefixes |= mine
    return out


def session_checks(server_session: Path, accounts: dict) -> dict:
    """The checks of the module docstring; each 'ok' or why not."""
    sessions = read_sessions(server_session)
    restarts = [restart_actions(s) for s in sessions[1:]]
    early = [a for r in restarts for a in r["early"]]
    twice = {acc.tag: len(acc.fallbacks) for acc in accounts.values() if len(acc.fallbacks) > 1}
    return {
        "sessions": len(sessions),
        "restarts": restarts,
        "stale_results": stale_results(sessions),
        "checks": {
            "quiet_until_resync": "ok" if not early else
            f"{len(early)} actions to channels before the first CoreShowChannelsComplete: "
            + "; ".join(early[:8]),
            "resynced": "ok" if all(r["resync_at"] is not None for r in restarts) else
            "a restarted session never completed a CoreShowChannels",
            "one_fallback": "ok" if not twice else
            "second HotlineFallback: " + ", ".join(f"{k} x{v}" for k, v in sorted(twice.items())),
        },
    }
