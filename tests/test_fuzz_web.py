"""Hostile requests to the HTTP API beyond what the OpenAPI schema generates: recording
downloads (traversal, symlinks, other agents, odd ranges) and numbers or bodies that the
schema's types allow but the handlers choke on.  Real sockets, the web test graph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytest_twisted
import treq
from twisted.internet import defer

from tests.test_web_review import record
from tests.test_web_support import WebRig

SECRET_TEXT = b"top secret: not a recording"
AUDIO = bytes(range(256)) * 8


@pytest.fixture
def rig(redis_server, tmp_path):
    url = redis_server.url.rsplit("/", 1)[0] + "/11"
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / "a3.wav").write_bytes(AUDIO)
    (tmp_path / "secret.txt").write_bytes(SECRET_TEXT)
    (rec / "link.wav").symlink_to(tmp_path / "secret.txt")
    (rec / "abs.wav").symlink_to("/etc/passwd")
    (rec / "dir.wav").mkdir()
    (rec / "dir.wav" / "x.wav").write_bytes(SECRET_TEXT)
    r = WebRig(url, rec)
    yield r
    pytest_twisted.blockon(defer.ensureDeferred(r.close()))


async def _head(rig: WebRig, path: str, token: str) -> tuple[int, str | None]:
    resp = await treq.head(rig.base + path, headers={"Authorization": [f"Bearer {token}"]},
                           persistent=False)
    await resp.content()
    return resp.code, (resp.headers.getRawHeaders("content-length") or [None])[0]


TRAVERSALS = [
    "..%2Fsecret.txt", "%2E%2E%2Fsecret.txt", "..%5Csecret.txt", "%252E%252E%252Fsecret.txt",
    "%2Fetc%2Fpasswd", "%C0%AE%C0%AE%2Fsecret.txt", "..", ".", "%2E%2E", ".%2E",
    "a3.wav%00.txt", "a3.wav%2F..%2F..%2Fsecret.txt", "dir.wav%2Fx.wav", "dir.wav",
    "link.wav", "abs.wav", "a3.wav%2F", "%20a3.wav", "a3.wav%0A", "A" * 250, "-rf",
    "~%2Fsecret.txt", "%EF%BC%8E%EF%BC%8E%EF%BC%8Fsecret.txt",
]


@pytest_twisted.ensureDeferred
async def test_recording_traversal_and_odd_names_never_leak(rig):
    sup = await rig.login("supervisor1")
    code, data, _ = await rig.request("GET", "/api/recordings/a3.wav", token=sup)
    assert code == 200 and data == AUDIO  # the control: the real file is served
    # and the links are live (a traversal test with a dead link would prove nothing)
    assert (Path(rig.cfg.server.recordings.directory) / "link.wav").read_bytes() == SECRET_TEXT
    for name in TRAVERSALS:
        code, data, _ = await rig.request("GET", f"/api/recordings/{name}", token=sup)
        assert code in (400, 404), (name, code)
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        assert SECRET_TEXT not in body and b"root:" not in body, name
        code, length = await _head(rig, f"/api/recordings/{name}", sup)
        assert code in (400, 404) and length != str(len(SECRET_TEXT)), (name, code, length)
    # A second path segment is no route at all.
    code, _, _ = await rig.request("GET", "/api/recordings/dir.wav/x.wav", token=sup)
    assert code == 404


@pytest_twisted.ensureDeferred
async def test_agents_never_download_recordings_not_even_their_own(rig):
    await rig.store.put(record("a3", agent="1005"))
    sup = await rig.login("supervisor1")
    code, body, _ = await rig.request("GET", "/api/records/a3", token=sup)
    assert code == 200 and body["recording_url"] == "/api/recordings/a3.wav"
    for agent in ("1005", "1001", "1007"):  # the call's own agent and two others
        token = await rig.login(agent)
        code, data, _ = await rig.request("GET", "/api/recordings/a3.wav", token=token,
                                          headers={"Range": "bytes=0-10"})
        assert code == 403, (agent, code)
        assert not (isinstance(data, bytes) and AUDIO[:10] in data)
        code, length = await _head(rig, "/api/recordings/a3.wav", token)
        assert code == 403 and length != str(len(AUDIO)), (agent, code)
        code, _, _ = await rig.request("GET", "/api/records/a3", token=token)
        assert code == 403
    for headers in ({}, {"Cookie": "hotline_session=forged"},
                    {"Authorization": "Bearer " + "A" * 43}):
        code, data, _ = await rig.request("GET", "/api/recordings/a3.wav", headers=headers)
        assert code == 401 and data != AUDIO


@pytest_twisted.ensureDeferred
async def test_odd_ranges_are_never_a_server_error(rig):
    sup = await rig.login("reviewer1")
    n = len(AUDIO)
    for rng in ["bytes=abc", "bytes=-0", "bytes=0-0", f"bytes={n}-", f"bytes=-{n}",
                "bytes=5-1", "bytes=0-0,5-9,100-", "bytes=0-" + "9" * 40,
                "items=0-10", "bytes=--1", "bytes= 1 - 2", "bytes=\u00ff"]:
        code, data, resp = await rig.request("GET", "/api/recordings/a3.wav", token=sup,
                                             headers={"Range": rng})
        assert code in (200, 206, 416), (rng, code)
        if code == 206:
            assert 0 < len(data) <= n * 2, rng


@pytest_twisted.ensureDeferred
async def test_overlapping_ranges_do_not_amplify(rig):
    token = await rig.login("reviewer1")
    whole = f"0-{len(AUDIO) - 1}"
    code, data, _ = await rig.request("GET", "/api/recordings/a3.wav", token=token,
                                      headers={"Range": "bytes=" + ",".join([whole] * 200)})
    assert code in (200, 206, 416) and len(data) <= 2 * len(AUDIO) + 1000, (code, len(data))
    # several ranges: ignored, the whole file once (server/web/review.py _single_range)
    assert (code, data) == (200, AUDIO)


@pytest_twisted.ensureDeferred
async def test_suffix_range_longer_than_the_file_is_not_a_server_error(rig):
    token = await rig.login("reviewer1")
    code, data, _ = await rig.request("GET", "/api/recordings/a3.wav", token=token,
                                      headers={"Range": f"bytes=-{len(AUDIO) * 2}"})
    assert code in (200, 206, 416), code
    assert (code, data) == (206, AUDIO)  # RFC 9110 14.1.1: the whole representation
    code, data, _ = await rig.request("GET", "/api/recordings/a3.wav", token=token,
                                      headers={"Range": "bytes=-10"})
    assert (code, data) == (206, AUDIO[-10:])


# -- 5xx that the schema-driven run cannot reach (values the spec's types admit) -------------


@pytest.mark.parametrize("limit", ["nan", "inf", "1e400"])
@pytest_twisted.ensureDeferred
async def test_records_limit_not_finite_is_400(rig, limit):
    token = await rig.login("reviewer1")
    code, body, _ = await rig.request("GET", f"/api/records?limit={limit}", token=token)
    assert code == 400, (code, body)


@pytest_twisted.ensureDeferred
async def test_deeply_nested_json_body_is_400_even_unauthenticated(rig):
    code, body, _ = await rig.request("POST", "/api/login", raw=b"[" * 60_000)
    assert code == 400 and "nested deeper" in body["error"], (code, body)
    # past the body limit it is refused before it is read at all
    code, body, _ = await rig.request("POST", "/api/login", raw=b"[" * 100_000)
    assert code == 413, (code, body)


@pytest_twisted.ensureDeferred
async def test_lone_surrogate_password_is_401_not_500(rig):
    for name in ("1001", "nobody"):
        code, body, _ = await rig.request(
            "POST", "/api/login", raw=b'{"username": "%s", "password": "\\ud800"}' % name.encode())
        assert code in (400, 401), (name, code, body)


@pytest_twisted.ensureDeferred
async def test_followup_due_at_must_be_finite(rig):
    token = await rig.login("supervisor1")
    code, body, resp = await rig.request(
        "POST", "/api/followups",
        raw=b'{"queue": "general", "number": "13900000000", "due_at": 1e999}', token=token)
    assert code == 400, (code, body)
