"""HTML of the 누고 web pages: script-free, inline CSS, every crawled text escaped piece by piece."""
from __future__ import annotations

import datetime as dt
import re
from html import escape
from urllib.parse import urlencode

from index.results import Group, Results, segments
from notifier.text import SEOUL, board_label, parse_time, safe_url

TABS = (("staff", "직원 검색"), ("posts", "게시글 검색"))
PLACEHOLDER = {"staff": "업무 키워드 (예: 드론, 청년 일자리)", "posts": "게시글 키워드 (예: 수소, 입법예고)"}
EXAMPLES = {"staff": ("드론", "청년 일자리", "수소", "민원", "보조금 정산"), "posts": ("드론", "청년", "수소", "입법예고")}
KIND_LABELS = {"province": "광역", "city": "시·군·구", "ministry": "중앙부처", "agency": "공공기관"}
SNIPPET = 80  # characters of a post body shown on each side of the first match
FAVICON = ("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='6.5' "
           "cy='6.5' r='4.5' fill='none' stroke='%231d4ed8' stroke-width='2'/%3E%3Cpath d='M10 10l4.5 4.5' "
           "stroke='%231d4ed8' stroke-width='2'/%3E%3C/svg%3E")

CSS = """
:root{--bg:#f6f7f9;--card:#fff;--ink:#1f2933;--muted:#5f6b7a;--line:#e3e7ed;--accent:#1d4ed8;--mark:#fde68a;
--warn:#b45309;--warnbg:#fef3c7}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--card:#1a1f26;--ink:#e6e9ee;--muted:#9aa5b4;--line:#2b323c;
--accent:#7aa2ff;--mark:#8a6d12;--warn:#fbbf24;--warnbg:#3a2d0c}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);line-height:1.5;
font-family:system-ui,-apple-system,"Apple SD Gothic Neo","Malgun Gothic","Noto Sans KR","Noto Sans CJK KR",sans-serif}
a{color:var(--accent)}
header{background:var(--card);border-bottom:1px solid var(--line)}
.wrap{max-width:1120px;margin:0 auto;padding:0 16px}
.top{display:flex;align-items:center;gap:16px;padding:14px 0 0;flex-wrap:wrap}
.brand{font-size:1.5rem;font-weight:800;text-decoration:none;color:var(--ink);letter-spacing:-.02em}
.brand small{font-size:.85rem;font-weight:500;color:var(--muted);margin-left:8px}
form.search{display:flex;gap:8px;flex:1;min-width:260px}
form.search input[type=search]{flex:1;min-width:0;font:inherit;font-size:1.05rem;padding:10px 14px;border:2px solid var(--line);
border-radius:10px;background:var(--bg);color:var(--ink)}
form.search input[type=search]:focus{outline:none;border-color:var(--accent)}
form.search button{font:inherit;font-weight:700;padding:10px 20px;border:0;border-radius:10px;background:var(--accent);
color:#fff;cursor:pointer}
nav.tabs{display:flex;gap:4px;margin-top:10px}
nav.tabs a{padding:8px 14px;text-decoration:none;color:var(--muted);border-bottom:3px solid transparent;font-weight:600}
nav.tabs a[aria-current=page]{color:var(--ink);border-bottom-color:var(--accent)}
main{padding:16px 0 40px}
.layout{display:grid;grid-template-columns:230px 1fr;gap:20px;align-items:start}
.layout>*{min-width:0}
.summary{margin:0 0 12px;color:var(--muted)}
.summary strong{color:var(--ink)}
aside details{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 12px;margin-bottom:12px}
aside summary{font-weight:700;cursor:pointer}
.chips{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px;padding:0;list-style:none}
.chips a{display:inline-block;padding:3px 10px;border:1px solid var(--line);border-radius:999px;text-decoration:none;
color:var(--ink);font-size:.9rem;background:var(--bg)}
.chips a[aria-current=true]{background:var(--accent);border-color:var(--accent);color:#fff}
.chips .n{color:var(--muted);font-size:.8rem}
.chips a[aria-current=true] .n{color:#dbe4ff}
section.group{background:var(--card);border:1px solid var(--line);border-radius:12px;margin-bottom:16px;overflow:hidden}
section.group h2{font-size:1.1rem;margin:0;padding:12px 16px;border-bottom:1px solid var(--line);display:flex;
flex-wrap:wrap;align-items:baseline;gap:4px 10px}
.meta{font-size:.85rem;font-weight:400;color:var(--muted)}
.badge{font-size:.8rem;font-weight:700;color:var(--warn);background:var(--warnbg);border-radius:6px;padding:2px 8px}
p.warn{margin:0;padding:8px 16px;font-size:.88rem;color:var(--warn);background:var(--warnbg)}
ol.rows{list-style:none;margin:0;padding:0}
li.person{display:grid;grid-template-columns:minmax(8rem,11rem) minmax(9rem,15rem) 1fr auto;gap:4px 16px;
padding:10px 16px;border-top:1px solid var(--line)}
li.person:first-child{border-top:0}
.name{font-weight:700}
.pos,.dept,.when{color:var(--muted);font-size:.92rem}
.phone a{white-space:nowrap;font-variant-numeric:tabular-nums;text-decoration:none;font-weight:600}
.email{font-size:.85rem;color:var(--muted);word-break:break-all}
mark{background:var(--mark);color:inherit;border-radius:3px;padding:0 1px}
li.post{padding:12px 16px;border-top:1px solid var(--line)}
li.post:first-child{border-top:0}
li.post .title{font-weight:700;font-size:1.02rem}
li.post p{margin:4px 0 0}
.pages{display:flex;flex-wrap:wrap;gap:6px;justify-content:center;margin:20px 0;padding:0;list-style:none}
.pages a,.pages span{display:inline-block;min-width:2.4rem;text-align:center;padding:6px 10px;border-radius:8px;
border:1px solid var(--line);background:var(--card);text-decoration:none}
.pages span[aria-current]{background:var(--accent);color:#fff;border-color:var(--accent)}
.notice{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:20px 22px}
.notice h2{margin-top:0;font-size:1.2rem}
.notice li{margin:4px 0}
table.status{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:12px}
table.status th,table.status td{text-align:left;padding:8px 10px;border-top:1px solid var(--line);vertical-align:top;
font-size:.92rem}
table.status th,table.status td.k{white-space:nowrap}
table.status td.n{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}
code{font-size:.8rem;word-break:break-all}
footer{color:var(--muted);font-size:.85rem;padding:20px 0;border-top:1px solid var(--line)}
@media (max-width:760px){
.layout{grid-template-columns:1fr}
aside details{padding:8px 12px;margin-bottom:8px}
aside .chips{flex-wrap:nowrap;overflow-x:auto;padding-bottom:4px}
aside .chips li{flex:none}
li.person{grid-template-columns:1fr auto;padding:10px 14px}
li.person .dept,li.person .duties{grid-column:1 / -1}
li.person .phone{grid-column:2;grid-row:1;text-align:right}
.brand small{display:none}
form.search button{padding:10px 14px}
}
"""


