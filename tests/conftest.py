"""Shared fixtures: real redis-servers started by the project (never fakes)."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from conf.embedded_redis import EmbeddedRedis
from tests.test_visits_support import visit_cluster  # noqa: F401  (a fixture of the visit tests)

logger = logging.getLogger(__name__)


def delete_prefix(client: redis.Redis, prefix: str) -> int:
    """Delete every key under `prefix:`; returns how many."""
    deleted = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            deleted += client.delete(*batch)
            batch.clear()
    if batch:
        deleted += client.delete(*batch)
    return deleted


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One private redis-server for the whole test session."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test alone."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis, prefix: str) -> Iterator[redis.Redis]:
    """A client of the session server; the test's keys (under `prefix`) are deleted afterwards."""
    client = redis_server.client()
    try:
        yield client
    finally:
        delete_prefix(client, prefix)
        client.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A redis-server of this test alone, free to kill and restart."""
    server = EmbeddedRedis(tmp_path / "redis").start()
    try:
        yield server
    finally:
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - a test may leave it dead; kill whatever is left
            logger.exception("stopping the private redis failed; killing it")
            server.kill()
