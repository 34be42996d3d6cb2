"""Hotline.http_site(): the composition root builds the HTTP side and serves it."""

from __future__ import annotations

import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.internet.endpoints import clientFromString

from server.ami.service import AmiOptions
from server.app import Hotline
from tests.test_web_support import cheap_config


@pytest_twisted.ensureDeferred
async def test_http_site_listens_under_the_services(redis_server, tmp_path):
    cfg = cheap_config(tmp_path)
    hotline = Hotline(reactor, cfg, clientFromString(reactor, "tcp:host=127.0.0.1:port=1"),
                      AmiOptions(username="hotline", secret="x"), redis_url=redis_server.url,
                      spool_dir=str(tmp_path / "spool"))
    web = hotline.http_site("tcp:port=0:interface=127.0.0.1")
    service = list(hotline.services)[-1]
    assert service.factory is web.site
    service.startService()
    try:
        port = await service._waitingForPort
        base = f"http://127.0.0.1:{port.getHost().port}"
        resp = await treq.get(base + "/api/me", persistent=False)
        assert resp.code == 401
        await resp.content()
        resp = await treq.get(base + "/wallboard.html", persistent=False)
        assert resp.code == 200 and "wallboard" in (await resp.text())
    finally:
        await service.stopService()
        web.unsubscribe()
        await hotline.store.close()
