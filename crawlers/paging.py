"""Pagination of a list page: the next pages to request, planned lazily and bounded by max_list_pages."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from parsel import Selector
from w3lib.url import canonicalize_url

from crawlers.fields import absolute_link, extract_field
from crawlers.request import make_request

WINDOW = 8  # list pages planned ahead: page p queues page p + WINDOW, so a huge "last page" costs nothing up front


def list_key(url: str, param: str | None, formdata: dict | None = None) -> str:
    """The identity of one paginated list: its URL and its non-empty form fields, without the page parameter.
    A list reached by a POST start (empty search fields) and by a GET link has one key, so its pagination is
    set up once per run; two lists told apart by a form field (bbsId=A, bbsId=B) keep two."""
    parts = urlsplit(url)
    items = {(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != param}
    items |= {(str(k), str(v)) for k, v in (formdata or {}).items() if k != param and str(v) != ""}
    return canonicalize_url(urlunsplit(parts._replace(query=urlencode(sorted(items)), fragment="")))


def paginate(result: Any, spec: dict, pagination: dict | None, sel: Selector, request: dict) -> None:
    """The next list pages of this one, added to result.lists (each marked with meta["list_key"]).
    Pagination keeps the page's link depth (a long directory is not a deep one) and has its own bound,
    `max_list_pages`; pages are planned a window ahead, never all at once. A page without rows plans no
    further page (an endless calendar reached through a `next` link stops at once)."""
    if not pagination:
        result.last_page = True
        return
    meta = request["meta"]
    cap = int(spec.get("max_list_pages") or 500)
    depth = meta.get("depth", 0)
    if pagination.get("next"):
        ordinal = int(meta.get("list_page") or 1)
        link = extract_field(sel, pagination["next"])
        target = absolute_link(request["url"], link)
        if target is None:
            result.skipped_links += bool(link)
            result.last_page = True
            return
        if not result.row_count:
            return  # not the last page, and empty: reported by the caller, never followed further
        if ordinal >= cap:
            result.bounds.append(f"max_list_pages {cap} reached: {target} not followed")
            return
        nxt = make_request(target, role="list", depth=depth, list_page=ordinal + 1)
        if ordinal == 1:
            result.list_key = nxt["meta"]["list_key"] = list_key(request["url"], None, meta.get("formdata"))
        result.lists.append(nxt)
        return
    param = pagination.get("param")
    if not param:
        result.last_page = True
        return
    first = pagination.get("first", 1)
    page = int(meta.get("page") or first)
    last_allowed = first + cap - 1
    key = list_key(request["url"], param, meta.get("formdata")) if meta.get("page") is None else None
    if pagination.get("until_empty"):
        if not result.row_count:
            result.last_page = True
            result.list_end = meta.get("page") is not None  # a later page ends the list; an empty first page does not
            return
        if page + 1 > last_allowed:
            result.bounds.append(f"max_list_pages {cap} reached after page {page}")
            return
        result.lists.append(_page_request(pagination, request, param, page + 1, depth))
    elif meta.get("last") is None:  # the first page reads how many there are and plans the first window
        last = extract_field(sel, pagination["last_page"]) if pagination.get("last_page") else None
        digits = re.findall(r"\d+", str(last or ""))
        stated = int(digits[-1]) if digits and len(digits[-1]) <= 9 else page
        if stated > last_allowed:
            result.bounds.append(f"max_list_pages {cap}: the list says {stated} pages, only {cap} are read")
        last = min(stated, last_allowed)
        result.last_page = page >= last
        for number in range(page + 1, min(last, page + WINDOW) + 1):
            result.lists.append(_page_request(pagination, request, param, number, depth, last))
    else:
        last = int(meta["last"])
        result.last_page = page >= last
        if page + WINDOW <= last and result.row_count:
            result.lists.append(_page_request(pagination, request, param, page + WINDOW, depth, last))
    if key and any(r["meta"].get("page") for r in result.lists):
        result.list_key = key
        for r in result.lists:
            if r["meta"].get("page"):
                r["meta"]["list_key"] = key


def _page_request(pagination: dict, request: dict, param: str, number: int, depth: int, last: int | None = None) -> dict:
    url = request["url"]
    extra = {"last": last} if last is not None else {}
    if pagination.get("method") == "POST":
        form = dict(request["meta"].get("formdata") or {})
        form[param] = str(number)
        return make_request(url, "POST", form, role="list", depth=depth, page=number, **extra)
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != param]
    query.append((param, str(number)))
    return make_request(urlunsplit(parts._replace(query=urlencode(query))), role="list", depth=depth, page=number,
                        **extra)
