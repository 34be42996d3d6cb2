"""Checks of a lab run beyond each call against Asterisk's account (issues 14-15):

* the case owner first: a case opened by an agent for the first caller's number
  before the run (``--case-owner``) puts that agent's phone first in line for the
  caller, whoever is idle longer, and the record says so (``case_owner`` entry);
* the period report: ``python -m server report`` over the lab's Redis counts as many
  calls, answered calls and survey answers as Asterisk's own account shows;
* the return visit (回访, ``--return-visit``): a case resolved before the run gets
  its visit as a real outbound call (the agent's phone first, then the customer,
  ``Local/<number>@sim-customers``); the call is linked to the case, the agent
  records the outcome, and the case closes.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from deploy.lab.account import CallAccount

Api = Callable[[str, dict, str | None], tuple[int, dict]]


def open_owner_case(api: Api, token: str, phone: str) -> str:
    """The agent behind ``token`` opens a complaint case for ``phone`` (owner:
    themselves); returns the case id.  Raises RuntimeError if the API refuses."""
    code, body = api("/api/cases", {"type": "complaint", "grade": "general", "phone": phone,
                                    "summary": "lab: the case owner first",
                                    "client_key": f"lab-owner-{phone}"}, token)
    if code not in (200, 201):
        raise RuntimeError(f"opening the owner's case failed: {code} {body}")
    return str(body["id"])


def open_resolved_case(api: Api, token: str, phone: str) -> str:
    """The agent behind ``token`` opens a complaint for ``phone`` and takes it to
    ``resolved`` (accept, start, resolve): the server books its return visit."""
    case_id = open_owner_case(api, token, phone)
    for step in ("accept", "start", "resolve"):
        code, body = api(f"/api/cases/{case_id}/transition", {"input": step}, token)
        if code != 200:
            raise RuntimeError(f"case {case_id}: {step} refused: {code} {body}")
    return case_id


def customer_answered(events: list[tuple[float, dict[str, str]]], number: str) -> bool:
    """Asterisk's own word: a Dial to ``Local/<number>@sim-customers`` was answered."""
    return any(e.get("Event") == "DialEnd" and e.get("DialStatus") == "ANSWER"
               and e.get("DestChannel", "").startswith(f"Local/{number}@sim-customers")
               for _t, e in events)


def visit_check(get: Callable[[str], dict], api: Api, token: str, case_id: str,
                records: Callable[[], Mapping[str, list[dict]]],
                answered_by_customer: Callable[[], bool], timeout_s: float = 90.0
                ) -> dict[str, Any]:
    """Wait for the visit call to be linked to the case, record the outcome as the
    owner, and check the case closed, the call's record (``records()``, read after
    the wait) is an answered follow-up, and Asterisk saw the customer answer."""
    def visits(case: dict) -> list[str]:  # the return-visit calls: rv-<case>-<n>#<attempt>
        return [c for c in case.get("call_ids", []) if c.startswith(f"rv-{case_id}-")]

    deadline = time.monotonic() + timeout_s
    case = get(f"/api/cases/{case_id}")
    while not visits(case) and time.monotonic() < deadline:
        time.sleep(1.0)
        case = get(f"/api/cases/{case_id}")
    linked = visits(case)
    if not linked:
        return {"verdict": f"no visit call linked to {case_id} within {timeout_s:.0f} s "
                           f"(state {case.get('state')}, visits {case.get('visits')})"}
    code, body = api(f"/api/cases/{case_id}/visit", {"reached": True, "resolved": True,
                                                     "satisfaction": 3}, token)
    state = body.get("state") if code == 200 else f"visit refused: {code} {body}"
    final = records()
    versions = [v for cid in linked for v in final.get(cid, [])]
    rec = max(versions, key=lambda r: r["version"]) if versions else {}
    problems = []
    if state != "closed":
        problems.append(f"case state {state}")
    if rec.get("kind") != "followup" or rec.get("outcome") != "answered":
        problems.append(f"visit record kind={rec.get('kind')} outcome={rec.get('outcome')}")
    if not answered_by_customer():
        problems.append("Asterisk shows no answered Dial to the customer")
    return {"verdict": "ok" if not problems else "; ".join(problems), "case": case_id,
            "visit_calls": linked, "agent": rec.get("agent_id"), "state": state}