def link(path: str, **params) -> str:
    """A URL of this site with the non-empty parameters, escaped for an HTML attribute."""
    query = urlencode([(k, v) for k, v in params.items() if v not in (None, "") and not (k == "page" and v == 1)])
    return escape(path + ("?" + query if query else ""), quote=True)


def highlighted(text, spans) -> str:
    """Crawled text with the matched spans in <mark>, each piece escaped."""
    text = "" if text is None else str(text)
    return "".join(f"<mark>{escape(piece)}</mark>" if hit else escape(piece) for piece, hit in segments(text, spans or ()))


def field(hit: dict, name: str) -> str:
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


def took(ms: float) -> str:
    """Search time for people: whole milliseconds (stable screenshots of fast searches)."""
    return "1ms 미만" if ms < 1 else f"{ms:,.0f}ms"


def short_time(value) -> str:
    """2024.05.01 09:00 (Seoul time) of an ISO text, or empty."""
    stamp = parse_time(value, dt.timezone.utc)
    return f"{stamp.astimezone(SEOUL):%Y.%m.%d %H:%M}" if stamp else ""


def flag_text(reason: str | None) -> str:
    """A Korean explanation of an (English, technical) flag reason."""
    if not reason:
        return ""
    if "0 rows" in reason:
        return "최근 수집에서 직원 자료가 0건이었습니다. 이전 자료를 그대로 보여 줍니다."
    numbers = re.search(r"has (\d+) rows.* the (\d+) live rows", reason)
    if numbers:
        return (f"최근 수집 결과({numbers.group(1)}명)가 기존 자료({numbers.group(2)}명)보다 크게 줄어 "
                "이전 자료를 그대로 보여 줍니다.")
    return "최근 수집에 실패했습니다. 이전 자료를 그대로 보여 줍니다."


