"""The web service as a plain WSGI app.

Routes: `/` (tabs 직원 검색 and 게시글 검색), `/api/search`, `/api/posts`, `/feeds/{token}.rss|.atom`
(and `/feeds/{token}/{topic}.rss|.atom`), `/status`, `/healthz`, `/static/…`. One StaffSearcher and one
PostSearcher per process (web.searchers). Links in feeds use the configured public URL (`web.base_url`,
else the configured host and port), never the request's Host header.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import redis

from conf.yamlsource import ConfigError
from index.results import Results
from conf.connection import is_transient
from conf.defaults import KEY_PREFIX
from notifier.feed import feed_headers, not_modified, render_feed, state_etag
from notifier.text import from_epoch
from notifier.store import AlertStore
from notifier.subscription import SubscriptionSet
from notifier.tokens import official_for_token
from ops.status import cluster_status, index_status, quick_health
from web import views
from web.personal import PersonalPages
from web.http import (COMMON_HEADERS, HTML_HEADERS, MAX_QUERY, REASONS, Request, api_error, json_body,
                      text)
from web.render import STATIC, flag_text
from web.searchers import REFRESH_SECONDS, Searchers

logger = logging.getLogger(__name__)

PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 500
FEED_LIMIT = 50
FEED_PATH = re.compile(r"/feeds/(?P<token>[A-Za-z0-9_-]{16,64})(?:/(?P<topic>[^/]{1,100}))?\.(?P<kind>rss|atom)")
# The one answer to every feed URL that is not a current feed: it says nothing about why.
FEED_NOT_FOUND = "피드를 찾을 수 없습니다. 주소를 다시 확인하거나 새 피드 주소를 받으세요.\n"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml",
                ".png": "image/png"}


OPS_PATH = re.compile(r"/ops/(?P<token>[A-Za-z0-9_-]{16,64})\.(?P<kind>rss|atom)")


class Operations:
    """What the web service tells operators: health, the full status, the operators' alert feed."""

    def __init__(self, cluster):
        self.cluster = cluster
        self._client: redis.Redis | None = None

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            from conf.connection import redis_url

            self._client = redis.Redis.from_url(redis_url(self.cluster, start=False), socket_timeout=2,
                                                socket_connect_timeout=2)
        return self._client

    def health(self) -> dict:
        try:
            return quick_health(self.cluster, self.client)
        except (redis.RedisError, OSError) as exc:
            return {"ok": False, "checks": [{"name": "redis", "ok": False, "detail": str(exc)}]}

    def status(self) -> dict:
        try:
            client = self.client
        except (redis.RedisError, OSError):
            client = None
        return cluster_status(self.cluster, client)

    def feed(self, token: str, kind: str) -> bytes | None:
        from notifier.operator import events, feed_token, render_feed

        if not secrets.compare_digest(token, feed_token(self.client, self.cluster.key_prefix)):
            return None
        root = self.cluster.public_url
        return render_feed(events(self.client, self.cluster.key_prefix), kind, root + "/", f"{root}/ops/{token}.{kind}")


def _stamp(raw: str) -> dt.datetime | None:
    """The Last-Modified time of a raw stamp read from Redis; None when absent or not a time."""
    try:
        return from_epoch(float(raw)) if raw else None
    except (ValueError, OverflowError, OSError):
        return None


