"""Compare, call by call, the project's records with Asterisk's own account.

Each check is named; a call passes a check or says why not.  Durations are
compared within ``tolerance_s`` (the server stamps times when the events reach
it; the observer when they reach the observer).
"""

from __future__ import annotations

import json
from pathlib import Path

from deploy.lab.account import CallAccount

CHECKS = ("one_record", "answered", "outcome", "agent", "talk", "hold", "ended_by", "survey",
          "recording", "language", "no_retry", "route", "no_replay")
ANSWERED = {"answered", "fallback_answered"}
WELCOME = "hotline/welcome"
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


def expected_outcome(acc: CallAccount) -> str | None:
    """The outcome Asterisk's account implies; None: any unanswered outcome of ours
    (abandoned, ivr_hangup, ...: Asterisk cannot tell them apart)."""
    if acc.fallback:
        return "fallback_answered" if acc.answered else "fallback_abandoned"
    return "answered" if acc.answered else None


def _overlaps(t: float, away: list[tuple[float, float]]) -> bool:
    return any(a <= t <= b for a, b in away)


def expected_talk_hold(acc: CallAccount, away: list[tuple[float, float]]
                       ) -> tuple[float, float, int]:
    """(talk, hold, holds) the record can know.  A hold that began while no daemon
    listened is not seen by anyone who writes records (no dialplan variable counts
    holds): it counts as talk.  A documented limit, not a fault."""
    unseen = [h for h in acc.holds if _overlaps(h[0], away)]
    end = acc.bridge_leave
    unseen_s = sum((b if b is not None else end or a) - a for a, b in unseen)
    return acc.talk_s + unseen_s, acc.hold_s - unseen_s, len(acc.holds) - len(unseen)


def expected_path(acc: CallAccount) -> list[str] | None:
    """The menu keys of the scripted caller (the first key picks the language, '#'
    skips the account number); None when the caller hangs up before the menus."""
    keys = acc.digits.split("-") if acc.digits else []
    path = [k for k in keys[1:] if k != "#"]
    return path or None


