"""The web service: search page, JSON API, feeds, status, and a real gunicorn server, over an index built by the writer."""
from __future__ import annotations

import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes, urlsplit
from wsgiref.util import setup_testing_defaults

import psutil
import pytest

from index.cli_search import format_table
from index.search import StaffSearcher
from conf.wire import append, run_event
from index.writer import consume
from notifier.match import Matcher
from notifier.store import AlertStore, register
from notifier.subscription import load_subscriptions
from notifier.tokens import rotate_token, token_for
from tests.conftest import delete_prefix
from web.app import make_app
from web.http import CSP

ROOT = Path(__file__).resolve().parent.parent
XSS = "<script>alert(1)</script>"
ORDER = ["서울특별시", "부산광역시", "경상남도", "수원시", "창원시", "행정안전부"]  # provinces, cities by region, ministries
ORGS = {"seoul": ("서울특별시", "서울", "province"), "busan": ("부산광역시", "부산", "province"),
        "gyeongnam": ("경상남도", "경남", "province"), "suwon": ("수원시", "경기", "city"),
        "changwon": ("창원시", "경남", "city"), "mois": ("행정안전부", "중앙", "ministry")}


def person(site: str, i: int, name: str, department: str, duties: str, phone: str = "", position: str = "주무관",
           run: str = "r1", **extra) -> dict:
    organization, region, kind = ORGS[site]
    row = {"type": "staff", "site": site, "organization": organization, "region": region, "org_kind": kind,
           "url": f"https://{site}.example.kr/staff", "department": department, "team": "", "position": position,
           "name": name, "phone": phone, "duties": duties, "email": "", "run_id": f"{site}-{run}", "id": f"{site}-{i:03d}"}
    row.update(extra)
    return row


# Listed out of organization order on purpose: the page must put them in order.
STAFF = [
    person("mois", 1, "안전부", "재난안전관리본부 드론팀", "재난 대응 드론 운용", "044-205-1001", "사무관"),
    person("changwon", 1, "창드론", "미래산업과", "드론산업 특구 운영", "055-225-3001"),
    person("suwon", 1, "수원이", "스마트도시과", "공공 드론 활용 사업", "031-228-2001"),
    person("gyeongnam", 1, "김드론", "미래전략국 드론산업과", "드론산업육성 종합계획 수립", "055-211-3456", team="드론정책팀"),
    person("gyeongnam", 2, "문보안", "정보통신과", f"드론 보안 점검 {XSS}", "055-211-2002"),
    person("gyeongnam", 3, "제어문", "정보통신과", "드론 \x1b[2J관제\x07 시스템 \u202e운영", "055-211-2003"),
    person("gyeongnam", 4, "박청년", "일자리정책과", "청년일자리지원사업 추진", "055-211-7001"),
    *[person("gyeongnam", 10 + i, f"경남{i}", "교통과", f"소형드론 안전 관리 {i}구역", f"055-211-40{i:02d}") for i in range(8)],
    person("busan", 1, "부드론", "신산업과", "해양 드론 실증", "051-888-1001"),
    person("busan", 2, "부산이", "총무과", "서무"),
    person("seoul", 1, "서드론", "드론정책과", "서무 및 예산", "02-2133-1234"),
    person("seoul", 2, "서울이", "교통정책과", "무인 드론 비행 승인", "02-2133-5678", "팀장"),
    person("seoul", 3, "서행정", "행정국", "행정 지원"),
]


def post(number: int, title: str, body: str, board_kind: str = "press", day: int = 1, **extra) -> dict:
    item = {"type": "post", "id": f"gyeongnam-press-{number}", "site": "gyeongnam-press", "organization": "경상남도",
            "region": "경남", "org_kind": "province", "board_kind": board_kind,
            "url": f"https://www.gyeongnam.go.kr/board/view.do?idx={number}", "title": title,
            "date": f"2024-05-{day:02d}T09:00:00+09:00", "department": "미래산업과", "author": "", "body": body,
            "attachments": [], "post_id": str(number), "run_id": "gyeongnam-press-r1",
            "first_seen": f"2024-05-{day:02d}T01:00:00+00:00"}
    item.update(extra)
    return item


