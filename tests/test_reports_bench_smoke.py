"""Smoke test of the reports benchmark at a tiny size (figures are printed, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_reports_bench_tiny(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "server.bench", "--only", "reports", "--reports-records", "3000",
         "--reports-redis", "400", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(out.read_text())["reports"]
    assert [a["records"] for a in r["aggregate"]] == [300, 3000]
    assert r["redis"]["read"] == 400  # every record written was read back in the month
    assert all(a["offered"] > 0 and a["peak_mb"] > 0 for a in r["aggregate"])
    assert "Redis read + aggregation" in proc.stdout and "- Reports:" in proc.stdout
