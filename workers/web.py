"""The 누고 web service as a plain WSGI app: search page, JSON API, personal feeds, status page.

Routes: `/` (tabs 직원 검색 and 게시글 검색), `/api/search`, `/api/posts`, `/feeds/{token}.rss|.atom`
(and `/feeds/{token}/{topic}.rss|.atom`), `/status`, `/healthz`. One StaffSearcher and one
PostSearcher per process, refreshed at most once per `refresh_seconds` when the index changed.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, quote

import redis
from whoosh import index as whoosh_index

from conf.yamlsource import ConfigError
from index.post_search import PostSearcher
from index.results import Results
from index.search import StaffSearcher
from index.state import site_status
from index.store import POSTS, IndexPaths
from notifier.feed import feed_headers, not_modified, render_feed
from notifier.store import AlertStore
from notifier.subscription import SubscriptionSet, official_for_token, subscriptions_path
from workers import web_pages as pages

logger = logging.getLogger(__name__)

PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 500
MAX_QUERY = 200  # characters of a query kept
FEED_LIMIT = 50
REFRESH_SECONDS = 1.0
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'"
COMMON_HEADERS = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")]
HTML_HEADERS = [("Content-Type", "text/html; charset=utf-8"), ("Content-Security-Policy", CSP),
                ("X-Frame-Options", "DENY"), ("Cache-Control", "no-cache")] + COMMON_HEADERS
FEED_PATH = re.compile(r"/feeds/(?P<token>[A-Za-z0-9_-]{16,64})(?:/(?P<topic>[^/]{1,100}))?\.(?P<kind>rss|atom)")
# The one answer to every feed URL that is not a current feed: it says nothing about why.
FEED_NOT_FOUND = "피드를 찾을 수 없습니다. 주소를 다시 확인하거나 새 피드 주소를 받으세요.\n".encode()
REASONS = {200: "OK", 304: "Not Modified", 404: "Not Found", 405: "Method Not Allowed",
           500: "Internal Server Error", 503: "Service Unavailable"}


def index_path(cluster) -> Path:
    """Where the cluster's index lives: `{data_dir}/index`."""
    return cluster.data_path / "index"


class Request:
    """The parts of a WSGI environ the routes read."""

    def __init__(self, environ: dict):
        self.method = environ.get("REQUEST_METHOD", "GET").upper()
        raw = environ.get("PATH_INFO", "") or "/"
        self.path = raw.encode("latin-1").decode("utf-8", "replace")  # PEP 3333: bytes as latin-1
        try:
            self.args = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True, max_num_fields=50)
        except ValueError:  # more fields than any page of ours sends
            self.args = {}
        self.headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
                        if key.startswith("HTTP_")}
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
        self.root = f"{environ.get('wsgi.url_scheme', 'http')}://{host}"

    def arg(self, name: str, limit: int = MAX_QUERY) -> str:
        return " ".join((self.args.get(name) or [""])[0].split())[:limit]

    def args_of(self, name: str) -> list[str] | None:
        values = [" ".join(v.split())[:MAX_QUERY] for v in self.args.get(name, []) if v.strip()]
        return values or None

    def number(self, name: str, default: int, high: int) -> int:
        try:
            return min(high, max(1, int(self.arg(name, 8) or default)))
        except ValueError:
            return default


