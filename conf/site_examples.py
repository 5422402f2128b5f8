"""Worked examples of the site schema's layout features, rendered into docs/CONFIGURATION.md.

Each example is a complete site file (tests/test_sites_docs.py validates every one, runs it on its
`page` and compares the records with `expect`), so the reference cannot drift from the engine.
"""
from __future__ import annotations

BASE = """name: 예시 {what}
organization: 경상남도
region: 경남
kind: {kind}
{board}base_url: https://www.example.go.kr
start: /list.do
"""

EXAMPLES = [
    {
        "title": "Label lookup (`label`, `match`)",
        "text": "A field found by its label instead of a selector: the value after `<dt>성명</dt>` (its `<dd>`), after "
                "`<th>등록일</th>` (its `<td>`), after a `.tit` span, or — in a table row — the cell under the column "
                "header 성명. `match: exact` (default) compares the whole label, spaces and a trailing `:` ignored; "
                "`match: contains` accepts a label that contains the text. The label cell itself is never the value. "
                "A list of labels gives alternatives.",
        "kind": "directory",
        "yaml": """list:
  rows: ul.staff > li
  fields:
    name: {label: 성명}
    position: {label: [직위, 직급]}
    department: {label: 부서, match: contains}   # 소속부서, 부서명 …
    phone: {label: 전화번호}
""",
        "page": "<ul class='staff'><li><dl><dt>성명</dt><dd>김하늘</dd><dt>직급</dt><dd>주무관</dd>"
                "<dt>소속부서 :</dt><dd>드론산업과</dd><dt>전화번호</dt><dd>055-211-2345</dd></dl></li></ul>",
        "expect": [{"name": "김하늘", "position": "주무관", "department": "드론산업과", "phone": "055-211-2345"}],
    },
    {
        "title": "Multi-line fields (`split: lines`, `strip_prefix`)",
        "text": "`split: lines` splits a value at `<br>`, `<p>`, `<li>` and `<div>` into its items; `strip_prefix` "
                "removes bullet characters from the start of each item. A staff row keeps the items in `lines` "
                "(`{\"duties\": [...]}`) and its `duties` text joins them with ` / `.",
        "kind": "directory",
        "yaml": """list:
  rows: table.staff tbody tr
  fields:
    name: td.name
    duties: {css: td.task, split: lines, strip_prefix: "○-·"}
""",
        "page": "<table class='staff'><tbody><tr><td class='name'>김하늘</td>"
                "<td class='task'>○ 드론산업 육성<br>- 드론 실증 특구<br>· 예산</td></tr></tbody></table>",
        "expect": [{"name": "김하늘", "duties": "드론산업 육성 / 드론 실증 특구 / 예산",
                    "lines": {"duties": ["드론산업 육성", "드론 실증 특구", "예산"]}}],
    },
    {
        "title": "Values carried down: separator rows (`group_rows`) and spanning cells (`expand_rowspan`)",
        "text": "Two layouts give one value to several rows. A separator row (`<tr class=\"sub_tit\"><th colspan=\"4\">"
                "기획팀</th></tr>`) is not a record: with `group_rows` its text (or its `value` field) goes into `field` "
                "of every following row until the next separator. A cell with `rowspan` covers the rows below it: "
                "`expand_rowspan: true` copies it into each of them before the rows are read. Both can be combined.",
        "kind": "directory",
        "yaml": """list:
  rows: table.staff tbody tr
  expand_rowspan: true
  group_rows: {match: tr.sub_tit, field: team}
  fields:
    department: td:nth-child(1)
    name: td:nth-child(2)
""",
        "page": "<table class='staff'><tbody><tr class='sub_tit'><th colspan='2'>기획팀</th></tr>"
                "<tr><td rowspan='2'>기획과</td><td>가</td></tr><tr><td>나</td></tr>"
                "<tr class='sub_tit'><th colspan='2'>예산팀</th></tr><tr><td>예산과</td><td>다</td></tr></tbody></table>",
        "expect": [{"team": "기획팀", "department": "기획과", "name": "가"}, {"team": "기획팀", "department": "기획과", "name": "나"},
                   {"team": "예산팀", "department": "예산과", "name": "다"}],
    },
    {
        "title": "Bureau (실·국)",
        "text": "`bureau` is the unit above the department. It is searched and shown with the row; take it from a "
                "row field, a page heading or a breadcrumb (`page_fields`).",
        "kind": "directory",
        "yaml": """list:
  rows: table.staff tbody tr
  page_fields:
    bureau: "div.location li:nth-last-child(2)"   # 홈 > 조직안내 > 기획조정실 > 기획담당관
    department: h4.dept_tit
  fields:
    name: {label: 성명}
""",
        "page": "<div class='location'><ul><li>홈</li><li>조직안내</li><li>기획조정실</li><li>기획담당관</li></ul></div>"
                "<h4 class='dept_tit'>기획담당관</h4><table class='staff'><thead><tr><th>성명</th></tr></thead>"
                "<tbody><tr><td>김하늘</td></tr></tbody></table>",
        "expect": [{"bureau": "기획조정실", "department": "기획담당관", "name": "김하늘"}],
    },
    {
        "title": "Attachments as name and URL (`link`), extra post fields (`extra`), pinned rows (`pinned`)",
        "text": "`link: true` reads each matched `<a>` (or each `<a>` inside the match) as `{name, url}`; the URL is "
                "made absolute and kept only when it is http(s). Attachments are recorded, never fetched. `extra` "
                "declares more post fields by their Korean names (공고번호, 담당자, 조회수 …): stored in the post's "
                "`extra` and shown on its page. `pinned` marks rows (tested on the row) that are notices repeated on "
                "every page.",
        "kind": "board",
        "yaml": """list:
  rows: table.bbs tbody tr
  pinned: span.ico_notice
  fields:
    title: {label: 제목}
  extra:
    공고번호: {label: 고시공고번호}
  detail_link: td a::attr(href)
detail:
  fields:
    attachments: {label: 첨부파일, many: true, link: true}
  extra:
    담당자: {label: 담당자}
""",
        "page": "<table class='bbs'><thead><tr><th>번호</th><th>고시공고번호</th><th>제목</th></tr></thead><tbody>"
                "<tr><td><span class='ico_notice'>공지</span></td><td>제2026-1호</td><td><a href='v.do?id=1'>도시계획 고시</a></td></tr>"
                "</tbody></table>",
        "detail": "<table><tr><th>담당자</th><td>김주무관</td></tr><tr><th>첨부파일</th><td>"
                  "<a href='/files/1.hwp'>고시문.hwp</a></td></tr></table>",
        "expect": [{"title": "도시계획 고시", "pinned": True, "extra": {"공고번호": "제2026-1호", "담당자": "김주무관"},
                    "attachments": ["고시문.hwp"],
                    "attachment_links": [{"name": "고시문.hwp", "url": "https://www.example.go.kr/files/1.hwp"}]}],
    },
    {
        "title": "Page bounds against traps (`max_depth`, `max_pages`, `max_list_pages`, `deny`)",
        "text": "`max_depth` (default 10) bounds link depth (follow and detail links; pagination keeps its page's "
                "depth), `max_list_pages` (default 500) bounds the pages of one paginated list, `max_pages` (default "
                "5000) the whole run; `deny` lists regular expressions of URLs never followed. An endless calendar "
                "linked from every page stops after `max_depth` pages; a list page without rows plans no further page. "
                "Hitting a bound is an error of the run (a directory run is then not made live).",
        "kind": "directory",
        "yaml": """max_depth: 6
max_list_pages: 200
deny: ["/calendar", "date="]
list:
  rows: table.staff tbody tr
  fields:
    name: td.name
  follow: {css: "div.org a::attr(href)", many: true}
""",
        "page": "<table class='staff'><tbody><tr><td class='name'>김하늘</td></tr></tbody></table>"
                "<div class='org'><a href='/dept.do?id=2'>부서</a><a href='/calendar?date=2026-11'>행사달력</a></div>",
        "expect": [{"name": "김하늘"}],
        "follows": ["https://www.example.go.kr/dept.do?id=2"],
    },
]


def site_text(example: dict) -> str:
    board = "board_kind: announcement\n" if example["kind"] == "board" else ""
    return BASE.format(what=EXAMPLES.index(example) + 1, kind=example["kind"], board=board) + example["yaml"]


def render() -> str:
    """The examples section of docs/CONFIGURATION.md."""
    out = ["## Layout features, with examples\n",
           "Each example below is a whole site file; `tests/test_sites_docs.py` runs it on a small page and checks "
           "the records. `nugo try-site FILE` shows the same on the live site; `nugo draft-site URL` writes a first "
           "file from one list page (see docs/SITES.md).\n"]
    for example in EXAMPLES:
        out.append(f"### {example['title']}\n\n{example['text']}\n\n```yaml\n{example['yaml']}```\n")
    return "\n".join(out)
