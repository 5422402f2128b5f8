"""The one generic spider: leases requests from the Redis frontier and handles them by the site's YAML."""
from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import urljoin

import redis
import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import task, threads

from conf.connection import connect, is_transient
from conf.keys import Keys
from conf.loader import Site
from conf.defaults import KEY_PREFIX, LEASE_SECONDS
from crawlers.encoding import decode_page
from crawlers.extract import make_request, parse_detail, parse_list, post_record
from crawlers.frontier import Frontier, fingerprint
from crawlers.lease_keeper import LeaseKeeper
from crawlers.retry_after import retry_after_seconds
from crawlers.links import LinkPolicy
from crawlers.politeness import SendGate, slot_seconds
from crawlers.queue import SPIDER_NAME, original_request, worker_name
from crawlers.robots import RobotsCache

logger = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504, 520, 522, 524}
MAX_REDIRECTS = 5
RETRY_AFTER_CAP = 300.0  # seconds: a longer Retry-After (429/503) is capped to this
LISTS_TTL = 2 * 86400    # run:{run_id}:lists outlives any run


def collected_key(prefix: str, site_id: str) -> str:
    """Detail pages already collected for a board: recrawls skip them."""
    return Keys(prefix).collected(site_id)


def validators_key(prefix: str, site_id: str) -> str:
    """ETag / Last-Modified of list pages, for conditional GET on recrawls."""
    return Keys(prefix).validators(site_id)