class WebApp:
    """The WSGI callable. Feeds need Redis (`client_factory`) and subscriptions; search needs neither."""

    def __init__(self, searchers: Searchers, *, prefix: str = KEY_PREFIX, client_factory: Callable[[], redis.Redis] | None = None,
                 subscriptions: Callable[[], SubscriptionSet] | None = None, base_url: str | None = None,
                 per_page: int = PER_PAGE, visits: Callable | None = None, ops: Operations | None = None,
                 data_dir: Path | None = None):
        self.searchers = searchers
        self.ops = ops
        self.prefix = prefix
        self.root = (base_url or "http://localhost").rstrip("/")
        self.per_page = per_page
        self._client_factory = client_factory
        self._subscriptions_factory = subscriptions
        self._client: redis.Redis | None = None
        self._subscriptions: SubscriptionSet | None = None
        self._lock = threading.Lock()
        self._visits_factory = visits
        self._visits = None
        self.personal = PersonalPages(self, self.root, data_dir or searchers.index_dir.parent)

    def visits(self):
        with self._lock:
            if self._visits is None:
                self._visits = self._visits_factory()
            return self._visits

    def __call__(self, environ, start_response):
        if self._visits_factory is not None and (environ.get("PATH_INFO") or "").startswith("/visit/"):
            return self.visits()(environ, start_response)  # 요있다 answers its own pages
        request = Request(environ)
        try:
            status, headers, body = self.route(request)
        except Exception:  # noqa: BLE001 - one failing request never takes the worker down
            logger.exception("%s %s failed", request.method, loggable(request.path))
            status, headers, body = self.error(request, 500)
        headers = [(k, v) for k, v in headers if k != "Content-Length"] + [("Content-Length", str(len(body)))]
        start_response(f"{status} {REASONS.get(status, '')}".rstrip(), headers)
        return [b"" if request.method == "HEAD" else body]

    def error(self, request: Request, status: int, extra: list | None = None):
        if request.path.startswith("/api/"):
            code, headers, body = api_error(status)
            return code, headers + (extra or []), body
        return status, list(HTML_HEADERS) + (extra or []), views.error_page(status).encode()

    def route(self, request: Request):
        path = request.path
        if path.startswith("/me/"):
            return self.me(request)
        if request.method not in ("GET", "HEAD"):
            return self.error(request, 405, [("Allow", "GET, HEAD")])
        if path == "/":
            return self.home(request)
        if path == "/api/search":
            return self.api_search(request)
        if path == "/api/posts":
            return self.api_posts(request)
        if path.startswith("/feeds/"):
            return self.feed(request)
        if path.startswith("/static/"):
            return self.static(request)
        if path == "/status":
            status = self.ops.status() if self.ops else index_status(self.searchers.index_dir)
            return 200, HTML_HEADERS, views.status_page(status, self.searchers.staff.sites()).encode()
        if path == "/healthz":
            return self.healthz()
        if path.startswith("/ops/"):
            return self.ops_feed(request)
        return self.error(request, 404)

    # --- search ---------------------------------------------------------------

    def staff_filters(self, request: Request, many: bool) -> dict:
        pick = request.args_of if many else (lambda name: request.arg(name) or None)
        return {"region": pick("region"), "organization": pick("organization")}

    def post_filters(self, request: Request, many: bool) -> dict:
        pick = request.args_of if many else (lambda name: request.arg(name) or None)
        return {"site": pick("site"), "region": pick("region"), "board_kind": pick("board_kind")}

    def home(self, request: Request):
        q = request.arg("q")
        page = request.number("page", 1, MAX_PAGE)
        if request.arg("tab") == "posts":
            filters = self.post_filters(request, many=False)
            results = self.searchers.search_posts(q, page=page, per_page=self.per_page, **filters) if q.strip() else None
            info = f"게시글 {self.searchers.post_count():,}건을 찾을 수 있습니다."
            html = views.posts_page(results, {"q": q, **filters}, info)
        else:
            filters = self.staff_filters(request, many=False)
            results = self.searchers.search_staff(q, page=page, per_page=self.per_page, **filters) if q.strip() else None
            sites = self.searchers.staff.sites()
            info = (f"기관 {len(sites)}곳, 직원 {len(self.searchers.staff):,}명의 자료를 찾을 수 있습니다." if sites
                    else "아직 수집된 직원 자료가 없습니다. 크롤링과 색인이 끝나면 검색할 수 있습니다.")
            html = views.staff_page(results, self.searchers.organizations(), {"q": q, **filters}, info)
        return 200, HTML_HEADERS, html.encode()

    def _api_query(self, request: Request) -> str | None:
        """The API's query, or None when it is longer than the pages accept (answered 414)."""
        raw = " ".join(request.raw_arg("q").split())
        return None if len(raw) > MAX_QUERY else raw

    def api_search(self, request: Request):
        q = self._api_query(request)
        if q is None:
            return api_error(414)
        results = self.searchers.search_staff(q, page=request.number("page", 1, MAX_PAGE),
                                              per_page=request.number("per_page", self.per_page, MAX_PER_PAGE),
                                              **self.staff_filters(request, many=True))
        orgs = self.searchers.organizations()
        groups = []
        for group in results.groups:
            org = orgs.get(group.organization) or {}
            groups.append({"organization": group.organization, "region": group.region, "org_kind": group.org_kind,
                           "count": group.count, "crawled_at": org.get("crawled_at"),
                           "warning": flag_text(org.get("flagged")) or None, "hits": group.hits})
        return json_body({**summary(results), "groups": groups})

    def api_posts(self, request: Request):
        q = self._api_query(request)
        if q is None:
            return api_error(414)
        results = self.searchers.search_posts(q, page=request.number("page", 1, MAX_PAGE),
                                              per_page=request.number("per_page", self.per_page, MAX_PER_PAGE),
                                              **self.post_filters(request, many=True))
        return json_body({**summary(results), "hits": results.hits})

    # --- the personal page ------------------------------------------------------

    def me(self, request: Request):
        if request.method not in ("GET", "HEAD", "POST"):
            return self.error(request, 405, [("Allow", "GET, HEAD, POST")])
        try:
            return self.personal.handle(request)
        except (redis.RedisError, OSError, ConfigError) as exc:
            if isinstance(exc, redis.RedisError) and not is_transient(exc):
                raise
            logger.error("personal page unavailable: %s", exc)
            return text(503, "잠시 페이지를 열 수 없습니다. 잠시 뒤 다시 시도해 주세요.\n", [("Retry-After", "30")])

    # --- operations -----------------------------------------------------------

    def healthz(self):
        """200 "ok", or 503 naming the failing checks (Redis, the index writer's heartbeat, the stream's lag)."""
        if self.ops is None:
            return text(200, "ok")
        result = self.ops.health()
        if result["ok"]:
            return text(200, "ok\n" + "".join(f"{c['name']}: ok\n" for c in result["checks"]))
        failing = "".join(f"{c['name']}: FAIL {c['detail']}\n" for c in result["checks"] if not c["ok"])
        return text(503, "unhealthy\n" + failing, [("Retry-After", "10")])

    def ops_feed(self, request: Request):
        match = OPS_PATH.fullmatch(request.path)
        if match is None or self.ops is None:
            return feed_not_found()
        try:
            body = self.ops.feed(match["token"], match["kind"])
        except redis.RedisError as exc:
            logger.error("operator feed unavailable: %s", exc)
            return text(503, "피드를 잠시 제공할 수 없습니다.\n", [("Retry-After", "60")])
        if body is None:
            return feed_not_found()
        headers = feed_headers(body, match["kind"], None)
        if not_modified(request.headers, headers["ETag"], None):
            return 304, [("ETag", headers["ETag"])] + COMMON_HEADERS, b""
        return 200, list(headers.items()) + COMMON_HEADERS, body

    # --- static files ---------------------------------------------------------

    def static(self, request: Request):
        name = request.path[len("/static/"):]
        path = STATIC / name
        if not re.fullmatch(r"[a-z0-9_-]+\.[a-z]+", name) or path.suffix not in STATIC_TYPES or not path.is_file():
            return self.error(request, 404)
        headers = [("Content-Type", STATIC_TYPES[path.suffix]), ("Cache-Control", "public, max-age=31536000, immutable")]
        return 200, headers + COMMON_HEADERS, path.read_bytes()

    # --- feeds ------------------------------------------------------------------

    def feed(self, request: Request):
        match = FEED_PATH.fullmatch(request.path)
        if match is None:
            return feed_not_found()
        token, topic, kind = match["token"], match["topic"], match["kind"]
        try:
            client, subscriptions = self.feed_sources()
            official_id = official_for_token(client, self.prefix, token)
            official = subscriptions.get(official_id) if official_id else None
            if official is None or (topic is not None and official.topic(topic) is None):
                return feed_not_found()
            store = AlertStore(client, self.prefix)
            version = store.version(official.id)
            self_url = f"{self.root}/feeds/{token}" + (f"/{quote(topic, safe='')}" if topic else "") + f".{kind}"
            tag = state_etag(official, kind, version, topic=topic, base_url=self.root + "/", self_url=self_url)
            modified = _stamp(version[1])
            headers = feed_headers(None, kind, modified, tag)
            if not_modified(request.headers, tag, modified):  # answered before the alerts are read or rendered
                kept = [(k, v) for k, v in headers.items() if k in ("ETag", "Last-Modified", "Cache-Control")]
                return 304, kept + COMMON_HEADERS, b""
            alerts = store.alerts(official.id, topic=topic, limit=FEED_LIMIT)
        except (redis.RedisError, OSError, ConfigError) as exc:
            if isinstance(exc, redis.RedisError) and not is_transient(exc):
                raise
            logger.error("feed %s… unavailable: %s", token[:4], exc)  # never the whole token
            return text(503, "피드를 잠시 제공할 수 없습니다. 잠시 뒤 다시 시도해 주세요.\n", [("Retry-After", "60")])
        body = render_feed(official, alerts, kind, base_url=self.root + "/", topic=topic, self_url=self_url)
        return 200, list(headers.items()) + COMMON_HEADERS, body

    def feed_sources(self) -> tuple[redis.Redis, SubscriptionSet]:
        """The Redis client and subscriptions, made on the first feed request (search works without them).
        A failure to make them is not remembered: the next request tries again (Redis back by itself)."""
        with self._lock:
            if self._client is None:
                if self._client_factory is None:
                    raise OSError("no Redis configured for feeds")
                self._client = self._client_factory()
            if self._subscriptions is None:
                if self._subscriptions_factory is None:
                    raise OSError("no subscriptions configured for feeds")
                self._subscriptions = self._subscriptions_factory()
            return self._client, self._subscriptions


