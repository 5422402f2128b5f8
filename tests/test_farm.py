"""The site farm over real HTTP: page families against the manifest, YAMLs, robots, faults, publish."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from lxml import html as lxml_html
from parsel import Selector

from conf.loader import load_sites
from farm import Farm
from farm.probe import read_site

ROOT = Path(__file__).resolve().parent.parent
FARM_SITES = ROOT / "conf" / "sites" / "farm"
PROVINCES = "seoul busan daegu incheon gwangju daejeon ulsan sejong gyeonggi gangwon chungbuk chungnam jeonbuk jeonnam gyeongbuk gyeongnam jeju".split()
REGIONS = "서울 부산 대구 인천 광주 대전 울산 세종 경기 강원 충북 충남 전북 전남 경북 경남 제주".split()
STAFF_KEYS = ("department", "team", "position", "name", "phone", "duties", "email")
TRUTH_STAFF_KEYS = ("bureau",) + STAFF_KEYS
POST_KEYS = ("title", "department", "body", "attachments", "url", "attachment_links", "extra", "pinned")


@pytest.fixture(scope="module")
def farm():
    with Farm(seed=1) as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults(request):
    yield
    if "farm" in request.fixturenames:
        request.getfixturevalue("farm").clear_faults()


def http(url: str, method: str = "GET", form: dict | None = None, headers: dict | None = None):
    """(status, headers, body) without raising on HTTP errors."""
    data = urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def page(url: str, method: str = "GET", form: dict | None = None, charset: str = "utf-8"):
    status, headers, body = http(url, method, form)
    assert status == 200, url
    return lxml_html.fromstring(body.decode(charset))


def text(node) -> str:
    return " ".join(node.text_content().split())


def staff_of(farm, site_id) -> list[tuple]:
    return [tuple(r.get(k) for k in STAFF_KEYS) for r in farm.manifest()["staff"] if r["site"] == site_id]


def posts_of(farm, site_id) -> dict[str, dict]:
    return {r["post_id"]: r for r in farm.manifest()["posts"] if r["site"] == site_id}


def iso(shown: str) -> str:
    """Normalize every date format the boards show (and the engine's ISO dates) to the manifest's ISO form."""
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2}):00\+09:00", shown):
        return f"{m[1]}-{m[2]}-{m[3]}" + ("" if m[4] == "00:00" else f" {m[4]}")
    if m := re.fullmatch(r"(\d{4})[.-](\d{2})[.-](\d{2})( \d{2}:\d{2})?", shown):
        return f"{m[1]}-{m[2]}-{m[3]}{m[4] or ''}"
    if m := re.fullmatch(r"(\d{2})[.-](\d{2})[.-](\d{2})", shown):
        return f"20{m[1]}-{m[2]}-{m[3]}"
    m = re.fullmatch(r"(\d{4})년 (\d{1,2})월 (\d{1,2})일", shown)
    return f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}"


# ------------------------------------------------------------------ the sites

def test_sites_cover_provinces_and_boards(farm):
    sites = farm.sites
    directories = [s for s in sites if s["kind"] == "directory" and s["org_kind"] == "province"]
    boards = [s for s in sites if s["kind"] == "board"]
    assert [s["id"] for s in directories] == PROVINCES
    assert [s["region"] for s in directories] == REGIONS
    assert len({s["family"] for s in directories}) >= 4
    assert len(boards) >= 20 and {s["board_kind"] for s in boards} == {"press", "notice", "announcement", "legislation"}
    assert any(s["id"] == "korea-kr-press" and s["region"] == "중앙" and s["org_kind"] == "ministry" for s in boards)
    for i, site in enumerate(sites):
        assert site["host"] == f"127.0.1.{i + 1}"
        assert site["base_url"] == f"http://127.0.1.{i + 1}:{farm.port}"
    staff = farm.manifest()["staff"]
    for site in [s for s in sites if s["kind"] == "directory"]:
        assert 150 <= sum(r["site"] == site["id"] for r in staff) <= 400
    assert len({r["site"] for r in staff if "드론" in r["duties"]}) >= 5
    assert len({r["site"] for r in staff if "청년일자리" in r["duties"] or "청년 일자리" in r["duties"]}) >= 5


def test_staff_table_post_pagination(farm):
    url = farm.sites[0]["start_urls"][0]
    first = page(url)
    last = int(re.search(r"\d+", first.xpath("//div[@class='paging']/a[@class='last']/@onclick")[0]).group())
    assert page(url).xpath("//form[@id='searchForm']/@method") == ["post"]
    rows = []
    for number in range(1, last + 1):
        doc = first if number == 1 else page(url, "POST", {"pageIndex": str(number)})
        for tr in doc.xpath("//table[@class='staff']/tbody/tr"):
            rows.append((text(tr.xpath("td[1]")[0]), None, text(tr.xpath("td[2]")[0]), text(tr.xpath("td[3]")[0]),
                         text(tr.xpath("td[5]")[0]), text(tr.xpath("td[4]")[0]), None))
    assert rows == staff_of(farm, "seoul")
    # GET ignores pageIndex on the POST-only variant; the search form filters
    assert page(url + "&pageIndex=2").xpath("//table[@class='staff']/tbody/tr[1]/td[3]")[0].text == rows[0][3]
    found = page(url, "POST", {"pageIndex": "1", "searchCnd": "name", "searchKrwd": rows[5][3]})
    assert rows[5][3] in [td.text for td in found.xpath("//td[@class='name']")]


def test_staff_table_get_pagination(farm):
    url = farm.url("daegu", "/daegu/staff/list.do?mId=0403000000")
    first = page(url)
    last = int(re.search(r"pageIndex=(\d+)", first.xpath("//div[@class='paging']/a[@class='last']/@href")[0]).group(1))
    names = [td.text for n in range(1, last + 1) for td in page(f"{url}&pageIndex={n}").xpath("//td[@class='name']")]
    assert names == [r[3] for r in staff_of(farm, "daegu")]


def test_org_tree_pages(farm):
    index_url = farm.url("gwangju", "/gwangju/organization/index.do")
    links = page(index_url).xpath("//div[@class='org_tree']//a/@href")
    rows = []
    for link in links:
        doc = page(urljoin(index_url, link))
        dept = text(doc.xpath("//h3[@class='dept_name']")[0])
        for tr in doc.xpath("//table[@class='dept_staff']/tbody/tr"):
            cells = [text(td) for td in tr.xpath("td")]
            rows.append((dept, cells[0] or None, cells[1], cells[2], cells[4], cells[3], cells[5]))
    assert rows == staff_of(farm, "gwangju")


def test_euckr_rowspan_table(farm):
    url = farm.url("ulsan", "/ulsan/jikwon/list.asp?page=1")
    status, headers, body = http(url)
    assert headers["Content-Type"] == "text/html; charset=EUC-KR" and b"charset=euc-kr" in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    first = lxml_html.fromstring(body.decode("cp949"))
    last = int(re.search(r"page=(\d+)", first.xpath("//a[@class='end']/@href")[0]).group(1))
    rows = []
    for number in range(1, last + 1):
        doc = page(farm.url("ulsan", f"/ulsan/jikwon/list.asp?page={number}"), charset="cp949")
        dept, left = None, 0
        for tr in doc.xpath("//table[@class='tbl_jikwon']//tr[td]"):
            cells = tr.xpath("td")
            if left == 0:
                assert cells[0].get("class") == "buseo"
                dept, left, cells = text(cells[0]), int(cells[0].get("rowspan")), cells[1:]
            left -= 1
            position, name, phone, duties = map(text, cells)
            rows.append((dept, None, position, name, phone, duties, None))
    assert rows == staff_of(farm, "ulsan")
    assert any(int(td.get("rowspan")) > 1 for td in first.xpath("//td[@rowspan]"))


def test_masked_cards_with_next_links(farm):
    url = farm.url("sejong", "/sejong/contents/staff.do?page=1")
    rows = []
    while url:
        doc = page(url)
        for li in doc.xpath("//ul[@class='staff_card']/li[@class='card']"):
            get = lambda xp: text(li.xpath(xp)[0])
            rows.append((get(".//span[@class='dept']"), get(".//span[@class='team']") or None, get(".//em[@class='position']"),
                         get(".//p[@class='name']/strong"), get(".//p[@class='tel']"), get(".//p[@class='task']"), None))
        nxt = doc.xpath("//a[@class='btn_next']/@href")
        url = urljoin(url, nxt[0]) if nxt else None
    assert rows == staff_of(farm, "sejong")
    assert all(re.fullmatch(r".\*+.?", r[3]) for r in rows)


def test_duties_with_markup_are_escaped(farm):
    record = next(r for r in farm.manifest()["staff"] if "<script>" in r["duties"])
    assert record["duties"].startswith("<script>alert(1)</script>")
    url = farm.sites[PROVINCES.index(record["site"])]["start_urls"][0]
    bodies = b"".join(http(url, "POST", {"pageIndex": str(n)})[2] for n in range(1, 3))
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in bodies and b"<script>alert(1)" not in bodies


# ------------------------------------------------------------------ boards

def _board_rows(doc, family):
    """(post_id, title, shown date, department, pinned?) of a list page, by the family's markup."""
    out = []
    if family in ("egov", "egov_post"):
        table = "board_list" if family == "egov" else "board_table_list"
        for tr in doc.xpath(f"//table[@class='{table}']/tbody/tr"):
            if not tr.xpath("td[2]/a"):
                continue   # "no posts" row of a page past the last
            a = tr.xpath("td[2]/a")[0]
            post_id = re.search(r"(\d+)\D*$", a.get("onclick") or a.get("href")).group(1)
            out.append((post_id, text(a), text(tr.xpath("td[@class='date']")[0]), text(tr.xpath("td[@class='dept']")[0]),
                        tr.get("class") == "notice"))
    elif family == "briefing":
        for li in doc.xpath("//div[@class='list_type']//li"):
            spans = li.xpath(".//span[@class='source']/span")
            out.append((li.xpath("a/@href")[0].split("newsId=")[1], text(li.xpath(".//strong")[0]),
                        text(spans[0]), text(spans[1]), False))
    else:
        for li in doc.xpath("//ul[@class='report_list']/li"):
            spans = li.xpath(".//div[@class='classify']/span")
            a = li.xpath(".//div[@class='subject']//a")[0]
            out.append((a.get("href").split("B_NUM=")[1], text(a), text(spans[2]), text(spans[0]), False))
    return out


@pytest.mark.parametrize("site_id", ["seoul-press", "busan-notice", "daejeon-announce", "korea-kr-press", "gyeongbuk-press"])
def test_board_lists_and_details(farm, site_id):
    info = next(s for s in farm.sites if s["id"] == site_id)
    family, start = info["family"], info["start_urls"][0]
    pages_seen, seen, pinned_per_page = 0, {}, []
    number = 1
    while True:
        if family == "egov_post":
            doc = page(start, "POST", {"pageIndex": str(number)})
        elif family == "report":
            doc = page(start.replace("Start=0", f"Start={(number - 1) * 10}"))
        else:
            doc = page(re.sub(r"pageIndex=\d+", f"pageIndex={number}", start))
        rows = _board_rows(doc, family)
        regular = [r for r in rows if not r[4]]
        if not regular:
            break
        pages_seen += 1
        assert 10 <= len(regular) <= 15 or len(regular) < 10 and number > 1
        pinned_per_page.append([r[0] for r in rows if r[4]])
        for row in rows:
            seen.setdefault(row[0], row)
        number += 1
    truth = posts_of(farm, site_id)
    assert set(seen) == set(truth) and 30 <= len(truth) <= 120 and pages_seen >= 3
    for post_id, title, shown, dept, _ in seen.values():
        assert (title, iso(shown), dept) == (truth[post_id]["title"], truth[post_id]["date"], truth[post_id]["department"])
    pinned = sorted(p for p, r in truth.items() if r["pinned"])
    assert all(sorted(ids) == pinned for ids in pinned_per_page)   # same pinned rows on every page, once in truth
    body_css = {"egov": "div.view_content", "egov_post": "div.bbs_content", "briefing": "div.view_cont", "report": "div.cont_view"}
    file_css = {"egov": "ul.file_list a.down", "egov_post": "div.attach a.file", "briefing": "div.filedown a.file",
                "report": "div.files a.link_no"}
    for record in list(truth.values())[:12]:
        sel = Selector(text=http(record["url"])[2].decode())
        assert " ".join(sel.css(body_css[family]).xpath("string(.)").get().split()) == record["body"]
        files = sel.css(file_css[family])
        assert [" ".join(a.xpath("string(.)").get().split()) for a in files] == record["attachments"]
        for a in files[:1]:
            status, headers, data = http(urljoin(record["url"], a.attrib["href"]))
            assert status == 200 and headers["Content-Type"] == "application/octet-stream" and data


def test_board_date_formats(farm):
    shown = set()
    for site in farm.sites:
        if site["kind"] == "board" and site["family"] in ("egov", "briefing"):
            shown |= {r[2] for r in _board_rows(page(site["start_urls"][0]), site["family"])}
    patterns = [r"\d{4}\.\d{2}\.\d{2}", r"\d{4}-\d{2}-\d{2}", r"\d{4}년 \d{1,2}월 \d{1,2}일", r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"]
    for pattern in patterns:
        assert any(re.fullmatch(pattern, s) for s in shown), pattern
    report = page(next(s for s in farm.sites if s["id"] == "gyeongbuk-press")["start_urls"][0])
    assert re.fullmatch(r"\d{2}-\d{2}-\d{2}", _board_rows(report, "report")[0][2])
    egov_post = page(next(s for s in farm.sites if s["id"] == "daegu-press")["start_urls"][0])
    assert re.fullmatch(r"\d{2}\.\d{2}\.\d{2}", _board_rows(egov_post, "egov_post")[0][2])


def test_publish_adds_post_on_page_one(farm):
    site = next(s for s in farm.sites if s["id"] == "gyeongnam-press")
    before = posts_of(farm, "gyeongnam-press")
    entry = farm.publish("gyeongnam-press", title="경남도, 드론 배송 시범사업 착수", body="첫 문장입니다.\n둘째 문장입니다.")
    assert int(entry["post_id"]) == max(map(int, before)) + 1
    assert entry["body"] == "첫 문장입니다. 둘째 문장입니다." and entry["date"] == time.strftime("%Y-%m-%d", time.gmtime(time.time() + 9 * 3600))
    regular = [r for r in _board_rows(page(site["start_urls"][0]), "egov") if not r[4]]
    assert regular[0][:2] == (entry["post_id"], entry["title"])
    assert posts_of(farm, "gyeongnam-press")[entry["post_id"]] == entry
    assert http(entry["url"])[0] == 200
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(farm.publish("gyeongnam-press", f"동시 게시 {i}", "본문")))
               for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len({r["post_id"] for r in results}) == 8


# ------------------------------------------------------------------ site definitions

def test_every_yaml_validates_and_matches_the_manifest(farm):
    sites = load_sites(FARM_SITES, {"FARM_PORT": str(farm.port)})
    by_id = {s["id"]: s for s in farm.sites}
    assert set(sites) == set(by_id)
    manifest = farm.manifest()
    for site_id, site in sites.items():
        assert urlsplit(site["base_url"]).hostname == by_id[site_id]["host"]
        records = read_site(site.spec)
        if site["kind"] == "directory":
            got = Counter(tuple(r.get(k) or None for k in TRUTH_STAFF_KEYS) + (json.dumps(r.get("lines")),) for r in records)
            want = Counter(tuple(r.get(k) for k in TRUTH_STAFF_KEYS) + (json.dumps(r.get("lines")),)
                           for r in manifest["staff"] if r["site"] == site_id)
        else:
            unique = {r["post_id"]: r for r in records}
            got = {k: tuple(json.dumps(r.get(f) or None, ensure_ascii=False) for f in POST_KEYS) + (iso(r["date"]),)
                   for k, r in unique.items()}
            want = {r["post_id"]: tuple(json.dumps(r.get(f) or None, ensure_ascii=False) for f in POST_KEYS) + (r["date"],)
                    for r in manifest["posts"] if r["site"] == site_id}
        assert got == want, site_id


def test_yaml_files_are_the_generated_ones(farm, tmp_path):
    farm.write_site_definitions(tmp_path)
    for path in sorted(tmp_path.glob("*.yaml")):
        assert (FARM_SITES / path.name).read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), path.name
    assert len(list(FARM_SITES.glob("*.yaml"))) == len(farm.sites)