POSTS = [
    post(1, "드론 산업 육성 계획 발표", "경상남도는 드론산업 육성 계획을 발표했다. " * 3, day=1),
    post(2, "청년 일자리 박람회 개최", "청년일자리 박람회를 연다.", "notice", day=2),
    post(3, f"{XSS} 드론 안전 공지", "본문에 <img src=x onerror=alert(2)> 드론 이야기", "notice", day=3),
]
SUBSCRIPTIONS = """\
officials:
  - id: kim
    name: 김민수
    topics:
      - name: 드론
        query: 드론
      - name: 청년
        query: 청년
"""


def end_run(client, prefix: str, site: str, run_id: str, status: str = "finished", kind: str = "directory",
            ended_at: float | None = None) -> None:
    append(client, prefix, [run_event(run_id, site, status=status, kind=kind, ended_at=ended_at)])


def build_index(client, prefix: str, index_dir: Path, staff: list[dict], posts: list[dict] = (),
                flagged: tuple[str, ...] = (), ended_at: float | None = None) -> None:
    """Index items through the real writer; each site in `flagged` then has a failed run (its rows stay live)."""
    append(client, prefix, list(staff) + list(posts))
    for run_id, site in sorted({(r["run_id"], r["site"]) for r in staff}):
        end_run(client, prefix, site, run_id, ended_at=ended_at)
    for run_id, site in sorted({(p["run_id"], p["site"]) for p in posts}):
        end_run(client, prefix, site, run_id, kind="board", ended_at=ended_at)
    consume(client, prefix, index_dir, once=True)
    for site in flagged:
        end_run(client, prefix, site, f"{site}-r2", status="failed", ended_at=ended_at)
    consume(client, prefix, index_dir, once=True)


@pytest.fixture(scope="module")
def data(redis_server, tmp_path_factory):
    """An index (staff, posts, one flagged site) under data/index, and one official's alerts and feed token."""
    client = redis_server.client()
    prefix = f"t{uuid.uuid4().hex[:12]}"
    root = tmp_path_factory.mktemp("web")
    index_dir = root / "data" / "index"
    build_index(client, prefix, index_dir, STAFF, POSTS, flagged=("busan",))
    subs_path = root / "subscriptions.yaml"
    subs_path.write_text(SUBSCRIPTIONS, encoding="utf-8")
    subs = load_subscriptions(subs_path)
    register(client, prefix, subs, now=0)
    posts = [dict(p, first_seen=p["first_seen"]) for p in POSTS]
    assert AlertStore(client, prefix).record(Matcher(subs).match(posts), posts, now=1_714_000_000) == 3
    app = make_app(index_dir=index_dir, client=client, prefix=prefix, subscriptions=subs_path, per_page=50)
    try:
        yield {"app": app, "client": client, "prefix": prefix, "root": root, "index": index_dir,
               "subscriptions": subs_path, "token": token_for(client, prefix, "kim"), "redis_url": redis_server.url}
    finally:
        delete_prefix(client, prefix)
        client.close()


def call(app, url: str, headers: dict | None = None, method: str = "GET") -> tuple[int, dict, bytes]:
    """One request to a WSGI app, the way a server passes it (PATH_INFO decoded, as latin-1)."""
    parts = urlsplit(url)
    environ = {"REQUEST_METHOD": method, "PATH_INFO": unquote_to_bytes(parts.path).decode("latin-1"),
               "QUERY_STRING": parts.query, "wsgi.input": io.BytesIO()}
    for key, value in (headers or {}).items():
        environ["HTTP_" + key.upper().replace("-", "_")] = value
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body


def page(app, url: str) -> str:
    status, headers, body = call(app, url)
    assert status == 200, body[:500]
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    return body.decode("utf-8")


def headings(html: str) -> list[str]:
    return re.findall(r'<section class="group"><h2><span>(.*?)</span>', html)


def q(text: str) -> str:
    return quote(text, safe="")


def test_search_page_groups_results_in_organization_order(data):
    html = page(data["app"], f"/?q={q('드론')}")
    assert headings(html) == ORDER
    assert "담당자 <strong>17명</strong>" in html and "기관 6곳" in html
    assert "‘<strong>드론</strong>’" in html


def test_rows_highlight_matches_and_call_by_phone(data):
    html = page(data["app"], f"/?q={q('드론')}")
    assert "<mark>드론</mark>산업육성 종합계획 수립" in html
    assert "미래전략국 <mark>드론</mark>산업과 · <mark>드론</mark>정책팀" in html
    assert '<a href="tel:0552113456">055-211-3456</a>' in html
    assert '<a href="tel:0221331234">02-2133-1234</a>' in html
    assert "사무관" in html and "안전부" in html


