"""`nugo draft-site URL`, part 2: pagination, detail links, page fields, and the YAML file itself."""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import lxml.html

from conf.specs import REGIONS
from crawlers.draft import DEPT, DIRECTORY_LABELS, Rows, css_of
from crawlers.encoding import decode_page
from crawlers.fields import absolute_link
from crawlers.text import element_text

logger = logging.getLogger(__name__)

PAGE_PARAMS = ("pageIndex", "pageNo", "page", "currentPage", "cpage", "curPage", "pageNum", "nowPage", "pg", "Start",
               "startPage", "pageNumber")
JS_PAGE = re.compile(r"([A-Za-z_$][\w$]*)\(\s*'?(\d+)'?\s*\)")
LAST_WORDS = ("마지막", "끝", "맨끝", "맨뒤", "last", "end")
REGION_WORDS = {"서울": "서울", "부산": "부산", "대구": "대구", "인천": "인천", "광주": "광주", "대전": "대전", "울산": "울산",
                "세종": "세종", "경기": "경기", "강원": "강원", "충청북": "충북", "충북": "충북", "충청남": "충남", "충남": "충남",
                "전라북": "전북", "전북": "전북", "전라남": "전남", "전남": "전남", "경상북": "경북", "경북": "경북",
                "경상남": "경남", "경남": "경남", "제주": "제주"}
BOARD_WORDS = (("보도", "press"), ("입법", "legislation"), ("고시", "announcement"), ("공고", "announcement"),
               ("공지", "notice"), ("알림", "notice"))


@dataclass
class Draft:
    url: str
    spec: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    encoding: str = "utf-8"


def _paging_block(root):
    for el in root.iter():
        if isinstance(el.tag, str) and re.search(r"pag|page_nav|pg_", el.get("class") or "", re.I) and el.iter("a"):
            return el
    return None


def _is_last(a) -> bool:
    text = (element_text(a) + " " + " ".join(i.get("alt", "") for i in a.iter("img"))).lower()
    classes = (a.get("class") or "").lower().split()
    return any(w in text for w in LAST_WORDS[:4]) or any(c in ("last", "end", "btn_last", "next_end", "page_nextend") for c in classes)


def _form_for(root, param: str):
    for form in root.iter("form"):
        if any(i.get("name") == param for i in form.iter("input")):
            return form
    return None


def pagination(root, page_url: str) -> tuple[dict | None, dict | None, list[str]]:
    """(pagination spec, start override {method, formdata, url} or None, notes)."""
    block = _paging_block(root)
    notes: list[str] = []
    if block is None:
        return None, None, ["페이지 이동 영역을 찾지 못함: 한 페이지짜리 목록으로 봄"]
    anchors = list(block.iter("a"))
    block_css = css_of(block)
    hrefs = [(a, a.get("href") or "", a.get("onclick") or "") for a in anchors]
    # JavaScript page links: fn_egov_link_page(3), goPage(3), fn_link_page(3), pageLink(3)
    js = [(a, JS_PAGE.search(onclick) or JS_PAGE.search(href)) for a, href, onclick in hrefs]
    js = [(a, m) for a, m in js if m]
    if js:
        func = js[0][1].group(1)
        script = " ".join(s.text or "" for s in root.iter("script"))
        body = re.search(rf"function\s+{re.escape(func)}\s*\(\s*(\w+)\s*\)\s*\{{(.*?)\}}", script, re.S)
        param = None
        if body:
            found = re.search(r"(\w+)\.value\s*=\s*" + re.escape(body.group(1)), body.group(2))
            param = found.group(1) if found else None
        param = param or next((p for p in PAGE_PARAMS if _form_for(root, p) is not None), None)
        form = _form_for(root, param) if param else None
        if form is None:
            notes.append(f"자바스크립트 페이지 이동 {func}(N)의 폼을 찾지 못함: 수정 필요")
            return None, None, notes
        method = (form.get("method") or "get").upper()
        attr = "onclick" if js[0][0].get("onclick") else "href"
        last = next((a for a, _ in js if _is_last(a)), js[-1][0])
        last_sel = css_of(last) if "." in css_of(last) else "a"
        spec = {"param": param, "method": method,
                "last_page": {"css": f"{block_css} {last_sel}::attr({attr})" if last_sel != "a" else None,
                              "regex": rf"{re.escape(func)}\(\s*'?(\d+)"}}
        if last_sel == "a":
            spec["last_page"] = {"xpath": f"(//{block.tag}[contains(concat(' ', normalize-space(@class), ' '), "
                                          f"' {(block.get('class') or '').split()[0]} ')]//a[@{attr}])[last()]/@{attr}",
                                 "regex": spec["last_page"]["regex"]}
        start = None
        if method == "POST":
            inputs = {i.get("name"): i.get("value") or "" for i in form.iter("input") if i.get("name")}
            inputs[param] = "1"
            action = urljoin(page_url, form.get("action") or page_url)
            start = {"url": action if urlsplit(action).netloc == urlsplit(page_url).netloc else page_url,
                     "method": "POST", "formdata": inputs}
        notes.append(f"페이지 이동: {func}(N) → {method} {param}")
        return {k: v for k, v in spec.items() if v is not None}, start, notes
    # plain links with a page parameter in the query
    params = {}
    for a, href, _ in hrefs:
        for key, value in parse_qsl(urlsplit(href).query):
            if value.isdigit():
                params.setdefault(key, []).append((int(value), a))
    param = next((p for p in PAGE_PARAMS if p in params), None) or next(iter(params), None)
    if param:
        numbers = sorted({n for n, _ in params[param]})
        if len(numbers) > 2 and all(n % 10 == 0 for n in numbers) and numbers[-1] >= 10 * (len(numbers) - 1):
            notes.append(f"쪽 번호가 아니라 건수 오프셋({param}=0,10,20…): 페이지 링크를 모두 따라감")
            return {"follow": {"css": f"{block_css} a::attr(href)", "many": True}}, None, notes
        last = next((a for n, a in params[param] if _is_last(a)), None)
        if last is not None:
            sel = css_of(last)
            css = f"{block_css} {sel}::attr(href)" if "." in sel else None
            spec = {"param": param, "method": "GET",
                    "last_page": {"css": css, "regex": rf"{re.escape(param)}=(\d+)"} if css else
                    {"xpath": f"({_block_xpath(block)}//a[contains(@href, '{param}=')])[last()]/@href",
                     "regex": rf"{re.escape(param)}=(\d+)"}}
            notes.append(f"페이지 이동: GET {param}, 마지막 쪽 링크로 쪽 수를 읽음")
            return spec, None, notes
        nxt = next((a for a, href, _ in hrefs if "다음" in element_text(a) or "next" in (a.get("class") or "")), None)
        if nxt is not None:
            notes.append("마지막 쪽 링크가 없어 '다음' 링크를 따라감")
            return {"next": f"{block_css} {css_of(nxt)}::attr(href)"}, None, notes
        notes.append(f"페이지 이동: GET {param}, 빈 쪽이 나올 때까지")
        return {"param": param, "method": "GET", "until_empty": True}, None, notes
    return None, None, ["페이지 링크에서 쪽 번호를 찾지 못함"]