def test_robots(farm):
    assert http(farm.url("seoul", "/robots.txt"))[2] == b"User-agent: *\nAllow: /\n"
    robots = http(farm.url("daejeon", "/robots.txt"))[2].decode()
    assert "Disallow: /admin/" in robots and "Crawl-delay: 2" in robots
    index = page(farm.url("daejeon", "/daejeon/organization/index.do"))
    assert "/admin/orgManage.do" in index.xpath("//div[@class='org_tree']//a/@href")
    admin = http(farm.url("daejeon", "/admin/orgManage.do"))[2].decode()
    names = {r["name"] for r in farm.manifest()["staff"]}
    assert "관리자0" in admin and "관리자0" not in names


# ------------------------------------------------------------------ faults

def test_failure_then_success_on_retry(farm):
    url = farm.sites[1]["start_urls"][0]
    farm.set_faults("busan", failure_rate=1.0, fail_attempts=2)
    assert [http(url)[0] for _ in range(3)] == [500, 500, 200]
    farm.set_faults("busan", failure_rate=0.5, fail_attempts=1)
    urls = [farm.url("busan", f"/busan/staff/list.do?mId=0402000000&x={i}") for i in range(40)]
    first = [http(u)[0] for u in urls]
    assert 5 < first.count(500) < 35 and all(http(u)[0] == 200 for u in urls)
    farm.set_faults("busan", failure_rate=0.5)   # counts restart: the same paths fail again, deterministically
    assert [http(u)[0] for u in urls] == first


