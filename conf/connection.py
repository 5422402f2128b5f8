"""The one Redis client factory: the cluster's Redis, or the embedded private one."""
from __future__ import annotations

import logging
import socket
from urllib.parse import quote, unquote, urlparse

import redis

from conf.embedded_redis import EmbeddedRedis
from conf.loader import Cluster

logger = logging.getLogger(__name__)

# What a Redis that restarts, loads its AOF, fails over or runs out of memory raises: wait and retry.
TRANSIENT = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)


def is_transient(exc: BaseException) -> bool:
    """A Redis error that passes by itself (down, loading, out of memory under noeviction, read-only replica)."""
    if isinstance(exc, TRANSIENT + (redis.exceptions.OutOfMemoryError, redis.exceptions.ReadOnlyError)):
        return True
    return isinstance(exc, redis.ResponseError) and str(exc).split(" ", 1)[0] in ("OOM", "LOADING", "READONLY",
                                                                                  "MASTERDOWN", "TRYAGAIN")


class InsecureRedis(RuntimeError):
    """The cluster's Redis answers clients that give no password."""


INSECURE = ("클러스터 Redis({where})가 비밀번호 없이 접속을 받습니다. 다섯 대의 PC가 쓰는 Redis에는 ACL 사용자와 "
            "비밀번호가 있어야 합니다(ansible/ 참고). 실험실에서만 cluster.yaml에 allow_insecure_redis: true를 쓰세요. / "
            "The cluster's Redis at {where} accepts connections without a password: refusing to start. Configure ACL "
            "users (see ansible/), or set allow_insecure_redis: true in cluster.yaml for a lab.")
_checked: set[str] = set()


def refuse_open_redis(url: str, allow: bool) -> None:
    """Raise InsecureRedis when the Redis of `url` answers a client without credentials (unless `allow`,
    which logs a warning on every start). A Redis that cannot be reached is left to the caller's retries."""
    parts = urlparse(url)
    where = f"{parts.hostname}:{parts.port or 6379}"
    if where in _checked:
        return
    probe = redis.Redis(host=parts.hostname, port=parts.port or 6379, socket_connect_timeout=3, socket_timeout=3)
    try:
        probe.ping()
    except redis.AuthenticationError:
        _checked.add(where)
        return
    except redis.ResponseError as exc:
        if "NOAUTH" in str(exc) or "NOPERM" in str(exc) or "WRONGPASS" in str(exc):
            _checked.add(where)
            return
        raise
    except (redis.ConnectionError, redis.TimeoutError):
        return
    finally:
        probe.close()
    if not allow:
        raise InsecureRedis(INSECURE.format(where=where))
    logger.warning("allow_insecure_redis: the cluster's Redis at %s accepts clients without a password "
                   "(lab only) / 비밀번호 없는 Redis 허용 중 (실험실 전용)", where)
    _checked.add(where)


def mask_url(url: str | None) -> str:
    """The URL with its password replaced by ***, for printing."""
    if not url:
        return ""
    parts = urlparse(url)
    if not parts.password:
        return url
    user = f"{parts.username}:" if parts.username else ":"
    return parts._replace(netloc=f"{user}***@{parts.netloc.rpartition('@')[2]}").geturl()


def redis_url(cluster: Cluster, start: bool = True) -> str:
    """URL of the Redis this cluster uses, starting the embedded one when none is configured. A cluster Redis
    that accepts clients without a password is refused (InsecureRedis)."""
    if cluster.redis_url:
        refuse_open_redis(cluster.redis_url, cluster.allow_insecure_redis)
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


# Every client of the cluster's Redis: a cut link or a frozen host fails a command within SOCKET_TIMEOUT
# (longer than any blocking read: the writer's XREADGROUP blocks 1 s) instead of waiting out TCP retransmission
# for many minutes, and an idle connection that died is noticed by keepalive probes and the health check.
SOCKET_TIMEOUT = 30
CLIENT_OPTIONS = {
    "socket_connect_timeout": 5, "socket_timeout": SOCKET_TIMEOUT, "health_check_interval": 30,
    "socket_keepalive": True,
    "socket_keepalive_options": {opt: value for name, value in (("TCP_KEEPIDLE", 15), ("TCP_KEEPINTVL", 5),
                                                                ("TCP_KEEPCNT", 3))
                                 if (opt := getattr(socket, name, None)) is not None},
}


def connect(url: str, ping: bool = True) -> redis.Redis:
    """A client of `url`; with `ping`, one that fails fast when Redis does not answer. Without it, the
    first command connects (a service that waits out an outage by itself starts that way)."""
    client = redis.Redis.from_url(url, **CLIENT_OPTIONS)
    if ping:
        client.ping()
    return client


def redis_client(cluster: Cluster, start: bool = True, ping: bool = True) -> redis.Redis:
    return connect(redis_url(cluster, start=start), ping=ping)