class FrontierSpider(scrapy.Spider):
    """Fetches whatever the frontier leases, for any site, and acknowledges it when done."""

    name = SPIDER_NAME

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stopping = False
        self._sites: dict[str, Site] = {}
        self._noted: set[tuple[str, str]] = set()

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.client = connect(settings["REDIS_URL"], ping=False)  # timeouts and keepalive of every cluster client
        spider.prefix = settings.get("NUGO_REDIS_PREFIX", KEY_PREFIX)
        lease_seconds = settings.getfloat("NUGO_LEASE_SECONDS", LEASE_SECONDS)
        spider.frontier = Frontier(spider.client, spider.prefix, lease_seconds)
        spider.retries = settings.getint("NUGO_RETRIES", 3)
        spider.exit_when_idle = settings.getbool("NUGO_EXIT_WHEN_IDLE", False)
        spider.send_gate = SendGate(spider.client, spider.prefix, spider.frontier,
                                    slot_seconds=slot_seconds(settings.getfloat("DOWNLOAD_TIMEOUT", 30), lease_seconds))
        spider.lease_keeper = LeaseKeeper(spider.frontier, spider.send_gate, worker_name(spider.name),
                                          lease_seconds=lease_seconds,
                                          renew_seconds=settings.getfloat("NUGO_LEASE_RENEW_SECONDS", 0) or None,
                                          max_hold_seconds=settings.getfloat("DOWNLOAD_TIMEOUT", 30) + 10 * lease_seconds)
        spider.robots = RobotsCache(spider.client, spider.prefix, settings.get("USER_AGENT", "nugo"))
        spider.own_hosts = frozenset(settings.getlist("NUGO_OWN_HOSTS"))
        spider._policies: dict[str, LinkPolicy] = {}
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        crawler.signals.connect(spider._opened, signal=signals.spider_opened)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        return spider

    async def start(self):
        """No start requests: work comes from the frontier."""
        return
        yield  # pragma: no cover

    # --- engine wake-up: the frontier knows when the next host becomes ready ---------------

    def _opened(self, spider):
        self._waker = task.LoopingCall(self._wake)
        self._waker.start(0.05, now=False)
        self.lease_keeper.start()

    def _closed(self, spider, reason):
        if getattr(self, "_waker", None) and self._waker.running:
            self._waker.stop()
        self.lease_keeper.stop()

    def _wake(self):
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None:
            slot.nextcall.schedule()

    def stop_now(self) -> int:
        """A clean stop: every lease this worker holds goes back to the queue and every send slot is freed,
        at once (the requests in flight are fetched again by another worker). Returns the leases returned."""
        self.stopping = True  # the queue leases nothing more for this worker
        self.lease_keeper.stop()
        try:
            returned = self.frontier.release_worker(worker_name(self.name))
            self.send_gate.release_all()
        except redis.RedisError as exc:  # Redis down: the leases come back when they expire
            logger.warning("could not return leases (%s); they come back after lease_seconds", exc)
            return 0
        logger.warning("작업자 종료: 작업 %d건을 큐에 돌려놓음 / stopping: %d lease(s) returned to the queue", returned, returned)
        return returned

    def _idle(self, spider):
        try:
            if self.exit_when_idle and self.frontier.queued() == 0 and self.frontier.in_flight() == 0:
                return  # let the spider close
        except redis.RedisError as exc:
            logger.warning("Redis unreachable while idle: %s", exc)
        raise DontCloseSpider

    # --- helpers ------------------------------------------------------------------------------

    def site_for(self, run_id: str) -> Site:
        site = self._sites.get(run_id)
        if site is None:
            site = Site.from_json(self.frontier.run_site(run_id))
            if len(self._sites) > 256:
                self._sites.clear()
            self._sites[run_id] = site
        return site

    def policy_for(self, run_id: str) -> LinkPolicy:
        policy = self._policies.get(run_id)
        if policy is None:
            if len(self._policies) > 256:
                self._policies.clear()
            policy = self._policies[run_id] = LinkPolicy(self.site_for(run_id).spec, self.own_hosts)
        return policy

    def refused(self, run_id: str, url: str) -> bool:
        """Whether the site's link policy refuses `url` (counted; private and own hosts are also noted)."""
        reason = self.policy_for(run_id).refusal(url)
        if reason is None:
            return False
        self.frontier.add_stats(run_id, links_refused=1)
        if "private" in reason or "own service" in reason:
            self.frontier.note_error(run_id, url[:300], f"link refused: {reason}")
        else:
            logger.debug("link refused (%s): %s", reason, url)
        return True

    @staticmethod
    def lease_of(meta: dict) -> dict:
        return meta["lease"]

    def push(self, run_id: str, site: Site, request: dict, *, dedup: bool = True, delay: float = 0.0) -> bool:
        """Queue a follow-up request, within the site's robots, depth and page limits."""
        meta = request["meta"]
        if self.refused(run_id, request["url"]):
            return False
        if meta.get("depth", 0) > site["max_depth"]:
            self.frontier.add_stats(run_id, depth_capped=1)
            if (run_id, "depth") not in self._noted:  # once per run and worker: most such links were seen already
                self._noted.add((run_id, "depth"))
                self.bound_hit(run_id, request["url"], f"max_depth {site['max_depth']} reached; not followed")
            return False
        if dedup and not self.robots.allowed(request["url"]):
            self.frontier.add_stats(run_id, robots_skipped=1)  # a rule followed, not an error
            return False
        run = self.frontier.run(run_id) or {}
        if dedup and int(run.get("pushed", 0)) >= site["max_pages"]:
            if not run.get("capped"):
                self.frontier.add_stats(run_id, capped=1)
                self.bound_hit(run_id, request["url"], f"max_pages {site['max_pages']} reached; the crawl stopped growing")
            return False
        pushed = self.frontier.push(run_id, request, dedup=dedup, delay=delay)
        if pushed and dedup:
            self.frontier.add_stats(run_id, pushed=1)
        return pushed

    def bound_hit(self, run_id: str, url: str, what: str) -> None:
        """A crawl bound stopped the run from growing: an error of the run (a directory run is then refused)."""
        self.frontier.add_stats(run_id, bounds_hit=1)
        self.frontier.note_error(run_id, url, f"crawl bound: {what}")

    def child(self, request: dict, parent_meta: dict) -> dict:
        """Carry the run's bookkeeping into a follow-up request."""
        request["meta"] = {**request["meta"], "run_id": parent_meta["run_id"]}
        return request

    def retry_or_fail(self, meta: dict, request: dict, reason: str, delay: float | None = None) -> None:
        run_id = meta["run_id"]
        attempt = meta.get("retry", 0) + 1
        site = self.site_for(run_id)
        if attempt <= self.retries:
            again = {**request, "meta": {**request["meta"], "retry": attempt}}
            backoff = min(60.0, 0.5 * 2 ** (attempt - 1))
            self.frontier.push(run_id, again, dedup=False, delay=backoff if delay is None else max(delay, backoff))
            self.frontier.ack(self.lease_of(meta)["id"], retries=1)
            logger.info("retry %d/%d of %s (%s)", attempt, self.retries, request["url"], reason)
        else:
            self.frontier.note_error(run_id, request["url"], f"{reason} (after {self.retries} retries)")
            # gave_up: the site's data may be incomplete; the indexer will not let such a directory run replace the last one
            self.frontier.ack(self.lease_of(meta)["id"], failed=1, gave_up=1)
            logger.warning("giving up on %s [%s]: %s", request["url"], site.id, reason)

    # --- callbacks ----------------------------------------------------------------------------

    async def parse(self, response, **kwargs: Any):
        """Process the response in a thread: parsing never blocks the reactor, so sends stay on time."""
        await maybe_deferred_to_future(threads.deferToThread(self.process_response, response))
        return
        yield  # pragma: no cover - an async generator that yields nothing: work leaves through Redis

    def process_response(self, response) -> None:
        try:
            self._process_response(response)
        finally:  # acknowledged, or left to expire: either way this worker no longer renews it
            self.lease_keeper.let_go(self.lease_of(response.meta)["id"])

    def _process_response(self, response) -> None:
        meta = response.meta
        run_id = meta["run_id"]
        request = original_request(response.request)
        lease_id = self.lease_of(meta)["id"]
        try:
            site = self.site_for(run_id)
            status = response.status
            if status in (301, 302, 303, 307, 308):
                self.follow_redirect(site, meta, request, response)
                return
            if status == 304:
                self.replay_unchanged(site, request)
                self.frontier.ack(lease_id, pages=1, not_modified=1)
                return
            if status in RETRY_STATUSES:
                wait = retry_after_seconds(response.headers.get("Retry-After"), RETRY_AFTER_CAP) \
                    if status in (429, 503) else None
                if wait is not None:
                    self.send_gate.hold(meta["lease"]["host"], wait)
                self.retry_or_fail(meta, request, f"HTTP {status}", delay=wait)
                return
            if status >= 400:
                self.frontier.note_error(run_id, request["url"], f"HTTP {status}")
                self.frontier.ack(lease_id, failed=1)
                return
            text, _ = decode_page(response.body, response.headers.get("Content-Type", b"").decode("latin-1"), site["encoding"])
            role = request["meta"].get("role", "list")
            items = self.handle_list(site, request, text, response) if role == "list" else self.handle_detail(site, request, text)
            for item in items:
                item["run_id"] = run_id
            if items:
                self.frontier.emit(run_id, items)
            self.frontier.ack(lease_id, pages=1, bytes=len(response.body))
        except Exception as exc:  # one broken page must never stop the worker
            if is_transient(exc):
                # Redis down, loading, or full (noeviction: "OOM command not allowed"): nothing is acknowledged,
                # so the lease comes back and the page is fetched again once Redis takes writes again
                self._redis_refused(exc, response.url)
                return
            logger.exception("failed to process %s", response.url)
            try:
                self.frontier.note_error(run_id, response.url, f"processing error: {type(exc).__name__}: {exc}")
                self.frontier.ack(lease_id, failed=1)
            except Exception as again:  # noqa: BLE001
                self._redis_refused(again, response.url)

    def _redis_refused(self, exc: Exception, url: str) -> None:
        now = time.monotonic()
        if now - getattr(self, "_refused_logged", 0.0) > 10:
            self._refused_logged = now
            logger.warning("Redis가 쓰기를 거부함 (%s): %s 는 다시 가져옵니다 / Redis refused a write (%s); %s will be "
                           "fetched again when its lease expires", exc, url, exc, url)

    def handle_list(self, site: Site, request: dict, text: str, response) -> list[dict]:
        run_id = request["meta"]["run_id"]
        result = parse_list(site, request, text)
        for problem in result.problems[:5]:
            self.frontier.note_error(run_id, request["url"], problem)
        stats = {"list_rows": result.row_count}
        if result.list_key and not self.first_setup(run_id, result.list_key, request):
            result.lists = [r for r in result.lists if r["meta"].get("list_key") != result.list_key]
            stats["pagination_repeats"] = 1  # the list was reached another way too: paginated once
        if site["kind"] == "board":
            self.remember_validators(site, request, response, result)
        self.queue_children(site, request, result.details, result.lists)
        if result.skipped_links:
            stats["links_skipped"] = result.skipped_links
        if result.denied_links:
            stats["links_denied"] = result.denied_links
        had_rows = self.had_rows_before(site, request, result)
        empty = result.row_count == 0 and not result.list_end and (
            not result.last_page or had_rows or (request["meta"].get("depth", 0) == 0 and not result.lists))
        if empty:  # a page before the last one, a page that had rows before, or a start page leading nowhere
            # (the empty page that ends an `until_empty` list keeps the start page's depth, and is no problem)
            stats["empty_lists"] = 1
            self.frontier.note_error(run_id, request["url"], "no rows matched the site's selectors (layout changed?)")
        self.frontier.add_stats(run_id, **stats)
        for bound in result.bounds:
            self.bound_hit(run_id, request["url"], bound)
        return result.records

    def first_setup(self, run_id: str, key: str, request: dict) -> bool:
        """Whether this page is the one that sets up its list's pagination in this run (the first to ask,
        or the same page again after a lost lease); a list reached another way is not paginated twice."""
        lists = Keys(self.prefix).run_lists(run_id)
        page = fingerprint(request)
        if self.client.hsetnx(lists, key, page):
            self.client.expire(lists, LISTS_TTL)
            return True
        owner = self.client.hget(lists, key)
        return (owner.decode() if isinstance(owner, bytes) else owner) == page

    def had_rows_before(self, site: Site, request: dict, result) -> bool:
        """Remember the list pages that have rows; True when this page had rows in an earlier run and has none now
        (the end of an `until_empty` list excepted)."""
        key = Keys(self.prefix).list_rows(site.id)
        page = fingerprint(request)
        if result.row_count:
            self.client.hsetnx(key, page, 1)
            return False
        return not result.list_end and bool(self.client.hexists(key, page))

    def queue_children(self, site: Site, request: dict, details: list, lists: list) -> None:
        run_id = request["meta"]["run_id"]
        collected = collected_key(self.prefix, site.id)
        for detail, values in details:
            if self.client.sismember(collected, detail["url"]):
                continue  # collected by an earlier run
            detail["meta"]["list_values"] = values
            self.push(run_id, site, self.child(detail, request["meta"]))
        for follow in lists:
            self.push(run_id, site, self.child(follow, request["meta"]))

    def replay_unchanged(self, site: Site, request: dict) -> None:
        """A 304: the page is as last time; queue what it linked to that is still missing."""
        raw = self.client.hget(validators_key(self.prefix, site.id), request["url"])
        if raw:
            cached = json.loads(raw)
            self.queue_children(site, request, cached.get("details", []), cached.get("lists", []))

    def handle_detail(self, site: Site, request: dict, text: str) -> list[dict]:
        values = parse_detail(site, text, request["url"])
        record = post_record(site.spec, request["url"], request["meta"].get("list_values") or {}, values, site.id)
        self.client.sadd(collected_key(self.prefix, site.id), request["url"])
        return [record]

    def follow_redirect(self, site: Site, meta: dict, request: dict, response) -> None:
        run_id = meta["run_id"]
        location = response.headers.get("Location", b"").decode("latin-1")
        hops = request["meta"].get("redirects", 0) + 1
        if not location or hops > MAX_REDIRECTS:
            self.frontier.note_error(run_id, request["url"], "redirect loop or too many redirects" if location else "redirect without Location")
            self.frontier.ack(self.lease_of(meta)["id"], failed=1)
            return
        target = make_request(urljoin(request["url"], location), **{**request["meta"], "redirects": hops})
        if not self.push(run_id, site, target):
            self.frontier.note_error(run_id, request["url"], f"redirect loop: {target['url']} was already visited in this run")
        self.frontier.ack(self.lease_of(meta)["id"], pages=1)

    def remember_validators(self, site: Site, request: dict, response, result) -> None:
        """Keep the page's validators and what it linked to, so a later 304 can be replayed."""
        etag = response.headers.get("ETag")
        modified = response.headers.get("Last-Modified")
        if request["method"] == "GET" and (etag or modified):
                self.client.hset(validators_key(self.prefix, site.id), request["url"], json.dumps({
                "etag": etag.decode("latin-1") if etag else None,
                "last_modified": modified.decode("latin-1") if modified else None,
                "details": result.details, "lists": result.lists}, ensure_ascii=False))

    def errback(self, failure):
        request = failure.request if hasattr(failure, "request") else None
        if request is None or "lease" not in request.meta:
            logger.error("failure without a lease: %s", failure)
            return
        try:
            self._failed(failure, request)
        finally:
            self.lease_keeper.let_go(request.meta["lease"]["id"])

    def _failed(self, failure, request) -> None:
        reason = f"{failure.type.__name__}: {failure.getErrorMessage()}"[:300]
        if failure.check(IgnoreRequest):  # the link policy refused it at fetch time
            self.frontier.add_stats(request.meta["run_id"], links_refused=1)
            self.frontier.note_error(request.meta["run_id"], request.url[:300], failure.getErrorMessage()[:300])
            self.frontier.ack(request.meta["lease"]["id"], refused=1)
            return
        if "maxsize" in reason.lower() or "Cancelled" in reason:
            self.frontier.note_error(request.meta["run_id"], request.url, f"page skipped: {reason}")
            self.frontier.ack(request.meta["lease"]["id"], failed=1)
            return
        self.retry_or_fail(request.meta, original_request(request), reason)

