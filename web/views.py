"""What each page shows, computed from search results and status: the templates only lay it out."""
from __future__ import annotations

from index.results import Results
from notifier.text import board_label
from notifier.text import flag_text
from web.render import KIND_LABELS, link, render

TABS = (("staff", "직원 검색"), ("posts", "게시글 검색"))
PLACEHOLDER = {"staff": "업무 키워드 (예: 드론, 청년 일자리)", "posts": "게시글 키워드 (예: 수소, 입법예고)"}
EXAMPLES = {"staff": ("드론", "청년 일자리", "수소", "민원", "보조금 정산"), "posts": ("드론", "청년", "수소", "입법예고")}
RUN_KINDS = {"directory": "직원 명부", "board": "게시판"}
RUN_RESULTS = {"finished": "완료", "failed": "실패", "cancelled": "취소", "stopped": "중단"}
STATUS_HEAD = ("사이트", "종류", "최근 실행", "결과", "페이지", "직원·게시글", "오류", "재시도", "다음 실행", "마지막 정상", "상태")


def chips(title: str, name: str, facet: dict[str, int], chosen: str, base: dict, labels: dict | None = None,
          open_: bool = True) -> dict:
    """A facet as chips: 전체 first, then each value with its count; the chosen one marked."""
    params = {k: v for k, v in base.items() if k != name}
    items = [{"label": "전체", "href": link("/", **params), "count": None, "current": not chosen}] if facet else []
    for value, count in facet.items():
        items.append({"label": (labels or {}).get(value, value) or "기타", "href": link("/", **params, **{name: value}),
                      "count": count, "current": value == chosen})
    return {"title": title, "open": open_, "chips": items}


def pager(results: Results, base: dict) -> list[dict]:
    """The pager's items: previous, the first and last page, the pages around this one, gaps, next."""
    if results.pages <= 1:
        return []
    current, last = results.page, results.pages
    shown = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    items, previous = [], 0
    if current > 1:
        items.append({"kind": "prev", "href": link("/", **base, page=current - 1)})
    for number in shown:
        if number - previous > 1:
            items.append({"kind": "gap"})
        items.append({"kind": "current" if number == current else "page", "number": number,
                      "href": link("/", **base, page=number)})
        previous = number
    if current < last:
        items.append({"kind": "next", "href": link("/", **base, page=current + 1)})
    return items


def _page(template: str, title: str, *, tab: str = "staff", q: str = "", autofocus: bool = False, **context) -> str:
    return render(template, title=title, tab=tab, q=q, autofocus=autofocus, tabs=TABS, placeholder=PLACEHOLDER[tab],
                  **context)


def staff_page(results: Results | None, orgs: dict[str, dict], filters: dict, info: str) -> str:
    """The 직원 검색 tab: grouped results, filters, paging; or the welcome or no-result notice."""
    q = filters.get("q", "")
    base = {"q": q, "region": filters.get("region"), "organization": filters.get("organization")}
    common = {"info": info, "examples": EXAMPLES["staff"], "base": base, "filtered": bool(base["region"] or base["organization"])}
    if results is None:
        return _page("staff.html", "누고 · 공무원 업무 담당자 검색", q=q, autofocus=True, results=None, **common)
    groups = []
    for group in results.groups:
        if not group.hits:
            continue
        org = orgs.get(group.organization) or {}
        here = len(group.hits)
        count = f"{group.count:,}명" if here == group.count else f"이 페이지 {here:,}명 · 전체 {group.count:,}명"
        groups.append({"organization": group.organization, "hits": group.hits, "crawled_at": org.get("crawled_at"),
                       "flagged": org.get("flagged"),
                       "facts": [f for f in (group.region or "", KIND_LABELS.get(group.org_kind, ""), count) if f]})
    organizations = results.facets.get("organization", {})
    facets = [chips("지역", "region", results.facets.get("region", {}), base["region"] or "", base),
              chips("기관", "organization", organizations, base["organization"] or "", base,
                    open_=len(organizations) <= 12)]
    return _page("staff.html", f"{q} - 누고 직원 검색", q=q, results=results, groups=groups, facets=facets,
                 pages=pager(results, base), first=(results.page - 1) * results.per_page + 1, **common)


