"""Sessions and headers (issue 16 point 7) over real sockets on 127.0.0.1."""

from __future__ import annotations

import pytest
import pytest_twisted
import treq
from twisted.internet import defer

from tests.test_web_support import WebRig, cheap_config, with_trusted_proxies


@pytest.fixture
def make_rig(redis_server, tmp_path):
    rigs = []

    def make(**kw):
        r = WebRig(redis_server.url.rsplit("/", 1)[0] + "/10", tmp_path, **kw)
        rigs.append(r)
        return r
    yield make
    for r in rigs:
        pytest_twisted.blockon(defer.ensureDeferred(r.close()))


async def _cookie(rig, headers=None) -> str:
    code, _, resp = await rig.request("POST", "/api/login", {"username": "reviewer1",
                                                             "password": "change-me-reviewer1"},
                                      headers=headers)
    assert code == 200
    return resp.headers.getRawHeaders("set-cookie")[0]


@pytest_twisted.ensureDeferred
async def test_cookie_is_secure_when_a_trusted_proxy_says_tls(make_rig, tmp_path):
    rig = make_rig(cfg=with_trusted_proxies(cheap_config(tmp_path), "127.0.0.1"))
    assert "Secure" in await _cookie(rig, {"X-Forwarded-Proto": "https"})
    assert "Secure" not in await _cookie(rig, {"X-Forwarded-Proto": "http"})
    assert "Secure" not in await _cookie(rig)


@pytest_twisted.ensureDeferred
async def test_forwarded_proto_from_an_untrusted_peer_is_ignored(make_rig):
    rig = make_rig()
    assert "Secure" not in await _cookie(rig, {"X-Forwarded-Proto": "https"})


@pytest_twisted.ensureDeferred
async def test_sessions_end_twelve_hours_after_sign_in_however_busy(make_rig):
    rig = make_rig()
    code, body, _ = await rig.request("POST", "/api/login", {
        "username": "supervisor1", "password": "change-me-supervisor1", "token": True})
    assert body["max_session_s"] == 12 * 3600
    token = body["token"]
    for _ in range(12):  # used every hour: the idle timeout never fires
        rig.clock.advance(3600 - 1)
        code, _, _ = await rig.request("GET", "/api/me", token=token)
        assert code == 200
    rig.clock.advance(13)  # 12 h + 1 s after sign-in
    code, _, _ = await rig.request("GET", "/api/me", token=token)
    assert code == 401


@pytest_twisted.ensureDeferred
async def test_every_response_carries_the_security_headers_and_no_server_version(make_rig):
    rig = make_rig()
    token = await rig.login("supervisor1")
    responses = []
    for path in ("/desk.html", "/common.js", "/common.css", "/nothing.html"):
        resp = await treq.get(rig.base + path, persistent=False)
        await resp.content()
        responses.append((path, resp))
    for method, path in (("GET", "/api/me"), ("GET", "/api/snapshot"), ("GET", "/api/nope"),
                         ("POST", "/api/login")):
        _, _, resp = await rig.request(method, path, {} if method == "POST" else None,
                                       token=token)
        responses.append((path, resp))
    for path, resp in responses:
        h = resp.headers
        csp = h.getRawHeaders("content-security-policy", [""])[0]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, path
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
        assert h.getRawHeaders("x-content-type-options") == ["nosniff"], path
        assert h.getRawHeaders("referrer-policy") == ["no-referrer"], path
        assert h.getRawHeaders("x-frame-options") == ["DENY"], path
        assert not h.hasHeader("server"), (path, h.getRawHeaders("server"))
    js = dict(responses)["/common.js"].headers.getRawHeaders("content-type")[0]
    assert "javascript" in js  # nosniff: a script must come with a script type


def test_pages_hold_no_inline_script_style_or_handler():
    """What the CSP would refuse in a browser, found in the files themselves."""
    import re
    from pathlib import Path

    static = Path(__file__).resolve().parents[1] / "server" / "web" / "static"
    for page in static.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), page.name
        assert "<style" not in html and not re.search(r"\sstyle=", html), page.name
        assert not re.search(r"\son[a-z]+\s*=", html, re.I), page.name
        assert "javascript:" not in html.lower(), page.name
    for script in static.glob("*.js"):
        js = script.read_text(encoding="utf-8")
        assert not re.search(r"""\bstyle\s*:\s*["'`]|setAttribute\(\s*["']style""", js), script
        assert "innerHTML" not in js and "eval(" not in js, script.name