_SECRET_PATH = re.compile(r"^(/(?:feeds|me|visit)/)([A-Za-z0-9_-]{4})[A-Za-z0-9_-]*")


def loggable(path: str) -> str:
    """A request path fit for a log: a token in it keeps its first 4 characters only."""
    return _SECRET_PATH.sub(lambda m: f"{m.group(1)}{m.group(2)}…", path)


def summary(results: Results) -> dict:
    out = {"query": results.query, "words": results.words, "total": results.total, "page": results.page,
           "per_page": results.per_page, "pages": results.pages, "took_ms": results.took_ms, "facets": results.facets}
    if results.error:
        out["error"] = results.error
    return out


def feed_not_found():
    return text(404, FEED_NOT_FOUND)


def make_app(cluster=None, *, index_dir: str | Path | None = None, client: redis.Redis | None = None,
             prefix: str | None = None, subscriptions: str | Path | SubscriptionSet | None = None,
             base_url: str | None = None, per_page: int = PER_PAGE, refresh_seconds: float = REFRESH_SECONDS) -> WebApp:
    """The WSGI app of a cluster (index under data_dir, its Redis and subscriptions), or of explicit parts.

    Explicit arguments override the cluster's. Redis is connected on the first feed request and is
    never started by the web service (start it with `nugo redis start`)."""
    client_factory = (lambda: client) if client is not None else None
    subscriptions_factory = None
    if isinstance(subscriptions, SubscriptionSet):
        subscriptions_factory = lambda: subscriptions  # noqa: E731
    elif subscriptions is not None:
        subscriptions_factory = lambda: SubscriptionSet(subscriptions)  # noqa: E731
    if cluster is not None:
        from conf.connection import redis_client

        index_dir = index_dir or cluster.index_dir
        prefix = prefix or cluster.key_prefix
        base_url = base_url or cluster.public_url
        client_factory = client_factory or (lambda: redis_client(cluster, start=False))
        subscriptions_factory = subscriptions_factory or (lambda: SubscriptionSet(cluster.subscriptions_path))
    visits = ops = None
    if cluster is not None:
        from visits.web import make_visit_app

        visits = lambda: make_visit_app(cluster)  # noqa: E731
        ops = Operations(cluster)
    if index_dir is None:
        raise ValueError("make_app needs a cluster or an index_dir")
    return WebApp(Searchers(index_dir, refresh_seconds), prefix=prefix or KEY_PREFIX, client_factory=client_factory,
                  subscriptions=subscriptions_factory, base_url=base_url, per_page=per_page, visits=visits, ops=ops,
                  data_dir=cluster.data_path if cluster is not None else None)
