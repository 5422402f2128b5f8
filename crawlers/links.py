"""Which URLs a site's crawl may fetch: http(s) on the site's own hosts, never private addresses.

A page is hostile input: it may link to `file://`, to the cluster's own web service or Redis, to a
router's admin page or to a cloud metadata address. A URL is followed only when its scheme is
http or https, its host (with port) is the site's `base_url` host or one of its `allowed_hosts`,
and the addresses the host resolves to are public — unless the site file sets
`allow_private_addresses: true` (the site farm, an intranet site). The cluster's own hosts
(its Redis, its web service) are refused even then.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from urllib.parse import urlsplit

from conf.urls import netloc

logger = logging.getLogger(__name__)

RESOLVE_TTL = 300.0  # seconds a host's addresses are trusted before they are resolved again


def _addresses(host: str) -> list[ipaddress._BaseAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    out = []
    for info in infos:
        try:
            out.append(ipaddress.ip_address(info[4][0].split("%", 1)[0]))
        except ValueError:
            continue
    return out


def is_private(address: ipaddress._BaseAddress) -> bool:
    """Loopback, link-local, private (RFC 1918, ULA), reserved, multicast, unspecified or benchmarking."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (address.is_loopback or address.is_link_local or address.is_private or address.is_reserved
            or address.is_multicast or address.is_unspecified or not address.is_global)


class _Resolver:
    """A small per-process cache of host -> addresses (threads parse pages concurrently)."""

    def __init__(self, ttl: float = RESOLVE_TTL):
        self.ttl = ttl
        self._cache: dict[str, tuple[float, list]] = {}
        self._lock = threading.Lock()

    def __call__(self, host: str) -> list:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(host)
            if hit and now - hit[0] < self.ttl:
                return hit[1]
        found = _addresses(host)
        with self._lock:
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[host] = (now, found)
        return found


RESOLVE = _Resolver()


class LinkPolicy:
    """The fetch rule of one site (built from its spec) in one cluster (its own hosts refused)."""

    def __init__(self, spec: dict, own_hosts: set[str] | frozenset[str] = frozenset(), resolve=RESOLVE):
        self.hosts = {netloc(spec["base_url"])} | {h.lower() for h in spec.get("allowed_hosts") or ()}
        self.allow_private = bool(spec.get("allow_private_addresses"))
        self.own_hosts = {h.lower() for h in own_hosts}
        self.resolve = resolve

    def refusal(self, url: str) -> str | None:
        """Why `url` must not be fetched, or None when it may."""
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            host = netloc(url)
        except ValueError as exc:
            return f"not a URL ({exc})"
        if scheme not in ("http", "https"):
            return f"scheme {scheme or '(none)'}: only http and https are followed"
        if host not in self.hosts:
            return f"host {host} is not one of the site's hosts ({', '.join(sorted(self.hosts))})"
        name = (parts.hostname or "").lower()
        if host in self.own_hosts:
            return f"host {host} is the cluster's own service"
        if not self.allow_private:
            addresses = self.resolve(name)
            if not addresses:
                return None  # unresolvable: the download fails with a DNS error, retried like any other
            private = [str(a) for a in addresses if is_private(a)]
            if private:
                return (f"host {host} resolves to a private address ({private[0]}); set allow_private_addresses "
                        "in the site file if this is intended")
        return None


def own_hosts(cluster) -> set[str]:
    """host:port of the cluster's own services (its Redis, its web service)."""
    out: set[str] = set()
    for url in (cluster.redis_url, (cluster.web or {}).get("base_url")):
        if url and urlsplit(url).hostname:
            out.add(netloc(url if "://" in url else f"http://{url}"))
    web = cluster.web or {}
    if web.get("host") and web.get("host") not in ("0.0.0.0", "::"):
        out.add(f"{str(web['host']).lower()}:{web.get('port')}")
    return out


class LinkPolicyMiddleware:
    """Downloader middleware: a request the site's policy refuses is never sent (IgnoreRequest; the spider's
    errback acknowledges it as refused)."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request, spider=None):
        from scrapy.exceptions import IgnoreRequest

        spider = self.crawler.spider
        run_id = request.meta.get("run_id")
        if run_id is None or not hasattr(spider, "policy_for"):
            return None
        reason = spider.policy_for(run_id).refusal(request.url)
        if reason:
            raise IgnoreRequest(f"link refused: {reason}")
        return None
