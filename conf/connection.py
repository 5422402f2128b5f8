"""The one Redis client factory: the cluster's Redis, or the embedded private one."""
from __future__ import annotations

import logging
from urllib.parse import quote, unquote, urlparse

import redis

from conf.embedded_redis import EmbeddedRedis
from conf.loader import Cluster

logger = logging.getLogger(__name__)


def redis_url(cluster: Cluster, start: bool = True) -> str:
    """URL of the Redis this cluster uses, starting the embedded one when none is configured."""
    if cluster.redis_url:
        return with_password(cluster.redis_url, cluster.redis_password)
    server = EmbeddedRedis(cluster.data_path / "redis")
    if not server.attach():
        if not start:
            raise redis.ConnectionError("the embedded Redis is not running (start it with `nugo redis start` or `nugo demo`)")
        server.start()
    return server.url


def with_password(url: str, password: str | None) -> str:
    """The URL with `password` added (after the ACL user name, if the URL names one), unless it has one."""
    parts = urlparse(url)
    if not password or parts.password:
        return url
    user = quote(unquote(parts.username or ""), safe="")
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}").geturl()


def connect(url: str) -> redis.Redis:
    """A client that fails fast when Redis does not answer."""
    client = redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
    client.ping()
    return client


def redis_client(cluster: Cluster, start: bool = True) -> redis.Redis:
    return connect(redis_url(cluster, start=start))
