"""Smoke test of ``python -m server.bench``: every benchmark at a tiny size.

Checks the printed tables and the ``--json`` structure only; benchmarks are
not timed tests, so no figure is asserted.  Runs in a subprocess because the
end-to-end benchmark runs the real reactor (and its simulator in another
process, with a private redis-server).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_all_tiny(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "server.bench", "--only", "ami,routing,readopt,e2e", "--runs", "1",
         "--readopt-calls", "50",
         "--events", "2000", "--agents", "40", "--calls", "60", "--skills", "5",
         "--e2e-rates", "2,4", "--e2e-step", "5", "--e2e-warmup", "2", "--e2e-agents", "10",
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(out.read_text())
    assert set(figures) == {"ami_ingest", "routing", "readopt", "end_to_end"}
    assert figures["readopt"]["calls"] == 50
    assert figures["readopt"]["resume_commands_sent"] == 50
    assert figures["ami_ingest"]["dispatch"]["events_per_s_median"] > 0
    r = figures["routing"]
    assert (r["agents"], r["waiting_calls"], r["skills"], r["runs"]) == (40, 60, 5, 1)
    for key in ("p50_us", "p99_us", "decisions_per_s"):
        assert key in r
    e = figures["end_to_end"]
    assert e["runs"] == 1, e
    assert [s["offered_per_s"] for s in e["steps"]] == [2, 4]
    for key in ("completed_per_s", "server_cpu_pct", "sim_cpu_pct", "kept_up",
                "enqueue_to_offer_p50_ms"):
        assert key in e["steps"][0]
    assert "max_sustained_per_s" in e and "limited_by" in e
    for heading in ("AMI ingest:", "routing:", "end-to-end:", "Summary"):
        assert heading in proc.stdout


def test_bench_only_rejects_unknown():
    proc = subprocess.run([sys.executable, "-m", "server.bench", "--only", "nope"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "unknown benchmark" in proc.stderr