def test_reset_latency_and_slow_paths(farm):
    url = farm.sites[2]["start_urls"][0]
    farm.set_faults("daegu", reset_rate=1.0)
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        http(url)
    assert http(url)[0] == 200
    farm.set_faults("daegu", reset_rate=0.0, latency=0.3)
    started = time.monotonic()
    assert http(url)[0] == 200 and time.monotonic() - started >= 0.3
    farm.set_faults("daegu", latency=0.0, slow_paths=1.0, slow_seconds=0.4)
    started = time.monotonic()
    assert http(url)[0] == 200 and time.monotonic() - started >= 0.4
    with pytest.raises(TypeError):
        farm.set_faults("daegu", no_such_switch=1)


def test_traps_are_linked_where_loose_yaml_selectors_look(farm):
    sites = load_sites(FARM_SITES, {"FARM_PORT": str(farm.port)})
    for site_id in ("gwangju", "gyeongbuk-press"):
        start = sites[site_id]["base_url"] + sites[site_id]["start"][0]["url"]
        follow = sites[site_id]["list"]["follow"]["css"]
        assert not any(h in ("/calendar?month=1", "/loop", "/huge") for h in Selector(text=http(start)[2].decode()).css(follow).getall())
        farm.set_faults(site_id, calendar_trap=True, redirect_loop=True, huge_page=True)
        links = Selector(text=http(start)[2].decode()).css(follow).getall()
        assert {"/calendar?month=1", "/loop", "/huge"} <= set(links)
        url = farm.url(site_id, "/calendar?month=1")
        for month in range(1, 6):   # endless: month N always links month N+1
            nxt = Selector(text=http(url)[2].decode()).css(follow).getall()
            assert nxt == [f"/calendar?month={month + 1}"]
            url = farm.url(site_id, nxt[0])
    conn = HTTPConnection("127.0.1.5", farm.port, timeout=10)   # gwangju
    conn.request("GET", "/loop")
    response = conn.getresponse()
    assert (response.status, response.getheader("Location")) == (302, "/loop")
    conn.close()
    with pytest.raises(urllib.error.HTTPError, match="infinite loop"):
        urllib.request.urlopen(farm.url("gwangju", "/loop"), timeout=10)
    with urllib.request.urlopen(farm.url("gwangju", "/huge"), timeout=10) as resp:
        assert int(resp.headers["Content-Length"]) >= 20 * 2**20
        assert resp.read(1 << 20).startswith(b"<!DOCTYPE html>")
    farm.clear_faults()
    assert http(farm.url("gwangju", "/calendar?month=1"))[0] == 404