def _block_xpath(block) -> str:
    cls = (block.get("class") or "").split()
    return f"//{block.tag}[contains(concat(' ', normalize-space(@class), ' '), ' {cls[0]} ')]" if cls else f"//{block.tag}"


def detail_link(root, rows: Rows, page_url: str) -> tuple[dict | None, dict | None, list[str]]:
    """(detail_link spec, post_id spec, notes) from the rows' title links: an href, or onclick arguments
    turned into the URL the page's own script builds."""
    anchors = [max(row.iter("a"), key=lambda a: len(element_text(a)), default=None) for row in rows.rows]
    anchors = [a for a in anchors if a is not None]
    if not anchors:
        return None, None, ["제목 링크가 없음"]
    a = anchors[-1]
    href, onclick = a.get("href") or "", a.get("onclick") or ""
    if absolute_link(page_url, href) and not href.startswith("#"):
        values: dict[str, set] = {}
        for other in anchors:
            for key, value in parse_qsl(urlsplit(other.get("href") or "").query):
                values.setdefault(key, set()).add(value)
        varying = [k for k, v in values.items() if len(v) == len({x.get("href") for x in anchors}) and all(x.isdigit() for x in v)]
        spec = "a::attr(href)"
        post_id = {"css": "a::attr(href)", "regex": rf"[?&]{re.escape(varying[-1])}=(\d+)"} if varying else None
        return spec, post_id, []
    call = re.search(r"([A-Za-z_$][\w$]*)\(([^)]*)\)", onclick or href)
    if not call:
        return None, None, ["제목 링크의 주소를 알 수 없음: detail_link 직접 작성 필요"]
    func, args = call.group(1), [x.strip().strip("'\"") for x in call.group(2).split(",")]
    script = " ".join(s.text or "" for s in root.iter("script"))
    body = re.search(rf"function\s+{re.escape(func)}\s*\(([^)]*)\)\s*\{{(.*?)\}}", script, re.S)
    attr = "onclick" if onclick else "href"
    regex = re.escape(func) + r"\(" + r",\s*".join(r"'?(\w+)'?" for _ in args) + r"\)"
    if not body:
        return None, None, [f"{func}(…)의 정의가 페이지에 없음: detail_link의 template 직접 작성 필요"]
    names = [n.strip() for n in body.group(1).split(",")]
    target = re.search(r"location\.href\s*=\s*(.+?);", body.group(2), re.S)
    if not target:
        return None, None, [f"{func}(…)가 주소를 만들지 않음: detail_link 직접 작성 필요"]
    template = ""
    for piece in re.split(r"\s*\+\s*", target.group(1).strip()):
        if piece[:1] in "\"'":
            template += piece.strip("\"'")
        elif piece in names:
            template += "{" + str(names.index(piece) + 1) + "}"
    template = urljoin(page_url, template.replace("{", "%7B").replace("}", "%7D")).replace("%7B", "{").replace("%7D", "}")
    path = urlsplit(template)
    template = path.path + (f"?{path.query}" if path.query else "")
    last_group = len(args)
    spec = {"css": f"a::attr({attr})", "regex": regex, "template": template}
    post_id = {"css": f"a::attr({attr})", "regex": regex, "template": "{" + str(last_group) + "}"}
    return spec, post_id, [f"상세 링크: {func}({', '.join(args)}) → {template}"]


