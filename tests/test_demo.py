"""The demo end to end: a real process, real TCP to the simulator, a private redis-server."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_and_its_summary_adds_up(tmp_path, redis_server):
    out = tmp_path / "summary.json"
    db = redis_server.url.rsplit("/", 1)[0] + "/5"  # a database of its own
    proc = subprocess.run(
        [sys.executable, "-m", "server", "demo", "--duration", "60", "--seed", "7",
         "--summary", str(out), "--redis-url", db, "--wrapup", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "AMI up" in proc.stdout  # live progress while it ran
    assert "/wallboard.html" in proc.stdout
    s = json.loads(out.read_text(encoding="utf-8"))
    assert s["ami_events"] == sum(s["ami_events_by_type"].values()) > 0
    assert s["ami_events_by_type"]["AsyncAGIStart"] >= s["ivr"]["entered"] > 0
    ivr = s["ivr"]
    assert ivr["entered"] == s["simulator"]["calls_started"]
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
    assert len(rows) == s["records_written"] > 0
    assert {r["call_id"] for r in rows} and all(r["outcome"] for r in rows)