DEFAULT_TAB = "staff"


def page(title: str, body: str, *, tab: str = DEFAULT_TAB, q: str = "", autofocus: bool = False) -> str:
    tabs = "".join(
        f'<a href="{link("/", tab=None if tab_id == DEFAULT_TAB else tab_id, q=q)}"'
        f'{" aria-current=page" if tab_id == tab else ""}>{label}</a>' for tab_id, label in TABS)
    hidden = '<input type="hidden" name="tab" value="posts">' if tab == "posts" else ""
    return f"""<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{escape(title)}</title>
<link rel="icon" href="{FAVICON}">
<style>{CSS}</style>
</head>
<body>
<header><div class="wrap">
<div class="top">
<a class="brand" href="/">누고<small>공무원 업무 담당자 검색</small></a>
<form class="search" method="get" action="/" role="search">{hidden}
<input type="search" name="q" value="{escape(q, quote=True)}" placeholder="{PLACEHOLDER[tab]}" aria-label="검색어"
 maxlength="200" autocomplete="off"{" autofocus" if autofocus else ""}>
<button type="submit">검색</button>
</form>
</div>
<nav class="tabs" aria-label="검색 종류">{tabs}</nav>
</div></header>
<main><div class="wrap">
{body}
</div></main>
<footer><div class="wrap">누고 · 어딨노 — 광역자치단체와 기관의 공개 직원 명부·게시판을 모아 검색합니다.
 <a href="/status">수집 상태</a> · <a href="/api/search?q=%EB%93%9C%EB%A1%A0">JSON API</a></div></footer>
</body>
</html>
"""


def _chips(title: str, name: str, facet: dict[str, int], chosen: str, base: dict, labels=None, open_: bool = True) -> str:
    if not facet:
        return ""
    params = {k: v for k, v in base.items() if k != name}
    items = [f'<li><a href="{link("/", **params)}"{" aria-current=true" if not chosen else ""}>전체</a></li>']
    for value, count in facet.items():
        label = (labels or {}).get(value, value) or "기타"
        current = " aria-current=true" if value == chosen else ""
        items.append(f'<li><a href="{link("/", **params, **{name: value})}"{current}>{escape(label)} '
                     f'<span class="n">{count:,}</span></a></li>')
    return (f'<details{" open" if open_ else ""}><summary>{title}</summary>'
            f'<ul class="chips">{"".join(items)}</ul></details>')


def _pages(results: Results, base: dict) -> str:
    if results.pages <= 1:
        return ""
    current, last = results.page, results.pages
    shown = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    items, previous = [], 0
    if current > 1:
        items.append(f'<li><a href="{link("/", **base, page=current - 1)}" rel="prev">‹ 이전</a></li>')
    for number in shown:
        if number - previous > 1:
            items.append("<li><span>…</span></li>")
        if number == current:
            items.append(f'<li><span aria-current="page">{number}</span></li>')
        else:
            items.append(f'<li><a href="{link("/", **base, page=number)}">{number}</a></li>')
        previous = number
    if current < last:
        items.append(f'<li><a href="{link("/", **base, page=current + 1)}" rel="next">다음 ›</a></li>')
    return f'<nav aria-label="페이지"><ul class="pages">{"".join(items)}</ul></nav>'


