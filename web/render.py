"""Jinja2 rendering of the pages: autoescaping on, crawled text escaped piece by piece, helpers as filters.

Templates live in web/templates (a base layout, one template per page, partials for the result card,
the filters and the pager); the CSS is the static file web/static/style.css, served with a content hash
in its URL so browsers may keep it. Everything a page shows comes through these filters, so no crawled
value is ever written into HTML unescaped.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from conf.timezone import SEOUL
from index.results import segments
from notifier.text import board_label, flag_text, parse_time, safe_url

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
SNIPPET = 80  # characters of a post body shown on each side of the first match
KIND_LABELS = {"province": "광역", "city": "시·군·구", "ministry": "중앙부처", "agency": "공공기관"}
FAVICON = ("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='6.5' "
           "cy='6.5' r='4.5' fill='none' stroke='%231d4ed8' stroke-width='2'/%3E%3Cpath d='M10 10l4.5 4.5' "
           "stroke='%231d4ed8' stroke-width='2'/%3E%3C/svg%3E")


def link(path: str, **params) -> str:
    """A URL of this site with the non-empty parameters (escaped by the template)."""
    query = urlencode([(k, v) for k, v in params.items() if v not in (None, "") and not (k == "page" and v == 1)])
    return path + ("?" + query if query else "")


def highlighted(text, spans=()) -> Markup:
    """Crawled text with the matched spans in <mark>, each piece escaped."""
    text = "" if text is None else str(text)
    return Markup("").join(Markup("<mark>{}</mark>").format(piece) if hit else escape(piece)
                           for piece, hit in segments(text, spans or ()))


def field(hit: dict, name: str) -> Markup:
    return highlighted(hit.get(name), (hit.get("highlights") or {}).get(name))


def tel_href(phone) -> str | None:
    digits = re.sub(r"[^0-9+]", "", str(phone or ""))
    return f"tel:{digits}" if len(digits) >= 3 else None


def korean_time(value, with_time: bool = True) -> str:
    """2024년 5월 1일 09:00 (Seoul time) of an ISO text, or empty."""
    stamp = parse_time(value, dt.timezone.utc)
    if stamp is None:
        return ""
    local = stamp.astimezone(SEOUL)
    text = f"{local.year}년 {local.month}월 {local.day}일"
    return f"{text} {local:%H:%M}" if with_time else text


def short_time(value) -> str:
    """2024.05.01 09:00 (Seoul time) of an ISO text or epoch seconds, or empty."""
    if isinstance(value, (int, float)):
        value = dt.datetime.fromtimestamp(value, dt.timezone.utc).isoformat()
    stamp = parse_time(value, dt.timezone.utc)
    return f"{stamp.astimezone(SEOUL):%Y.%m.%d %H:%M}" if stamp else ""


def took(ms: float) -> str:
    """Search time for people: whole milliseconds (stable screenshots of fast searches)."""
    return "1ms 미만" if ms < 1 else f"{ms:,.0f}ms"


def snippet(text: str, spans) -> Markup:
    """A window of the body around the first match, highlighted; the start of the body without one."""
    text = text or ""
    if not spans:
        return escape(text[:SNIPPET * 2]) + ("…" if len(text) > SNIPPET * 2 else "")
    start = max(0, spans[0][0] - SNIPPET)
    end = min(len(text), spans[0][1] + SNIPPET)
    inside = [(max(s, start) - start, min(e, end) - start) for s, e in spans if e > start and s < end]
    return Markup("{}{}{}").format("…" if start else "", highlighted(text[start:end], inside),
                                   "…" if end < len(text) else "")


def number(value) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return "—"


@lru_cache(maxsize=8)
def static_version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def static(name: str) -> str:
    """URL of a static file, with its content hash (the file is served with a long cache time)."""
    return f"/static/{name}?v={static_version(name)}"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(link=link, static=static, favicon=FAVICON, kind_labels=KIND_LABELS)
    env.filters.update(highlighted=highlighted, field=field, tel_href=tel_href, korean_time=korean_time,
                       short_time=short_time, took=took, flag_text=flag_text, snippet=snippet,
                       board_label=board_label, safe_url=safe_url, number=number)
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
