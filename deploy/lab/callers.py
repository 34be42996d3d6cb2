"""Scripted callers: profiles, the Originate that starts one, and the driver that
moves each caller's ``;2`` half to ``talk`` / ``after`` as its call progresses.

The first key of every profile (``1``, at 3 s) answers the welcome/language
question with Mandarin; the next keys walk the menus of config/ivr.yaml.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    digits: tuple[str, ...]
    delays: tuple[float, ...]
    patience_s: float = 300.0      # after the last key, before hanging up unserved
    survey: str = ""               # key pressed after the agent hangs up ("" = none)


PROFILES = {
    "general": Profile("general", ("1", "0"), (3, 3), survey="1"),
    "fault": Profile("fault", ("1", "1", "#"), (3, 3, 9), survey="2"),
    "billing": Profile("billing", ("1", "2", "2", "#"), (3, 3, 3, 3), survey="1"),
    "complaint": Profile("complaint", ("1", "4", "1", "#"), (3, 3, 3, 3), survey="2"),
    "hangup-ivr": Profile("hangup-ivr", ("1",), (3,), patience_s=2),
    "hangup-queue": Profile("hangup-queue", ("1", "0"), (3, 3), patience_s=1, survey="1"),
    # Keys 6 s apart: a menu's GET DATA (prompt + 5 s) is still running when a daemon
    # killed just after starting it is back (about 4 s), so the key reaches the new
    # session as the result of the dead process's command (issue 12.8).
    "slow-billing": Profile("slow-billing", ("1", "2", "2", "#"), (3, 6, 6, 6), survey="1"),
    "slow-complaint": Profile("slow-complaint", ("1", "4", "1", "#"), (3, 6, 6, 6),
                              survey="2"),
    # --max-wait: key 0, then "1" every 3 s from 20 s on, so one lands in the keep-place
    # offer's GET DATA and one in the number's confirmation (keys pressed while the
    # music plays are dropped by Asterisk); then the caller hangs up when told.
    "maxwait": Profile("maxwait", ("1", "0", *["1"] * 14), (3, 3, 20, *[3] * 13),
                       patience_s=60),
}
# The order callers come in; a run of N callers takes the first N of it, cycling.
MIX = ("general", "fault", "billing", "general", "complaint", "hangup-ivr",
       "general", "billing", "fault", "hangup-queue")


def originate_headers(tag: str, number: str, profile: Profile, survey_delay_s: float,
                      after_s: float) -> list[tuple[str, str]]:
    """The Originate of one caller: ;1 runs hotline,95598, ;2 runs lab-callers,caller."""
    variables = {
        "LAB_CALL": tag, "LAB_PROFILE": profile.name, "LAB_STEPS": str(len(profile.digits)),
        # '-' separates (a comma would split the Variable header)
        "LAB_DIGITS": "-".join(profile.digits),
        "LAB_DELAYS": "-".join(f"{d:g}" for d in profile.delays),
        "LAB_PATIENCE": f"{profile.patience_s:g}", "LAB_SURVEY": profile.survey,
        "LAB_SURVEY_DELAY": f"{survey_delay_s:g}", "LAB_AFTER": f"{after_s:g}",
    }
    headers = [("Channel", "Local/caller@lab-callers"), ("Context", "hotline"),
               ("Exten", "95598"), ("Priority", "1"),
               ("CallerID", f'"Lab {tag}" <{number}>'), ("Async", "true")]
    headers += [("Variable", f"{k}={v}") for k, v in variables.items()]
    return headers


class CallerDriver:
    """Reads the observer's events; Redirects a caller's ;2 half to ``talk`` when
    it is bridged and to ``after`` when the agent has left; tracks who is still up."""

    def __init__(self, recorder) -> None:
        self.rec = recorder
        self.tag_of: dict[str, str] = {}      # ;1 channel -> tag
        self.up: set[str] = set()             # ;1 channels not yet hung up
        self.seen: set[str] = set()
        self.call_ids: set[str] = set()       # each caller's Linkedid: its record's call_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="caller-driver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _redirect(self, chan1: str, exten: str) -> None:
        self.rec.action("Redirect", [("Channel", chan1[:-1] + "2"), ("Context", "lab-callers"),
                                     ("Exten", exten), ("Priority", "1")])

    def _loop(self) -> None:
        i = self.rec.index()
        while not self._stop.is_set():
            msg = self.rec.wait_for(lambda m: True, timeout=0.5, start=i)
            if msg is None:
                if self.rec.closed:
                    return
                continue
            i += 1
            name, chan = msg.event, msg.get("Channel", "")
            if name == "VarSet" and msg.get("Variable") == "LAB_CALL" and chan.endswith(";1"):
                self.tag_of[chan] = msg.get("Value")
                self.up.add(chan)
                self.seen.add(msg.get("Value"))
                self.call_ids.add(msg.get("Linkedid") or msg.get("Uniqueid"))
            elif chan in self.tag_of:
                if name == "BridgeEnter":
                    self._redirect(chan, "talk")
                elif name == "BridgeLeave":
                    self._redirect(chan, "after")
                elif name == "Hangup":
                    self.up.discard(chan)

    def wait_all_done(self, expected: int, timeout: float) -> bool:
        """True once ``expected`` callers have appeared and all have hung up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.seen) >= expected and not self.up:
                return True
            time.sleep(0.2)
        return False
