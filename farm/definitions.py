"""Site definitions (conf/sites/*.yaml text) for farm sites, one recipe per layout family."""
from __future__ import annotations

import json
import textwrap

from farm.site import FarmSite

REFERENCE = {
    "staff_table": "the staff/list.do family (table + POST search form; reference/README.md, "
                   "paging form as in html/daejeon-committee-board-list.html)",
    "org_tree": "an organization tree with one staff page per department (reference/README.md)",
    "euckr_rowspan": "an old EUC-KR staff table whose department cell spans its rows (reference/README.md)",
    "masked_cards": "a card list with masked names (홍*동) (reference/README.md)",
    "egov": "the eGovFrame board (selectBoardList.do / selectBoardArticle.do, pinned 공지 rows; "
            "reference/README.md, html/daejeon-committee-board-list.html)",
    "egov_post": "the eGovFrame board paged only by POST (fn_link_page; html/daejeon-committee-board-list.html)",
    "briefing": "the korea.kr press-release list (html/korea_kr-pressrelease-list.html)",
    "report": "the 경상북도 보도자료 card list (html/gyeongbuk-pressrelease-list.html, -detail.html)",
    "dl_cards": "a city's staff cards of <dl><dt>성명</dt><dd>… pairs, values found by their labels only "
                "(reference/README.md: 부서, 직위, 성명, 담당업무, 전화번호)",
    "group_table": "an organization index with one staff table per department, team separator rows "
                   "(<tr class=sub_tit>) and a breadcrumb naming the 실·국",
    "gosi": "the eGovFrame 고시공고 board paged by fn_egov_link_page(N) and its POST form "
            "(html/daejeon-committee-board-list.html, korean-public-board-urls.txt)",
}
DIRECTORY_NAMES = {"staff_table": "직원검색", "org_tree": "조직도", "euckr_rowspan": "직원안내", "masked_cards": "직원찾기",
                   "dl_cards": "직원안내", "group_table": "조직안내"}
BOARD_NAMES = {"press": "보도자료", "notice": "공지사항", "announcement": "고시공고", "legislation": "입법예고"}
TRAP_NOTE = ("{what} picks every link of {block} on purpose: while the farm's calendar_trap, redirect_loop or "
             "huge_page switch is on, the trap links appear in that block, so max_pages and max_depth are what "
             "stop the run.")


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    plain = text.strip() == text and all(c.isalnum() or c in " ._/-?=&()" for c in text) and text[:1] not in ("-", "?", "&", "")
    if plain and text.lower() not in ("true", "false", "null", "yes", "no", "on", "off") and not text[0].isdigit():
        return text
    return json.dumps(text, ensure_ascii=False)


def _emit(value, indent: int = 0) -> list[str]:
    """Block-style YAML; small dicts of scalars as flow mappings; keys starting with '#' are comments."""
    pad = "  " * indent
    lines = []
    for key, item in value.items():
        if key.startswith("#"):
            lines += [f"{pad}# {line}" for part in item.splitlines() for line in textwrap.wrap(part, 100 - len(pad))]
        elif isinstance(item, dict) and item and all(not isinstance(v, (dict, list)) for v in item.values()) \
                and not any(k.startswith("#") for k in item) and len(item) <= 4 and key not in ("fields", "page_fields", "formdata", "extra"):
            lines.append(f"{pad}{key}: {{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in item.items()) + "}")
        elif isinstance(item, dict):
            lines.append(f"{pad}{key}:")
            lines += _emit(item, indent + 1)
        elif isinstance(item, list):
            lines.append(f"{pad}{key}:")
            for element in item:
                sub = _emit(element, indent + 2)
                lines.append(f"{pad}  - " + sub[0].lstrip())
                lines += sub[1:]
        else:
            lines.append(f"{pad}{key}: {_scalar(item)}")
    return lines


