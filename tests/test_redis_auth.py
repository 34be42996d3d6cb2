"""Redis with authentication (issue 16 point 6): a real redis-server running the
shipped ACL file (deploy/redis/hotline-users.acl), the server logging in as its ACL
user with a password from the environment, and a wrong password reported clearly."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path

import pytest
import pytest_twisted
import yaml
from twisted.internet import defer, reactor
from twisted.logger import globalLogPublisher

from server.app import Hotline
from server.config import ConfigError, load_config
from server.daemon import run_daemon
from server.records.model import CallRecorder
from server.records.store import RecordStore, make_client
from server.redisproc import RedisProcess
from server.web.audit import AuditLog

from .test_config_support import GOOD

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "7c1e4f0b9a2d8e63b5f4a1c0d9e8f7a6"


def _as_deferred(coro) -> defer.Deferred:
    return defer.Deferred.fromFuture(asyncio.ensure_future(coro))


@pytest.fixture(scope="module")
def acl_redis(tmp_path_factory):
    """redis-server with the shipped ACL file, its placeholder replaced by PASSWORD's hash."""
    d = tmp_path_factory.mktemp("acl")
    text = (ROOT / "deploy/redis/hotline-users.acl").read_text(encoding="utf-8")
    assert "#REPLACE-WITH-THE-SHA256-OF-THE-PASSWORD" in text
    digest = hashlib.sha256(PASSWORD.encode()).hexdigest()
    (d / "users.acl").write_text(text.replace("REPLACE-WITH-THE-SHA256-OF-THE-PASSWORD",
                                              digest), encoding="utf-8")
    with RedisProcess(appendonly=False, extra_args=("--aclfile", str(d / "users.acl"))) as r:
        yield r


def _config(tmp: Path, url: str) -> Path:
    d = tmp / "config"
    shutil.copytree(GOOD, d)
    srv = yaml.safe_load((d / "server.yaml").read_text(encoding="utf-8"))
    srv["redis"] = {"url": url, "username": "hotline", "password_env": "HOTLINE_REDIS_PASSWORD"}
    srv["records"]["spool"] = str(tmp / "spool")
    (d / "server.yaml").write_text(yaml.safe_dump(srv), encoding="utf-8")
    return d


def _record(call_id: str) -> dict:
    r = CallRecorder(call_id, 0.0, caller="13800000000", dialled="95598")
    r.finish(30.0, "self_service")
    return r.to_dict()


@pytest_twisted.ensureDeferred
async def test_the_server_logs_in_as_its_acl_user(acl_redis, tmp_path):
    cfg = load_config(_config(tmp_path, acl_redis.url), environ={
        "HOTLINE_AMI_SECRET": "x", "HOTLINE_REDIS_PASSWORD": PASSWORD})
    assert cfg.warnings == ()
    password = cfg.server.redis.password({"HOTLINE_REDIS_PASSWORD": PASSWORD})
    hotline = Hotline.from_config(reactor, cfg, "x", redis_password=password)
    anonymous = make_client(acl_redis.url)
    try:
        # what the server does with Redis works under the shipped ACL
        assert await hotline.store.put(_record("acl-1"))
        await hotline.store.put_live_state("call", "acl-1", {"phase": "ivr"})
        assert "acl-1" in (await hotline.store.load_live_state()).get("call", {})
        audit = AuditLog(hotline.store._client, reactor)
        audit.record("supervisor1", "listen", "1001", {})
        await audit.pending
        assert [e["action"] for e in await audit.recent(1)] == ["listen"]
        assert await hotline.startup._restore() == 0
        # and a client without the password can do nothing
        with pytest.raises(Exception) as info:
            await _as_deferred(anonymous.xlen("hotline:records"))
        assert "NOAUTH" in str(info.value) or "Authentication" in type(info.value).__name__
    finally:
        await hotline.store.close()
        await _as_deferred(anonymous.aclose())


@pytest_twisted.ensureDeferred
async def test_a_wrong_password_is_one_clear_error_not_a_traceback(acl_redis, tmp_path):
    cfg = load_config(_config(tmp_path, acl_redis.url), environ={})
    hotline = Hotline.from_config(reactor, cfg, "x", redis_password="not-the-password")
    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    try:
        assert await hotline.startup._restore() == 0  # starts empty, does not crash
    finally:
        globalLogPublisher.removeObserver(events.append)
        await hotline.store.close()
    errors = [e for e in events if e.get("log_level") is not None
              and e["log_level"].name in ("error", "critical")]
    assert len(errors) == 1 and "log_failure" not in errors[0]
    assert errors[0]["log_format"].startswith("Redis refused user {who}")
    assert errors[0]["who"] == "hotline"
    assert "invalid username-password pair" in str(errors[0]["e"])


def test_a_named_password_that_is_missing_stops_the_start(tmp_path, monkeypatch, capsys):
    d = _config(tmp_path, "redis://127.0.0.1:1/0")
    monkeypatch.setenv("HOTLINE_AMI_SECRET", "x")
    monkeypatch.delenv("HOTLINE_REDIS_PASSWORD", raising=False)
    with pytest.raises(ConfigError):
        load_config(d).server.redis.password({})
    assert any("HOTLINE_REDIS_PASSWORD is not set" in str(w) for w in load_config(d).warnings)
    assert run_daemon(str(d), allow_weak_secrets=True) == 2
    assert "Redis password not available: environment variable HOTLINE_REDIS_PASSWORD" in \
        capsys.readouterr().err


def test_record_store_passes_the_credentials():
    client = make_client("redis://127.0.0.1:6379/0", username="hotline", password="pw")
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["username"] == "hotline" and kwargs["password"] == "pw"
    assert RecordStore  # the store builds its client with make_client (see from_url)


def test_records_export_logs_in_with_the_password_from_the_environment(acl_redis):
    import os
    import subprocess
    import sys

    env = dict(os.environ, HOTLINE_REDIS_PASSWORD=PASSWORD)
    ok = subprocess.run([sys.executable, "-m", "server", "records", "export", "--redis-url",
                         acl_redis.url, "--redis-user", "hotline", "--format", "jsonl"],
                        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert ok.returncode == 0, ok.stderr
    env.pop("HOTLINE_REDIS_PASSWORD")
    refused = subprocess.run([sys.executable, "-m", "server", "records", "export",
                              "--redis-url", acl_redis.url, "--format", "jsonl"],
                             capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "Redis refused the login" in refused.stderr
