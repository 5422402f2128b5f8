"""The shared crawl frontier in Redis: runs, leased per-host queues, politeness, items."""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import redis
from w3lib.url import canonicalize_url

from conf.keys import Keys
from conf.defaults import KEY_PREFIX, LEASE_SECONDS
from crawlers.frontier_lua import SCRIPTS

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL = 1.0   # seconds between two requests to one host, cluster-wide
RUNS_KEPT = 50           # runs remembered per site (older run keys are deleted)
RUNS_DETAILED = 5        # of those, the newest keep their error list and site copy
ERRORS_KEPT = 100        # last errors kept per run
REAP_LIMIT = 100         # expired leases requeued per lease() call
RESERVED_STATS = {"pending", "status", "run_id", "site", "kind", "started_at", "ended_at", "reason"}
TEXT_FIELDS = {"run_id", "site", "kind", "status", "reason"}


class UnknownRun(LookupError):
    """A run id that has no run hash in Redis."""


@dataclass
class Lease:
    """One request handed to one worker until it acks, extends, or the lease expires."""

    id: str
    run_id: str
    host: str
    request: dict
    attempt: int
    leased_at: float = 0.0   # Redis TIME of the grant
    deadline: float = 0.0    # Redis TIME after which reap() requeues it
    worker: str = field(default="", repr=False)

    def as_meta(self) -> dict:
        """The JSON-able part a Scrapy request carries in meta["lease"]."""
        return {"id": self.id, "run_id": self.run_id, "host": self.host, "attempt": self.attempt}


def fingerprint(request: dict) -> str:
    """sha1 of method, canonical URL and body: the per-run dedup key."""
    data = f"{request['method']} {canonicalize_url(request['url'])} ".encode() + request["body"].encode()
    return hashlib.sha1(data).hexdigest()


def normalize_request(request: dict) -> dict:
    """Validate a request dict and fill defaults (method GET, no headers, empty body/meta)."""
    url = request.get("url")
    if not isinstance(url, str) or not urlsplit(url).netloc:
        raise ValueError(f"request needs an absolute url: {request!r}")
    out = dict(request)
    out["method"] = str(request.get("method") or "GET").upper()
    out["headers"] = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
    body = request.get("body") or ""
    if not isinstance(body, str):
        raise ValueError("request body must be text (decode it first)")
    out["body"] = body
    out["meta"] = dict(request.get("meta") or {})
    return out


def _s(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _number(value: str) -> int | float | str:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def _stat_args(stats: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for name, value in stats.items():
        if name in RESERVED_STATS:
            raise ValueError(f"{name!r} is not a counter")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"stat {name!r} must be a number, got {value!r}")
        args += [name, "f" if isinstance(value, float) else "i", repr(value)]
    return args


def _bytes_client(client: redis.Redis) -> redis.Redis:
    """The same server through a client that returns bytes (poison payloads are not UTF-8)."""
    pool = client.connection_pool
    kwargs = dict(getattr(pool, "connection_kwargs", {}))
    if not kwargs.get("decode_responses"):
        return client
    kwargs["decode_responses"] = False
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))


