"""Shared fixtures: a real redis-server per test session, on a free loopback port."""

from __future__ import annotations

import pytest

from server.redisproc import RedisProcess


@pytest.fixture(scope="session")
def redis_server():
    with RedisProcess() as proc:
        yield proc