def test_malformed_pages_keep_their_rows(farm):
    url = farm.sites[0]["start_urls"][0]
    clean = http(url)[2]
    farm.set_faults("seoul", malformed=1.0)
    broken = http(url)[2]
    assert b"</td>" not in broken and b"</html>" not in broken and b"</td>" in clean
    cells = lambda body: [[text(td) for td in tr.xpath("td")] for tr in lxml_html.fromstring(body.decode()).xpath("//table[@class='staff']/tbody/tr")]
    assert cells(broken) == cells(clean) and len(cells(clean)) == 20
    sites = load_sites(FARM_SITES, {"FARM_PORT": str(farm.port)})
    for site_id in ("gwangju", "ulsan", "sejong", "seoul-press", "daejeon-announce", "korea-kr-press", "gyeongbuk-press"):
        expected = read_site(sites[site_id].spec)
        farm.set_faults(site_id, malformed=True)
        assert read_site(sites[site_id].spec) == expected, site_id
    farm.set_faults("ulsan", malformed=0.5)
    bodies = [http(farm.url("ulsan", f"/ulsan/jikwon/list.asp?page={n}"))[2] for n in range(1, 7)]
    assert 0 < sum(b"</html>" not in b for b in bodies) < 6   # some pages, deterministically


def test_broken_layout_defeats_the_yaml(farm):
    site = load_sites(FARM_SITES, {"FARM_PORT": str(farm.port)})["seoul-press"]
    url = site["base_url"] + site["start"][0]["url"]
    assert len(Selector(text=http(url)[2].decode()).css(site["list"]["rows"])) > 10
    farm.set_faults("seoul-press", broken_layout=True)
    assert Selector(text=http(url)[2].decode()).css(site["list"]["rows"]) == []


