"""The one Redis client factory: the cluster's Redis, or the embedded private one."""
from __future__ import annotations

import logging
from urllib.parse import urlparse

import redis

from conf.embedded_redis import EmbeddedRedis
from conf.loader import Cluster

logger = logging.getLogger(__name__)


def redis_url(cluster: Cluster, start: bool = True) -> str:
    """URL of the Redis this cluster uses, starting the embedded one when none is configured."""
    if cluster.redis_url:
        url = cluster.redis_url
        if cluster.redis_password and not urlparse(url).password:
            scheme, rest = url.split("://", 1)
            url = f"{scheme}://:{cluster.redis_password}@{rest}"
        return url
    server = EmbeddedRedis(cluster.data_path / "redis")
    if not server.attach():
        if not start:
            raise redis.ConnectionError("the embedded Redis is not running (start it with `nugo redis start` or `nugo demo`)")
        server.start()
    return server.url


def connect(url: str) -> redis.Redis:
    """A client that fails fast when Redis does not answer."""
    client = redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
    client.ping()
    return client


def redis_client(cluster: Cluster, start: bool = True) -> redis.Redis:
    return connect(redis_url(cluster, start=start))
