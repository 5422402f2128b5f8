"""A site walked in one process with the engine's pure functions (no Redis): `nugo try-site` and the farm's
probe use it. The fetching is the caller's (polite and robots-aware for try-site, plain for the probe)."""
from __future__ import annotations

import hashlib
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from w3lib.url import canonicalize_url

from crawlers.encoding import decode_page
from crawlers.extract import PageResult, parse_detail, parse_list, post_record, spec_of, start_requests

logger = logging.getLogger(__name__)

# fetch(request dict) -> (status, body bytes, content type); raising OSError counts as an error of the page
Fetch = Callable[[dict], tuple[int, bytes, str]]


@dataclass
class Visit:
    """One list page as the engine read it."""

    request: dict
    status: int
    encoding: str = ""
    result: PageResult | None = None
    error: str = ""


@dataclass
class Walk:
    visits: list[Visit] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    details: list[tuple[dict, dict]] = field(default_factory=list)  # (detail request, detail values)
    errors: list[str] = field(default_factory=list)
    robots_skipped: list[str] = field(default_factory=list)
    queued: list[dict] = field(default_factory=list)  # requests left when the walk stopped


def request_key(request: dict) -> str:
    data = f"{request['method']} {canonicalize_url(request['url'])} {request.get('body') or ''}"
    return hashlib.sha1(data.encode("utf-8")).hexdigest()


def walk(site: Any, fetch: Fetch, *, max_list_pages: int = 2000, max_details: int | None = None,
         allowed: Callable[[str], bool] | None = None, start: list[dict] | None = None) -> Walk:
    """Read list pages breadth-first from the start requests (at most `max_list_pages`), each list's
    pagination set up once, detail pages fetched for at most `max_details` posts (None: all)."""
    spec = spec_of(site)
    out = Walk()
    queue = deque(start or start_requests(site))
    seen: set[str] = set()
    setups: dict[str, str] = {}
    details = 0
    while queue and len(out.visits) < max_list_pages:
        request = queue.popleft()
        key = request_key(request)
        if key in seen:
            continue
        seen.add(key)
        if allowed is not None and not allowed(request["url"]):
            out.robots_skipped.append(request["url"])
            continue
        visit = _fetch_list(site, spec, fetch, request)
        out.visits.append(visit)
        result = visit.result
        if result is None:
            out.errors.append(f"{request['url']}: {visit.error}")
            continue
        if result.list_key and setups.setdefault(result.list_key, key) != key:
            result.lists = [r for r in result.lists if r["meta"].get("list_key") != result.list_key]
        out.records += result.records
        for detail, values in result.details:
            if detail["url"] in seen:
                continue
            seen.add(detail["url"])
            if max_details is not None and details >= max_details:
                out.records.append(post_record(spec, detail["url"], values, {}, getattr(site, "id", None)))
                continue
            details += 1
            out.records.append(_fetch_detail(site, spec, fetch, detail, values, out))
        queue.extend(r for r in result.lists if r["meta"].get("depth", 0) <= spec.get("max_depth", 10))
    out.queued = list(queue)
    return out


def _fetch_list(site, spec: dict, fetch: Fetch, request: dict) -> Visit:
    try:
        status, body, ctype = fetch(request)
    except OSError as exc:
        return Visit(request, 0, error=f"{type(exc).__name__}: {exc}")
    if status != 200:
        return Visit(request, status, error=f"HTTP {status}")
    text, encoding = decode_page(body, ctype, spec["encoding"])
    return Visit(request, status, encoding, parse_list(site, request, text))


def _fetch_detail(site, spec: dict, fetch: Fetch, detail: dict, values: dict, out: Walk) -> dict:
    detail_values: dict = {}
    try:
        status, body, ctype = fetch(detail)
        if status == 200:
            text, _ = decode_page(body, ctype, spec["encoding"])
            detail_values = parse_detail(site, text, detail["url"])
        else:
            out.errors.append(f"{detail['url']}: HTTP {status}")
    except OSError as exc:
        out.errors.append(f"{detail['url']}: {type(exc).__name__}: {exc}")
    out.details.append((detail, detail_values))
    return post_record(spec, detail["url"], values, detail_values, getattr(site, "id", None))


def host_of(url: str) -> str:
    return urlsplit(url).netloc