# ------------------------------------------------------------------ plumbing

def test_request_log_and_conditional_get(farm):
    url = farm.sites[3]["start_urls"][0]
    before = len(farm.request_log())
    status, headers, _ = http(url)
    assert http(url, headers={"If-None-Match": headers["ETag"]})[0] == 304
    host, when, method, path = farm.request_log()[before]
    assert (host, method, path) == ("127.0.1.4", "GET", "/incheon/organization/index.do") and when <= time.monotonic()


def test_same_seed_same_manifest():
    assert Farm(seed=1).manifest() == Farm(seed=1).manifest()
    assert Farm(seed=1).manifest() != Farm(seed=2).manifest()
    script = "import json; from farm import Farm; print(json.dumps(Farm(seed=1).manifest(), ensure_ascii=False))"
    other = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"})
    assert json.loads(other.stdout) == Farm(seed=1).manifest()   # no dependence on hash randomization


def test_large_scale(tmp_path):
    large = Farm(seed=1, scale="large")
    sites = large.sites
    assert len(sites) == 500 and len({s["host"] for s in sites}) == 500 and sites[-1]["host"] == "127.0.2.250"
    assert 270_000 <= sum(large.site(s["id"]).site.size for s in sites if s["kind"] == "directory") <= 330_000
    large.write_site_definitions(tmp_path)
    assert len(load_sites(tmp_path, {"FARM_PORT": "8000"})) == 500
    with large:
        site = next(s for s in large.sites if s["host"].startswith("127.0.2."))
        assert http(site["start_urls"][0])[0] == 200


def test_command_line():
    proc = subprocess.Popen([sys.executable, "-m", "farm", "--seed", "1", "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert len(info["sites"]) >= 37
        assert http(f"http://127.0.1.1:{info['port']}/robots.txt")[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_address_base_moves_every_site_and_its_definition(tmp_path):
    moved = Farm(seed=1, address_base="127.0.3.1")
    assert [s["host"] for s in moved.sites] == [f"127.0.3.{i + 1}" for i in range(len(moved.sites))]
    written = moved.write_site_definitions(tmp_path)
    assert 'base_url: "http://127.0.3.1:${FARM_PORT}"' in written[0].read_text(encoding="utf-8")
    assert Farm(seed=1).sites[0]["host"] == "127.0.1.1"  # the default is unchanged
    assert moved.manifest()["staff"][0] == Farm(seed=1).manifest()["staff"][0]  # same content
