"""Sign-in limits over real sockets: parallel guesses, hash slots, per account and client.

Issue 16 points 1 and 2.  The parallel tests hold every hash check behind a gate
(the check itself still runs in a real thread) and open the gate only once each
request has either reached a check or been answered: before the fix all thirty
guesses reached a check, because the failure was counted only after it.
"""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import defer, threads
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.web.test.requesthelper import DummyRequest

from server.web import WebOptions
from server.web.proxy import TrustedProxies
from server.web.throttle import ThrottlePolicy
from tests.test_web_support import WebRig, cheap_config, with_trusted_proxies


class GatedVerify:
    """``deferToThread`` whose checks start only after ``release()``."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = defer.Deferred()
        self.on_call = lambda: None

    def __call__(self, f, *args):
        self.calls += 1
        d = defer.Deferred()
        self.gate.addCallback(lambda _: threads.deferToThread(f, *args).chainDeferred(d))
        self.on_call()
        return d

    def release(self) -> None:
        if not self.gate.called:
            self.gate.callback(None)


async def parallel_logins(rig: WebRig, gate: GatedVerify, bodies, forwarded=None):
    """All at once; fires with [(status, body, response)] in the order given."""
    done = 0

    def check() -> None:
        if gate.calls + done == len(bodies):
            gate.release()

    def count(result):
        nonlocal done
        done += 1
        check()
        return result

    gate.on_call = check
    ds = []
    for i, body in enumerate(bodies):
        headers = {"X-Forwarded-For": forwarded[i]} if forwarded else None
        ds.append(defer.ensureDeferred(rig.request("POST", "/api/login", body,
                                                   headers=headers)).addCallback(count))
    return await defer.gatherResults(ds)


@pytest.fixture
def make_rig(redis_server, tmp_path):
    rigs = []

    def make(**kw):
        url = redis_server.url.rsplit("/", 1)[0] + "/6"
        r = WebRig(url, tmp_path, **kw)
        rigs.append(r)
        return r
    yield make
    for r in rigs:
        pytest_twisted.blockon(defer.ensureDeferred(r.close()))


@pytest_twisted.ensureDeferred
async def test_thirty_parallel_guesses_reach_at_most_three_hash_checks(make_rig):
    gate = GatedVerify()
    rig = make_rig(verify_in_thread=gate)
    results = await parallel_logins(rig, gate, [{"username": "1001", "password": f"{i:06d}"}
                                                for i in range(30)])
    codes = [code for code, _, _ in results]
    assert gate.calls == 3 and codes.count(401) == 3 and codes.count(429) == 27, codes
    for code, body, resp in results:
        if code == 429:
            after = int(resp.headers.getRawHeaders("retry-after")[0])
            assert after >= 1 and f"try again in {after} s" in body["error"]
    assert rig.web.auth.throttle.checking == 0  # every slot given back


@pytest_twisted.ensureDeferred
async def test_hash_checks_in_flight_are_capped_and_the_rest_get_429_busy(make_rig, tmp_path):
    gate = GatedVerify()
    cfg = with_trusted_proxies(cheap_config(tmp_path), "127.0.0.1")
    rig = make_rig(cfg=cfg, verify_in_thread=gate,
                   options=WebOptions(throttle=ThrottlePolicy(max_checks=4)))
    # ten different agents from ten different desks: neither count holds them back
    bodies = [{"username": str(1001 + i), "password": "000000"} for i in range(10)]
    results = await parallel_logins(rig, gate, bodies, [f"10.0.0.{i}" for i in range(10)])
    codes = [code for code, _, _ in results]
    assert gate.calls == 4 and codes.count(401) == 4 and codes.count(429) == 6, codes
    busy = [(b, r) for c, b, r in results if c == 429]
    assert all("busy" in b["error"] and r.headers.getRawHeaders("retry-after") == ["1"]
               for b, r in busy)
    # a real sign-in right after the flood goes through
    code, body, _ = await rig.request("POST", "/api/login",
                                      {"username": "1011", "password": "1011"},
                                      headers={"X-Forwarded-For": "10.0.1.1"})
    assert code == 200, body


async def _try(rig, user, secret, client):
    return await rig.request("POST", "/api/login", {"username": user, "password": secret},
                             headers={"X-Forwarded-For": client})


@pytest_twisted.ensureDeferred
async def test_typos_behind_the_proxy_slow_one_account_not_the_floor(make_rig, tmp_path):
    rig = make_rig(cfg=with_trusted_proxies(cheap_config(tmp_path), "127.0.0.0/8"))
    a, b = "192.0.2.10", "192.0.2.11"
    waits = []
    for _ in range(5):  # five typos for 1001 from desk A, each waiting its delay
        code, body, resp = await _try(rig, "1001", "999999", a)
        if code == 429:
            after = int(resp.headers.getRawHeaders("retry-after")[0])
            assert f"try again in {after} s" in body["error"]
            waits.append(after)
            rig.clock.advance(after)
            code, body, resp = await _try(rig, "1001", "999999", a)
        assert code == 401, body
    assert waits == [1, 2]  # growing: 1 s after the third failure, then 2 s
    assert "next attempt is possible in 4 s" in body["error"]
    # desk B (same proxy address) signs in to its own account at once
    code, body, _ = await _try(rig, "1002", "1002", b)
    assert code == 200, body
    # but account 1001 waits, whichever desk asks
    code, body, resp = await _try(rig, "1001", "1001", b)
    assert code == 429 and resp.headers.getRawHeaders("retry-after") == ["4"]
    rig.clock.advance(4)
    code, body, _ = await _try(rig, "1001", "1001", a)
    assert code == 200, body
    # the success reset the account: three fresh typos are 401, none 429
    for _ in range(3):
        code, body, _ = await _try(rig, "1001", "999999", a)
        assert code == 401, body


@pytest_twisted.ensureDeferred
async def test_forwarded_for_is_ignored_from_an_untrusted_peer(make_rig):
    rig = make_rig()  # no trusted proxies: 127.0.0.1 is the client whatever it says
    for i in range(10):
        code, _, resp = await _try(rig, str(1001 + i), "999999", f"198.51.100.{i}")
        assert code == 401
    code, body, resp = await _try(rig, "1011", "1011", "198.51.100.99")
    assert code == 429 and "try again in 1 s" in body["error"]
    rig.clock.advance(1)
    code, body, _ = await _try(rig, "1011", "1011", "198.51.100.99")
    assert code == 200  # a growing delay, not a lock-out


def _request(peer: str, forwarded: str | None = None, proto: str | None = None):
    req = DummyRequest([b""])
    req.isSecure = lambda: False
    req.client = (IPv6Address if ":" in peer else IPv4Address)("TCP", peer, 40000)
    if forwarded is not None:
        req.requestHeaders.setRawHeaders(b"x-forwarded-for", [forwarded.encode()])
    if proto is not None:
        req.requestHeaders.setRawHeaders(b"x-forwarded-proto", [proto.encode()])
    return req


def test_client_address_and_tls_from_trusted_proxies_only():
    proxies = TrustedProxies(["10.1.0.0/16", "::1"])
    # right-most hop that is not a proxy; what the client wrote on the left is ignored
    assert proxies.client(_request("10.1.2.3", "6.6.6.6, 192.0.2.5, 10.1.0.9")) == "192.0.2.5"
    assert proxies.client(_request("::1", "192.0.2.5")) == "192.0.2.5"
    assert proxies.client(_request("192.0.2.7", "6.6.6.6")) == "192.0.2.7"  # not a proxy
    assert proxies.client(_request("10.1.2.3", "junk, 192.0.2.5")) == "192.0.2.5"
    assert proxies.client(_request("10.1.2.3", "192.0.2.5, junk")) == "10.1.2.3"
    assert proxies.client(_request("10.1.2.3")) == "10.1.2.3"
    assert proxies.is_tls(_request("10.1.2.3", proto="https"))
    assert not proxies.is_tls(_request("192.0.2.7", proto="https"))
    assert not proxies.is_tls(_request("10.1.2.3", proto="https, http"))
    assert not TrustedProxies().is_tls(_request("10.1.2.3", proto="https"))
