"""Extraction as pure functions: page text + site definition -> records and further requests."""
from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import lxml.html
from parsel import Selector

from crawlers.dates import parse_date
from crawlers.text import clean, element_text

DIRECTORY_TEXT_FIELDS = ("department", "team", "position", "name", "phone", "duties", "email")


@dataclass
class PageResult:
    """What one list page yields."""

    records: list[dict] = field(default_factory=list)      # staff rows, or posts complete without a detail page
    details: list[tuple[dict, dict]] = field(default_factory=list)  # (detail request, fields read on the list)
    lists: list[dict] = field(default_factory=list)        # more list pages: pagination and follow links
    problems: list[str] = field(default_factory=list)
    row_count: int = 0
    skipped_links: int = 0   # tel:, mailto:, javascript:, file: … links: never requests
    bounds: list[str] = field(default_factory=list)  # crawl bounds this page ran into (max_list_pages)
    last_page: bool = False  # the page is known to be the last of its list


WINDOW = 8  # list pages planned ahead: page p queues page p + WINDOW, so a huge "last page" costs nothing up front


def absolute_link(base: str, link: str | None) -> str | None:
    """The absolute http(s) URL of a link found on a page at `base`; None for anything else
    (tel:, mailto:, javascript:, data:, file:, a bare fragment)."""
    if not link or not isinstance(link, str):
        return None
    link = link.strip()
    if not link or link.startswith("#"):
        return None
    url = urljoin(base, link)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit(parts._replace(fragment=""))


def spec_of(site: Any) -> dict:
    return site.spec if hasattr(site, "spec") else site


def make_request(url: str, method: str = "GET", formdata: dict | None = None, **meta) -> dict:
    """A request as the JSON dict that crosses Redis."""
    request = {"url": url, "method": method, "headers": {}, "body": "", "meta": dict(meta)}
    if method == "POST":
        request["headers"]["Content-Type"] = "application/x-www-form-urlencoded"
        request["body"] = urlencode(formdata or {})
        request["meta"]["formdata"] = dict(formdata or {})
    return request


def start_requests(site: Any) -> list[dict]:
    spec = spec_of(site)
    return [make_request(urljoin(spec["base_url"], r["url"]), r["method"], r["formdata"], role="list", depth=0)
            for r in spec["start"]]


# --- selecting ---------------------------------------------------------------------------

def page_selector(text: str, expand_rowspan: bool = False) -> Selector:
    if not expand_rowspan:
        return Selector(text=text or "<html></html>")
    root = lxml.html.document_fromstring(text or "<html></html>")
    for table in root.iter("table"):
        _expand_spans(table)
    return Selector(root=root, type="html")


def _expand_spans(table) -> None:
    """Copy every rowspan/colspan cell into each row and column it covers."""
    rows = [tr for tr in table.iter("tr") if tr.getparent() is not None and _owning_table(tr) is table]
    carried: dict[int, tuple[Any, int]] = {}  # column -> (cell, rows still covered)
    for tr in rows:
        cells = [c for c in tr if isinstance(c.tag, str) and c.tag in ("td", "th")]
        out, column, i = [], 0, 0
        while i < len(cells) or any(col >= column for col in carried):
            if column in carried:
                cell, left = carried[column]
                out.append(copy.deepcopy(cell))
                carried[column] = (cell, left - 1)
                if left - 1 <= 0:
                    del carried[column]
                column += 1
                continue
            if i >= len(cells):
                break
            cell = cells[i]
            i += 1
            span = _int_attr(cell, "colspan")
            rowspan = _int_attr(cell, "rowspan")
            for k in range(span):
                piece = cell if k == 0 else copy.deepcopy(cell)
                for attr in ("rowspan", "colspan"):
                    piece.attrib.pop(attr, None)
                out.append(piece)
                if rowspan > 1:
                    carried[column] = (copy.deepcopy(piece), rowspan - 1)
                column += 1
        for c in cells:
            tr.remove(c)
        for c in out:
            tr.append(c)


def _owning_table(tr):
    node = tr.getparent()
    while node is not None and node.tag != "table":
        node = node.getparent()
    return node


def _int_attr(element, name: str) -> int:
    try:
        return max(1, int(element.get(name, "1")))
    except ValueError:
        return 1


def select(sel: Selector, expression: str):
    if expression.startswith("xpath:"):
        return sel.xpath(expression[len("xpath:"):].strip())
    return sel.css(expression)


def extract_field(sel: Selector, spec: dict) -> Any:
    """Apply one field spec (css/xpath, attr, regex, template, many, join, default) to a selector."""
    matches = sel.css(spec["css"]) if spec.get("css") else sel.xpath(spec["xpath"])
    values: list[str] = []
    for match in matches:
        root = match.root
        if spec.get("attr"):
            raw = root.get(spec["attr"]) if hasattr(root, "get") else None
        elif isinstance(root, str):
            raw = root
        else:
            raw = element_text(root)
        value = clean(raw)
        if spec.get("regex"):
            found = re.search(spec["regex"], value)
            if not found:
                continue
            groups = [found.group(0), *(g or "" for g in found.groups())]
            value = found.group(1) if found.groups() else found.group(0)
        else:
            groups = [value]
        if spec.get("template"):
            value = spec["template"].format(*groups)
        if value == "" and not spec.get("many"):
            continue
        values.append(value)
        if not spec.get("many"):
            break
    if spec.get("many"):
        return spec["join"].join(values) if spec.get("join") is not None else values
    return values[0] if values else spec.get("default")


# --- list pages ----------------------------------------------------------------------------

