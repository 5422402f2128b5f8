"""Extraction engine: pure functions over page text and a site definition."""
from urllib.parse import parse_qs

import pytest

from conf.schema import validate
from conf.specs import SITE
from conf.yamlsource import parse_yaml
from crawlers.dates import parse_date
from crawlers.encoding import decode_page
from crawlers.extract import extract_field, page_selector, parse_detail, parse_list, post_record, start_requests


def site(text: str) -> dict:
    spec, problems = validate(parse_yaml(text, "t.yaml"), SITE)
    assert problems == []
    return spec


DIRECTORY = site("""
name: 가
organization: 경상남도
region: 경남
kind: directory
base_url: http://h:1
start: {url: /staff/list.do, method: POST, formdata: {pageIndex: "1", searchKeyword: ""}}
list:
  rows: table tbody tr
  expand_rowspan: true
  fields:
    department: td:nth-child(1)
    name: td:nth-child(2)
    phone: {css: "td:nth-child(3)", regex: "(\\\\d{2,3}-\\\\d{3,4}-\\\\d{4})"}
    duties: td:nth-child(4)
  pagination:
    param: pageIndex
    method: POST
    last_page: {css: "a.last::attr(onclick)", regex: "(\\\\d+)"}
""")

BOARD = site("""
name: 나
organization: 대전광역시
region: 대전
kind: board
board_kind: press
base_url: http://h:1
start: /bbs/selectBoardList.do?bbsId=B1&pageIndex=1
list:
  rows: table tbody tr
  fields:
    title: td.subject a
    date: td.date
  detail_link: {css: "td.subject a::attr(onclick)", regex: "fn_view\\\\('(\\\\d+)'\\\\)", template: "/bbs/selectBoardArticle.do?bbsId=B1&nttId={1}"}
  pagination: {param: pageIndex, last_page: "span.total em"}
detail:
  fields:
    body: div.view
    attachments: {css: "ul.files a", many: true}
""")

STAFF_PAGE = """<table><tbody>
<tr><td rowspan="2">드론산업과</td><td>김하늘</td><td>전화: 055-211-2345</td><td>드론산업육성 <b>총괄</b></td></tr>
<tr><td>이*수</td><td>055-211-2346</td><td>청년일자리지원사업<br>기획</td></tr>
<tr><td>민원과</td><td>박민</td><td>055-211-1000</td><td>민원운영</td></tr>
<tr><td colspan="4"></td></tr>
</tbody></table><a class="last" onclick="fn_link_page(3); return false;">끝</a>"""


def test_directory_rows_with_rowspan_and_post_pagination():
    request = start_requests(DIRECTORY)[0]
    assert request["method"] == "POST" and parse_qs(request["body"]) == {"pageIndex": ["1"]}
    result = parse_list(DIRECTORY, request, STAFF_PAGE)
    rows = [(r["department"], r["name"], r["phone"], r["duties"]) for r in result.records]
    assert rows == [
        ("드론산업과", "김하늘", "055-211-2345", "드론산업육성 총괄"),
        ("드론산업과", "이*수", "055-211-2346", "청년일자리지원사업 기획"),
        ("민원과", "박민", "055-211-1000", "민원운영"),
    ]
    assert all(r["organization"] == "경상남도" and r["type"] == "staff" for r in result.records)
    assert len({r["id"] for r in result.records}) == 3
    pages = [(p["method"], parse_qs(p["body"])["pageIndex"][0], p["meta"]["page"]) for p in result.lists]
    assert pages == [("POST", "2", 2), ("POST", "3", 3)]
    page2 = dict(result.lists[0], meta={**result.lists[0]["meta"]})
    assert parse_list(DIRECTORY, page2, STAFF_PAGE).lists == []  # only the first page plans the others


BOARD_PAGE = """<table><tbody>
<tr class="notice"><td>공지</td><td class="subject"><a href="#" onclick="fn_view('7');return false;">고정 공지</a></td><td class="date">2026.01.02</td></tr>
<tr><td>12</td><td class="subject"><a href="javascript:void(0)" onclick="fn_view('123')">드론 &lt;행사&gt; 안내</a></td><td class="date">26.11.24</td></tr>
</tbody></table><span class="total">총 <em>2</em> 페이지</span>"""


def test_board_javascript_links_dates_and_get_pagination():
    request = start_requests(BOARD)[0]
    result = parse_list(BOARD, request, BOARD_PAGE)
    assert [(d["url"], v["title"]) for d, v in result.details] == [
        ("http://h:1/bbs/selectBoardArticle.do?bbsId=B1&nttId=7", "고정 공지"),
        ("http://h:1/bbs/selectBoardArticle.do?bbsId=B1&nttId=123", "드론 <행사> 안내"),
    ]
    assert [p["url"] for p in result.lists] == ["http://h:1/bbs/selectBoardList.do?bbsId=B1&pageIndex=2"]
    detail = parse_detail(BOARD, "<div class='view'><p>본문 <script>x()</script>첫째</p><p>둘째</p></div>"
                                 "<ul class='files'><li><a>a.hwp</a></li><li><a>b.pdf</a></li></ul>")
    assert detail == {"body": "본문 첫째 둘째", "attachments": ["a.hwp", "b.pdf"]}


