"""A tiny reader of site definitions (not the crawler): walks a farm site as its YAML says, over HTTP.

Tests use it to check that every YAML of conf/sites/farm yields exactly the farm's manifest. It follows
the documented semantics of site definitions in the simplest way: no politeness, no robots, no retries.
"""
from __future__ import annotations

import copy
import re
import urllib.error
import urllib.request
import urllib.robotparser
from collections import deque
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from lxml import html as lxml_html
from parsel import Selector

_META_CHARSET = re.compile(rb"""charset=["']?([A-Za-z0-9_-]+)""")


def fetch(url: str, method: str = "GET", formdata: dict | None = None, timeout: float = 10) -> tuple[bytes, str]:
    data = urlencode(formdata or {}).encode() if method == "POST" else None
    request = urllib.request.Request(url, data=data, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read(), response.headers.get("Content-Type", "")


def decode(body: bytes, content_type: str, setting: str = "auto") -> str:
    """Decode by the site setting, else the header, else the meta tag; EUC-KR is read as CP949."""
    charset = setting if setting != "auto" else None
    if charset is None:
        match = _META_CHARSET.search(content_type.encode()) or _META_CHARSET.search(body[:2048])
        charset = match.group(1).decode() if match else "utf-8"
    if charset.lower().replace("_", "-") in ("euc-kr", "ks-c-5601-1987"):
        charset = "cp949"
    return body.decode(charset)


def collapse(text: str) -> str:
    return " ".join(text.split())


def values(sel: Selector, spec) -> list[str]:
    """Every value a field spec selects under `sel` (before `many` keeps one or all)."""
    spec = {"css": spec} if isinstance(spec, str) else spec
    nodes = sel.css(spec["css"]) if spec.get("css") else sel.xpath(spec["xpath"])
    expr = spec.get("css") or spec.get("xpath")
    out = []
    for node in nodes:
        if "::text" in expr or "::attr" in expr or isinstance(node.root, str):
            value = node.get()
        elif spec.get("attr"):
            value = node.attrib.get(spec["attr"])
        else:
            value = collapse(node.xpath("string(.)").get())
        if value is None:
            continue
        if spec.get("regex"):
            match = re.search(spec["regex"], value)
            if not match:
                continue
            groups = (match.group(0),) + match.groups()
            value = groups[1] if len(groups) > 1 else groups[0]
            if spec.get("template"):
                value = re.sub(r"\{(\d+)\}", lambda m: groups[int(m.group(1))], spec["template"])
        out.append(value)
    return out


def field(sel: Selector, spec):
    found = values(sel, spec)
    if isinstance(spec, dict) and spec.get("many"):
        return spec["join"].join(found) if spec.get("join") is not None else found
    return found[0] if found else (spec.get("default") if isinstance(spec, dict) else None)


def expand_rowspan(text: str) -> str:
    """Copy every rowspan/colspan cell into each row (and column) it covers."""
    root = lxml_html.fromstring(text)
    for table in root.iter("table"):
        pending: dict[int, list] = {}   # column -> [cell, rows left]
        for row in table.xpath("./tr|./tbody/tr|./thead/tr"):
            cells, col, out = list(row), 0, []
            for cell in cells:
                row.remove(cell)
            queue = deque(cells)
            while queue or any(c >= col for c in pending):
                if col in pending:
                    cell, left = pending[col]
                    out.append(copy.deepcopy(cell))
                    pending[col][1] -= 1
                    if pending[col][1] == 0:
                        del pending[col]
                    col += 1
                    continue
                if not queue:
                    col += 1
                    continue
                cell = queue.popleft()
                span, width = int(cell.get("rowspan", 1)), int(cell.get("colspan", 1))
                cell.attrib.pop("rowspan", None)
                cell.attrib.pop("colspan", None)
                for _ in range(width):
                    out.append(copy.deepcopy(cell))
                    if span > 1:
                        pending[col] = [cell, span - 1]
                    col += 1
            for cell in out:
                row.append(cell)
    return lxml_html.tostring(root, encoding="unicode")


def with_param(url: str, name: str, value) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name] + [(name, str(value))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def read_site(spec: dict, max_pages: int = 2000) -> list[dict]:
    """Every record the definition yields (list fields, page fields and detail fields merged)."""
    base, listing = spec["base_url"], spec["list"]
    encoding = spec.get("encoding") or "auto"
    queue = deque()
    for start in spec["start"]:
        queue.append((urljoin(base, start["url"]), start.get("method") or "GET", dict(start.get("formdata") or {}), True))
    robots = urllib.robotparser.RobotFileParser(urljoin(base, "/robots.txt"))
    robots.read()
    seen, records, pages = set(), [], 0
    while queue and pages < max_pages:
        url, method, formdata, first = queue.popleft()
        key = (url, method, tuple(sorted(formdata.items())))
        if key in seen or not robots.can_fetch("*", url):
            continue
        seen.add(key)
        pages += 1
        try:
            body, ctype = fetch(url, method, formdata)
        except urllib.error.HTTPError:
            continue
        text = decode(body, ctype, encoding)
        if listing.get("expand_rowspan"):
            text = expand_rowspan(text)
        sel = Selector(text=text)
        rows_expr = listing["rows"]
        rows = sel.xpath(rows_expr[6:].strip()) if rows_expr.startswith("xpath:") else sel.css(rows_expr)
        shared = {name: field(sel, f) for name, f in (listing.get("page_fields") or {}).items()}
        for row in rows:
            if listing.get("skip") and row.css(listing["skip"]):
                continue
            record = dict(shared)
            record.update({name: field(row, f) for name, f in (listing.get("fields") or {}).items()})
            if listing.get("detail_link"):
                link = field(row, listing["detail_link"])
                record["url"] = urljoin(url, link)
                detail_body, detail_type = fetch(record["url"])
                detail = Selector(text=decode(detail_body, detail_type, encoding))
                record.update({name: field(detail, f) for name, f in ((spec.get("detail") or {}).get("fields") or {}).items()})
            records.append(record)
        if listing.get("follow"):
            for link in values(sel, listing["follow"]):
                queue.append((urljoin(url, link), "GET", {}, False))
        pagination = listing.get("pagination") or {}
        if pagination.get("next"):
            link = field(sel, pagination["next"])
            if link:
                queue.append((urljoin(url, link), "GET", {}, False))
        elif pagination.get("param"):
            param, post = pagination["param"], pagination.get("method") == "POST"
            if pagination.get("until_empty"):
                current = formdata.get(param) if post else dict(parse_qsl(urlsplit(url).query)).get(param)
                targets = [int(current or pagination.get("first") or 1) + 1] if rows else []
            elif first:
                last = field(sel, pagination["last_page"])
                targets = range((pagination.get("first") or 1) + 1, int(last) + 1) if last else []
            else:
                targets = []
            for page in targets:
                if post:
                    queue.append((url, "POST", {**formdata, param: str(page)}, False))
                else:
                    queue.append((with_param(url, param, page), "GET", {}, False))
    return records