def test_filters_by_region_and_organization_with_counts(data):
    app = data["app"]
    html = page(app, f"/?q={q('드론')}")
    assert f'href="/?q={q("드론")}&amp;region={q("경남")}"' in html  # facet chip links
    assert re.search(r'경남 <span class="n">12</span>', html)
    by_region = page(app, f"/?q={q('드론')}&region={q('경남')}")
    assert headings(by_region) == ["경상남도", "창원시"]
    assert re.search(r'aria-current=true>경남 <span class="n">12</span>', by_region)
    by_org = page(app, f"/?q={q('드론')}&organization={q('창원시')}")
    assert headings(by_org) == ["창원시"] and "담당자 <strong>1명</strong>" in by_org


def test_paging_walks_every_result_once(data):
    app = make_app(index_dir=data["index"], per_page=5)
    names, pages_seen = [], []
    for number in range(1, 5):
        html = page(app, f"/?q={q('드론')}&page={number}")
        pages_seen.append(html)
        names += re.findall(r'<span class="name">(.*?)</span>', html)
        assert [h for h in ORDER if h in headings(html)] == headings(html)  # groups in order on every page
    assert len(names) == len(set(names)) == 17
    assert 'rel="next"' in pages_seen[0] and 'rel="prev"' not in pages_seen[0]
    assert 'rel="prev"' in pages_seen[3] and 'rel="next"' not in pages_seen[3]
    assert '<span aria-current="page">2</span>' in pages_seen[1]


def test_group_shows_crawl_date_and_flag_of_stale_sites(data):
    html = page(data["app"], f"/?q={q('드론')}")
    sections = dict(zip(headings(html), re.split(r'<section class="group">', html)[1:]))
    assert "⚠ 최근 수집 실패" in sections["부산광역시"] and "최근 수집에 실패했습니다" in sections["부산광역시"]
    assert "⚠" not in sections["서울특별시"]
    assert re.search(r"\d{4}년 \d{1,2}월 \d{1,2}일 \d\d:\d\d 수집", sections["서울특별시"])
    assert "해양 <mark>드론</mark> 실증" in sections["부산광역시"]  # the stale rows stay searchable


def test_crawled_markup_is_escaped_in_html_and_literal_in_json(data):
    app = data["app"]
    for query in ("alert(1)", XSS, "드론"):
        status, headers, body = call(app, f"/?q={q(query)}")
        html = body.decode()
        assert status == 200 and "<script" not in html.lower() and "\x1b" not in html and "\u202e" not in html
        assert "&lt;script&gt;" in html
        assert headers["Content-Security-Policy"] == CSP
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
    status, headers, body = call(app, f"/api/search?q={q('alert(1)')}")
    assert headers["Content-Type"] == "application/json; charset=utf-8" and headers["X-Content-Type-Options"] == "nosniff"
    assert XSS.encode() in body and b"<mark>" not in body
    hits = [h for g in json.loads(body)["groups"] for h in g["hits"]]
    assert [h["duties"] for h in hits] == [f"드론 보안 점검 {XSS}"]
    assert hits[0]["highlights"]["duties"]


def test_terminal_table_of_the_same_query_is_inert(data):
    text = format_table(StaffSearcher(data["index"]).search("드론"))
    assert f"드론 보안 점검 {XSS}" in text and "055-211-3456" in text
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]", text)


def test_json_api_matches_the_page(data):
    app = data["app"]
    status, _, body = call(app, f"/api/search?q={q('드론')}&region={q('경남')}&region={q('서울')}&per_page=3&page=2")
    result = json.loads(body)
    assert status == 200 and result["total"] == 14 and result["pages"] == 5 and result["page"] == 2
    assert [g["organization"] for g in result["groups"]] == ["서울특별시", "경상남도", "창원시"]
    assert sum(len(g["hits"]) for g in result["groups"]) == 3
    assert result["facets"]["region"]["부산"] == 1  # facets count every region
    busan = json.loads(call(app, f"/api/search?q={q('드론')}&organization={q('부산광역시')}")[2])["groups"][0]
    assert busan["warning"].startswith("최근 수집에 실패") and busan["crawled_at"]
    assert json.loads(call(app, "/api/search?q=&page=x")[2])["total"] == 0