def parse_list(site: Any, request: dict, text: str) -> PageResult:
    """Rows, detail links, follow links and pagination of one list page."""
    spec = spec_of(site)
    listing = spec["list"]
    url = request["url"]
    sel = page_selector(text, listing.get("expand_rowspan"))
    result = PageResult()
    site_id = getattr(site, "id", None) or spec.get("id", "")
    seen_details: set[str] = set()
    page_values = {name: extract_field(sel, f) for name, f in listing["page_fields"].items()}
    for index, row in enumerate(select(sel, listing["rows"])):
        if listing.get("skip") and row.css(listing["skip"]):
            continue
        values = dict(page_values)
        values.update({name: extract_field(row, f) for name, f in listing["fields"].items()})
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
        link = extract_field(row, listing["detail_link"]) if listing.get("detail_link") else None
        detail_url = absolute_link(url, link)
        if link and detail_url is None and not link.lower().startswith("javascript:"):
            result.skipped_links += 1
            link = None
        if detail_url:
            if detail_url in seen_details:
                continue  # the same post linked twice in one row or page (thumbnail and title)
            seen_details.add(detail_url)
            detail = make_request(detail_url, role="detail", depth=request["meta"].get("depth", 0) + 1)
            result.details.append((detail, values))
        elif link:
            result.problems.append(f"{url}: row {index + 1}: detail link {link!r} needs a regex/template")
        else:
            if listing.get("detail_link"):
                result.problems.append(f"{url}: row {index + 1}: no detail link; the post is kept with list fields only")
            result.records.append(post_record(spec, url, values, {}, site_id))
    depth = request["meta"].get("depth", 0)
    if listing.get("follow"):
        for link in _as_list(extract_field(sel, {**listing["follow"], "many": True, "join": None})):
            target = absolute_link(url, link)
            if target is None:
                result.skipped_links += 1
                continue
            result.lists.append(make_request(target, role="list", depth=depth + 1))
    _paginate(result, spec, listing.get("pagination"), sel, request)
    return result


def _as_list(value) -> list:
    return value if isinstance(value, list) else ([value] if value else [])


def _paginate(result: PageResult, spec: dict, pagination: dict | None, sel: Selector, request: dict) -> None:
    """The next list pages of this one. Pagination keeps the page's link depth (a long directory is not
    a deep one) and has its own bound, `max_list_pages`; pages are planned a window ahead, never all at once."""
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
        if ordinal >= cap:
            result.bounds.append(f"max_list_pages {cap} reached: {target} not followed")
            return
        result.lists.append(make_request(target, role="list", depth=depth, list_page=ordinal + 1))
        return
    param = pagination.get("param")
    if not param:
        result.last_page = True
        return
    first = pagination.get("first", 1)
    page = int(meta.get("page") or first)
    last_allowed = first + cap - 1
    if pagination.get("until_empty"):
        if not result.row_count:
            result.last_page = True
            return
        if page + 1 > last_allowed:
            result.bounds.append(f"max_list_pages {cap} reached after page {page}")
            return
        result.lists.append(_page_request(pagination, request, param, page + 1, depth))
        return
    if meta.get("last") is None:  # the first page reads how many there are and plans the first window
        last = extract_field(sel, pagination["last_page"]) if pagination.get("last_page") else None
        digits = re.findall(r"\d+", str(last or ""))
        stated = int(digits[-1]) if digits and len(digits[-1]) <= 9 else page
        if stated > last_allowed:
            result.bounds.append(f"max_list_pages {cap}: the list says {stated} pages, only {cap} are read")
        last = min(stated, last_allowed)
        numbers = range(page + 1, min(last, page + WINDOW) + 1)
    else:
        last = int(meta["last"])
        numbers = [page + WINDOW] if page + WINDOW <= last else []
    result.last_page = page >= last
    for number in numbers:
        result.lists.append(_page_request(pagination, request, param, number, depth, last))


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


# --- detail pages and records -------------------------------------------------------------

def parse_detail(site: Any, text: str) -> dict:
    spec = spec_of(site)
    sel = page_selector(text)
    return {name: extract_field(sel, f) for name, f in ((spec.get("detail") or {}).get("fields") or {}).items()}


def stable_id(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]


def _site_fields(spec: dict, site_id: str | None) -> dict:
    return {"site": site_id or spec.get("id", ""), "organization": spec["organization"], "region": spec["region"],
            "org_kind": spec["org_kind"]}


def staff_record(spec: dict, url: str, values: dict, site_id: str | None = None) -> dict:
    record = {"type": "staff", **_site_fields(spec, site_id), "url": url}
    for name in DIRECTORY_TEXT_FIELDS:
        record[name] = clean(values.get(name) or "")
    record["id"] = stable_id(record["site"], *(record[n] for n in DIRECTORY_TEXT_FIELDS))
    return record


def post_record(spec: dict, url: str, list_values: dict, detail_values: dict, site_id: str | None = None) -> dict:
    values = {**{k: v for k, v in list_values.items() if v}, **{k: v for k, v in detail_values.items() if v}}
    date = parse_date(values.get("date") if isinstance(values.get("date"), str) else None)
    attachments = values.get("attachments") or []
    record = {
        "type": "post", **_site_fields(spec, site_id), "board_kind": spec.get("board_kind"), "url": url,
        "title": clean(values.get("title")), "date": date.isoformat() if date else None,
        "department": clean(values.get("department")), "author": clean(values.get("author")),
        "body": clean(values.get("body")),
        "attachments": [clean(a) for a in _as_list(attachments) if clean(a)],
        "post_id": clean(values.get("post_id")) or url,
    }
    record["id"] = stable_id(record["site"], record["post_id"])
    return record