def _person(hit: dict) -> str:
    team = field(hit, "team")
    department = field(hit, "department") + (f" · {team}" if team else "")
    href = tel_href(hit.get("phone"))
    phone = field(hit, "phone")
    phone = f'<a href="{escape(href, quote=True)}">{phone}</a>' if href and phone else phone
    email = f'<div class="email">{field(hit, "email")}</div>' if hit.get("email") else ""
    return (f'<li class="person"><div class="who"><span class="name">{field(hit, "name") or "(이름 비공개)"}</span> '
            f'<span class="pos">{field(hit, "position")}</span></div>'
            f'<div class="dept">{department}</div>'
            f'<div class="duties">{field(hit, "duties")}{email}</div>'
            f'<div class="phone">{phone}</div></li>')


def _group(group: Group, org: dict | None) -> str:
    facts = [escape(group.region or ""), escape(KIND_LABELS.get(group.org_kind, "")), f"{group.count:,}명"]
    if org and org.get("crawled_at"):
        facts.append(f'<span class="when">{korean_time(org["crawled_at"])} 수집</span>')
    meta = " · ".join(f for f in facts if f)
    badge = warning = ""
    if org and org.get("flagged"):
        badge = ' <span class="badge">⚠ 최근 수집 실패 · 이전 자료</span>'
        warning = f'<p class="warn">{escape(flag_text(org["flagged"]))}</p>'
    rows = "".join(_person(hit) for hit in group.hits)
    return (f'<section class="group"><h2><span>{escape(group.organization or "기관 미상")}</span>'
            f'<span class="meta">{meta}</span>{badge}</h2>{warning}<ol class="rows">{rows}</ol></section>')


def _tips(query: str, filtered: bool, base: dict, tab: str) -> str:
    tips = ["띄어쓰기를 바꾸거나 빼 보세요 (청년일자리 ↔ 청년 일자리).",
            "더 짧은 낱말로 찾아 보세요 (드론산업육성 → 드론).",
            "낱말이 여러 개면 모두 들어 있는 결과만 나옵니다. 낱말 수를 줄여 보세요."]
    if tab == "staff":
        tips.append("이름 일부, 부서 이름, 전화번호 뒷자리로도 찾을 수 있습니다.")
    if filtered:
        tips.insert(0, f'지역·기관 선택을 풀고 <a href="{link("/", tab=base.get("tab"), q=query)}">전체에서 다시 찾아</a> 보세요.')
    what = "직원" if tab == "staff" else "게시글"
    return (f'<div class="notice"><h2>‘{escape(query)}’에 맞는 {what}을 찾지 못했습니다</h2>'
            f'<ul>{"".join(f"<li>{t}</li>" for t in tips)}</ul></div>')


def _welcome(tab: str, info: str) -> str:
    examples = " ".join(f'<a href="{link("/", tab=None if tab == "staff" else tab, q=e)}">{escape(e)}</a>'
                        for e in EXAMPLES[tab])
    if tab == "staff":
        text = ("담당업무, 부서, 이름, 전화번호로 전국 지방자치단체와 기관의 담당자를 찾습니다. "
                "‘드론’으로 찾으면 ‘드론산업육성’처럼 낱말이 붙어 있는 업무도 나옵니다.")
    else:
        text = "보도자료, 공지사항, 고시공고, 입법예고 게시글을 키워드로 찾습니다. 최신 글이 먼저 나옵니다."
    return (f'<div class="notice"><h2>무엇을 찾으시나요?</h2><p>{text}</p><p>예시: <span class="chips">{examples}'
            f'</span></p><p class="meta">{info}</p></div>')


