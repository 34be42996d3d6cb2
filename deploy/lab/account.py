"""Asterisk's own account of each scripted call, read from the observer's session.

The observer logs in with ``read = all`` and no event filter, so it sees what
the daemon's ``eventfilter`` hides (Newexten, VarSet, Cdr, AGIExecStart with the
channel's Language ...).  Input: a transcript in the format of
``ami-traces/README.md`` (``<<< 0000.012345 Header: value\\r\\n``).
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path

PROMPT = re.compile(r"\b((?:hotline|digits)/[\w.-]+)")


def read_events(path: Path) -> list[tuple[float, dict[str, str]]]:
    """Received messages of a transcript, as (seconds since connect, headers)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    out, cur, t0 = [], {}, None
    with opener(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace")
            if not line.startswith("<<< "):
                continue
            body = line[16:].rstrip("\r\n")
            if not body:
                if cur:
                    out.append((t0, cur))
                cur, t0 = {}, None
                continue
            if t0 is None:
                t0 = float(line[4:15])
            key, _, value = body.partition(": ")
            cur.setdefault(key, value)  # first wins: list events repeat no headers we use
    return out


def agent_of(channel: str) -> str:
    """``PJSIP/1001-0000000a`` -> ``1001``."""
    return channel.split("/", 1)[-1].rsplit("-", 1)[0]


@dataclass
class CallAccount:
    tag: str
    channel: str = ""
    uniqueid: str = ""
    linkedid: str = ""
    entered: float | None = None
    hangup: float | None = None
    prompts: list[tuple[float, str, str]] = field(default_factory=list)  # t, language, file
    dials: list[tuple[str, str]] = field(default_factory=list)           # agent, DialStatus
    agent: str | None = None
    agent_channel: str = ""
    bridge_enter: float | None = None
    bridge_leave: float | None = None
    holds: list[list[float | None]] = field(default_factory=list)
    agent_hangup: float | None = None
    agent_hangup_request: float | None = None
    caller_hangup_request: float | None = None
    agi_after_bridge: float | None = None
    survey_prompt: bool = False
    survey_result: str | None = None
    keys_after_bridge: str = ""
    keys: list[tuple[float, str]] = field(default_factory=list)  # DTMF before any bridge
    mixmonitor_file: str | None = None
    fallback: str | None = None
    fallbacks: list[float] = field(default_factory=list)  # each UserEvent HotlineFallback
    digits: str = ""               # the scripted keys (LAB_DIGITS), '-' separated
    cdr_disposition: str | None = None

    @property
    def answered(self) -> bool:
        return self.bridge_enter is not None

    @property
    def hold_s(self) -> float:
        end = self.bridge_leave
        return sum((b if b is not None else end or a) - a for a, b in self.holds)

    @property
    def talk_s(self) -> float:
        if self.bridge_enter is None or self.bridge_leave is None:
            return 0.0
        return self.bridge_leave - self.bridge_enter - self.hold_s

    @property
    def ended_by(self) -> str | None:
        if not self.answered:
            return None
        agent = self.agent_hangup_request or self.agent_hangup
        caller = self.caller_hangup_request
        if agent is not None and (caller is None or agent <= caller):
            return "agent"
        return "caller"

    @property
    def agi_before_agent_hangup(self) -> bool:
        """The issue-12 order: back in AsyncAGI before the agent channel's Hangup."""
        return (self.agi_after_bridge is not None and self.agent_hangup is not None
                and self.agi_after_bridge < self.agent_hangup)

    @property
    def languages(self) -> list[str]:
        return sorted({lang for _, lang, _ in self.prompts})


def build_accounts(events: list[tuple[float, dict[str, str]]]) -> dict[str, CallAccount]:
    """One CallAccount per scripted caller (keyed by its LAB_CALL tag)."""
    calls: dict[str, CallAccount] = {}
    by_chan: dict[str, CallAccount] = {}     # the caller's ;1 half (runs the hotline)
    by_local2: dict[str, CallAccount] = {}
    by_agent: dict[str, CallAccount] = {}
    pending_survey: set[str] = set()
    digits: dict[str, str] = {}              # Originate sets LAB_DIGITS before LAB_CALL
    for t, e in events:
        name, chan = e.get("Event"), e.get("Channel", "")
        if name == "VarSet" and e.get("Variable") == "LAB_DIGITS" and chan.endswith(";1"):
            digits[chan] = e.get("Value", "")
            continue
        if name == "VarSet" and e.get("Variable") == "LAB_CALL" and chan.endswith(";1"):
            acc = calls.setdefault(e["Value"], CallAccount(e["Value"]))
            acc.digits = digits.pop(chan, "")
            acc.channel, acc.uniqueid, acc.linkedid = chan, e.get("Uniqueid", ""), \
                e.get("Linkedid", "")
            by_chan[chan] = acc
            by_local2[chan[:-1] + "2"] = acc
            continue
        acc = by_chan.get(chan)
        if acc is not None:
            _caller_event(acc, t, name, e, by_agent, pending_survey)
            continue
        acc = by_local2.get(chan)
        if acc is not None:
            if name in ("HangupRequest", "Hangup") and acc.caller_hangup_request is None \
                    and acc.answered and acc.bridge_leave is None:
                acc.caller_hangup_request = t
            continue
        acc = by_agent.get(chan)
        if acc is not None:
            if name == "Hold" and acc.bridge_leave is None:
                acc.holds.append([t, None])
            elif name == "Unhold" and acc.holds and acc.holds[-1][1] is None:
                acc.holds[-1][1] = t
            elif name == "HangupRequest" and acc.agent_hangup_request is None:
                acc.agent_hangup_request = t
            elif name == "Hangup" and acc.agent_hangup is None:
                acc.agent_hangup = t
            elif name == "BridgeLeave" and acc.bridge_enter is not None \
                    and acc.bridge_leave is None:
                acc.bridge_leave = t
    return calls


def _caller_event(acc: CallAccount, t: float, name: str | None, e: dict[str, str],
                  by_agent: dict[str, CallAccount], pending_survey: set[str]) -> None:
    chan = acc.channel
    if name == "AsyncAGIStart":
        if acc.entered is None:
            acc.entered = t
        elif acc.bridge_leave is not None and acc.agi_after_bridge is None:
            acc.agi_after_bridge = t
    elif name == "AGIExecStart":
        m = PROMPT.search(e.get("Command", ""))
        if m:
            acc.prompts.append((t, e.get("Language", "?"), m.group(1)))
            if m.group(1) == "hotline/survey":
                acc.survey_prompt = True
                pending_survey.add(chan)
    elif name == "AsyncAGIExec" and chan in pending_survey:
        pending_survey.discard(chan)
        result = re.search(r"result=(\S*)", _unquote(e.get("Result", "")))
        acc.survey_result = result.group(1) if result else None
    elif name == "Newexten":
        app, data = e.get("Application"), e.get("AppData", "")
        if app == "Playback":
            acc.prompts.append((t, e.get("Language", "?"), data.split(",")[0]))
        elif app == "MixMonitor":
            acc.mixmonitor_file = data.split(",")[0]
    elif name == "DialBegin" and e.get("DestChannel", "").startswith("PJSIP/"):
        by_agent[e["DestChannel"]] = acc
    elif name == "DialEnd" and e.get("DestChannel"):
        acc.dials.append((agent_of(e["DestChannel"]), e.get("DialStatus", "")))
        if e.get("DialStatus") == "ANSWER":
            acc.agent, acc.agent_channel = agent_of(e["DestChannel"]), e["DestChannel"]
    elif name == "BridgeEnter" and acc.bridge_enter is None:
        acc.bridge_enter = t
    elif name == "BridgeLeave" and acc.bridge_enter is not None and acc.bridge_leave is None:
        acc.bridge_leave = t
    elif name == "DTMFEnd" and e.get("Direction") == "Received" and acc.bridge_leave:
        acc.keys_after_bridge += e.get("Digit", "")
    elif name == "DTMFEnd" and e.get("Direction") == "Received" and not acc.answered:
        acc.keys.append((t, e.get("Digit", "")))
    elif name in ("HangupRequest", "SoftHangupRequest") and acc.answered \
            and acc.bridge_leave is None and acc.caller_hangup_request is None:
        acc.caller_hangup_request = t
    elif name == "UserEvent" and e.get("UserEvent") == "HotlineFallback":
        acc.fallback = e.get("Reason", "?")
        acc.fallbacks.append(t)
    elif name == "Hangup":
        acc.hangup = t
    elif name == "Cdr" and acc.cdr_disposition is None:
        acc.cdr_disposition = e.get("Disposition")


def _unquote(value: str) -> str:
    from urllib.parse import unquote
    return unquote(value)


def missing_sounds(log_text: str) -> list[str]:
    """Sound files Asterisk could not find, from its log (file.c warnings)."""
    out = []
    for line in log_text.splitlines():
        m = re.search(r"File (\S+) does not exist in any format", line) or \
            re.search(r"Unable to open (\S+) \(format", line)
        if m and m.group(1) not in out:
            out.append(m.group(1))
    return out