def test_posts_tab_and_api(data):
    app = data["app"]
    html = page(app, f"/?tab=posts&q={q('드론')}")
    assert "게시글 <strong>2건</strong>" in html and "<script" not in html.lower()
    assert html.index("안전 공지") < html.index("육성 계획 발표")  # newest first
    assert 'href="https://www.gyeongnam.go.kr/board/view.do?idx=1"' in html and "<mark>드론</mark>" in html
    assert "공지사항" in html and "보도자료" in html and 'name="tab" value="posts"' in html
    status, _, body = call(app, f"/api/posts?q={q('드론')}&board_kind=press")
    result = json.loads(body)
    assert [h["title"] for h in result["hits"]] == ["드론 산업 육성 계획 발표"] and result["facets"]["board_kind"]
    notice = json.loads(call(app, f"/api/posts?q={q('드론')}&board_kind=notice")[2])
    assert notice["hits"][0]["title"] == f"{XSS} 드론 안전 공지"


def test_empty_and_no_result_states_are_korean(data):
    app = data["app"]
    welcome = page(app, "/")
    assert "무엇을 찾으시나요?" in welcome and "기관 6곳, 직원 20명" in welcome and " autofocus" in welcome
    none = page(app, f"/?q={q('없는단어')}")
    assert "‘없는단어’에 맞는 직원을 찾지 못했습니다" in none and "띄어쓰기" in none
    filtered = page(app, f"/?q={q('청년')}&region={q('서울')}")
    assert "전체에서 다시 찾아" in filtered
    assert "무엇을 찾으시나요?" in page(app, "/?tab=posts")