def staff_page(results: Results | None, orgs: dict[str, dict], filters: dict, info: str) -> str:
    """The 직원 검색 tab: grouped results, filters, paging; or the welcome or no-result notice."""
    q = filters.get("q", "")
    base = {"q": q, "region": filters.get("region"), "organization": filters.get("organization")}
    if results is None:
        return page("누고 · 공무원 업무 담당자 검색", _welcome("staff", info), q=q, autofocus=True)
    title = f"{q} - 누고 직원 검색"
    if not results.total:
        return page(title, _tips(q, bool(base["region"] or base["organization"]), base, "staff"), q=q)
    shown = [g for g in results.groups if g.hits]
    aside = (_chips("지역", "region", results.facets.get("region", {}), base["region"] or "", base)
             + _chips("기관", "organization", results.facets.get("organization", {}), base["organization"] or "", base,
                      open_=len(results.facets.get("organization", {})) <= 12))
    first = (results.page - 1) * results.per_page + 1
    summary = (f'<p class="summary">‘<strong>{escape(q)}</strong>’ 담당자 <strong>{results.total:,}명</strong> · '
               f'기관 {len(results.groups)}곳 · {first:,}–{first + len(results.hits) - 1:,}번째 '
               f'<span class="meta">({took(results.took_ms)})</span></p>')
    groups = "".join(_group(g, orgs.get(g.organization)) for g in shown)
    body = (f'{summary}<div class="layout"><aside>{aside}</aside><div class="results">{groups}'
            f'{_pages(results, base)}</div></div>')
    return page(title, body, q=q)


def _post(hit: dict) -> str:
    url = safe_url(hit.get("url"))
    spans = (hit.get("highlights") or {})
    title = highlighted(hit.get("title"), spans.get("title")) or "(제목 없음)"
    title = f'<a href="{escape(url, quote=True)}" rel="noopener noreferrer">{title}</a>' if url else title
    facts = [escape(hit.get("organization") or ""), board_label(hit.get("board_kind")),
             korean_time(hit.get("date") or hit.get("first_seen"), with_time=False), field(hit, "department")]
    return (f'<li class="post"><div class="title">{title}</div>'
            f'<div class="meta">{" · ".join(f for f in facts if f)}</div>'
            f'<p>{snippet(hit.get("body") or "", spans.get("body") or [])}</p></li>')


def snippet(text: str, spans) -> str:
    """A window of the body around the first match, highlighted; the start of the body without one."""
    if not spans:
        return escape(text[:SNIPPET * 2]) + ("…" if len(text) > SNIPPET * 2 else "")
    start = max(0, spans[0][0] - SNIPPET)
    end = min(len(text), spans[0][1] + SNIPPET)
    inside = [(max(s, start) - start, min(e, end) - start) for s, e in spans if e > start and s < end]
    return ("…" if start else "") + highlighted(text[start:end], inside) + ("…" if end < len(text) else "")


def posts_page(results: Results | None, filters: dict, info: str) -> str:
    """The 게시글 검색 tab: newest posts first, filters by region and board kind, paging."""
    q = filters.get("q", "")
    base = {"tab": "posts", "q": q, "region": filters.get("region"), "board_kind": filters.get("board_kind"),
            "site": filters.get("site")}
    if results is None:
        return page("누고 · 게시글 검색", _welcome("posts", info), tab="posts", q=q, autofocus=True)
    title = f"{q} - 누고 게시글 검색"
    if not results.total:
        filtered = bool(base["region"] or base["board_kind"] or base["site"])
        return page(title, _tips(q, filtered, base, "posts"), tab="posts", q=q)
    labels = {kind: board_label(kind) for kind in results.facets.get("board_kind", {})}
    aside = (_chips("지역", "region", results.facets.get("region", {}), base["region"] or "", base)
             + _chips("게시판", "board_kind", results.facets.get("board_kind", {}), base["board_kind"] or "", base,
                      labels))
    summary = (f'<p class="summary">‘<strong>{escape(q)}</strong>’ 게시글 <strong>{results.total:,}건</strong> '
               f'<span class="meta">(최신순, {took(results.took_ms)})</span></p>')
    items = "".join(_post(hit) for hit in results.hits)
    body = (f'{summary}<div class="layout"><aside>{aside}</aside><div class="results">'
            f'<section class="group"><ol class="rows">{items}</ol></section>{_pages(results, base)}</div></div>')
    return page(title, body, tab="posts", q=q)


