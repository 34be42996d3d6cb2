"""Compare, call by call, the project's records with Asterisk's own account.

Each check is named; a call passes a check or says why not.  Durations are
compared within ``tolerance_s`` (the server stamps times when the events reach
it; the observer when they reach the observer).
"""

from __future__ import annotations

import json
from pathlib import Path

from deploy.lab.account import CallAccount

CHECKS = ("one_record", "answered", "agent", "talk", "hold", "ended_by", "survey",
          "recording", "language", "no_retry")
# Prompts a caller hears only when a key was wrong or missing.  The scripted callers
# press only valid keys, so hearing one means a key was lost (or misread).
RETRY_PROMPTS = {"hotline/invalid-input", "hotline/input-timeout", "hotline/account-retry"}


def load_records(path: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            out.setdefault(rec["call_id"], []).append(rec)
    return out


def _hung_up_by(rec: dict) -> str | None:
    for _t, kind, details in rec.get("timeline", []):
        if kind == "bridge_end":
            return details.get("hung_up_by")
    return None


def compare_call(acc: CallAccount, recs: list[dict], run: Path, recordings_dir: Path,
                 tolerance_s: float) -> dict:
    """One row: the Asterisk side, the record side and the verdict of each check."""
    rec = recs[-1] if recs else {}
    dur = rec.get("durations", {})
    monitor = run / "spool" / "monitor"
    ast_file = None
    if acc.mixmonitor_file:
        path = Path(acc.mixmonitor_file)
        ast_file = path if path.is_absolute() else monitor / path
    rec_file = recordings_dir / rec["recording"] if rec.get("recording") else None
    row = {
        "tag": acc.tag, "call_id": acc.linkedid or acc.uniqueid, "channel": acc.channel,
        "asterisk": {
            "answered": acc.answered, "agent": acc.agent, "dials": acc.dials,
            "talk_s": round(acc.talk_s, 3), "hold_s": round(acc.hold_s, 3),
            "holds": len(acc.holds), "ended_by": acc.ended_by,
            "survey_prompt": acc.survey_prompt, "survey_result": acc.survey_result,
            "keys_after_bridge": acc.keys_after_bridge,
            "agi_before_agent_hangup": acc.agi_before_agent_hangup,
            "recording": str(ast_file) if ast_file else None,
            "recording_exists": bool(ast_file and ast_file.exists()),
            "prompt_languages": acc.languages,
            "prompts": [f"{lang}:{name}" for _, lang, name in acc.prompts],
            "fallback": acc.fallback, "cdr": acc.cdr_disposition,
        },
        "record": {
            "count": len(recs), "outcome": rec.get("outcome"), "agent": rec.get("agent_id"),
            "talk_s": dur.get("talk_s"), "hold_s": dur.get("hold_s"),
            "holds": dur.get("holds"), "ended_by": _hung_up_by(rec),
            "satisfaction": rec.get("satisfaction"), "language": rec.get("language"),
            "recording": str(rec_file) if rec_file else None,
            "recording_exists": bool(rec_file and rec_file.exists()),
        } if recs else None,
    }
    checks: dict[str, str] = {}

    def check(name: str, ok: bool, why: str) -> None:
        checks[name] = "ok" if ok else why

    check("one_record", len(recs) == 1, f"{len(recs)} records")
    if recs:
        rec_answered = rec.get("outcome") == "answered"
        check("answered", rec_answered == acc.answered,
              f"asterisk answered={acc.answered}, record outcome={rec.get('outcome')}")
        check("agent", (rec.get("agent_id") or None) == acc.agent,
              f"asterisk {acc.agent}, record {rec.get('agent_id')}")
        if acc.answered:
            check("talk", abs((dur.get("talk_s") or 0) - acc.talk_s) <= tolerance_s,
                  f"asterisk {acc.talk_s:.3f}s, record {dur.get('talk_s')}s")
            check("hold", abs((dur.get("hold_s") or 0) - acc.hold_s) <= tolerance_s
                  and dur.get("holds") == len(acc.holds),
                  f"asterisk {acc.hold_s:.3f}s x{len(acc.holds)}, record "
                  f"{dur.get('hold_s')}s x{dur.get('holds')}")
            check("ended_by", _hung_up_by(rec) == acc.ended_by,
                  f"asterisk {acc.ended_by}, record {_hung_up_by(rec)}")
            pressed = acc.keys_after_bridge[:1]
            check("survey", bool(pressed) and acc.survey_prompt and bool(rec.get("satisfaction")),
                  f"caller pressed {pressed or 'nothing'}, survey prompt played="
                  f"{acc.survey_prompt}, record satisfaction={rec.get('satisfaction')}")
            rec_ok = bool(rec_file and rec_file.exists())
            ast_ok = bool(ast_file and ast_file.exists())
            check("recording", rec_ok,
                  f"record says {rec_file} ({'present' if rec_ok else 'absent'}), "
                  f"Asterisk wrote {ast_file} ({'present' if ast_ok else 'absent'})")
        want = rec.get("language")
        heard = acc.languages
        # a record without a language (the caller left before it was recorded): the
        # prompts must still have come from one language
        check("language", heard == [want] if want else len(heard) <= 1,
              f"record language {want}, prompts played from sounds/{'+'.join(heard) or '-'}"
              f" ({', '.join(f'{lang}:{name}' for _, lang, name in acc.prompts[:3])} ...)")
    retries = [name for _, _, name in acc.prompts if name in RETRY_PROMPTS]
    check("no_retry", not retries,
          f"the caller pressed valid keys, yet heard {', '.join(retries)} (a key was lost)")
    row["checks"] = checks
    return row


def compare(accounts: dict[str, CallAccount], records: dict[str, list[dict]], run: Path,
            recordings_dir: Path, missing: list[str], tolerance_s: float = 0.25) -> dict:
    rows = [compare_call(acc, records.get(acc.linkedid or acc.uniqueid, []), run,
                         recordings_dir, tolerance_s)
            for acc in sorted(accounts.values(), key=lambda a: a.tag)]
    ours = {r["call_id"] for r in rows}
    summary = {name: {"ok": 0, "failed": 0} for name in CHECKS}
    for row in rows:
        for name, verdict in row["checks"].items():
            summary[name]["ok" if verdict == "ok" else "failed"] += 1
    return {"calls": rows, "summary": summary, "missing_sounds": missing,
            "extra_records": sorted(set(records) - ours)}


def format_report(result: dict) -> str:
    lines = []
    for row in result["calls"]:
        a, r = row["asterisk"], row["record"] or {}
        lines.append(
            f"{row['tag']} {row['call_id']}: asterisk answered={a['answered']} agent={a['agent']} "
            f"talk={a['talk_s']} hold={a['hold_s']}x{a['holds']} by={a['ended_by']} "
            f"survey_key={a['keys_after_bridge'][:1] or '-'} "
            f"langs={'+'.join(a['prompt_languages'])}"
            f" | record outcome={r.get('outcome')} agent={r.get('agent')} talk={r.get('talk_s')}"
            f" hold={r.get('hold_s')}x{r.get('holds')} by={r.get('ended_by')}"
            f" satisfaction={r.get('satisfaction')} lang={r.get('language')}")
        for name, verdict in row["checks"].items():
            if verdict != "ok":
                lines.append(f"    MISMATCH {name}: {verdict}")
    raced = [row["tag"] for row in result["calls"] if row["asterisk"]["agi_before_agent_hangup"]]
    answered = sum(1 for row in result["calls"] if row["asterisk"]["answered"])
    lines.append("")
    # Not a fault: Asterisk's order varies (trace 13); the survey check shows whether
    # the server coped.
    lines.append(f"caller back in AsyncAGI before the agent's Hangup: {len(raced)} of "
                 f"{answered} answered calls ({', '.join(raced) or 'none'})")
    lines.append("")
    lines.append("check        ok  failed")
    for name, counts in result["summary"].items():
        lines.append(f"{name:<12} {counts['ok']:>3} {counts['failed']:>6}")
    if result["missing_sounds"]:
        lines.append("Asterisk could not find: " + ", ".join(result["missing_sounds"]))
    if result["extra_records"]:
        lines.append("records of no scripted caller: " + ", ".join(result["extra_records"]))
    return "\n".join(lines)
