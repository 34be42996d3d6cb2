"""Smoke test of the cases benchmark at a tiny size (figures are printed, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cases_bench_tiny(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "server.bench", "--only", "cases", "--runs", "2",
         "--cases", "40,300", "--cases-due", "7", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    c = json.loads(out.read_text())["cases"]
    assert [r["open_cases"] for r in c["rows"]] == [40, 300]
    assert all(r["due_per_tick"] == 7 and r["tick_ms"] > 0 for r in c["rows"])
    assert "Cases: tick with 7 due cases" in proc.stdout and "- Cases: a tick" in proc.stdout