class Searchers:
    """The process's searchers and site status, refreshed at most once per `interval` seconds."""

    def __init__(self, index_dir: str | Path, interval: float = REFRESH_SECONDS):
        self.index_dir = Path(index_dir)
        self.interval = interval
        self.staff = StaffSearcher(self.index_dir)
        self._posts: PostSearcher | None = None
        self._posts_lock = threading.Lock()  # one Whoosh searcher: searches and its refresh take turns
        self._refresh_lock = threading.Lock()
        self._checked = 0.0
        self._status: dict[str, dict] = {}
        self._status_generation = object()
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < self.interval:
            return
        if not self._refresh_lock.acquire(blocking=force):
            return  # another thread is refreshing
        try:
            self._checked = now
            self.staff.refresh()
            if self.staff.generation != self._status_generation:
                self._status = site_status(self.index_dir)
                self._status_generation = self.staff.generation
            with self._posts_lock:
                if self._posts is not None:
                    self._posts.refresh()
                elif whoosh_index.exists_in(str(IndexPaths(self.index_dir).whoosh), indexname=POSTS):
                    self._posts = PostSearcher(self.index_dir)
        except Exception:  # noqa: BLE001 - keep serving the last view
            logger.exception("refreshing the searchers of %s failed; serving the last view", self.index_dir)
        finally:
            self._refresh_lock.release()

    def status(self) -> dict[str, dict]:
        return self._status

    def organizations(self) -> dict[str, dict]:
        """Per organization with live staff rows: when its directory was last crawled, and a flag reason."""
        orgs: dict[str, dict] = {}
        for entry in self._status.values():
            if not entry.get("live_run") or not entry.get("organization"):
                continue
            org = orgs.setdefault(entry["organization"], {"crawled_at": None, "flagged": None})
            if entry.get("healthy_at") and (org["crawled_at"] or "") < entry["healthy_at"]:
                org["crawled_at"] = entry["healthy_at"]
            org["flagged"] = org["flagged"] or entry.get("flagged")
        return orgs

    def search_staff(self, query: str, **kwargs) -> Results:
        self.refresh()
        return self.staff.search(query, **kwargs)

    def search_posts(self, query: str, **kwargs) -> Results:
        self.refresh()
        with self._posts_lock:
            if self._posts is None:
                return Results(query=query, words=[], total=0, page=kwargs.get("page", 1),
                               per_page=kwargs.get("per_page", PER_PAGE))
            return self._posts.search(query, **kwargs)

    def post_count(self) -> int:
        with self._posts_lock:
            return len(self._posts) if self._posts is not None else 0