def max_wait_check(records: Mapping[str, list[dict]], accounts: Mapping[str, CallAccount],
                   events: list[tuple[float, dict[str, str]]], number: str) -> dict[str, Any]:
    """The caller of ``number`` reached the maximum wait, took the callback that keeps
    their place, and the callback reached them: its record is answered and Asterisk
    shows the Dial to ``Local/<number>@sim-customers`` answered."""
    by_kind: dict[str, list[dict]] = {}
    for versions in records.values():
        rec = max(versions, key=lambda r: r["version"])
        if rec.get("caller") == number or rec.get("dialled") == number:
            by_kind.setdefault(rec["kind"], []).append(rec)
    inbound, callbacks = by_kind.get("inbound", []), by_kind.get("callback", [])
    problems = []
    kinds = [k for r in inbound for _t, k, _d in r["timeline"]]
    if "callback_requested" not in kinds:
        problems.append(f"no callback requested by the caller (timeline {kinds})")
    if [r.get("outcome") for r in callbacks] != ["answered"]:
        problems.append(f"callback records {[r.get('outcome') for r in callbacks]}")
    if not customer_answered(events, number):
        problems.append("Asterisk shows no answered Dial to the caller's number")
    return {"verdict": "ok" if not problems else "; ".join(problems),
            "caller_outcome": [r.get("outcome") for r in inbound],
            "callback_agent": [r.get("agent_id") for r in callbacks]}


def owner_check(records: Mapping[str, list[dict]], accounts: Mapping[str, CallAccount],
                tag: str, owner: str) -> dict[str, Any]:
    """Caller ``tag``'s first offer went to ``owner``, the record has the
    ``case_owner`` entry, and Asterisk rang the owner's phone first."""
    acc = next((a for a in accounts.values() if a.tag == tag), None)
    if acc is None:
        return {"verdict": f"no Asterisk account for {tag}"}
    versions = records.get(acc.linkedid) or records.get(acc.uniqueid) or []
    if not versions:
        return {"verdict": f"no record for {tag}"}
    rec = max(versions, key=lambda r: r["version"])
    offers = [d["agent"] for _t, kind, d in rec["timeline"] if kind == "offer"]
    marked = [d for _t, kind, d in rec["timeline"] if kind == "case_owner"]
    rang_first = acc.dials[0][0] if acc.dials else None
    problems = []
    if not marked or marked[0].get("agent") != owner:
        problems.append(f"case_owner entry {marked}")
    if not offers or offers[0] != owner:
        problems.append(f"offers {offers}")
    if rang_first is not None and rang_first != owner:
        problems.append(f"Asterisk rang {rang_first} first")
    return {"verdict": "ok" if not problems else "; ".join(problems), "offers": offers,
            "asterisk_rang_first": rang_first, "answered_by": rec.get("agent_id")}


def report_check(python: str, repo: Path, config: Path, redis_url: str, env: dict,
                 accounts: Mapping[str, CallAccount], started: float, out: Path
                 ) -> dict[str, Any]:
    """Run ``server report`` over the run's period; compare its totals with Asterisk."""
    iso = "%Y-%m-%dT%H:%M:%S+00:00"
    start, end = time.strftime(iso, time.gmtime(started - 60)), \
        time.strftime(iso, time.gmtime(time.time() + 60))
    path = out / "report.json"
    done = subprocess.run([python, "-m", "server", "report", "--redis-url", redis_url,
                           "--config", str(config), "--from", start, "--to", end,
                           "--out", str(path)], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=120)
    if done.returncode != 0:
        return {"verdict": f"server report failed ({done.returncode}): {done.stderr[-500:]}"}
    total = json.loads(path.read_text())["total"]
    answered = sum(1 for a in accounts.values() if a.answered)
    rated = sum(1 for a in accounts.values() if a.answered and a.keys_after_bridge[:1])
    want = {"calls": len(accounts), "answered": answered, "rated": rated}
    got = {"calls": total.get("calls"), "answered": total["answered"], "rated": total["rated"]}
    problems = [f"{k}: report {got[k]}, Asterisk {v}" for k, v in want.items() if got[k] != v]
    return {"verdict": "ok" if not problems else "; ".join(problems), "report": got,
            "asterisk": want, "service_level": total["service_level"],
            "connection_rate": total["connection_rate"]}


def format_followup(result: Mapping[str, Any]) -> list[str]:
    lines = [""]
    for name, row in result.items():
        lines.append(f"{name}: {row['verdict']}")
        lines.extend(f"    {k}: {v}" for k, v in row.items() if k != "verdict")
    return lines