def page_fields(root, rows: Rows) -> dict:
    """Department (a heading above the rows) and bureau (the breadcrumb) when the rows do not carry them."""
    out = {}
    crumb = next((el for el in root.iter() if isinstance(el.tag, str) and re.search(r"location|breadcrumb|navi|path", el.get("class") or "")), None)
    items = [li for li in crumb.iter("li")] if crumb is not None else []
    if len(items) >= 3 and "bureau" not in rows.fields:
        before = element_text(items[-2])
        if DEPT.search(before) or before.endswith(("실", "국", "본부")):
            out["bureau"] = f"{css_of(crumb)} li:nth-last-child(2)"
    if "department" not in rows.fields:
        for el in root.iter("h2", "h3", "h4"):
            text = element_text(el)
            if DEPT.search(text) and len(text) <= 20 and css_of(el) != el.tag:
                out["department"] = css_of(el)
                break
    return out


def index_links(root, page_url: str) -> tuple[str | None, list[str]]:
    """On a page with no rows (an organization index): the link block whose links look like department pages."""
    best, links, size = None, [], 0
    for block in root.iter("div", "ul"):
        found = [a.get("href") for a in block.iter("a") if a.get("href") and re.search(r"(dept|org|code|Cd|Id)\w*=", a.get("href"))]
        total = len(list(block.iter("a")))
        if len(found) >= 3 and css_of(block) != block.tag and (best is None or len(found) > len(links)
                                                                or len(found) == len(links) and total <= size):
            best, links, size = block, found, total
    if best is None:
        return None, []
    return f"{css_of(best)} a::attr(href)", [urljoin(page_url, h) for h in links]


def site_meta(root, url: str, kind: str, text: str) -> dict:
    title = element_text(root.find(".//title")) if root.find(".//title") is not None else ""
    parts = [p.strip() for p in re.split(r"[|>\-–]", title) if p.strip()]
    organization = parts[-1] if parts else urlsplit(url).hostname
    region = next((r for w, r in REGION_WORDS.items() if organization.startswith(w)), "중앙")
    org_kind = "province" if re.search(r"(특별시|광역시|특별자치시|도)$", organization) else \
        "city" if re.search(r"(시|군|구)$", organization) else "agency"
    meta = {"name": " ".join(dict.fromkeys([organization, parts[0] if parts else "직원검색"])), "organization": organization,
            "region": region if region in REGIONS else "중앙", "org_kind": org_kind, "kind": kind}
    if kind == "board":
        meta["board_kind"] = next((k for w, k in BOARD_WORDS if w in title + text[:3000]), "notice")
    return meta


def parse(body: bytes, content_type: str) -> tuple[object, str, str]:
    text, encoding = decode_page(body, content_type)
    return lxml.html.document_fromstring(text or "<html></html>"), text, encoding


def yaml_text(draft: Draft) -> str:
    """The site file: a header on how it was drafted, then the spec (JSON-style flow values, valid YAML)."""
    lines = [f"# Drafted by `nugo draft-site {draft.url}`: check it with `nugo try-site` before use.",
             *[f"# - {note}" for note in draft.notes]]

    def emit(value, indent=0):
        pad = "  " * indent
        for key, item in value.items():
            if isinstance(item, dict) and any(isinstance(v, (dict, list)) for v in item.values()) or \
                    isinstance(item, dict) and key in ("list", "detail", "fields", "page_fields", "extra"):
                lines.append(f"{pad}{key}:")
                emit(item, indent + 1)
            else:
                lines.append(f"{pad}{json.dumps(key, ensure_ascii=False) if not re.fullmatch(r'[A-Za-z_]+', key) else key}: "
                             f"{json.dumps(item, ensure_ascii=False)}")
    emit(draft.spec)
    return "\n".join(lines) + "\n"


def write(draft: Draft, path: Path) -> list[str]:
    """Write the file if it validates; returns the problems (file:line: field: message) otherwise."""
    from conf.loader import load_site
    from conf.yamlsource import ConfigError

    import tempfile

    text = yaml_text(draft)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder) / path.name
        tmp.write_text(text, encoding="utf-8")
        try:
            load_site(tmp, {})
        except ConfigError as exc:
            return [p.replace(str(tmp), str(path)) for p in exc.problems]
    path.write_text(text, encoding="utf-8")
    return []


DIRECTORY_FIELD_NAMES = tuple(DIRECTORY_LABELS)