class WebApp:
    """The WSGI callable. Feeds need Redis (`client_factory`) and subscriptions; search needs neither."""

    def __init__(self, searchers: Searchers, *, prefix: str = "nugo", client_factory: Callable[[], redis.Redis] | None = None,
                 subscriptions: Callable[[], SubscriptionSet] | None = None, base_url: str | None = None,
                 per_page: int = PER_PAGE):
        self.searchers = searchers
        self.prefix = prefix
        self.base_url = (base_url or "").rstrip("/") or None
        self.per_page = per_page
        self._client_factory = client_factory
        self._subscriptions_factory = subscriptions
        self._client: redis.Redis | None = None
        self._subscriptions: SubscriptionSet | None = None
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            status, headers, body = self.route(request)
        except Exception:  # noqa: BLE001 - one failing request never takes the worker down
            logger.exception("%s %s failed", request.method, request.path)
            status, headers, body = 500, list(HTML_HEADERS), pages.error_page(500).encode()
        headers = [(k, v) for k, v in headers if k != "Content-Length"] + [("Content-Length", str(len(body)))]
        start_response(f"{status} {REASONS.get(status, '')}".rstrip(), headers)
        return [b"" if request.method == "HEAD" else body]

    def route(self, request: Request):
        if request.method not in ("GET", "HEAD"):
            return 405, HTML_HEADERS + [("Allow", "GET, HEAD")], pages.error_page(405).encode()
        path = request.path
        if path == "/":
            return self.home(request)
        if path == "/api/search":
            return self.api_search(request)
        if path == "/api/posts":
            return self.api_posts(request)
        if path.startswith("/feeds/"):
            return self.feed(request)
        if path == "/status":
            self.searchers.refresh()
            html = pages.status_page(self.searchers.status(), self.searchers.staff.generation, self.searchers.staff.sites())
            return 200, HTML_HEADERS, html.encode()
        if path == "/healthz":
            return 200, [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")] + COMMON_HEADERS, b"ok"
        return 404, HTML_HEADERS, pages.error_page(404).encode()

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
            html = pages.posts_page(results, {"q": q, **filters}, info)
        else:
            filters = self.staff_filters(request, many=False)
            results = self.searchers.search_staff(q, page=page, per_page=self.per_page, **filters) if q.strip() else None
            sites = self.searchers.staff.sites()
            info = (f"기관 {len(sites)}곳, 직원 {len(self.searchers.staff):,}명의 자료를 찾을 수 있습니다." if sites
                    else "아직 수집된 직원 자료가 없습니다. 크롤링과 색인이 끝나면 검색할 수 있습니다.")
            html = pages.staff_page(results, self.searchers.organizations(), {"q": q, **filters}, info)
        return 200, HTML_HEADERS, html.encode()

    def api_search(self, request: Request):
        results = self.searchers.search_staff(request.arg("q"), page=request.number("page", 1, MAX_PAGE),
                                              per_page=request.number("per_page", self.per_page, MAX_PER_PAGE),
                                              **self.staff_filters(request, many=True))
        orgs = self.searchers.organizations()
        groups = []
        for group in results.groups:
            org = orgs.get(group.organization) or {}
            groups.append({"organization": group.organization, "region": group.region, "org_kind": group.org_kind,
                           "count": group.count, "crawled_at": org.get("crawled_at"),
                           "warning": pages.flag_text(org.get("flagged")) or None, "hits": group.hits})
        return json_response({**summary(results), "groups": groups})

    def api_posts(self, request: Request):
        results = self.searchers.search_posts(request.arg("q"), page=request.number("page", 1, MAX_PAGE),
                                              per_page=request.number("per_page", self.per_page, MAX_PER_PAGE),
                                              **self.post_filters(request, many=True))
        return json_response({**summary(results), "hits": results.hits})

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
            alerts = store.alerts(official.id, topic=topic, limit=FEED_LIMIT)
            modified = store.last_modified(official.id)
        except (redis.RedisError, OSError, ConfigError) as exc:
            logger.error("feed unavailable: %s", exc)
            return 503, [("Content-Type", "text/plain; charset=utf-8"), ("Retry-After", "60")] + COMMON_HEADERS, \
                "피드를 잠시 제공할 수 없습니다. 잠시 뒤 다시 시도해 주세요.\n".encode()
        root = self.base_url or request.root
        self_url = f"{root}/feeds/{token}" + (f"/{quote(topic, safe='')}" if topic else "") + f".{kind}"
        body = render_feed(official, alerts, kind, base_url=root + "/", topic=topic, self_url=self_url)
        headers = feed_headers(body, kind, modified)
        if not_modified(request.headers, headers["ETag"], modified):
            kept = [(k, v) for k, v in headers.items() if k in ("ETag", "Last-Modified", "Cache-Control")]
            return 304, kept + COMMON_HEADERS, b""
        return 200, list(headers.items()) + COMMON_HEADERS, body

    def feed_sources(self) -> tuple[redis.Redis, SubscriptionSet]:
        """The Redis client and subscriptions, made on the first feed request (search works without them)."""
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


def summary(results: Results) -> dict:
    return {"query": results.query, "words": results.words, "total": results.total, "page": results.page,
            "per_page": results.per_page, "pages": results.pages, "took_ms": results.took_ms, "facets": results.facets}


def json_response(data: dict):
    """UTF-8 JSON; crawled text stays text (a string value is never markup when served as JSON)."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return 200, [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-cache")] + COMMON_HEADERS, body


def feed_not_found():
    return 404, [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")] + COMMON_HEADERS, \
        FEED_NOT_FOUND


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

        index_dir = index_dir or index_path(cluster)
        prefix = prefix or cluster.key_prefix
        base_url = base_url or (cluster.web or {}).get("base_url")
        client_factory = client_factory or (lambda: redis_client(cluster, start=False))
        subscriptions_factory = subscriptions_factory or (lambda: SubscriptionSet(subscriptions_path(cluster)))
    if index_dir is None:
        raise ValueError("make_app needs a cluster or an index_dir")
    return WebApp(Searchers(index_dir, refresh_seconds), prefix=prefix or "nugo", client_factory=client_factory,
                  subscriptions=subscriptions_factory, base_url=base_url, per_page=per_page)
