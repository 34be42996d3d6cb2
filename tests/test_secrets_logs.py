"""Secrets never reach logs or API output.

* A full demo run (``python -m server demo``, a real process, debug-level logging), signed
  in to over its HTTP side while it runs, is grepped, stdout and stderr whole, for its AMI
  secret (set with HOTLINE_DEMO_SECRET, see server/demo.py), the session tokens and
  passwords used, and any ``pbkdf2_sha256$`` hash or its digest.
* The HTTP API: every route as every role (plus failed sign-ins, wrong and stale tokens,
  logout) with every twisted.logger event captured at every level; neither the responses
  (apart from the sign-in answer that hands the token out) nor the log may contain a
  session token, a password, a stored hash or a hash's digest.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import pytest_twisted
import treq
from twisted.internet import defer
from twisted.logger import formatEvent, globalLogPublisher

from server.config import load_config
from tests.test_web_api import MATRIX, PRINCIPALS, _Abort
from tests.test_web_support import PASSWORDS, WebRig

ROOT = Path(__file__).resolve().parents[1]
HASH = re.compile(r"pbkdf2_sha256\$")


def _config_hashes() -> list[str]:
    """Every stored hash of the shipped config, and the digest part of each."""
    cfg = load_config(ROOT / "config", environ={})
    hashes = [a.pin_hash for a in cfg.acd.agents.values()] + [u.password_hash for u in cfg.users]
    out = []
    for h in hashes:
        out += [h, h.rsplit("$", 1)[-1]]
    assert len(out) >= 20 and all(len(x) >= 16 for x in out)
    return out


def _leaks(text: str, secrets: list[str]) -> list[str]:
    found = [s for s in secrets if s and s in text]
    if HASH.search(text):
        found.append("pbkdf2_sha256$")
    return found


def _http(base: str, method: str, path: str, body=None, token=None) -> tuple[int, str, str]:
    """(status, body, headers) of one request to the demo's HTTP side (stdlib, blocking)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, resp.read().decode(), str(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), str(e.headers)


