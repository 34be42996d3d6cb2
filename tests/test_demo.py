"""The demo end to end: a real process, real TCP to the simulator, a private redis-server."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_and_its_summary_adds_up(tmp_path, redis_server):
    out = tmp_path / "summary.json"
    db = redis_server.url.rsplit("/", 1)[0] + "/5"  # a database of its own
    proc = subprocess.run(
        [sys.executable, "-m", "server", "demo", "--duration", "90", "--seed", "7",
         "--summary", str(out), "--redis-url", db, "--wrapup", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=160,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "AMI up" in proc.stdout  # live progress while it ran
    assert "/wallboard.html" in proc.stdout
    s = json.loads(out.read_text(encoding="utf-8"))
    assert s["ami_events"] == sum(s["ami_events_by_type"].values()) > 0
    assert s["ami_events_by_type"]["AsyncAGIStart"] >= s["ivr"]["entered"] > 0
    ivr = s["ivr"]
    assert ivr["entered"] == s["simulator"]["callers"]
    assert s["simulator"]["calls_started"] >= s["simulator"]["callers"]  # + agents' legs
    assert ivr["finished_menu"] + ivr["deflected_by_outage"] + ivr["hung_up_in_ivr"] \
        <= ivr["entered"]
    calls = s["calls"]
    assert calls["offered"] >= calls["answered"] + calls["abandoned"]
    assert calls["offered"] == sum(q["offered"] for q in s["queues"].values())
    assert s["records_written"] == s["calls_ended"]
    for q in s["queues"].values():
        if q["service_level"] is not None:
            assert 0.0 <= q["service_level"] <= 1.0

    # The records outlive the demo: the export reads them back from that Redis.
    export = subprocess.run(
        [sys.executable, "-m", "server", "records", "export", "--redis-url", db,
         "--format", "csv"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert export.returncode == 0, export.stderr
    rows = list(csv.DictReader(io.StringIO(export.stdout)))
    # records_written counts the callers' records; the return-visit calls have their own
    assert len([r for r in rows if r["kind"] == "inbound"]) == s["records_written"] > 0
    assert {r["kind"] for r in rows} <= {"inbound", "callback", "followup"}
    assert {r["call_id"] for r in rows} and all(r["outcome"] for r in rows)

    # "report": the period report's headline, computed from that Redis; the command
    # over the same period gives the same figures (the same code, read back).
    rep = s["report"]
    assert rep["records"] == len(rows)  # the callers' and the return visits' records
    # ended calls only (the live figures also count calls still going at the end)
    assert 0 < rep["offered"] <= calls["offered"] and rep["answered"] <= calls["answered"]
    report = subprocess.run(
        [sys.executable, "-m", "server", "report", "--redis-url", db, "--from",
         str(rep["from"]), "--to", str(rep["to"])], cwd=ROOT, capture_output=True, text=True,
        timeout=60)
    assert report.returncode == 0, report.stderr
    again = json.loads(report.stdout)
    for key in ("offered", "answered", "abandoned", "connection_rate", "service_level",
                "abandon_rate", "asa_s", "aht_s", "satisfaction_rate", "repeat_contact_rate"):
        assert again["total"][key] == rep[key], key
    assert again["records"] == rep["records"]
    assert again["cases"]["opened"] == rep["cases"]["opened"]

    # Issue 14 point 9: the simulated desks opened cases (a work_order disposition on
    # complaint and fault calls), resolved them and made the return visits; the summary
    # says what the case store holds.
    cases = stored_cases(db)
    assert s["cases"] == {
        "opened": len(cases),
        "resolved": sum("resolve" in [a.input for a in c.audit] for c in cases),
        "return_visits_done": sum(any(v.reached for v in c.visits) for c in cases),
        "closed": sum(c.state == "closed" for c in cases),
        "overdue": 0,  # the shortest limit is 30 minutes
        "by_type": dict(Counter(c.type.value for c in cases)),
        "by_grade": dict(Counter(c.grade for c in cases if c.grade)),
    }
    assert s["cases"]["opened"] > 0 and s["cases"]["return_visits_done"] > 0
    by_call = {r["call_id"]: r for r in rows}
    for c in cases:
        first = by_call[c.call_ids[0]]  # opened by its call's wrap-up disposition
        assert (first["disposition"], first["agent_id"], first["intent"]) == (
            "work_order", c.owner, c.intent)
        assert c.type.value == {"complaint": "complaint", "fault": "fault_repair"}[c.intent]
    visited = [c for c in cases if any(v.reached for v in c.visits)]
    assert all(c.state in ("closed", "reopened") for c in visited)


def stored_cases(url: str) -> list:
    """Every case in the store, straight from its Redis hashes."""
    import redis

    from cases.model import Case

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match="hotline:case:*"))
        return [Case.from_dict(json.loads(client.hget(k, "case"))) for k in keys]
    finally:
        client.close()


def test_demo_serves_metrics_and_prints_its_url(redis_server):
    """The URL the demo prints beside the pages answers with the hotline's metrics
    while the demo runs (deploy/prometheus can scrape the demo)."""
    import re
    import urllib.request

    db = redis_server.url.rsplit("/", 1)[0] + "/6"
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "demo", "--duration", "12", "--seed", "3",
         "--redis-url", db], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        url = None
        lines = []
        for line in proc.stdout:  # ends when the demo exits
            lines.append(line)
            m = re.search(r"metrics\s+(http://127\.0\.0\.1:\d+/metrics)", line)
            if m:
                url = m.group(1)
                break
        assert url is not None, "".join(lines)
        assert any("/review.html" in x for x in lines) and any("/desk.html" in x for x in lines)
        body = ""
        for line in proc.stdout:  # the first progress line: the reactor runs, listeners up
            if "AMI" in line:
                body = urllib.request.urlopen(url, timeout=10).read().decode()
                break
        assert "hotline_" in body and "# TYPE" in body, body[:500]
    finally:
        out, err = proc.communicate(timeout=60)  # the demo ends by itself; read it all
    assert proc.returncode == 0, err[-2000:]
