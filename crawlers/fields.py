"""Selecting on a page and reading one field spec: CSS/XPath, label lookup, multi-line values, links."""
from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html
from lxml import etree
from parsel import Selector

from crawlers.text import clean, element_text

LABEL_TAGS = {"dt", "th", "label"}
LABEL_CLASSES = {"tit", "label", "lbl", "th", "dt"}
LINE_TAGS = {"br", "p", "li", "div", "tr", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol"}
_SKIP_TAGS = {"script", "style", "noscript", "template"}
_LABEL_EDGES = ":：·*※ "


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


# --- the page ----------------------------------------------------------------------------

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
        return min(1000, max(1, int(element.get(name, "1"))))
    except ValueError:
        return 1


def select(sel: Selector, expression: str):
    if expression.startswith("xpath:"):
        return sel.xpath(expression[len("xpath:"):].strip())
    return sel.css(expression)


# --- label lookup ------------------------------------------------------------------------

def _norm_label(text: str) -> str:
    return "".join((text or "").split()).strip(_LABEL_EDGES)


def _is_label_element(el) -> bool:
    if not isinstance(el.tag, str):
        return False
    if el.tag in LABEL_TAGS:
        return True
    return bool(LABEL_CLASSES & set((el.get("class") or "").split()))


def _label_hit(text: str, labels: list[str], match: str) -> bool:
    found = _norm_label(text)
    if not found:
        return False
    if match == "contains":
        return any(label in found for label in labels)
    return found in labels


def _header_row(table):
    for tr in table.iter("tr"):
        if _owning_table(tr) is not table:
            continue
        cells = [c for c in tr if isinstance(c.tag, str) and c.tag in ("td", "th")]
        in_head = tr.getparent() is not None and tr.getparent().tag == "thead"
        if cells and (in_head or all(c.tag == "th" for c in cells)):
            return cells
        return None
    return None


def _columns(cells) -> list[tuple[int, Any]]:
    out, column = [], 0
    for cell in cells:
        out.append((column, cell))
        column += _int_attr(cell, "colspan")
    return out


def _column_value(row, labels: list[str], match: str):
    """A table row's cell under the column header that carries the label (a header row of th cells)."""
    if row.tag != "tr":
        return None
    table = _owning_table(row)
    header = _header_row(table) if table is not None else None
    if not header or row in [c.getparent() for c in header]:
        return None
    wanted = next((col for col, cell in _columns(header) if _label_hit(element_text(cell), labels, match)), None)
    if wanted is None:
        return None
    cells = [c for c in row if isinstance(c.tag, str) and c.tag in ("td", "th")]
    for col, cell in _columns(cells):
        if col <= wanted < col + _int_attr(cell, "colspan"):
            return cell
    return None


def label_values(scope, labels: list[str], match: str = "exact") -> list:
    """What follows each label inside `scope` (dd after dt, td after th, the next element or text after a
    `.tit` span), the label itself excluded; for a table row, also the cell under a matching column header."""
    labels = [_norm_label(label) for label in labels]
    out = []
    for el in scope.iter():
        if el is scope or not _is_label_element(el) or not _label_hit(element_text(el), labels, match):
            continue
        value = el.getnext()
        while value is not None and not isinstance(value.tag, str):
            value = value.getnext()
        if value is not None and not _is_label_element(value):
            out.append(value)
        elif el.tail and el.tail.strip():
            out.append(el.tail)
    if not out:
        cell = _column_value(scope, labels, match)
        if cell is not None:
            out.append(cell)
    return out


# --- values ------------------------------------------------------------------------------

def element_lines(element) -> list[str]:
    """The items of a multi-line element: text split at <br>, <p>, <li>, <div> … boundaries."""
    parts: list[str] = []

    def walk(node):
        tag = node.tag.lower() if isinstance(node.tag, str) else ""
        if tag in _SKIP_TAGS:
            parts.append(node.tail or "")
            return
        if tag in LINE_TAGS:
            parts.append("\n")
        if node.text and not isinstance(node, (etree._Comment, etree._ProcessingInstruction)):
            parts.append(node.text)
        for child in node:
            walk(child)
        if tag in LINE_TAGS:
            parts.append("\n")
        if node.tail and node is not element:
            parts.append(node.tail)

    walk(element)
    return [line for line in (clean(piece) for piece in "".join(parts).split("\n")) if line]


def _strip_prefix(item: str, chars: str | None) -> str:
    return item.lstrip(chars + " \t").strip() if chars else item


def _anchors(node) -> list:
    if isinstance(node, str) or not isinstance(getattr(node, "tag", None), str):
        return []
    return [node] if node.tag == "a" else list(node.iter("a"))


def _raw_values(node, spec: dict) -> list[str]:
    if spec.get("attr"):
        raw = node.get(spec["attr"]) if hasattr(node, "get") else None
        return [clean(raw)]
    if isinstance(node, str):
        return [clean(node)] if spec.get("split") != "lines" else [line for line in map(clean, node.splitlines()) if line]
    if spec.get("split") == "lines":
        return element_lines(node)
    return [element_text(node)]


def _apply_regex(value: str, spec: dict) -> str | None:
    if spec.get("regex"):
        found = re.search(spec["regex"], value)
        if not found:
            return None
        groups = [found.group(0), *(g or "" for g in found.groups())]
        value = found.group(1) if found.groups() else found.group(0)
    else:
        groups = [value]
    if spec.get("template"):
        value = spec["template"].format(*groups)
    return value


def matches(sel: Selector, spec: dict) -> list:
    """The lxml nodes (or strings) a field spec selects under `sel`."""
    if spec.get("label"):
        labels = spec["label"] if isinstance(spec["label"], list) else [spec["label"]]
        return label_values(sel.root, labels, spec.get("match") or "exact")
    found = sel.css(spec["css"]) if spec.get("css") else sel.xpath(spec["xpath"])
    return [m.root for m in found]


def extract_field(sel: Selector, spec: dict, base: str = "") -> Any:
    """Apply one field spec (css/xpath/label, attr, split, regex, template, link, many, join, default)."""
    values: list[Any] = []
    many = bool(spec.get("many"))
    for node in matches(sel, spec):
        if spec.get("link"):
            for a in _anchors(node):
                name = element_text(a)
                url = absolute_link(base, a.get("href")) if base else (a.get("href") or "").strip()
                if name or url:
                    values.append({"name": name, "url": url or ""})
            if values and not many:
                break
            continue
        items = []
        for raw in _raw_values(node, spec):
            value = _apply_regex(_strip_prefix(raw, spec.get("strip_prefix")), spec)
            if value is None or (value == "" and not many):
                continue
            items.append(value)
        if spec.get("split") == "lines":
            if items:
                values.append(items)
        else:
            values.extend(items[:1] if not many else items)
        if values and not many:
            break
    if spec.get("split") == "lines":
        flat = [item for items in values for item in items]
        if spec.get("join") is not None:
            return spec["join"].join(flat) if flat else spec.get("default")
        return flat if flat else spec.get("default")
    if many:
        if spec.get("join") is not None and not spec.get("link"):
            return spec["join"].join(values)
        return values
    return values[0] if values else spec.get("default")