def test_status_health_and_errors(data):
    app = data["app"]
    status = page(app, "/status")
    assert "사이트 <strong>7곳</strong> · 경고 <strong>1곳</strong>" in status
    assert "부산광역시" in status and "⚠ 경고" in status and "직원 명부" in status and "게시판" in status
    assert call(app, "/healthz")[2] == b"ok"
    code, headers, body = call(app, "/nothing")
    assert code == 404 and "페이지를 찾을 수 없습니다" in body.decode()
    code, headers, body = call(app, "/", method="POST")
    assert code == 405 and headers["Allow"] == "GET, HEAD"
    code, headers, body = call(app, f"/?q={q('드론')}", method="HEAD")
    assert code == 200 and body == b"" and int(headers["Content-Length"]) > 1000


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_feed_is_cached_by_etag_and_last_modified(data, kind):
    app, token = data["app"], data["token"]
    status, headers, body = call(app, f"/feeds/{token}.{kind}")
    assert status == 200 and headers["Content-Type"].startswith(f"application/{kind}+xml")
    assert "김민수님의 어딨노 키워드 브리핑" in body.decode() and headers["ETag"] and headers["Last-Modified"]
    assert call(app, f"/feeds/{token}.{kind}", {"If-None-Match": headers["ETag"]})[:1] == (304,)
    assert call(app, f"/feeds/{token}.{kind}", {"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    assert call(app, f"/feeds/{token}.{kind}", {"If-None-Match": '"other"'})[0] == 200
    status, headers, topic_body = call(app, f"/feeds/{token}/{q('청년')}.{kind}")
    assert status == 200 and "청년 일자리 박람회" in topic_body.decode() and "드론 산업" not in topic_body.decode()


def test_bad_feed_tokens_get_one_answer(data):
    app, token = data["app"], data["token"]
    bad = [f"/feeds/{'A' * 32}.rss", "/feeds/.rss", "/feeds/x.rss", f"/feeds/{token}.json", f"/feeds/{token}",
           f"/feeds/{token}/{q('없는주제')}.rss", f"/feeds/{token[:-1]}.atom"]
    answers = [call(app, url) for url in bad]
    assert {status for status, _, _ in answers} == {404}
    assert len({body for _, _, body in answers}) == 1 and "피드를 찾을 수 없습니다" in answers[0][2].decode()
    new = rotate_token(data["client"], data["prefix"], "kim")
    try:
        assert call(app, f"/feeds/{token}.rss")[::2] == call(app, bad[0])[::2]
        assert call(app, f"/feeds/{new}.rss")[0] == 200
    finally:
        data["token"] = new


def test_new_runs_are_picked_up_without_restart(redis_client, prefix, tmp_path):
    index_dir = tmp_path / "index"
    build_index(redis_client, prefix, index_dir, [r for r in STAFF if r["site"] == "seoul"])
    app = make_app(index_dir=index_dir, refresh_seconds=0.2)
    assert headings(page(app, f"/?q={q('드론')}")) == ["서울특별시"]
    build_index(redis_client, prefix, index_dir, [r for r in STAFF if r["site"] == "changwon"])
    deadline = time.monotonic() + 10
    while headings(page(app, f"/?q={q('드론')}")) != ["서울특별시", "창원시"]:
        assert time.monotonic() < deadline, "the app never saw the new run"
        time.sleep(0.05)


# --- a real gunicorn server -----------------------------------------------------


def _lines(stream, out: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        out.put(line)


def test_gunicorn_serves_the_app_and_stops_cleanly(data):
    conf = data["root"] / "cluster.yaml"
    conf.write_text(f"data_dir: {data['root'] / 'data'}\nkey_prefix: {data['prefix']}\n"
                    f"subscriptions: {data['subscriptions']}\nweb: {{host: 127.0.0.1, port: 8080}}\n", encoding="utf-8")
    env = dict(os.environ, NUGO_REDIS_URL=data["redis_url"], PYTHONPATH=str(ROOT))
    env.pop("NUGO_DATA_DIR", None)
    proc = subprocess.Popen([sys.executable, "-m", "web.serve", "--conf", str(conf), "--host", "127.0.0.1",
                             "--port", "0", "--workers", "2"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    children = []
    try:
        deadline, url, seen = time.monotonic() + 30, None, []
        while url is None:
            assert time.monotonic() < deadline and proc.poll() is None, "".join(seen)
            try:
                seen.append(lines.get(timeout=0.2))
            except queue.Empty:
                continue
            found = re.search(r"준비 완료: (http://127\.0\.0\.1:\d+/)", seen[-1])
            url = found and found.group(1)
        while True:  # the workers boot after the ready line: poll until one answers
            try:
                urllib.request.urlopen(url + "healthz", timeout=30)  # a worker's boot, on a loaded machine
                break
            except urllib.error.HTTPError as answer:  # no index writer runs here: healthz says so
                assert answer.code == 503 and b"index-writer: FAIL" in answer.read()
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        with urllib.request.urlopen(f"{url}?q={q('드론')}", timeout=5) as answer:
            html = answer.read().decode()
            assert answer.headers["Content-Security-Policy"] == CSP and headings(html) == ORDER
        with urllib.request.urlopen(f"{url}feeds/{data['token']}.rss", timeout=5) as answer:
            tag = answer.headers["ETag"]
            assert answer.status == 200 and tag
        with pytest.raises(urllib.error.HTTPError) as not_modified:
            urllib.request.urlopen(urllib.request.Request(f"{url}feeds/{data['token']}.rss",
                                                          headers={"If-None-Match": tag}), timeout=5)
        assert not_modified.value.code == 304
        # a real reader, newsboat, reloads the feed from this server and lists the official's three alerts
        home = data["root"] / "newsboat"
        home.mkdir(exist_ok=True)
        (home / "urls").write_text(f"{url}feeds/{data['token']}.rss\n", encoding="utf-8")
        (home / "config").write_text("reload-threads 1\ndownload-timeout 20\n", encoding="utf-8")
        reader = ["newsboat", "-u", str(home / "urls"), "-c", str(home / "cache.db"), "-C", str(home / "config"), "-x"]
        reader_env = {**os.environ, "HOME": str(home)}
        for command in ("reload", "reload"):
            assert subprocess.run(reader + [command], capture_output=True, env=reader_env, timeout=60).returncode == 0
        unread = subprocess.run(reader + ["print-unread"], capture_output=True, text=True, env=reader_env, timeout=60)
        assert unread.stdout.strip() == "3 unread articles", unread.stdout + unread.stderr
        while len(children) < 2:  # both workers boot (the second may still be importing)
            assert time.monotonic() < deadline, children
            time.sleep(0.05)
            children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        gone, alive = psutil.wait_procs(children, timeout=10)
        for leftover in alive:
            leftover.kill()
    assert code == 0 and not alive
