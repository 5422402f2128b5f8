"""`nugo try-site FILE`: read one to N pages of a site live, as the crawler would, and show what came out."""
from __future__ import annotations

import logging
import unicodedata
from typing import Any, TextIO

from crawlers.politefetch import PoliteFetcher
from crawlers.request import make_request
from crawlers.walk import Walk, walk

logger = logging.getLogger(__name__)

LABELS = {"bureau": "실·국", "department": "부서", "team": "팀", "position": "직위", "name": "성명", "phone": "전화",
          "duties": "담당업무", "email": "이메일", "title": "제목", "date": "날짜", "body": "본문", "attachments": "첨부",
          "post_id": "글번호", "author": "작성자"}
CELL = 28  # characters shown per table cell


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cut(text: str, limit: int = CELL) -> str:
    out, used = "", 0
    for c in text:
        w = 2 if unicodedata.east_asian_width(c) in "WF" else 1
        if used + w > limit - 1 and len(text) > len(out) + 1:
            return out + "…"
        out, used = out + c, used + w
    return out


def table(headers: list[str], rows: list[list[str]]) -> str:
    cells = [[cut(str(c)) for c in row] for row in [headers] + rows]
    widths = [max(width(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c + " " * (widths[i] - width(c)) for i, c in enumerate(row)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _value(record: dict, name: str) -> str:
    if name in ("attachments",):
        return ", ".join(record.get(name) or [])
    if name in record.get("lines", {}):
        return " | ".join(record["lines"][name])
    return str(record.get(name) or "")


def empty_selectors(spec: dict, result: Any, visit_values: dict | None = None) -> list[str]:
    """The selectors of the site file that matched nothing on one list page."""
    listing = spec["list"]
    out = []
    if not result.row_count and not result.lists:
        out.append(f"list.rows ({listing['rows']})")
    out += result.empty_selectors
    pagination = listing.get("pagination") or {}
    for key in ("next", "last_page"):
        if pagination.get(key) and result.last_page and not result.lists and result.row_count:
            out.append(f"list.pagination.{key}")
    if listing.get("follow") and not result.lists and not pagination:
        out.append("list.follow")
    if listing.get("detail_link") and result.row_count and not result.details:
        out.append("list.detail_link")
    return out


def report(site: Any, done: Walk, out: TextIO) -> int:
    """Print what the walk read; returns the number of problems (empty selectors, errors)."""
    spec = site.spec
    problems = 0
    names = [n for n in LABELS if n in spec["list"]["fields"] or n in spec["list"]["page_fields"]
             or (spec["list"].get("group_rows") or {}).get("field") == n]
    if spec["kind"] == "board":
        names = [n for n in ("title", "date", "department", "post_id") if n in spec["list"]["fields"]]
    for number, visit in enumerate(done.visits, 1):
        request = visit.request
        body = f" (POST {request['body']})" if request["method"] == "POST" else ""
        print(f"\n== 목록 {number}: {request['url']}{body}", file=out)
        if visit.result is None:
            print(f"   가져오지 못함: {visit.error}", file=out)
            problems += 1
            continue
        result = visit.result
        print(f"   행 {result.row_count}개, 인코딩 {visit.encoding}", file=out)
        records = result.records if spec["kind"] == "directory" else [values for _, values in result.details] + result.records
        if records:
            print(table([LABELS[n] for n in names], [[_value(r, n) for n in names] for r in records[:30]]), file=out)
            if len(records) > 30:
                print(f"   … 외 {len(records) - 30}행", file=out)
        follows = [r for r in result.lists if not r["meta"].get("page") and not r["meta"].get("list_page")]
        pages = [r for r in result.lists if r["meta"].get("page") or r["meta"].get("list_page")]
        if follows:
            print(f"   따라갈 링크 {len(follows)}개: " + ", ".join(r["url"] for r in follows[:5])
                  + (" …" if len(follows) > 5 else ""), file=out)
        if pages:
            first = pages[0]
            what = f"POST {first['body']}" if first["method"] == "POST" else first["url"]
            print(f"   다음 페이지: {what}" + (f" 외 {len(pages) - 1}개 예정" if len(pages) > 1 else ""), file=out)
        elif result.last_page:
            print("   다음 페이지: 없음 (마지막 페이지)", file=out)
        if result.skipped_links or result.denied_links:
            print(f"   건너뛴 링크: http가 아닌 링크 {result.skipped_links}개, deny {result.denied_links}개", file=out)
        for problem in result.problems[:5]:
            print(f"   문제: {problem}", file=out)
        for selector in empty_selectors(spec, result):
            print(f"   일치 없음: {selector}", file=out)
            problems += 1
    for detail, values in done.details:
        print(f"\n== 상세: {detail['url']}", file=out)
        fields = dict((spec.get("detail") or {}).get("fields") or {})
        for name in fields:
            value = values.get(name)
            shown = ", ".join(v["name"] if isinstance(v, dict) else str(v) for v in value) if isinstance(value, list) else value
            print(f"   {LABELS.get(name, name)}: {cut(str(shown or ''), 70) if shown else '(일치 없음)'}", file=out)
            problems += not shown
        for name, value in (values.get("extra") or {}).items():
            print(f"   {name}: {value or '(일치 없음)'}", file=out)
            problems += not value
    for url in done.robots_skipped:
        print(f"robots.txt가 막음: {url}", file=out)
    for error in done.errors:
        print(f"오류: {error}", file=out)
    return problems + len(done.errors)


def try_site(site: Any, out: TextIO, *, url: str | None = None, pages: int = 1, details: int = 1,
             interval: float = 1.0) -> int:
    """Fetch up to `pages` list pages (and `details` detail pages) of `site` politely and report; returns
    the number of problems found (0: every selector matched)."""
    fetcher = PoliteFetcher(site.spec, interval=interval)
    start = [make_request(url, role="list", depth=0)] if url else None
    done = walk(site, fetcher, max_list_pages=max(1, pages), max_details=details, allowed=fetcher.allowed, start=start)
    problems = report(site, done, out)
    print(f"\n요청 {len(fetcher.log)}건 (간격 {fetcher.interval:g}초, robots.txt 준수). 문제 {problems}건.", file=out)
    return problems
