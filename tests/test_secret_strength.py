"""Demo secrets never go live (issue 16 point 3).

``check-config`` (the systemd unit's start-up check) and ``server run`` refuse a
hash that verifies against the agent's id or ``change-me-<name>`` and any hash
below 600,000 iterations; ``hash-secret`` refuses short PINs and weak passwords.
Only the tests and the soak's own launcher pass ``allow_weak_secrets``.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from server.config import check_config_main, hash_secret
from server.config import strength as strength_mod
from server.config.derive import prune_teams
from server.config.strength import CACHE_NAME, plain_secret_problem
from server.daemon import run_daemon

from .test_config_support import GOOD

ROOT = Path(__file__).resolve().parents[1]


def small_config(tmp: Path, *, spool: Path | None = None) -> Path:
    """The shipped config with three agents: 1001 and 1002 keep their demo PINs, 1003
    (a senior here) gets a strong one; reviewer1 a one-iteration hash, supervisor1 a
    strong password."""
    d = tmp / "config"
    shutil.copytree(GOOD, d)
    doc = yaml.safe_load((d / "agents.yaml").read_text(encoding="utf-8"))
    doc["agents"] = doc["agents"][:3]
    prune_teams(doc)
    doc["agents"][2]["pin_hash"] = hash_secret("804713")
    # a senior in general: an overflowed complaint keeps its floor (check-config)
    doc["agents"][2]["tier"] = "senior"
    for u in doc["users"]:
        if u["name"] == "reviewer1":
            u["password_hash"] = hash_secret("Long enough but cheap", iterations=1)
        if u["name"] == "supervisor2":
            u["password_hash"] = hash_secret("Vx9-tidal-ORBIT-42")
    (d / "agents.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    if spool is not None:
        srv = yaml.safe_load((d / "server.yaml").read_text(encoding="utf-8"))
        srv["records"]["spool"] = str(spool)
        (d / "server.yaml").write_text(yaml.safe_dump(srv), encoding="utf-8")
    return d


def test_check_config_refuses_demo_secrets_and_cheap_hashes(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTLINE_AMI_SECRET", "x")
    spool = tmp_path / "spool"
    spool.mkdir()
    d = small_config(tmp_path, spool=spool)
    out, err = io.StringIO(), io.StringIO()
    assert check_config_main(d, out=out, err=err) == 1
    text = err.getvalue()
    assert "agents[0].pin_hash: is the hash of agent 1001's id" in text
    assert "agents[1].pin_hash: is the hash of agent 1002's id" in text
    assert "users[0].password_hash: is the hash of 'change-me-supervisor1'" in text
    assert "users[2].password_hash: 1 PBKDF2 iterations is too cheap" in text
    assert "agents[2]" not in text and "users[1]" not in text  # the strong ones pass
    assert "4 problem(s)" in text and out.getvalue() == ""
    # the strong hashes found clean are remembered: a restart does not verify them again
    assert len((spool / CACHE_NAME).read_text().split()) == 2
    calls = []
    monkeypatch.setattr(strength_mod, "verify_secret",
                        lambda p, s: calls.append(p) or False)
    assert check_config_main(d, out=io.StringIO(), err=io.StringIO()) == 1
    assert sorted(calls) == ["1001", "1002", "change-me-supervisor1"]
    # the tests' explicit allowance
    assert check_config_main(d, out=io.StringIO(), err=io.StringIO(),
                             allow_weak_secrets=True) == 0


def test_server_run_refuses_demo_secrets_before_starting(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOTLINE_AMI_SECRET", "x")
    d = small_config(tmp_path)
    assert run_daemon(str(d)) == 2
    err = capsys.readouterr().err
    assert "is the hash of agent 1001's id" in err and "too cheap" in err


def test_the_command_line_has_no_allowance_and_the_unit_checks_first():
    for cmd in ("run", "check-config"):
        help_text = subprocess.run([sys.executable, "-m", "server", cmd, "--help"],
                                   capture_output=True, text=True, cwd=ROOT).stdout
        assert "allow" not in help_text.lower() and "weak" not in help_text.lower()
    unit = (ROOT / "deploy/systemd/hotline.service").read_text(encoding="utf-8")
    pre = re.search(r"^ExecStartPre=(.*)$", unit, re.M).group(1)
    start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
    assert pre.endswith("-m server check-config --config /etc/hotline")
    assert start.endswith("-m server run --config /etc/hotline")


@pytest.mark.parametrize(("plain", "why"), [
    ("1", "at least 6 digits"), ("1234", "at least 6 digits"), ("12345", "at least 6 digits"),
    ("123456", "run like 123456"), ("000000", "repeated digit"), ("987654", "run like"),
    ("change-me-supervisor1", "'change-me'"), ("short pass", "at least 12 characters"),
    ("aaaaaaaaaaaaaaa", "6 different"), ("MyPassword2026!", "'password'"),
    ("１２３４５６７８９０１", "at least 12 characters"),  # full-width digits: not a PIN
])
def test_hash_secret_refuses_short_pins_and_weak_passwords(plain, why):
    assert why in (plain_secret_problem(plain) or "")
    proc = subprocess.run([sys.executable, "-m", "server", "hash-secret", "--stdin"],
                          input=plain + "\n", capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1 and why in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("plain", ["804713", "Vx9-tidal-ORBIT-42", "雨后的彩虹 架起 7 座桥"])
def test_hash_secret_hashes_strong_secrets_at_600k(plain):
    assert plain_secret_problem(plain) is None
    proc = subprocess.run([sys.executable, "-m", "server", "hash-secret", "--stdin"],
                          input=plain + "\n", capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("pbkdf2_sha256$600000$")
