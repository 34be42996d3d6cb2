"""Shared fixtures: a real redis-server per test session, on a free loopback port."""

from __future__ import annotations

import pytest
import redis

from server.redisproc import RedisProcess


@pytest.fixture(scope="session")
def redis_server():
    with RedisProcess() as proc:
        yield proc


@pytest.fixture
def redis_db(redis_server):
    """``redis_db(n)``: the URL of database ``n`` of the shared test redis-server,
    emptied first, so a test module has a database of its own."""
    def make(n: int) -> str:
        url = redis_server.url.rsplit("/", 1)[0] + f"/{n}"
        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()
        return url
    return make
