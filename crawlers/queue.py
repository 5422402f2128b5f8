"""scrapy-redis plug-ins over the Frontier: LeasedQueue (SCHEDULER_QUEUE_CLASS) and NoDupeFilter."""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from typing import Any

import redis

from scrapy import Request, Spider
from scrapy.dupefilters import BaseDupeFilter

from conf.defaults import KEY_PREFIX, LEASE_SECONDS
from crawlers.frontier import Frontier, Lease

logger = logging.getLogger(__name__)

# meta keys that belong to one process or one lease, never to the queued request
RUNTIME_META = {"lease", "download_slot", "download_latency", "download_timeout", "nugo_delay"}


SPIDER_NAME = "nugo"  # the crawl spider's name (crawlers.spider.NugoSpider.name)


def worker_name(spider_name: str = SPIDER_NAME, *, pid: int | None = None, host: str | None = None) -> str:
    """The name a worker process leases under (host:pid:spider); its leases are returned under it. With
    `pid` (and `host`): the name of that process, as its supervisor frees what a dead one held."""
    return f"{host or socket.gethostname()}:{os.getpid() if pid is None else pid}:{spider_name}"


def jsonable_meta(meta: dict) -> dict:
    """The meta keys that survive JSON (and are not per-process runtime state)."""
    out = {}
    for key, value in meta.items():
        if not isinstance(key, str) or key in RUNTIME_META or key.startswith("_"):
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            logger.debug("meta key %r dropped: not JSON (%s)", key, type(value).__name__)
            continue
        out[key] = value
    return out


def _method_name(spider: Spider, func: Any) -> str | None:
    if func is None or isinstance(func, str):
        return func
    name = getattr(func, "__name__", None)
    if name and getattr(spider, name, None) == func:
        return name
    raise ValueError(f"callback {func!r} is not a method of spider {spider.name}: it cannot be queued")


def request_to_json(request: Request, spider: Spider) -> dict:
    """The frontier's JSON dict of a Scrapy Request (callback/errback kept by name)."""
    try:
        body = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{request.url}: binary request bodies are not supported by the frontier") from None
    headers = {k.decode("latin-1"): b", ".join(v).decode("latin-1") for k, v in request.headers.items()}
    out: dict[str, Any] = {"url": request.url, "method": request.method, "headers": headers,
                           "body": body, "meta": jsonable_meta(request.meta)}
    for attr in ("callback", "errback"):
        name = _method_name(spider, getattr(request, attr))
        if name:
            out[attr] = name
    if request.cb_kwargs:
        json.dumps(request.cb_kwargs)   # TypeError early: cb_kwargs must be JSON too
        out["cb_kwargs"] = dict(request.cb_kwargs)
    return out


def request_from_lease(lease: Lease, spider: Spider) -> Request:
    """A Scrapy Request for a lease; meta carries run_id and the lease (id, run_id, host, attempt)."""
    data = lease.request
    meta = {**data.get("meta", {}), "run_id": lease.run_id, "lease": lease.as_meta()}
    callback = getattr(spider, data["callback"]) if data.get("callback") else None
    # A request queued as plain JSON (by the spider itself) gets the spider's own errback, if it has one.
    errback = getattr(spider, data.get("errback") or "errback", None)
    return Request(url=data["url"], method=data["method"], headers=data.get("headers") or None,
                   body=data.get("body") or None, meta=meta, cb_kwargs=data.get("cb_kwargs") or None,
                   callback=callback, errback=errback, dont_filter=True)


def original_request(request: Request) -> dict:
    """The frontier's JSON request as it was leased, without per-process runtime keys."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if request.method == "POST" else {}
    return {"url": request.url, "method": request.method, "headers": headers,
            "body": request.body.decode("utf-8", errors="replace"), "meta": jsonable_meta(request.meta)}


class LeasedQueue:
    """A scrapy-redis queue that leases requests from the shared Frontier instead of popping them."""

    def __init__(self, server, spider: Spider, key: str, serializer: Any = None):
        settings = spider.settings
        self.server = server
        self.spider = spider
        self.key = key  # unused: the frontier has its own keys under NUGO_REDIS_PREFIX
        self.frontier = Frontier(server, prefix=settings.get("NUGO_REDIS_PREFIX") or KEY_PREFIX,
                                 lease_seconds=settings.getfloat("NUGO_LEASE_SECONDS", LEASE_SECONDS))
        self.worker = worker_name(spider.name)

    def __len__(self) -> int:
        try:
            return self.frontier.queued()
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as exc:
            self._redis_down(exc)
            return 0

    def push(self, request: Request) -> bool:
        """Queue a request of the run named in request.meta["run_id"] (dont_filter -> no dedup)."""
        run_id = request.meta.get("run_id")
        if not run_id:
            raise ValueError(f"{request.url}: request.meta has no run_id; the frontier queues requests of a run")
        delay = float(request.meta.get("nugo_delay") or 0.0)
        return self.frontier.push(run_id, request_to_json(request, self.spider),
                                  dedup=not request.dont_filter, delay=delay)

    def pop(self, timeout: float = 0) -> Request | None:
        """Lease the next ready request; with timeout > 0 wait for one up to timeout seconds."""
        deadline = time.monotonic() + max(0.0, timeout or 0.0)
        while not getattr(self.spider, "stopping", False):
            try:
                lease = self.frontier.lease(self.worker)
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as exc:
                self._redis_down(exc)
                return None
            if lease is not None:
                try:
                    request = request_from_lease(lease, self.spider)
                except (ValueError, TypeError, AttributeError) as exc:
                    logger.error("lease %s cannot become a Request (%s): moved to poison", lease.id, exc)
                    self.frontier.reject(lease, f"not a valid Scrapy request: {exc}")
                    continue
                keeper = getattr(self.spider, "lease_keeper", None)
                if keeper is not None:  # renewed by the worker's heartbeat until the spider is done with it
                    keeper.hold(lease.id)
                return request
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            hint = self.frontier.wait_hint()
            time.sleep(min(left, 0.5 if hint is None else max(hint, 0.01)))
        return None

    def _redis_down(self, exc: Exception) -> None:
        """Redis restarting or unreachable: wait it out; leases in flight come back when they expire."""
        now = time.monotonic()
        if now - getattr(self, "_last_down_log", 0.0) > 10:
            logger.warning("Redis unreachable (%s): waiting for it to come back", exc)
            self._last_down_log = now

    def clear(self) -> None:
        """Never clears: the frontier is shared by every worker (scrapy-redis #149)."""
        logger.info("LeasedQueue.clear() ignored: the shared frontier is not flushed by one worker closing")


class NoDupeFilter(BaseDupeFilter):
    """DUPEFILTER_CLASS for scrapy-redis's Scheduler: dedup is per run inside Frontier.push."""

    @classmethod
    def from_spider(cls, spider: Spider) -> "NoDupeFilter":
        return cls()

    @classmethod
    def from_settings(cls, settings: Any) -> "NoDupeFilter":
        return cls()

    @classmethod
    def from_crawler(cls, crawler: Any) -> "NoDupeFilter":
        return cls()

    def request_seen(self, request: Request) -> bool:
        return False

    def clear(self) -> None:
        """Nothing to clear (the per-run seen sets live and die with their runs)."""

    def log(self, request: Request, spider: Spider) -> None:
        """Never called: nothing is filtered here."""