def _directory(site: FarmSite) -> tuple[dict, dict]:
    s = site.site
    start: list = [{"url": p} for p in site.start_paths()]
    if s.family == "staff_table":
        post = s.method == "POST"
        last = ({"css": "div.paging a.last::attr(onclick)", "regex": r"(\d+)"} if post
                else {"css": "div.paging a.last::attr(href)", "regex": r"pageIndex=(\d+)"})
        return start, {
            "rows": "table.staff tbody tr",
            "fields": {"department": "td.dept", "position": "td.position", "name": "td.name",
                       "duties": "td.duties", "phone": "td.phone"},
            "pagination": {"param": "pageIndex", "method": s.method, "last_page": last},
        }
    if s.family == "org_tree":
        return start, {
            "rows": "table.dept_staff tbody tr",
            "page_fields": {"department": "h3.dept_name"},
            "fields": {"team": "td.team", "position": "td.position", "name": "td.name", "duties": "td.duties",
                       "phone": "td.phone", "email": "td.email"},
            "# follow": TRAP_NOTE.format(what="follow", block="div.org_tree (repeated on every page)"),
            "follow": {"css": "div.org_tree a::attr(href)", "many": True},
        }
    if s.family == "euckr_rowspan":
        return start, {
            "# rows": "Old markup: no classes on cells; the department cell has rowspan over its rows.",
            "expand_rowspan": True,
            "rows": "xpath://table[@class='tbl_jikwon']//tr[td]",
            "fields": {"department": "td:nth-child(1)", "position": "td:nth-child(2)", "name": "td:nth-child(3)",
                       "phone": "td:nth-child(4)", "duties": "td:nth-child(5)"},
            "pagination": {"param": "page", "method": "GET",
                           "last_page": {"css": "div.page_nav a.end::attr(href)", "regex": r"page=(\d+)"}},
        }
    if s.family == "dl_cards":
        return start, {
            "# rows": "Values have no classes: each is found by its label (<dt>성명</dt><dd>…). The last page's "
                      "'다음' link is javascript:void(0), which ends the list.",
            "rows": "ul.staff_list > li",
            "fields": {"bureau": {"label": "실·국"}, "department": {"label": "부서"}, "team": {"label": "팀"},
                       "position": {"label": "직위"}, "name": {"label": "성명"}, "phone": {"label": "전화번호"},
                       "duties": {"label": "담당업무", "split": "lines", "strip_prefix": "○"}},
            "pagination": {"next": "div.paging a.next::attr(href)"},
        }
    if s.family == "group_table":
        return start, {
            "# rows": "Columns are known by their headers only; a separator row names the team of the rows below it.",
            "rows": "table.tbl_type01 tbody tr",
            "group_rows": {"match": "tr.sub_tit", "field": "team"},
            "page_fields": {"bureau": "div.location li:nth-last-child(2)", "department": "h4.dept_tit"},
            "fields": {"position": {"label": "직위"}, "name": {"label": "성명"}, "phone": {"label": "전화번호"},
                       "duties": {"label": "담당업무", "split": "lines", "strip_prefix": "-"}},
            "follow": {"css": "div.org_list a::attr(href)", "many": True},
        }
    pagination = ({"param": "page", "method": "GET", "until_empty": True} if s.until_empty
                  else {"next": "div.pagination a.btn_next::attr(href)"})
    return start, {
        "rows": "ul.staff_card li.card",
        "fields": {"department": "span.dept", "team": "span.team", "name": "p.name strong",
                   "position": "p.name em.position", "duties": "p.task", "phone": "p.tel"},
        "pagination": pagination,
    }


