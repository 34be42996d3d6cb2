"""docs/openapi.yaml is valid OpenAPI 3.1 and lists exactly the implemented routes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from server.web.site import build_web
from tests.test_web_support import StubAmi, cheap_config

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "openapi.yaml"


def _spec() -> dict:
    return yaml.safe_load(SPEC.read_text(encoding="utf-8"))


def test_spec_validates():
    validator = pytest.importorskip("openapi_spec_validator")
    spec = _spec()
    assert spec["openapi"].startswith("3.1")
    validator.validate(spec)


def test_spec_paths_equal_the_routes(tmp_path):
    from twisted.internet import task

    from server.call.center import CallCenter
    from server.notify import Notifier

    cfg = cheap_config(tmp_path)
    clock = task.Clock()
    calls = CallCenter(clock, cfg, StubAmi(), save=lambda r: None, bills=None)
    web = build_web(cfg, calls, Notifier(), clock, redis_client=None, put_record=None)
    implemented = {(r.method.lower(), r.template) for r in web.routes}
    documented = {(m, p) for p, ops in _spec()["paths"].items() for m in ops
                  if m in ("get", "post", "put", "patch", "delete")}
    assert documented == implemented
