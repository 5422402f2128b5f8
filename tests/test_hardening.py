"""Hostile input from pages, from the stream and from configuration files (issue 11), with real parts.

Each test names the bug it guards; each was run against the code before its fix and failed there.
"""
from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from conf.wire import append, run_event
from crawlers.extract import WINDOW, parse_list
from farm import Farm
from index.writer import consume
from tests.crawlkit import CrawlKit, assert_matches_truth
from tests.test_web import call
from workers.web import make_app


def staff_row(site: str, run_id: str, i: int) -> dict:
    return {"type": "staff", "id": f"row-{i}", "site": site, "run_id": run_id, "organization": "경상남도",
            "region": "경남", "org_kind": "province", "url": "http://www.gyeongnam.go.kr/staff", "department": "드론과",
            "position": "주무관", "name": f"김{i}", "phone": "055-211-0000", "duties": "드론 산업"}


def test_a_site_id_from_the_stream_never_becomes_a_path_outside_the_index(redis_client, prefix, tmp_path):
    """Bug: the writer used a stream entry's `site` as a folder name; a staff row and two run_ends for
    site "../../../../victim" made it write snapshot files outside its data dir and then delete them
    (and anything else in that folder). Any worker PC can write the stream."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    index_dir = tmp_path / "data" / "index"
    evil = "../../../../victim"
    append(redis_client, prefix, [staff_row(evil, "evil-r1", 1), run_event("evil-r1", evil),
                                  staff_row(evil, "evil-r2", 2), run_event("evil-r2", evil)])
    stats = consume(redis_client, prefix, index_dir, once=True)
    assert (victim / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in victim.iterdir()) == ["precious.txt"]
    assert stats.bad == 4 and stats.staff == 0 and stats.runs == 0
    assert not any(p for p in (tmp_path / "data").rglob("*") if "victim" in p.name)


def test_sites_that_are_not_configured_are_refused(redis_client, prefix, tmp_path):
    """Bug: any slug was indexed, so a compromised PC could add an organization to the search results."""
    append(redis_client, prefix, [staff_row("gyeongnam", "gyeongnam-r1", 1), run_event("gyeongnam-r1", "gyeongnam"),
                                  staff_row("fake-org", "fake-r1", 2), run_event("fake-r1", "fake-org")])
    stats = consume(redis_client, prefix, tmp_path, once=True, sites=lambda: {"gyeongnam"})
    assert (stats.staff, stats.runs, stats.bad) == (1, 1, 2)


def test_only_http_links_are_stored_and_served(redis_client, prefix, tmp_path):
    """Bug: a post whose url was file:///etc/hostname was stored and returned by the JSON API."""
    post = {"type": "post", "id": "p1", "site": "gyeongnam-press", "run_id": "gyeongnam-press-r1",
            "organization": "경상남도", "region": "경남", "org_kind": "province", "board_kind": "press",
            "url": "file:///etc/hostname", "title": "드론 실증 특구", "body": "드론", "attachments": [],
            "post_id": "1"}
    ok = dict(post, id="p2", post_id="2", url="https://www.gyeongnam.go.kr/board/view.do?id=2")
    append(redis_client, prefix, [post, ok, run_event("gyeongnam-press-r1", "gyeongnam-press", kind="board")])
    consume(redis_client, prefix, tmp_path, once=True)
    status, _, body = call(make_app(index_dir=tmp_path), "/api/posts?q=드론")
    hits = {h["id"]: h["url"] for h in json.loads(body)["hits"]}
    assert status == 200 and hits == {"p1": "", "p2": "https://www.gyeongnam.go.kr/board/view.do?id=2"}