def _board(site: FarmSite) -> tuple[list, dict, dict]:
    s = site.site
    start = [{"url": p} for p in site.start_paths()]
    if s.family == "egov":
        if s.link == "onclick":
            onclick = r"fn_view\('(\d+)'\)"
            link = {"css": "td.subject a::attr(onclick)", "regex": onclick,
                    "template": f"{s.prefix}/selectBoardArticle.do?bbsId={s.bbs_id}&nttId={{1}}"}
            post_id = {"css": "td.subject a::attr(onclick)", "regex": onclick}
        else:
            link = "td.subject a::attr(href)"
            post_id = {"css": "td.subject a::attr(href)", "regex": r"nttId=(\d+)"}
        return start, {
            "# rows": "Pinned 공지 rows repeat on every page: same post, same post_id.",
            "rows": "table.board_list tbody tr",
            "pinned": "tr.notice",
            "fields": {"title": "td.subject a", "date": "td.date", "department": "td.dept", "post_id": post_id},
            "detail_link": link,
            "pagination": {"next": "div.paging a.next::attr(href)"},
        }, {"body": "div.view_content", "attachments": {"css": "ul.file_list a.down", "many": True, "link": True}}
    if s.family == "egov_post":
        onclick = r"fn_view\('(\d+)'\)"
        return start, {
            "rows": "table.board_table_list tbody tr",
            "pinned": "tr.notice",
            "fields": {"title": "td.al_left a", "date": "td.date", "department": "td.dept",
                       "post_id": {"css": "td.al_left a::attr(onclick)", "regex": onclick}},
            "detail_link": {"css": "td.al_left a::attr(onclick)", "regex": onclick,
                            "template": f"{s.prefix}/board/boardView.do?boardId={s.bbs_id}&dataSid={{1}}"},
            "pagination": {"param": "pageIndex", "method": "POST",
                           "last_page": {"css": "div.pagination a.end::attr(onclick)", "regex": r"fn_link_page\((\d+)\)"}},
        }, {"body": "div.bbs_content", "attachments": {"css": "div.attach a.file", "many": True, "link": True}}
    if s.family == "gosi":
        onclick = r"fn_view\('(\d+)',\s*'(\d+)'\)"
        return [{"url": p, "method": "POST", "formdata": {"pageIndex": "1", "searchCnd": "", "searchWrd": ""}}
                for p in site.start_paths()], {
            "# rows": "Columns are known by their headers; 공지 rows repeat on every page. The '전체' tab links "
                      "this same list by GET: it is paginated once per run all the same.",
            "rows": "table.bbs_default tbody tr",
            "pinned": "span.ico_notice",
            "fields": {"title": {"label": "제목"}, "date": {"label": "등록일"}, "department": {"label": "담당부서"},
                       "post_id": {"css": "a::attr(onclick)", "regex": onclick, "template": "{2}"}},
            "extra": {"공고번호": {"label": "고시공고번호"}, "조회수": {"label": "조회수"}},
            "detail_link": {"css": "a::attr(onclick)", "regex": onclick,
                            "template": f"{s.prefix}/gosi/gosiView.do?menuNo={{1}}&nttId={{2}}"},
            "follow": {"css": "ul.tab_menu a::attr(href)", "many": True},
            "pagination": {"param": "pageIndex", "method": "POST",
                           "last_page": {"css": "div.paging a.last::attr(onclick)", "regex": r"fn_egov_link_page\((\d+)\)"}},
        }, {"body": "div.bbs_cont", "attachments": {"label": "첨부파일", "many": True, "link": True},
            "# extra": "detail-only fields", "extra": {"담당자": {"label": "담당자"}}}
    if s.family == "briefing":
        return start, {
            "rows": "div.list_type li",
            "fields": {"title": "span.text strong", "date": "span.source span:nth-child(1)",
                       "department": "span.source span:nth-child(2)",
                       "post_id": {"css": "a::attr(href)", "regex": r"newsId=(\d+)"}},
            "detail_link": "a::attr(href)",
            "pagination": {"param": "pageIndex", "method": "GET",
                           "last_page": {"css": "div.paging a.last::attr(onclick)", "regex": r"pageLink\((\d+)\)"}},
        }, {"body": "div.view_cont", "attachments": {"css": "div.filedown a.file", "many": True, "link": True}}
    return start, {
        "rows": "ul.report_list li",
        "fields": {"title": "div.subject a", "date": "div.classify span:nth-child(3)",
                   "department": "div.classify span:nth-child(1)",
                   "post_id": {"css": "div.subject a::attr(href)", "regex": r"B_NUM=(\d+)"}},
        "detail_link": "div.subject a::attr(href)",
        "# follow": "Page links are offsets (Start=10, 20…) in blocks of five: follow them all.\n"
                    + TRAP_NOTE.format(what="follow", block="div.paging"),
        "follow": {"css": "div.paging a::attr(href)", "many": True},
    }, {"body": "div.cont_view", "attachments": {"css": "div.files a.link_no", "many": True, "link": True}}


def site_yaml(site: FarmSite) -> str:
    s = site.site
    label = DIRECTORY_NAMES[s.family] if s.kind == "directory" else BOARD_NAMES[s.board_kind]
    spec: dict = {"name": f"{s.organization} {label}", "organization": s.organization, "region": s.region,
                  "org_kind": s.org_kind, "kind": s.kind}
    if s.kind == "board":
        spec["board_kind"] = s.board_kind
    spec["base_url"] = f"http://{s.host}:${{FARM_PORT}}"
    spec["# allow_private_addresses"] = "The farm listens on loopback addresses, which a real site's links never reach."
    spec["allow_private_addresses"] = True
    spec["encoding"] = s.yaml_encoding
    if s.family in ("org_tree", "report"):  # the other families live with the defaults (max_depth 10)
        spec["# max_pages"] = "Trap guard: far above the site's real page count, far below an endless calendar."
        spec["max_pages"] = 400
        spec["max_depth"] = 8
    if s.kind == "directory":
        spec["start"], spec["list"] = _directory(site)
    else:
        spec["start"], spec["list"], detail = _board(site)
        extra = detail.pop("extra", None)
        detail.pop("# extra", None)
        spec["detail"] = {"fields": detail, **({"extra": extra} if extra else {})}
    robots = {"disallow": "robots.txt disallows /admin/ (linked from the site; it holds rows in no manifest).",
              "delay": "robots.txt disallows /admin/ and asks Crawl-delay: 2."}.get(s.robots)
    header = [f"# {spec['name']} (farm site {s.id}, {s.host}): farm copy of {REFERENCE[s.family]}.",
              "# Generated by farm/definitions.py; tests/test_farm.py checks it matches the farm."]
    if robots:
        header.append(f"# {robots}")
    header = [f"# {line}" for part in header for line in textwrap.wrap(part[2:], 100)]
    return "\n".join(header + _emit(spec)) + "\n"