@pytest.mark.parametrize("text,expected", [
    ("2026.11.24", "2026-11-24T00:00:00+09:00"),
    ("2026-11-24 14:30", "2026-11-24T14:30:00+09:00"),
    ("2026-11-24T14:30:00+09:00", "2026-11-24T14:30:00+09:00"),
    ("26.11.24", "2026-11-24T00:00:00+09:00"),
    ("2026년 11월 24일", "2026-11-24T00:00:00+09:00"),
    ("작성일 : 2026. 5. 18.", "2026-05-18T00:00:00+09:00"),
    ("통상물류과 | 2026-05-20", "2026-05-20T00:00:00+09:00"),
    ("소방본부 ｜ 054-880-6322 ｜ 26-06-02", "2026-06-02T00:00:00+09:00"),
])
def test_dates_are_aware_seoul_datetimes(text, expected):
    assert parse_date(text).isoformat() == expected


def test_undated_text_is_none():
    assert parse_date("제목 3") is None and parse_date("") is None


def test_decoding_header_meta_and_detection():
    korean = "<html><head><meta charset='euc-kr'></head><body>드론산업육성 똠방각하</body></html>"
    body = korean.encode("cp949")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert decode_page(body, "text/html")[0] == korean
    assert decode_page(body, "text/html; charset=EUC-KR")[1] == "cp949"
    undeclared = "<p>청년일자리</p>".encode("cp949")
    assert decode_page(undeclared, None) == ("<p>청년일자리</p>", "cp949")
    assert decode_page("<p>드론</p>".encode(), None) == ("<p>드론</p>", "utf-8")
    assert decode_page(b"\xff\xfe\xfa", None, "utf-8")[1] == "utf-8"  # never raises


def test_field_options():
    sel = page_selector("<div><a href='/x?id=9' title=' 제목 '>보기</a><a href='/y'>둘</a></div>")
    assert extract_field(sel, {"css": "a", "attr": "title"}) == "제목"
    assert extract_field(sel, {"css": "a::attr(href)", "regex": r"id=(\d+)", "template": "/view/{1}"}) == "/view/9"
    assert extract_field(sel, {"css": "a", "many": True, "join": ", "}) == "보기, 둘"
    assert extract_field(sel, {"css": "span", "default": "없음"}) == "없음"
    assert extract_field(sel, {"xpath": "//a[2]/@href"}) == "/y"


def test_malformed_html_is_parsed_as_far_as_possible():
    result = parse_list(DIRECTORY, start_requests(DIRECTORY)[0], STAFF_PAGE[:STAFF_PAGE.index("<tr><td>민원과")] + "<tr><td>민원")
    assert [r["name"] for r in result.records] == ["김하늘", "이*수"]


# --- issue 15: label lookup, multi-line fields, group rows, links, extra fields, deny ----------------------

CARDS = site("""
name: 다
organization: 경상남도
region: 경남
kind: directory
base_url: http://h:1
start: /staff
list:
  rows: div.card
  page_fields:
    bureau: {label: 실국}
  fields:
    name: {label: 성명}
    position: {label: [직위, 직급]}
    department: {label: 부서, match: contains}
    duties: {label: 담당업무, split: lines, strip_prefix: "○-·"}
""")


def test_label_lookup_and_multi_line_fields():
    html = ("<dl class='info'><dt>실국 :</dt><dd>기획조정실</dd></dl>"
            "<div class='card'><dl><dt>성명</dt><dd>김하늘</dd><dt>직급</dt><dd>주무관</dd>"
            "<dt>소속부서</dt><dd>드론산업과</dd><dt>담당업무</dt><dd>○ 드론산업 육성<br>- 드론 실증 특구<br>· 예산</dd></dl></div>")
    [record] = parse_list(CARDS, start_requests(CARDS)[0], html).records
    assert (record["name"], record["position"], record["department"], record["bureau"]) == ("김하늘", "주무관", "드론산업과", "기획조정실")
    assert record["lines"] == {"duties": ["드론산업 육성", "드론 실증 특구", "예산"]}
    assert record["duties"] == "드론산업 육성 / 드론 실증 특구 / 예산"


def test_label_lookup_in_th_td_tables_and_by_column_header():
    sel = page_selector("<table><tr><th>등록일</th><td>2026.11.24</td><th>조회수</th><td>12</td></tr></table>"
                        "<table class='s'><thead><tr><th>부서</th><th>성 명</th><th>전화</th></tr></thead>"
                        "<tbody><tr><td>민원과</td><td>박민</td><td>055-1</td></tr></tbody></table>")
    assert extract_field(sel, {"label": ["등록일"], "match": "exact"}) == "2026.11.24"
    assert extract_field(sel, {"label": ["조회"], "match": "contains"}) == "12"
    assert extract_field(sel, {"label": ["등록"], "match": "exact"}) is None  # exact: a part is not enough
    row = sel.css("table.s tbody tr")[0]
    assert extract_field(row, {"label": ["성명"], "match": "exact"}) == "박민"  # the header cell itself is excluded


