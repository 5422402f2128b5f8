"""A week unattended (issue 11): outages, broken boards, broken files, cancellations and a long soak, with real parts.

Each test names the bug it guards and was run against the code before its fix, where it failed.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conf.wire import append, run_event
from farm import Farm
from index.state import site_status
from tests.crawlkit import CrawlKit
from tests.servers import web_server
from workers.indexer import run_indexer

SUBS = ("officials:\n  - id: kim\n    name: 김민수\n    topics:\n      - {name: 드론, query: 드론}\n")


def post(i: int, site: str = "gyeongnam-press", run_id: str = "gyeongnam-press-r1", title: str = "드론 소식") -> dict:
    return {"type": "post", "id": f"p{i}", "site": site, "run_id": run_id, "organization": "경상남도", "region": "경남",
            "org_kind": "province", "board_kind": "press", "url": f"https://www.gyeongnam.go.kr/v?id={i}",
            "title": f"{title} {i}", "body": "드론 산업", "attachments": [], "post_id": str(i)}


def cluster_file(tmp_path, redis, extra: str = "") -> "Path":  # noqa: F821
    sites = tmp_path / "sites"
    sites.mkdir(exist_ok=True)
    for name in ("gyeongnam-press",):
        (sites / f"{name}.yaml").write_text(
            "name: 경남 보도자료\norganization: 경상남도\nregion: 경남\nkind: board\nboard_kind: press\n"
            "base_url: https://www.gyeongnam.go.kr\nstart: /list\nlist: {rows: li, fields: {title: a}}\n", encoding="utf-8")
    (tmp_path / "subs.yaml").write_text(SUBS, encoding="utf-8")
    conf = tmp_path / "cluster.yaml"
    conf.write_text(f"data_dir: {tmp_path / 'data'}\nsites_dirs: [{sites}]\nsubscriptions: {tmp_path / 'subs.yaml'}\n"
                    f"redis_url: redis://127.0.0.1:{redis.port}/0\nweb: {{host: 127.0.0.1, port: 8080}}\n{extra}",
                    encoding="utf-8")
    return conf


def wait_until(condition, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_the_index_writer_and_the_web_wait_out_a_redis_outage(private_redis, tmp_path):
    """Bugs: the index writer exited on a Redis outage (rc 1, traceback) and stayed down until restarted by
    hand; feeds answered 503 while Redis was down, which is right, but must recover by themselves."""
    from conf.loader import load_cluster
    from notifier.tokens import ensure_tokens
    from index.post_search import PostSearcher

    conf = cluster_file(tmp_path, private_redis)
    env = {"NUGO_REDIS_PASSWORD": private_redis.password}
    client = private_redis.client()
    append(client, "nugo", [post(1), run_event("gyeongnam-press-r1", "gyeongnam-press", kind="board")])
    writer = subprocess.Popen([sys.executable, "-m", "workers.cli", "--conf", str(conf), "index"],
                              env={**__import__("os").environ, **env}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    token = ensure_tokens(client, "nugo", ["kim"])["kim"]
    cluster = load_cluster(conf)
    try:
        wait_until(lambda: PostSearcher(cluster.index_dir).search("드론").total == 1, what="the first post indexed")
        with web_server(conf, env) as (_, url, _):
            feed = f"{url}feeds/{token}.rss"
            assert urllib.request.urlopen(feed, timeout=10).status == 200
            private_redis.kill()
            with pytest.raises(urllib.error.HTTPError) as down:
                urllib.request.urlopen(feed, timeout=10)
            assert down.value.code == 503
            time.sleep(3)  # the writer meets the outage: reads fail for a while
            assert writer.poll() is None, "the index writer died with Redis"
            private_redis.restart()
            append(private_redis.client(), "nugo", [post(2)])
            wait_until(lambda: PostSearcher(cluster.index_dir).search("드론").total == 2, what="a post after the outage")
            assert wait_until(lambda: _status(feed) == 200, timeout=30, what="the feed back")
    finally:
        writer.terminate()
        out = writer.communicate(timeout=30)[0]
    assert "Traceback" not in out
    assert "Redis unavailable" in out and "Redis back" in out


def _status(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=5).status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def test_a_bad_subscriptions_file_never_stops_the_writer(private_redis, tmp_path):
    """Bug: `since: 2024-02-30` in subscriptions killed the running index writer at its next commit and
    kept it from restarting until the file was fixed. Now the last valid version stays in force, also
    across a restart, and the problem is reported for the status page."""
    conf = cluster_file(tmp_path, private_redis)
    env = {**__import__("os").environ, "NUGO_REDIS_PASSWORD": private_redis.password}
    client = private_redis.client()
    index = [sys.executable, "-m", "workers.cli", "--conf", str(conf), "index", "--once"]
    append(client, "nugo", [post(1), run_event("gyeongnam-press-r1", "gyeongnam-press", kind="board")])
    assert subprocess.run(index, env=env, capture_output=True, timeout=60).returncode == 0  # a valid version is kept
    (tmp_path / "subs.yaml").write_text(SUBS.replace("topics:", "since: 2024-02-30\n    topics:"), encoding="utf-8")
    append(client, "nugo", [post(2, run_id="gyeongnam-press-r2"),
                            run_event("gyeongnam-press-r2", "gyeongnam-press", kind="board")])
    done = subprocess.run(index, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr  # a fresh writer starts with the broken file in place
    assert "Traceback" not in done.stderr and "using the last valid version" in done.stderr
    problems = json.loads(client.hget("nugo:config:problems", "subscriptions"))["problems"]
    assert any("subs.yaml:4: officials[0].since" in p for p in problems)
    assert client.zscore("nugo:notifier:alerts:kim", "p2") is not None  # kim's topic is still matched
    (tmp_path / "subs.yaml").write_text(SUBS, encoding="utf-8")
    append(client, "nugo", [post(3, run_id="gyeongnam-press-r2")])
    assert subprocess.run(index, env=env, capture_output=True, timeout=60).returncode == 0
    assert client.hget("nugo:config:problems", "subscriptions") is None  # fixed: the problem is gone


@pytest.fixture
def farm():
    with Farm(seed=1) as running:
        yield running


def test_a_board_whose_layout_changed_or_that_only_errs_is_flagged(farm, private_redis, tmp_path):
    """Bug: a board whose layout changed, or that answered only errors, ended "finished", /status said
    정상 and its officials' feeds went quiet with no sign. Board runs now get the same judgement."""
    from tests.test_web import call
    from web.app import make_app

    kit = CrawlKit(tmp_path, farm, private_redis, retries=1)
    kit.start_workers(2)
    try:
        kit.seed(["seoul-press", "ulsan-press", "jeju-press"])
        kit.wait()
        run_indexer(kit.cluster, once=True, client=kit.client)
        farm.set_faults("seoul-press", broken_layout=True)
        farm.set_faults("ulsan-press", failure_rate=1.0, fail_attempts=100)
        kit.runs.clear()
        kit.seed(["seoul-press", "ulsan-press", "jeju-press"])
        kit.wait()
        run_indexer(kit.cluster, once=True, client=kit.client)
    finally:
        farm.clear_faults()
        kit.stop_workers()
    status = site_status(kit.cluster.index_dir)
    assert "layout changed" in status["seoul-press"]["flagged"]
    assert "every page failed" in status["ulsan-press"]["flagged"]
    assert status["jeju-press"]["flagged"] is None
    html = call(make_app(index_dir=kit.cluster.index_dir), "/status")[2].decode()
    assert html.count("⚠ 경고") == 2 and "사이트 화면 구성이 바뀐 것 같습니다" in html