class Frontier:
    """Runs, leased per-host request queues with cluster-wide politeness, and the item stream."""

    def __init__(self, client: redis.Redis, prefix: str = KEY_PREFIX, lease_seconds: float = LEASE_SECONDS,
                 *, max_attempts: int = 5, default_interval: float = DEFAULT_INTERVAL):
        self.client = _bytes_client(client)
        self.prefix = prefix
        self.keys = Keys(prefix)
        self.lease_seconds = float(lease_seconds)
        self.max_attempts = int(max_attempts)
        self.default_interval = float(default_interval)
        self._scripts = {name: self.client.register_script(src) for name, src in SCRIPTS.items()}
        self._sites: dict[str, dict] = {}

    def _call(self, name: str, *args: Any) -> Any:
        return self._scripts[name](args=[self.prefix, *args])

    # runs ------------------------------------------------------------------------------
    def start_run(self, site_id: str, site: dict, *, kind: str, run_id: str | None = None, slot: str = "") -> str:
        """Create a running run of a site, or return the site's run already active (or `run_id` itself when a
        run of that id was created before: starting is idempotent)."""
        run_id = run_id or f"{site_id}-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
        created, rid = self._call("start_run", site_id, run_id, kind, json.dumps(site, ensure_ascii=False), RUNS_KEPT,
                                  RUNS_DETAILED, slot)
        rid = _s(rid)
        if created:
            self._sites[rid] = site
            logger.info("run %s of %s started (%s)", rid, site_id, kind)
        else:
            logger.info("site %s already has an active run %s: not starting another", site_id, rid)
        return rid

    def run(self, run_id: str) -> dict | None:
        """The run hash, numbers decoded; None for an unknown run."""
        raw = self.client.hgetall(self.keys.run(run_id))
        if not raw:
            return None
        out: dict[str, Any] = {}
        for k, v in raw.items():
            name, text = _s(k), _s(v)
            out[name] = text if name in TEXT_FIELDS else _number(text)
        return out

    def run_site(self, run_id: str) -> dict:
        """The site definition stored with the run (cached in-process)."""
        if run_id not in self._sites:
            raw = self.client.get(self.keys.run_site(run_id))
            if raw is None:
                raise UnknownRun(run_id)
            self._sites[run_id] = json.loads(raw)
        return self._sites[run_id]

    def active_runs(self) -> list[str]:
        """Ids of the runs still running (at most one per site)."""
        return sorted(_s(v) for v in self.client.hvals(self.keys.active))

    def latest_runs(self, site_id: str, n: int = 5) -> list[dict]:
        """The site's last n runs, newest first."""
        ids = [_s(r) for r in self.client.lrange(self.keys.site_runs(site_id), 0, n - 1)]
        return [r for r in (self.run(rid) for rid in ids) if r]

    def add_stats(self, run_id: str, **increments: int | float) -> None:
        """Add to the run's counters (pages, items, errors, bytes, retries, or any other)."""
        if increments and not self._call("add_stats", run_id, *_stat_args(increments)):
            logger.warning("stats for unknown run %s dropped: %s", run_id, increments)

    def note_error(self, run_id: str, url: str, reason: str) -> None:
        """Count an error of the run and keep it among the run's last errors."""
        if not self._call("note_error", run_id, url, reason, ERRORS_KEPT):
            logger.warning("error for unknown run %s dropped: %s %s", run_id, url, reason)

    def run_errors(self, run_id: str, n: int = ERRORS_KEPT) -> list[dict]:
        """The run's last errors, newest first."""
        return [json.loads(e) for e in self.client.lrange(self.keys.run_errors(run_id), 0, n - 1)]

    def cancel_run(self, run_id: str, reason: str, status: str = "failed") -> int:
        """End a running run (failed, or cancelled by an operator) and drop its queued requests; returns how
        many were dropped. Its leases in flight are acknowledged as no-ops when they come back."""
        if status not in ("failed", "cancelled"):
            raise ValueError(f"a run ends failed or cancelled, not {status!r}")
        if self._call("cancel", run_id, reason, status):
            logger.warning("run %s %s: %s", run_id, status, reason)
        dropped = 0
        for host in self.client.zrange(self.keys.ready, 0, -1):
            dropped += int(self._call("purge_host", _s(host), run_id))
        return dropped

    # requests --------------------------------------------------------------------------
    def push(self, run_id: str, request: dict, *, host: str | None = None, dedup: bool = True,
             delay: float = 0.0) -> bool:
        """Queue a request of a run (ready after `delay` s); False when deduped or the run is over."""
        req = normalize_request(request)
        host = host or urlsplit(req["url"]).netloc
        entry = json.dumps({"qid": uuid.uuid4().hex, "run_id": run_id, "host": host, "request": req},
                           ensure_ascii=False, separators=(",", ":"))
        res = int(self._call("push", run_id, host, fingerprint(req), "1" if dedup else "0", entry, repr(float(delay))))
        if res == -1:
            raise UnknownRun(run_id)
        if res == -2:
            logger.debug("run %s is over: %s not queued", run_id, req["url"])
        return res == 1

    def set_interval(self, host: str, seconds: float) -> None:
        """Politeness interval of a host for every worker of the cluster."""
        self.client.hset(self.keys.intervals, host, repr(float(seconds)))

    def interval(self, host: str) -> float:
        """The politeness interval in force for a host."""
        raw = self.client.hget(self.keys.intervals, host)
        return float(raw) if raw is not None else self.default_interval

    def lease(self, worker: str) -> Lease | None:
        """Lease the oldest ready request of the host waiting longest, or None when none is ready."""
        for _ in range(10):
            lid, entry, attempt, now, deadline, host, poisoned, reaped = self._call(
                "lease", worker, repr(self.lease_seconds), repr(self.default_interval), REAP_LIMIT, self.max_attempts)
            if reaped:
                logger.info("requeued %d expired leases", reaped)
            for phost, reason in poisoned:
                logger.error("poison payload in the queue of %s moved to %s: %s", _s(phost), self.keys.poison, _s(reason))
            if not lid:
                if not poisoned:
                    return None
                continue
            lid = _s(lid)
            try:
                obj = json.loads(entry)
                request = normalize_request(obj["request"])
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                logger.error("leased entry %s is not a valid request (%s): moved to %s", lid, exc, self.keys.poison)
                self._call("reject", lid, f"invalid request: {exc}")
                continue
            return Lease(id=lid, run_id=obj["run_id"], host=_s(host), request=request, attempt=int(attempt),
                         leased_at=float(now), deadline=float(deadline), worker=worker)
        return None

    def wait_hint(self) -> float | None:
        """Seconds until the next host becomes ready; None when nothing is queued at all."""
        res = self._call("wait_hint")
        return None if res is None else float(res)

    def ack(self, lease: Lease | str | dict, **stats: int | float) -> bool:
        """Finish a lease and add its stats; False (and nothing counted) when it expired or was acked."""
        return bool(self._call("ack", _lease_id(lease), *_stat_args(stats)))

    def reject(self, lease: Lease | str | dict, reason: str) -> bool:
        """Move a leased request to the poison list (counted as an error and as done)."""
        return bool(self._call("reject", _lease_id(lease), reason))

    def extend(self, lease: Lease | str | dict, seconds: float | None = None) -> bool:
        """Push a live lease's deadline to now + seconds (default lease_seconds)."""
        return not self._call("extend", repr(float(seconds or self.lease_seconds)), "", _lease_id(lease))

    def renew(self, worker: str, lease_ids: list[str], seconds: float | None = None) -> set[str]:
        """A worker's heartbeat: push the deadline of each of its leases to now + seconds (default lease_seconds),
        in one call; returns the ids it no longer holds (acked, released, or reaped after a stall)."""
        if not lease_ids:
            return set()
        lost = self._call("extend", repr(float(seconds or self.lease_seconds)), worker, *lease_ids)
        return {_s(lid) for lid in lost}

    def release_worker(self, worker: str) -> int:
        """Put every lease `worker` holds back at the front of its host queue, now (a clean stop);
        returns how many. A late ack of a released lease is a no-op."""
        n = int(self._call("release_worker", worker))
        if n:
            logger.info("returned %d lease(s) of %s to the queue", n, worker)
        return n

    def reap(self) -> int:
        """Requeue expired leases at the front of their host queue; returns how many were handled."""
        total = 0
        while True:
            n = int(self._call("reap", REAP_LIMIT, self.max_attempts))
            total += n
            if n < REAP_LIMIT:
                return total

    def pending(self, run_id: str) -> int:
        """Requests of the run pushed and not yet acked."""
        return int(self.client.hget(self.keys.run(run_id), "pending") or 0)

    def queued(self) -> int:
        """Requests waiting in all host queues (delayed ones included)."""
        return int(self._call("queued"))

    def in_flight(self) -> int:
        """Requests leased and not yet acked or reaped."""
        return int(self.client.hlen(self.keys.inflight))

    def poison(self) -> list[dict]:
        """What was moved aside, newest first: reason, host, at, payload (bytes, never loaded), preview."""
        out = []
        for raw in self.client.lrange(self.keys.poison, 0, -1):
            head, _, payload = raw.partition(b"\n")
            record = json.loads(head)
            record["payload"] = payload
            record["preview"] = payload[:200].decode("utf-8", errors="backslashreplace")
            out.append(record)
        return out

    def poisoned_count(self) -> int:
        """How many payloads were ever moved to poison."""
        return int(self.client.hget(self.keys.counters, "poisoned") or 0)

    # items -----------------------------------------------------------------------------
    def emit(self, run_id: str, items: list[dict]) -> int:
        """Append items to the shared items stream and count them in the run; returns how many were appended.
        While the run is running, an item identical to one it already appended is not appended again
        (counted as `items_repeated`): a page fetched twice, after a lost lease, adds nothing twice."""
        args: list[str] = []
        for item in items:
            text = json.dumps(item, ensure_ascii=False)
            args += [str(item.get("type", "")), hashlib.blake2b(text.encode(), digest_size=10).hexdigest(), text]
        return int(self._call("emit", run_id, *args)) if args else 0


def _lease_id(lease: Lease | str | dict) -> str:
    if isinstance(lease, Lease):
        return lease.id
    if isinstance(lease, dict):
        return str(lease["id"])
    return str(lease)