GROUPED = site("""
name: 라
organization: 경상남도
region: 경남
kind: directory
base_url: http://h:1
start: /staff
list:
  rows: table tbody tr
  group_rows: {match: tr.sub_tit, field: team}
  fields:
    position: td:nth-child(1)
    name: td:nth-child(2)
""")


def test_group_rows_carry_their_value_down():
    html = ("<table><tbody><tr class='sub_tit'><th colspan='2'>기획팀</th></tr><tr><td>팀장</td><td>가</td></tr>"
            "<tr><td>주무관</td><td>나</td></tr><tr class='sub_tit'><th colspan='2'>예산팀</th></tr>"
            "<tr><td>주무관</td><td>다</td></tr></tbody></table>")
    rows = [(r["team"], r["name"]) for r in parse_list(GROUPED, start_requests(GROUPED)[0], html).records]
    assert rows == [("기획팀", "가"), ("기획팀", "나"), ("예산팀", "다")]


GOSI = site("""
name: 마
organization: 경상남도
region: 경남
kind: board
board_kind: announcement
base_url: http://h:1
deny: ["/calendar", "date="]
start: /gosi/list.do
list:
  rows: table tbody tr
  pinned: tr.notice
  fields:
    title: td.subject a
  extra:
    공고번호: td.num
  detail_link: td.subject a::attr(href)
  follow: {css: "a.more::attr(href)", many: true}
detail:
  fields:
    attachments: {label: 첨부파일, link: true, many: true}
  extra:
    담당자: {label: 담당자}
""")


def test_pinned_extra_fields_links_and_deny():
    html = ("<table><tbody><tr class='notice'><td class='num'>공지</td><td class='subject'><a href='v.do?id=1'>고정</a></td></tr>"
            "<tr><td class='num'>제2026-12호</td><td class='subject'><a href='v.do?id=2'>고시</a></td></tr>"
            "<tr><td class='num'>3</td><td class='subject'><a href='/calendar?date=1'>달력</a></td></tr></tbody></table>"
            "<a class='more' href='/calendar?month=2'>다음달</a><a class='more' href='/gosi/list.do?cat=2'>분류</a>")
    result = parse_list(GOSI, start_requests(GOSI)[0], html)
    assert [v.get("pinned", False) for _, v in result.details] == [True, False]
    assert [r["url"] for r in result.lists] == ["http://h:1/gosi/list.do?cat=2"] and result.denied_links == 2
    detail_req, values = result.details[1]
    page = ("<table><tr><th>담당자</th><td>김주무관</td></tr><tr><th>첨부파일</th><td>"
            "<a href='/files/a.hwp'>공고문.hwp</a> <a href='javascript:fnDown(2)'>별지.pdf</a></td></tr></table>")
    detail = parse_detail(GOSI, page, detail_req["url"])
    record = post_record(GOSI, detail_req["url"], values, detail)
    assert record["extra"] == {"공고번호": "제2026-12호", "담당자": "김주무관"}
    assert record["attachments"] == ["공고문.hwp", "별지.pdf"]
    assert record["attachment_links"] == [{"name": "공고문.hwp", "url": "http://h:1/files/a.hwp"},
                                          {"name": "별지.pdf", "url": ""}]  # never a javascript: URL
    assert "pinned" not in record and post_record(GOSI, "u", result.details[0][1], {})["pinned"] is True


def test_terminal_escape_sequences_leave_no_residue():
    """Bug (issue 15, defect 7): only the ESC byte was dropped, so `\\x1b[31m` became `[31m` in stored text."""
    sel = page_selector("<p>드론\x1b[31m산업\x1b[0m 육성 \x1b]0;제목\x07끝</p>")
    assert extract_field(sel, {"css": "p"}) == "드론산업 육성 끝"


def test_one_list_has_one_pagination_key_however_it_is_reached():
    """Defect 6 at unit level: a POST start (empty search fields) and a GET link to the same list share the key
    that sets up pagination once per run; lists told apart by a form field keep their own."""
    from crawlers.paging import list_key

    post = list_key("http://h/gosi/list.do?menuNo=3", "pageIndex", {"pageIndex": "1", "searchCnd": "", "searchWrd": ""})
    assert post == list_key("http://h/gosi/list.do?menuNo=3&pageIndex=1", "pageIndex")
    a = list_key("http://h/bbs/list.do", "pageIndex", {"pageIndex": "1", "bbsId": "A"})
    assert a != list_key("http://h/bbs/list.do", "pageIndex", {"pageIndex": "1", "bbsId": "B"})
    assert a == list_key("http://h/bbs/list.do?bbsId=A", "pageIndex")