def test_nugo_cancel_ends_a_run_by_site_or_run_id(farm, private_redis, tmp_path):
    """Bug: a run could be cancelled only by calling a Python function."""
    farm.set_faults("seoul", latency=0.5)
    kit = CrawlKit(tmp_path, farm, private_redis)
    runs = kit.seed(["seoul", "busan"])
    env = {**__import__("os").environ, "NUGO_REDIS_URL": private_redis.url, "NUGO_FARM_PORT": str(farm.port)}
    base = [sys.executable, "-m", "workers.cli", "--conf", str(kit.conf), "cancel"]
    out = subprocess.run(base + ["seoul", runs["busan"]], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("취소했습니다") == 2
    assert {kit.frontier.run(r)["status"] for r in runs.values()} == {"cancelled"}
    assert kit.frontier.queued() == 0
    again = subprocess.run(base + ["seoul"], env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "진행 중인 수집이 없습니다" in again.stderr
    kit.start_workers(1)
    try:
        run_indexer(kit.cluster, once=True, client=kit.client)
    finally:
        kit.stop_workers()
    assert "cancelled" in site_status(kit.cluster.index_dir)["seoul"]["flagged"]


def test_a_long_soak_keeps_the_stream_and_redis_memory_flat(farm, private_redis, tmp_path):
    """Bug: the item stream was never trimmed (entries acknowledged, never deleted; ~670 bytes each under
    noeviction), so Redis grew until it refused writes and the whole cluster stopped. Many crawl cycles
    now leave the stream empty after each index pass and Redis memory flat; the figures are printed."""
    kit = CrawlKit(tmp_path, farm, private_redis)
    sites = ["seoul", "ulsan", "ulsan-press", "jeju-press"]
    kit.start_workers(2)
    rows = []
    try:
        for cycle in range(1, 9):
            farm.publish("jeju-press", title=f"드론 소식 {cycle}", body="드론 실증")
            kit.runs.clear()
            kit.seed(sites)
            runs = kit.wait()
            appended = sum(int(r.get("items") or 0) for r in runs.values()) + len(runs)
            run_indexer(kit.cluster, once=True, client=kit.client)
            info = kit.client.info("memory")
            rows.append((cycle, appended, kit.client.xlen("nugo:items"), info["used_memory"]))
    finally:
        kit.stop_workers()
    print("\ncycle  entries appended  stream length after indexing  Redis used_memory")
    for cycle, appended, length, memory in rows:
        print(f"{cycle:>5}  {appended:>16}  {length:>28}  {memory / 1024:>14,.0f} KB")
    assert all(length == 0 for _, _, length, _ in rows)  # every acknowledged entry is gone
    appended_since = sum(appended for _, appended, _, _ in rows[2:])
    growth = rows[-1][3] - rows[1][3]
    print(f"growth from cycle 2 to 8: {growth / 1024:,.0f} KB for {appended_since} entries appended "
          f"(untrimmed they would hold ~{appended_since * 670 / 1024:,.0f} KB)")
    assert growth < 0.25 * appended_since * 670  # run records (the last 50 per site) and caches, not the stream


def test_redis_out_of_memory_loses_nothing_and_is_an_operator_alert(farm, private_redis, tmp_path):
    """Under `noeviction` a full Redis refuses writes ("OOM command not allowed"). Producers must not lose the
    work: a page whose items cannot be written is not acknowledged, so it is fetched again once Redis has room;
    and the operators hear about it while it lasts."""
    from ops.housekeeping import run_housekeeping

    kit = CrawlKit(tmp_path, farm, private_redis, lease_seconds=5)
    client = private_redis.client()
    kit.seed(["seoul"])
    used = client.info("memory")["used_memory"]
    client.config_set("maxmemory", str(used + 64 * 1024))  # room for a page or two
    kit.start_workers(1)
    try:
        wait_until(lambda: "OutOfMemoryError" in (tmp_path / "worker-0.log").read_text(errors="replace"), timeout=60,
                   what="a write refused for memory")
        full = run_housekeeping(kit.cluster, client)  # Redis full: the alert cannot even be recorded there
        client.config_set("maxmemory", str(int(client.info("memory")["used_memory"] / 0.95)))  # room, but 95 % used
        report = run_housekeeping(kit.cluster, client)
        conditions = client.hgetall("nugo:ops:conditions")
        client.config_set("maxmemory", "0")  # the operator adds memory
        kit.wait(timeout=120)
    finally:
        kit.stop_workers()
    assert full["redis"] == "out of memory"
    assert report["events"] >= 1 and b"memory" in conditions
    from tests.crawlkit import assert_matches_truth

    assert_matches_truth(kit, {"seoul"})
