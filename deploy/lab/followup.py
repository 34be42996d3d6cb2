"""Checks of a lab run beyond each call against Asterisk's account (issues 14-15):

* the case owner first: a case opened by an agent for the first caller's number
  before the run (``--case-owner``) puts that agent's phone first in line for the
  caller, whoever is idle longer, and the record says so (``case_owner`` entry);
* the period report: ``python -m server report`` over the lab's Redis counts as many
  calls, answered calls and survey answers as Asterisk's own account shows.
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