def test_demo_debug_run_never_shows_a_secret(tmp_path):
    """A 30 s demo with debug logging, signed in to over HTTP while it runs."""
    secret = "Zq9-demo-ami-secret-4711-" + os.urandom(6).hex()
    summary = tmp_path / "summary.json"
    env = {**os.environ, "HOTLINE_DEMO_SECRET": secret, "HOTLINE_DEMO_LOG_LEVEL": "debug"}
    proc = subprocess.Popen([sys.executable, "-m", "server", "demo", "--duration", "30",
                             "--seed", "11", "--summary", str(summary)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    lines: list[str] = []
    tokens: list[str] = []
    api: list[str] = []
    try:
        base = None
        for line in proc.stdout:  # up to the AMI login: by then the HTTP side listens
            lines.append(line)
            if m := re.search(r"wallboard\s+(http://127\.0\.0\.1:\d+)/", line):
                base = m.group(1)
            if "AMI logged in as" in line:
                break
        assert base, "".join(lines)[-3000:]
        drain = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        drain.start()
        wrong = "WrongPassw0rd-" + os.urandom(4).hex()
        code, text, _ = _http(base, "POST", "/api/login",
                              {"username": "supervisor1", "password": wrong})
        assert code == 401
        api.append(text)
        for name, password, paths in (
                ("1001", "1001", ["/api/me", "/api/agents/1001/stats"]),
                ("supervisor1", "change-me-supervisor1", ["/api/me", "/api/snapshot",
                                                          "/api/outages", "/api/records"])):
            code, text, _ = _http(base, "POST", "/api/login",
                                  {"username": name, "password": password, "token": True})
            assert code == 200, text
            token = json.loads(text)["token"]
            tokens.append(token)
            for path in paths:
                code, text, headers = _http(base, "GET", path, token=token)
                assert code == 200, (path, text)
                api.append(text + headers)
        code, text, _ = _http(base, "POST", "/api/logout", token=tokens[0])
        assert code == 200
        code, text, _ = _http(base, "GET", "/api/me", token=tokens[0])
        assert code == 401
        api.append(text)
        assert proc.wait(timeout=120) == 0
        drain.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = "".join(lines)
    # The run is real and its logging is below warn: the secret was used to log in, and
    # info lines (which a warn-level run drops) are in the capture.
    assert "AMI logged in as" in output and "#info]" in output
    assert "signed in" in output  # the sign-ins above are logged, by name only
    s = json.loads(summary.read_text(encoding="utf-8"))
    assert s["ivr"]["entered"] > 0 and s["records_written"] > 0
    secrets = [secret, secret.encode().hex(), wrong, "change-me-supervisor1", *tokens,
               *_config_hashes()]
    leaks = _leaks(output + summary.read_text(encoding="utf-8"), secrets)
    assert leaks == [], f"secrets in the demo's output: {leaks}"
    api_leaks = _leaks("\n".join(api), [secret, *_config_hashes(), "change-me-supervisor1",
                                        *tokens])
    assert api_leaks == [], f"secrets in the demo's API answers: {api_leaks}"


# -- the HTTP API ---------------------------------------------------------------------


@pytest.fixture
def rig(redis_server, tmp_path):
    url = redis_server.url.rsplit("/", 1)[0] + "/12"
    r = WebRig(url, tmp_path)
    yield r
    pytest_twisted.blockon(defer.ensureDeferred(r.close()))


@pytest_twisted.ensureDeferred
async def test_api_and_logs_never_show_a_secret(rig):
    events: list[str] = []

    def observe(event):
        events.append(formatEvent(event) or "")
        events.append(repr({k: v for k, v in event.items() if k != "log_logger"}))

    globalLogPublisher.addObserver(observe)
    outputs: list[str] = []
    tokens: list[str] = []

    def keep(code, body, resp) -> None:
        headers = list(resp.headers.getAllRawHeaders())
        outputs.append(f"{code} {body!r} {headers!r}")

    try:
        # Failed sign-ins first: right name, wrong secret; the wrong secrets must not show.
        wrong = ["WrongPassw0rd-" + os.urandom(4).hex(), "9" * 12]
        for name, bad in (("supervisor1", wrong[0]), ("1001", wrong[1])):
            code, body, resp = await rig.request("POST", "/api/login",
                                                 {"username": name, "password": bad})
            assert code == 401
            keep(code, body, resp)
        for method, path, body, _allowed in MATRIX:
            for cred in PRINCIPALS.values():
                token = await rig.login(*cred) if cred else None
                if token:
                    tokens.append(token)
                if path == "/api/feed":
                    h = {"Authorization": [f"Bearer {token}"]} if token else {}
                    resp = await treq.get(rig.base + path, headers=h, unbuffered=True,
                                          persistent=False)
                    outputs.append(repr(list(resp.headers.getAllRawHeaders())))
                    resp.original.deliverBody(_Abort())
                    continue
                code, data, resp = await rig.request(method, path, body, token=token)
                keep(code, data, resp)
        # A stale token (after logout) and a forged one are refused without echoing them.
        stale = tokens[-1]
        await rig.request("POST", "/api/logout", token=stale)
        for bad in (stale, stale[:-2] + "xx"):
            code, data, resp = await rig.request("GET", "/api/me", token=bad)
            assert code == 401
            keep(code, data, resp)
            code, data, resp = await rig.request("GET", "/api/me",
                                                 headers={"Cookie": f"hotline_session={bad}"})
            assert code == 401
            keep(code, data, resp)
    finally:
        globalLogPublisher.removeObserver(observe)

    assert len(set(tokens)) >= 3 * len(MATRIX)
    live_hashes = [a.pin_hash for a in rig.cfg.acd.agents.values()] + [
        u.password_hash for u in rig.cfg.users]
    secrets = [*tokens, *PASSWORDS.values(), *wrong, *live_hashes,
               *[h.rsplit("$", 1)[-1] for h in live_hashes], *_config_hashes()]
    api_leaks = _leaks("\n".join(outputs), secrets)
    assert api_leaks == [], f"secrets in API responses: {api_leaks}"
    assert any("Failed sign-in" in e for e in events)  # the capture does see auth logs
    log_leaks = _leaks("\n".join(events), secrets)
    assert log_leaks == [], f"secrets in the log: {log_leaks}"