RUN_KINDS = {"directory": "직원 명부", "board": "게시판"}
RUN_RESULTS = {"finished": "완료", "failed": "실패", "stopped": "중단"}
STATUS_HEAD = ("사이트", "종류", "마지막 정상 수집", "직원 수", "최근 실행", "상태")


def _status_row(site: str, s: dict) -> str:
    last = s.get("last_run") or {}
    kind = RUN_KINDS.get(last.get("kind"), "—")
    result = RUN_RESULTS.get(last.get("status"), last.get("status") or "—")
    count = f"{int(s.get('rows') or 0):,}" if s.get("live_run") else "—"
    state = "정상"
    if s.get("flagged"):
        text = flag_text(s["flagged"]) if last.get("kind") != "board" else "최근 수집에 실패했습니다."
        state = (f'<span class="badge">⚠ 경고</span> {escape(text)}'
                 f'<details><summary>기술 정보</summary><code>{escape(s["flagged"])}</code></details>')
    return (f'<tr><td><strong>{escape(s.get("organization") or site)}</strong><br><code>{escape(site)}</code></td>'
            f'<td class="k">{kind}</td><td class="k">{short_time(s.get("healthy_at")) or "—"}</td>'
            f'<td class="n">{count}</td><td class="k">{escape(result)} {short_time(last.get("ended_at"))}</td>'
            f'<td>{state}</td></tr>')


def status_page(status: dict[str, dict], generation, order: list[str] = ()) -> str:
    """Per site (live directories in `order`, then the rest by id): kind, last healthy crawl, rows, last run, warning."""
    if not status:
        return page("누고 · 수집 상태", '<div class="notice"><h2>아직 수집 기록이 없습니다</h2>'
                    "<p>크롤링과 색인이 한 번 끝나면 여기에 사이트별 상태가 나옵니다.</p></div>")
    rank = {site: i for i, site in enumerate(order)}
    rows = "".join(_status_row(site, s) for site, s in
                   sorted(status.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))
    head = "".join(f"<th>{name}</th>" for name in STATUS_HEAD)
    flagged = sum(1 for s in status.values() if s.get("flagged"))
    people = sum(int(s.get("rows") or 0) for s in status.values() if s.get("live_run"))
    body = (f'<p class="summary">사이트 <strong>{len(status)}곳</strong> · 경고 <strong>{flagged}곳</strong> · '
            f'직원 자료 <strong>{people:,}명</strong> <span class="meta">(색인 세대 {escape(str(generation))})</span></p>'
            f'<div class="scroll"><table class="status"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>')
    return page("누고 · 수집 상태", body)


def error_page(status: int) -> str:
    text = {404: ("페이지를 찾을 수 없습니다", "주소를 다시 확인해 주세요."),
            405: ("지원하지 않는 요청입니다", "이 주소는 조회(GET)만 받습니다."),
            500: ("잠시 문제가 생겼습니다", "잠시 뒤 다시 시도해 주세요. 문제가 계속되면 관리자에게 알려 주세요."),
            503: ("잠시 서비스를 할 수 없습니다", "잠시 뒤 다시 시도해 주세요.")}.get(status, ("오류", ""))
    body = f'<div class="notice"><h2>{text[0]}</h2><p>{text[1]}</p><p><a href="/">처음으로</a></p></div>'
    return page(f"누고 · {text[0]}", body)