class Listener:
    """A TCP port standing in for one of the cluster's own services: it counts every connection."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def test_the_crawler_follows_only_http_links_on_the_sites_own_hosts(private_redis, tmp_path):
    """Bug: a link to file://localhost/etc/hostname was fetched and stored, and so was the project's own
    web service on 127.0.0.1. Now only http(s) on the site's hosts (never the cluster's own) is followed."""
    own = Listener()
    hostile = ("file://localhost/etc/hostname", f"http://127.0.0.1:{own.port}/status",
               "http://169.254.169.254/latest/meta-data/", "javascript:fn_egov_link_page(2)", "mailto:x@example.go.kr")
    try:
        with Farm(seed=1) as farm:
            farm.set_faults("gyeongbuk-press", hostile_links=hostile)  # its YAML follows every paging link
            farm.set_faults("daejeon", hostile_links=hostile)          # and this one every organization-tree link
            kit = CrawlKit(tmp_path, farm, private_redis, extra=f"web: {{host: 127.0.0.1, port: {own.port}}}\n")
            kit.seed(["gyeongbuk-press", "daejeon"])
            kit.start_workers(2)
            try:
                runs = {r["site"]: r for r in kit.wait().values()}
            finally:
                kit.stop_workers()
            assert_matches_truth(kit, {"gyeongbuk-press", "daejeon"})
            paths = [path for _, _, _, path in farm.request_log()]
            assert not [p for p in paths if "meta-data" in p or "hostname" in p]
    finally:
        own.close()
    assert own.connections == 0
    assert all(int(r.get("links_skipped") or 0) > 0 for r in runs.values())  # javascript:, mailto:, file:
    for item in kit.items("post") + kit.items("staff"):
        assert item["url"].startswith("http://127.0.1.")


def test_a_huge_last_page_number_is_capped_and_planned_lazily():
    """Bug: a list page saying its last page is 1,000,000 was expanded into a million requests at once
    (600 MB, and a worker pushed to 596 MB lost its leases)."""
    site = {"kind": "board", "organization": "o", "region": "경남", "org_kind": "province", "board_kind": "press",
            "base_url": "http://h", "max_list_pages": 500,
            "list": {"rows": "li", "fields": {"title": {"css": "a::text"}}, "page_fields": {},
                     "detail_link": {"css": "a::attr(href)"},
                     "pagination": {"param": "page", "method": "GET", "first": 1,
                                    "last_page": {"css": "a.last::attr(href)", "regex": r"page=(\d+)"}}}}
    html = '<ul><li><a href="/v?id=1">제목</a></li></ul><a class="last" href="/list?page=1000000">끝</a>'
    started = time.perf_counter()
    first = parse_list(site, {"url": "http://h/list", "meta": {"depth": 0}}, html)
    assert time.perf_counter() - started < 5  # generous: the old code took 5.6 s and 600 MB here
    assert [r["meta"]["page"] for r in first.lists] == list(range(2, 2 + WINDOW))
    assert {r["meta"]["last"] for r in first.lists} == {500} and first.bounds  # capped, and said so
    later = parse_list(site, first.lists[-1], html)  # page 9 plans page 17, and so on up to the cap
    assert [r["meta"]["page"] for r in later.lists] == [9 + WINDOW]
    end = parse_list(site, {"url": "http://h/list?page=499", "meta": {"depth": 0, "page": 499, "last": 500}}, html)
    assert end.lists == [] and not end.last_page
    last = parse_list(site, {"url": "http://h/list?page=500", "meta": {"depth": 0, "page": 500, "last": 500}}, html)
    assert last.lists == [] and last.last_page


@pytest.mark.parametrize("href", ["tel:055-211-0000", "mailto:a@b.kr", "javascript:void(0)", "file:///etc/passwd",
                                  "data:text/html,x"])
def test_a_non_http_next_link_never_throws_the_page_away(href):
    """Bug: a `next` link with a tel:/mailto:/javascript: scheme raised "request needs an absolute url" and the
    page's rows were dropped with its other links (issue 15, defect 1)."""
    site = {"kind": "directory", "organization": "o", "region": "경남", "org_kind": "province", "base_url": "http://h",
            "list": {"rows": "tr", "fields": {"name": {"css": "td.n::text"}}, "page_fields": {},
                     "follow": {"css": "a.dept::attr(href)"},
                     "pagination": {"next": {"css": "a.next::attr(href)"}}}}
    html = (f'<table><tr><td class="n">김민수</td></tr></table><a class="dept" href="{href}">x</a>'
            f'<a class="dept" href="/d2">부서</a><a class="next" href="{href}">다음</a>')
    result = parse_list(site, {"url": "http://h/list", "meta": {"depth": 0}}, html)
    assert [r["name"] for r in result.records] == ["김민수"]
    assert [r["url"] for r in result.lists] == ["http://h/d2"] and result.skipped_links == 2



GOOD_SITE = """name: 경상남도 보도자료
organization: 경상남도
region: 경남
kind: board
board_kind: press
base_url: https://www.gyeongnam.go.kr
start: /board/list.do
list:
  rows: li
  fields:
    title: a
"""
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))


def check_config(tmp_path, sites: dict[str, str], subscriptions: str | None = None):
    import subprocess
    import sys

    folder = tmp_path / "sites"
    folder.mkdir(exist_ok=True)
    for name, text in sites.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    conf = tmp_path / "cluster.yaml"
    extra = ""
    if subscriptions is not None:
        (tmp_path / "subs.yaml").write_text(subscriptions, encoding="utf-8")
        extra = f"subscriptions: {tmp_path / 'subs.yaml'}\n"
    conf.write_text(f"sites_dirs: [{folder}]\n{extra}", encoding="utf-8")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "workers.cli", "--conf", str(conf), "check-config"],
                          capture_output=True, text=True, timeout=60)
    return proc, time.monotonic() - started