def posts_page(results: Results | None, filters: dict, info: str) -> str:
    """The 게시글 검색 tab: newest posts first, filters by region and board kind, paging."""
    q = filters.get("q", "")
    base = {"tab": "posts", "q": q, "region": filters.get("region"), "board_kind": filters.get("board_kind"),
            "site": filters.get("site")}
    common = {"info": info, "examples": EXAMPLES["posts"], "base": base,
              "filtered": bool(base["region"] or base["board_kind"] or base["site"])}
    if results is None:
        return _page("posts.html", "누고 · 게시글 검색", tab="posts", q=q, autofocus=True, results=None, **common)
    title = f"{q} - 누고 게시글 검색"
    if results.error:
        return _page("posts.html", title, tab="posts", q=q, results=results, facets=[], pages=[], subscribe="",
                     **common)
    labels = {kind: board_label(kind) for kind in results.facets.get("board_kind", {})}
    facets = [chips("지역", "region", results.facets.get("region", {}), base["region"] or "", base),
              chips("게시판", "board_kind", results.facets.get("board_kind", {}), base["board_kind"] or "", base, labels)]
    return _page("posts.html", title, tab="posts", q=q, results=results, facets=facets,
                 pages=pager(results, base), subscribe=subscribe_yaml(q, base), **common)


def subscribe_yaml(q: str, filters: dict) -> str:
    """The YAML lines that subscribe to exactly this search (a topic of the official's subscriptions file)."""
    import yaml

    topic = {"name": q[:100], "query": q}
    if filters.get("region"):
        topic["regions"] = [filters["region"]]
    if filters.get("board_kind"):
        topic["board_kinds"] = [filters["board_kind"]]
    if filters.get("site"):
        topic["sites"] = [filters["site"]]
    return yaml.safe_dump([topic], allow_unicode=True, sort_keys=False, default_flow_style=None, width=1000)


def status_page(status: dict, order: list[str] = ()) -> str:
    """Per site (live directories in `order`, then boards, then the rest): last run and its result, next run,
    last success, warning; per PC: live processes and memory; queue, stream, alerts and file problems."""
    rank = {site: i for i, site in enumerate(order)}
    rows = []
    for site, row in sorted(status["sites"].items(),
                            key=lambda kv: (rank.get(kv[0], len(rank)), kv[1].get("kind") != "board", kv[0])):
        last = row.get("last_run") or {}
        running = row.get("running")
        count = last.get("posts") if row.get("kind") == "board" else last.get("rows")
        rows.append({"site": site, "organization": row.get("organization") or site,
                     "kind": RUN_KINDS.get(row.get("kind"), "—"), "last": last, "running": running,
                     "result": "진행 중" if running else (last.get("result_ko") or "—"), "count": count,
                     "next_run": row.get("next_run"), "last_success": row.get("last_success"),
                     "flagged": row.get("flagged"), "flag_text": flag_text(row.get("flagged")) if row.get("flagged") else ""})
    hosts: dict[str, dict] = {}
    for process in status.get("processes") or []:
        host = hosts.setdefault(process.get("host") or "?", {})
        role = host.setdefault(process.get("role") or "?", {"count": 0, "memory": 0.0})
        role["count"] += 1
        role["memory"] += float(process.get("memory_mb") or 0)
    people = sum(int(r.get("rows") or 0) for r in status["sites"].values() if r.get("kind") == "directory")
    return _page("status.html", "누고 · 수집 상태", sites=rows, flagged=sum(1 for r in rows if r["flagged"]),
                 people=people, head=STATUS_HEAD, status=status, hosts=hosts, roles=ROLE_LABELS,
                 failing=[c for c in status["health"]["checks"] if not c["ok"]])


ROLE_LABELS = {"crawl": "크롤 작업자", "celery": "Celery 작업자", "indexer": "색인기", "scheduler": "스케줄러", "web": "웹"}


ERRORS = {404: ("페이지를 찾을 수 없습니다", "주소를 다시 확인해 주세요."),
          405: ("지원하지 않는 요청입니다", "이 주소는 조회(GET)만 받습니다."),
          500: ("잠시 문제가 생겼습니다", "잠시 뒤 다시 시도해 주세요. 문제가 계속되면 관리자에게 알려 주세요."),
          503: ("잠시 서비스를 할 수 없습니다", "잠시 뒤 다시 시도해 주세요.")}


def error_page(status: int) -> str:
    heading, message = ERRORS.get(status, ("오류", ""))
    return _page("error.html", f"누고 · {heading}", heading=heading, message=message)