def compare_call(acc: CallAccount, recs: list[dict], run: Path, recordings_dir: Path,
                 tolerance_s: float, away: list[tuple[float, float]] | None = None) -> dict:
    """One row: the Asterisk side, the record side and the verdict of each check.
    ``away``: observer-time windows in which no daemon was listening."""
    away = away or []
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
            "fallback": acc.fallback, "fallbacks": len(acc.fallbacks),
            "expected_outcome": expected_outcome(acc), "cdr": acc.cdr_disposition,
            "ended_while_away": bool(acc.bridge_leave and _overlaps(acc.bridge_leave, away)),
        },
        "record": {
            "count": len(recs), "outcome": rec.get("outcome"), "agent": rec.get("agent_id"),
            "talk_s": dur.get("talk_s"), "hold_s": dur.get("hold_s"),
            "holds": dur.get("holds"), "ended_by": _hung_up_by(rec),
            "satisfaction": rec.get("satisfaction"), "language": rec.get("language"),
            "recording": str(rec_file) if rec_file else None,
            "recording_exists": bool(rec_file and rec_file.exists()),
            "ivr_path": [k for _, k in rec.get("ivr_path", [])],
            "fallback_reason": rec.get("fallback_reason"), "final": rec.get("final"),
        } if recs else None,
    }
    checks: dict[str, str] = {}

    def check(name: str, ok: bool, why: str) -> None:
        checks[name] = "ok" if ok else why

    check("one_record", len(recs) == 1 and rec.get("final") is not False,
          f"{len(recs)} records" + (" (not final)" if rec.get("final") is False else ""))
    if recs:
        outcome = rec.get("outcome")
        check("answered", (outcome in ANSWERED) == acc.answered,
              f"asterisk answered={acc.answered}, record outcome={outcome}")
        want_outcome = expected_outcome(acc)
        check("outcome", outcome == want_outcome if want_outcome else outcome not in ANSWERED
              and not str(outcome).startswith("fallback"),
              f"asterisk: {want_outcome or 'not answered, no fallback'} (fallback "
              f"{acc.fallback or 'none'}), record {outcome}")
        check("agent", (rec.get("agent_id") or None) == acc.agent,
              f"asterisk {acc.agent}, record {rec.get('agent_id')}")
        if acc.answered:
            talk, hold, holds = expected_talk_hold(acc, away)
            unseen = f" (+{talk - acc.talk_s:.3f}s hold while away)" if holds < len(acc.holds) \
                else ""
            check("talk", abs((dur.get("talk_s") or 0) - talk) <= tolerance_s,
                  f"asterisk {talk:.3f}s{unseen}, record {dur.get('talk_s')}s")
            check("hold", abs((dur.get("hold_s") or 0) - hold) <= tolerance_s
                  and dur.get("holds") == holds,
                  f"asterisk {hold:.3f}s x{holds}{unseen}, record "
                  f"{dur.get('hold_s')}s x{dur.get('holds')}")
            check("ended_by", _hung_up_by(rec) == acc.ended_by,
                  f"asterisk {acc.ended_by}, record {_hung_up_by(rec)}")
            pressed = acc.keys_after_bridge[:1]
            # the fallback queue's dialplan asks no survey (Asterisk's own path), and
            # no one can ask it of a caller whose talk ended while no daemon listened
            if not acc.fallback and not (acc.bridge_leave and _overlaps(acc.bridge_leave, away)):
                check("survey", bool(pressed) and acc.survey_prompt
                      and bool(rec.get("satisfaction")),
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
        want_path = expected_path(acc)
        got_path = [k for _, k in rec.get("ivr_path", [])]
        # a caller who fell back in the menus has part of the path, never other keys
        if want_path and (outcome in ANSWERED or acc.fallback or rec.get("queues")):
            # keys typed in the queue (the callback offer's 1s) are not menu keys
            in_queue = any(k == "callback_requested" for _t, k, _d in rec.get("timeline", []))
            ok = got_path == want_path or ((bool(acc.fallback) or in_queue) and
                                           bool(got_path) and
                                           got_path == want_path[:len(got_path)])
            check("route", ok, f"caller keyed {'-'.join(want_path)}, record path "
                               f"{'-'.join(got_path) or '-'}")
    retries = [name for _, _, name in acc.prompts if name in RETRY_PROMPTS]
    check("no_retry", not retries,
          f"the caller pressed valid keys, yet heard {', '.join(retries)} (a key was lost)")
    welcomes = sum(1 for _, _, name in acc.prompts if name == WELCOME)
    check("no_replay", welcomes <= 1,
          f"the welcome played {welcomes} times (the menus were replayed from the start)")
    # A key pressed while no daemon session existed ends the dead process's GET DATA,
    # and Asterisk emits its result to no one (lab run lab2-c): nobody can use it, and
    # a scripted caller does not key again when the step is replayed.
    lost = [f"{t:.3f}:{d}" for t, d in acc.keys if _overlaps(t, away)]
    row["asterisk"]["keys_in_gap"] = lost
    if lost:
        for name in ("route", "no_retry"):
            if checks.get(name, "ok") != "ok":
                checks[name] = "ok"
                row.setdefault("excused", {})[name] = f"keys pressed while away: {lost}"
    row["checks"] = checks
    return row


def compare(accounts: dict[str, CallAccount], records: dict[str, list[dict]], run: Path,
            recordings_dir: Path, missing: list[str], tolerance_s: float = 0.25,
            away: list[tuple[float, float]] | None = None) -> dict:
    rows = [compare_call(acc, records.get(acc.linkedid or acc.uniqueid, []), run,
                         recordings_dir, tolerance_s, away)
            for acc in sorted(accounts.values(), key=lambda a: a.tag)]
    ours = {r["call_id"] for r in rows}
    summary = {name: {"ok": 0, "failed": 0} for name in CHECKS}
    for row in rows:
        for name, verdict in row["checks"].items():
            summary[name]["ok" if verdict == "ok" else "failed"] += 1
    # callbacks and follow-ups (a return visit) are the server's own calls, not callers
    inbound = {cid for cid, versions in records.items()
               if max(versions, key=lambda r: r["version"]).get("kind", "inbound") == "inbound"}
    return {"calls": rows, "summary": summary, "missing_sounds": missing,
            "extra_records": sorted(inbound - ours),
            "outbound_records": sorted(set(records) - inbound)}


def format_report(result: dict) -> str:
    lines = []
    for row in result["calls"]:
        a, r = row["asterisk"], row["record"] or {}
        lines.append(
            f"{row['tag']} {row['call_id']}: asterisk answered={a['answered']} agent={a['agent']} "
            f"fallback={a.get('fallback')}x{a.get('fallbacks', 0)} "
            f"talk={a['talk_s']} hold={a['hold_s']}x{a['holds']} by={a['ended_by']} "
            f"survey_key={a['keys_after_bridge'][:1] or '-'} "
            f"langs={'+'.join(a['prompt_languages'])}"
            f" | record outcome={r.get('outcome')} agent={r.get('agent')} talk={r.get('talk_s')}"
            f" path={'-'.join(r.get('ivr_path') or []) or '-'}"
            f" hold={r.get('hold_s')}x{r.get('holds')} by={r.get('ended_by')}"
            f" satisfaction={r.get('satisfaction')} lang={r.get('language')}")
        for name, verdict in row["checks"].items():
            if verdict != "ok":
                lines.append(f"    MISMATCH {name}: {verdict}")
        for name, why in row.get("excused", {}).items():
            lines.append(f"    not checked {name}: {why}")
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
    faults = result.get("faults")
    if faults:
        lines.append("")
        for f in faults.get("plans", []):
            lines.append(f"fault: {f}")
        for name, verdict in faults["checks"].items():
            lines.append(f"session {name:<20} {verdict}")
        for line in faults.get("stale_results", []):
            lines.append(f"result of a dead process's command, to the new session: {line}")
    if result["extra_records"]:
        lines.append("records of no scripted caller: " + ", ".join(result["extra_records"]))
    return "\n".join(lines)