@pytest.mark.parametrize("name, text, expected", [
    ("bomb", BOMB, "bomb.yaml:2: YAML aliases"),
    ("nan", GOOD_SITE + "interval: .nan\n", "nan.yaml:12: interval: expected a finite number"),
    ("inf", GOOD_SITE + "interval: .inf\n", "inf.yaml:12: interval: expected a finite number"),
    ("cron", GOOD_SITE + "schedule: 2024-13-45\n", "cron.yaml:12: schedule: '2024-13-45' is not a valid date"),
    ("cron2", GOOD_SITE + "schedule: '61 * * * *'\n", "cron2.yaml:12: schedule: '61 * * * *' is not a valid cron"),
    ("template", GOOD_SITE.replace("    title: a\n", "    title: a\n  detail_link: {css: 'a::attr(onclick)', "
                                   "regex: \"fn\\\\('(\\\\d+)', '(\\\\d+)'\\\\)\", template: '/v.do?id={5}'}\n"),
     "template.yaml:12: list.detail_link.template: template '/v.do?id={5}' uses {5} but its regex has 2 group(s)"),
    ("file", GOOD_SITE.replace("start: /board/list.do", "start: file:///etc/passwd"),
     "file.yaml:7: start[0].url: 'file:///etc/passwd': a start URL must be http or https"),
    ("offsite", GOOD_SITE.replace("start: /board/list.do", "start: http://127.0.0.1:8080/status"),
     "offsite.yaml:7: start[0].url: 'http://127.0.0.1:8080/status' is not on the site's hosts"),
])
def test_impossible_values_are_file_line_field_errors(tmp_path, name, text, expected):
    """Bug: an alias bomb ran check-config past 120 s at 5.6 GB; 2024-13-45 and recursive aliases printed
    tracebacks; .nan/.inf intervals were accepted (NaN hung a run); a template {5} with two groups and a
    file:/// start URL were accepted."""
    proc, seconds = check_config(tmp_path, {"good": GOOD_SITE, name: text})
    assert proc.returncode == 1, proc.stdout
    assert "Traceback" not in proc.stderr
    assert expected in proc.stderr, proc.stderr
    assert seconds < 30  # the bomb is refused before it is expanded (the old code ran out of time and memory)


def test_impossible_dates_in_subscriptions_are_errors_not_crashes(tmp_path):
    subs = ("officials:\n  - id: kim\n    name: 김민수\n    since: 2024-02-30\n    topics:\n"
            "      - {name: 드론, query: 드론}\n")
    proc, _ = check_config(tmp_path, {"good": GOOD_SITE}, subs)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "subs.yaml:4: officials[0].since: '2024-02-30' is not a valid date" in proc.stderr


def test_oversized_configuration_files_are_refused(tmp_path):
    proc, _ = check_config(tmp_path, {"big": GOOD_SITE + "# " + "x" * (1024 * 1024) + "\n"})
    assert proc.returncode == 1 and "big.yaml:1: file larger than 1024 KiB" in proc.stderr


def test_nugo_worker_logs_to_its_terminal_and_sigterm_returns_every_lease_at_once(private_redis, tmp_path):
    """Bugs: `nugo worker` sent its workers' logs to /dev/null (poison payloads and Redis warnings were
    invisible) and left its workers running as orphans on SIGTERM; their leases came back only after
    lease_seconds (120 s). Now the logs reach the terminal, and SIGTERM stops every worker, each returning
    its leases at once, so the crawl resumes elsewhere with nothing lost."""
    import os
    import pickle
    import signal
    import subprocess
    import sys

    import psutil

    from tests.test_crawl import Exploit

    with Farm(seed=1) as farm:
        farm.set_faults("seoul-press", latency=1.5)  # requests stay in flight long enough to be caught
        kit = CrawlKit(tmp_path, farm, private_redis, lease_seconds=120)
        kit.seed(["seoul-press"])
        host = farm.site("seoul-press").site.host
        kit.client.lpush(f"{kit.cluster.key_prefix}:q:{host}:{farm.port}", pickle.dumps(Exploit(str(tmp_path / "x"))))
        env = {**os.environ, "NUGO_REDIS_URL": private_redis.url, "NUGO_FARM_PORT": str(farm.port)}
        proc = subprocess.Popen([sys.executable, "-m", "workers.cli", "--conf", str(kit.conf), "worker", "-n", "2"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while kit.frontier.in_flight() < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert kit.frontier.in_flight() >= 1
            children = psutil.Process(proc.pid).children(recursive=True)
            assert len(children) == 2
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            out, _ = proc.communicate(timeout=30)
            stopped = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
        assert kit.frontier.in_flight() == 0  # returned, not waiting out the 120 s leases
        assert stopped < 15, f"stopping took {stopped:.1f} s"
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
        assert "poison payload" in out  # a worker's log line reached the terminal
        assert "lease(s) returned to the queue" in out
        farm.clear_faults()
        kit.start_workers(2)  # another PC takes over: the run completes with every post
        try:
            kit.wait()
        finally:
            kit.stop_workers()
        assert_matches_truth(kit, {"seoul-press"})
