"""The private redis-server and redis-py's asyncio client under Twisted's asyncio reactor."""

from __future__ import annotations

import asyncio

import pytest_twisted
import redis.asyncio as aioredis
from twisted.internet import defer


def as_deferred(coro) -> defer.Deferred:
    return defer.Deferred.fromFuture(asyncio.ensure_future(coro))


@pytest_twisted.ensureDeferred
async def test_asyncio_client_round_trip_inside_twisted(redis_server):
    client = aioredis.from_url(redis_server.url)
    try:
        await as_deferred(client.set("hotline:probe", "95598"))
        value = await as_deferred(client.get("hotline:probe"))
        assert value == b"95598"
        info = await as_deferred(client.config_get("appendonly"))
        assert info["appendonly"] == "yes"
    finally:
        await as_deferred(client.aclose())


def test_port_is_private_and_loopback(redis_server):
    assert redis_server.url.startswith("redis://127.0.0.1:")
    assert redis_server.proc is not None and redis_server.proc.poll() is None
