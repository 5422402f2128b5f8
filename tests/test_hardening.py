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
from web.app import make_app


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


def test_nugo_worker_reclaims_a_killed_workers_send_slot_and_leases_at_once(private_redis, tmp_path):
    """A worker process killed with SIGKILL mid-download: its supervisor (`nugo worker`) frees the host's send
    slot and returns the lease when it reaps it, instead of the host waiting out download_timeout +
    lease_seconds (150 s here) and the request its 120 s lease; the crawl then completes with every post.
    Guard: without the supervisor's reclaim the slot is still the dead worker's after 20 s."""
    import os
    import signal
    import subprocess
    import sys

    import psutil

    with Farm(seed=1) as farm:
        farm.set_faults("seoul-press", latency=3.0)  # the request is in flight when the worker dies
        kit = CrawlKit(tmp_path, farm, private_redis, lease_seconds=120)
        kit.seed(["seoul-press"])
        env = {**os.environ, "NUGO_REDIS_URL": private_redis.url, "NUGO_FARM_PORT": str(farm.port)}
        proc = subprocess.Popen([sys.executable, "-m", "workers.cli", "--conf", str(kit.conf), "worker", "-n", "1",
                                 "--log-file", str(tmp_path / "workers.log")],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        sending = kit.frontier.keys.sending
        try:
            deadline = time.monotonic() + 60
            slots = []
            while not slots and time.monotonic() < deadline:
                slots = [k for k in kit.client.scan_iter(f"{sending}:*")]
                time.sleep(0.05)
            assert slots, "no download started"
            (child,) = psutil.Process(proc.pid).children()
            dead = f":{child.pid}:"
            assert dead in kit.client.get(slots[0]).decode()
            os.kill(child.pid, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                holder = kit.client.get(slots[0])
                if holder is None or dead not in holder.decode():
                    break
                time.sleep(0.1)
            assert holder is None or dead not in holder.decode(), "the dead worker still holds the host"
            farm.clear_faults()
            kit.wait()
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
        assert "1 send slot(s) freed, 1 lease(s) returned" in out, out
        assert_matches_truth(kit, {"seoul-press"})


class Slowloris:
    """Half-open connections that send one more header line every second and never finish."""

    def __init__(self, port: int, count: int):
        self.socks = []
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /?q=%EB%93%9C%EB%A1%A0 HTTP/1.1\r\nHost: x\r\n")
            self.socks.append(sock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _trickle(self):
        while not self._stop.wait(1.0):
            for sock in self.socks:
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass

    def close(self):
        self._stop.set()
        self._thread.join(3)
        for sock in self.socks:
            sock.close()


def probe(url: str, timeout: float = 5.0) -> float | None:
    """Seconds the request took, or None when it got no answer within `timeout`."""
    import urllib.request

    import urllib.error

    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            answer.read()
    except urllib.error.HTTPError:
        pass  # an answer (/healthz says 503 here: no index writer runs in this test)
    except OSError:
        return None
    return time.monotonic() - started


@pytest.fixture(scope="module")
def web_conf(redis_server, tmp_path_factory):
    from tests.test_web import POSTS, STAFF, build_index

    root = tmp_path_factory.mktemp("hardweb")
    client = redis_server.client()
    prefix = "hw" + str(int(time.time() * 1000))[-8:]
    build_index(client, prefix, root / "data" / "index", STAFF, POSTS)
    (root / "subs.yaml").write_text("officials: []\n", encoding="utf-8")
    conf = root / "cluster.yaml"
    conf.write_text(f"data_dir: {root / 'data'}\nkey_prefix: {prefix}\nsubscriptions: {root / 'subs.yaml'}\n"
                    "web: {host: 127.0.0.1, port: 8080}\n", encoding="utf-8")
    yield {"conf": conf, "env": {"NUGO_REDIS_URL": redis_server.url}}
    client.close()


def test_a_slowloris_of_100_connections_leaves_healthz_and_search_answering(web_conf):
    """Bug: 8 slow connections froze the web service (gunicorn gthread, 2 workers x 4 threads, no header
    timeout). The control below shows the attack is real: the same attack stops a gthread server cold."""
    import sys

    from tests.servers import running, web_server

    control = [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "2", "--threads", "4", "-b", "127.0.0.1:0",
               "--log-level", "info", "web.wsgi:application"]
    with running(control, {**web_conf["env"], "NUGO_CONF": str(web_conf["conf"])}) as (_, url, _):
        attack = Slowloris(int(url.rsplit(":", 1)[1].strip("/")), 100)
        try:
            frozen = [probe(url + "healthz", timeout=3) is None for _ in range(3)]
            assert any(frozen), "the control server should be frozen by the attack"
        finally:
            attack.close()
    with web_server(web_conf["conf"], web_conf["env"]) as (_, url, _):
        attack = Slowloris(int(url.rsplit(":", 1)[1].strip("/")), 100)
        try:
            health = [probe(url + "healthz") for _ in range(10)]
            search = [probe(url + "api/search?q=%EB%93%9C%EB%A1%A0") for _ in range(10)]
        finally:
            attack.close()
    print(f"\n/healthz during a slowloris of 100 connections: "
          f"{', '.join('—' if t is None else f'{t * 1000:.0f} ms' for t in health)}")
    print(f"/api/search during it: {', '.join('—' if t is None else f'{t * 1000:.0f} ms' for t in search)}")
    assert None not in health and None not in search


def test_links_never_use_the_request_host_header(web_conf, redis_server):
    """Bug: without web.base_url, feed links were built from the request's Host header (evil.example)."""
    import urllib.request

    from conf.loader import load_cluster
    from notifier.tokens import ensure_tokens
    from tests.servers import web_server

    (web_conf["conf"].parent / "subs.yaml").write_text(
        "officials:\n  - id: kim\n    name: 김민수\n    topics: [{name: 드론, query: 드론}]\n", encoding="utf-8")
    cluster = load_cluster(web_conf["conf"])
    token = ensure_tokens(redis_server.client(), cluster.key_prefix, ["kim"])["kim"]
    with web_server(web_conf["conf"], web_conf["env"]) as (_, url, _):
        request = urllib.request.Request(f"{url}feeds/{token}.atom", headers={"Host": "evil.example"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            feed = answer.read().decode()
    assert "evil.example" not in feed
    assert f'href="http://127.0.0.1:8080/feeds/{token}.atom"' in feed


def test_api_errors_are_json_with_a_korean_message(web_conf):
    """Bug: a 10,000-character query got gunicorn's HTML 414 page; API errors are JSON now."""
    import urllib.error
    import urllib.request

    from tests.servers import web_server

    with web_server(web_conf["conf"], web_conf["env"]) as (_, url, _):
        answers = {}
        for name, target, method in (("long", "api/search?q=" + "%EB%93%9C" * 10_000, "GET"),
                                     ("missing", "api/nothing", "GET"), ("post", "api/posts?q=x", "POST")):
            request = urllib.request.Request(url + target, method=method, data=b"" if method == "POST" else None)
            with pytest.raises(urllib.error.HTTPError) as error:
                urllib.request.urlopen(request, timeout=10)
            answers[name] = (error.value.code, error.value.headers["Content-Type"], json.loads(error.value.read()))
    assert [code for code, _, _ in answers.values()] == [414, 404, 405]
    assert {kind for _, kind, _ in answers.values()} == {"application/json; charset=utf-8"}
    assert "검색어가 너무 깁니다" in answers["long"][2]["error"]["message"]
    assert all(body["error"]["message"] for _, _, body in answers.values())


def test_embedded_redis_files_are_private_and_status_hides_secrets(tmp_path):
    """Bugs: the embedded Redis's AOF/RDB files were 0644 and hold the feed tokens; `nugo redis status`
    printed the password inside the URL; a failing feed logged its whole token."""
    import stat
    import subprocess
    import sys

    from conf.embedded_redis import EmbeddedRedis
    from web.app import loggable

    server = EmbeddedRedis(tmp_path / "redis").start()
    try:
        server.client().set("x", "1")
        server.client().bgrewriteaof()
        deadline = time.monotonic() + 10
        while not list((tmp_path / "redis").rglob("*.aof")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stat.S_IMODE((tmp_path / "redis").stat().st_mode) == 0o700
        files = [p for p in (tmp_path / "redis").rglob("*") if p.is_file()]
        assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files), \
            {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
        conf = tmp_path / "cluster.yaml"
        conf.write_text(f"data_dir: {tmp_path}\n", encoding="utf-8")
        out = subprocess.run([sys.executable, "-m", "workers.cli", "--conf", str(conf), "redis", "status"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and server.password not in out.stdout + out.stderr
        cluster = tmp_path / "cluster2.yaml"
        cluster.write_text(f"redis_url: redis://:{server.password}@127.0.0.1:{server.port}/0\n", encoding="utf-8")
        out = subprocess.run([sys.executable, "-m", "workers.cli", "--conf", str(cluster), "redis", "status"],
                             capture_output=True, text=True, timeout=30)
        assert server.password not in out.stdout + out.stderr and "***" in out.stdout
    finally:
        server.stop()
    token = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
    assert loggable(f"/feeds/{token}.rss") == "/feeds/AbCd….rss" and token not in loggable(f"/feeds/{token}/드론.rss")


def test_a_cluster_redis_without_a_password_is_refused(tmp_path):
    """Bug: processes started against a cluster Redis that accepts anyone; now they refuse, with a clear
    Korean/English message, unless allow_insecure_redis (a lab) is set, which is warned about."""
    import subprocess
    import sys

    from conf.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis(tmp_path / "open", password="")
    server.password = ""
    server.start()
    try:
        assert server.client().ping()  # it really accepts anyone
        conf = tmp_path / "cluster.yaml"
        conf.write_text(f"redis_url: redis://127.0.0.1:{server.port}/0\ndata_dir: {tmp_path}\n", encoding="utf-8")
        out = subprocess.run([sys.executable, "-m", "workers.cli", "--conf", str(conf), "index", "--once"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert "비밀번호 없이 접속을 받습니다" in out.stderr and "accepts connections without a password" in out.stderr
        conf.write_text(conf.read_text() + "allow_insecure_redis: true\n", encoding="utf-8")
        out = subprocess.run([sys.executable, "-m", "workers.cli", "--conf", str(conf), "index", "--once"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "allow_insecure_redis" in out.stderr
    finally:
        server.stop()
