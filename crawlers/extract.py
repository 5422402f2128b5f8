"""Extraction as pure functions: page text + site definition -> records and further requests.

The pieces live by job: selecting and reading fields (`crawlers.fields`), pagination (`crawlers.paging`),
records (`crawlers.records`), request dicts (`crawlers.request`); this module reads whole pages.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from crawlers.fields import absolute_link, extract_field, page_selector, select
from crawlers.paging import WINDOW, list_key, paginate
from crawlers.records import DIRECTORY_TEXT_FIELDS, post_record, stable_id, staff_record
from crawlers.request import make_request, spec_of, start_requests

__all__ = ["PageResult", "WINDOW", "DIRECTORY_TEXT_FIELDS", "absolute_link", "denied", "extract_field", "list_key",
           "make_request", "page_selector", "parse_detail", "parse_list", "post_record", "spec_of", "stable_id",
           "staff_record", "start_requests"]


@dataclass
class PageResult:
    """What one list page yields."""

    records: list[dict] = field(default_factory=list)      # staff rows, or posts complete without a detail page
    details: list[tuple[dict, dict]] = field(default_factory=list)  # (detail request, fields read on the list)
    lists: list[dict] = field(default_factory=list)        # more list pages: pagination and follow links
    problems: list[str] = field(default_factory=list)
    row_count: int = 0
    skipped_links: int = 0   # tel:, mailto:, javascript:, file: … links: never requests
    denied_links: int = 0    # links matching the site's `deny` patterns
    bounds: list[str] = field(default_factory=list)  # crawl bounds this page ran into (max_list_pages)
    last_page: bool = False  # the page is known to be the last of its list
    list_end: bool = False   # an empty page that ends an `until_empty` list, as it should
    list_key: str | None = None  # set when this page set up the pagination of its list
    empty_selectors: list[str] = field(default_factory=list)  # field specs that matched nothing on any row


SEPARATOR_VALUE = {"xpath": "./*[self::th or self::td][1]"}  # a separator's first cell (copies of a colspan are not text)


def denied(spec: dict, url: str) -> bool:
    """Whether a URL matches one of the site's `deny` patterns (regular expressions searched in the URL)."""
    return any(re.search(pattern, url) for pattern in spec.get("deny") or ())


def _values(row, fields: dict, base: str) -> dict:
    return {name: extract_field(row, f, base) for name, f in fields.items()}


def parse_list(site: Any, request: dict, text: str) -> PageResult:
    """Rows, detail links, follow links and pagination of one list page."""
    spec = spec_of(site)
    listing = spec["list"]
    url = request["url"]
    sel = page_selector(text, listing.get("expand_rowspan"))
    result = PageResult()
    site_id = getattr(site, "id", None) or spec.get("id", "")
    seen_details: set[str] = set()
    page_values = _values(sel, listing["page_fields"], url)
    group = listing.get("group_rows") or None
    carried: Any = None
    matched: set[str] = set()
    depth = request["meta"].get("depth", 0)
    for index, row in enumerate(select(sel, listing["rows"])):
        if group and row.css(group["match"]):
            carried = extract_field(row, group["value"] or SEPARATOR_VALUE, url) or extract_field(row, {"xpath": "."})
            continue
        if listing.get("skip") and row.css(listing["skip"]):
            continue
        values = dict(page_values)
        if group and carried:
            values[group["field"]] = carried
        values.update({k: v for k, v in _values(row, listing["fields"], url).items() if v or k not in values})
        matched.update(name for name in listing["fields"] if values.get(name))
        missing = [name for name, f in listing["fields"].items() if f.get("required") and not values.get(name)]
        if missing:
            result.problems.append(f"{url}: row {index + 1}: required field(s) {', '.join(missing)} empty")
            continue
        if not any(values.get(name) for name in listing["fields"]):
            continue  # spacer or empty row
        if spec["kind"] == "directory" and not (values.get("name") or values.get("duties")):
            result.problems.append(f"{url}: row {index + 1}: neither name nor duties; skipped")
            continue
        result.row_count += 1
        if spec["kind"] == "directory":
            result.records.append(staff_record(spec, url, values, site_id))
            continue
        if listing.get("extra"):
            values["extra"] = _values(row, listing["extra"], url)
        if listing.get("pinned") and row.css(listing["pinned"]):
            values["pinned"] = True
        _detail(result, spec, listing, row, url, values, index, seen_details, depth, site_id)
    if result.row_count:
        result.empty_selectors = [f"list.fields.{name}" for name in listing["fields"] if name not in matched]
    if listing.get("follow"):
        for link in _as_list(extract_field(sel, {**listing["follow"], "many": True, "join": None})):
            target = absolute_link(url, link)
            if target is None:
                result.skipped_links += 1
            elif denied(spec, target):
                result.denied_links += 1
            else:
                result.lists.append(make_request(target, role="list", depth=depth + 1))
    paginate(result, spec, listing.get("pagination"), sel, request)
    kept = [r for r in result.lists if not denied(spec, r["url"])]
    result.denied_links += len(result.lists) - len(kept)
    result.lists = kept
    return result


def _detail(result: PageResult, spec: dict, listing: dict, row, url: str, values: dict, index: int,
            seen: set[str], depth: int, site_id: str) -> None:
    link = extract_field(row, listing["detail_link"]) if listing.get("detail_link") else None
    detail_url = absolute_link(url, link)
    if link and detail_url is None and not link.lower().startswith("javascript:"):
        result.skipped_links += 1
        link = None
    if detail_url and denied(spec, detail_url):
        result.denied_links += 1
        detail_url, link = None, None
    if detail_url:
        if detail_url in seen:
            return  # the same post linked twice in one row or page (thumbnail and title)
        seen.add(detail_url)
        result.details.append((make_request(detail_url, role="detail", depth=depth + 1), values))
        return
    if link:
        result.problems.append(f"{url}: row {index + 1}: detail link {link!r} needs a regex/template")
        return
    if listing.get("detail_link"):
        result.problems.append(f"{url}: row {index + 1}: no detail link; the post is kept with list fields only")
    result.records.append(post_record(spec, url, values, {}, site_id))


def _as_list(value) -> list:
    return value if isinstance(value, list) else ([value] if value else [])


def parse_detail(site: Any, text: str, url: str = "") -> dict:
    """The detail fields of a post page (and its `extra` fields under the key "extra")."""
    spec = spec_of(site)
    detail = spec.get("detail") or {}
    sel = page_selector(text)
    values = _values(sel, detail.get("fields") or {}, url)
    if detail.get("extra"):
        values["extra"] = _values(sel, detail["extra"], url)
    return values
