"""Distributed crawl of the site farm: real Redis, real Scrapy worker processes, real HTTP."""
from __future__ import annotations

import os
import pickle
import signal
import time
from collections import defaultdict
from urllib.parse import urlsplit

import pytest

from tests.crawlkit import CrawlKit, assert_matches_truth
from farm import Farm

pytestmark = pytest.mark.slow
# Sites without a robots Crawl-delay, so the fault tests stay short.
QUICK_SITES = ["seoul", "ulsan", "incheon", "sejong", "busan-announce", "seoul-press", "korea-kr-press", "gyeongbuk-press"]


@pytest.fixture(scope="module")
def farm():
    with Farm(seed=1) as running:
        yield running


@pytest.fixture
def kit_factory(farm, private_redis, tmp_path):
    farm.clear_faults()
    farm.clear_request_log()
    kits = []

    def make(**kwargs) -> CrawlKit:
        kit = CrawlKit(tmp_path, farm, private_redis, **kwargs)
        kits.append(kit)
        return kit
    yield make
    for kit in kits:
        kit.stop_workers()
    farm.clear_faults()


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_full_crawl_collects_exactly_the_ground_truth_politely(kit_factory, farm):
    kit = kit_factory()
    kit.seed()
    kit.start_workers(3)
    runs = kit.wait()
    assert {r["status"] for r in runs.values()} == {"finished"}
    assert_matches_truth(kit)
    # Politeness, summed over all workers: the farm saw no two requests to a host closer than its interval.
    by_host = defaultdict(list)
    for host, at, method, path in farm.request_log():
        if not path.startswith("/robots.txt"):
            by_host[host].append(at)
    assert len(by_host) == len(farm.sites)
    for site in farm.sites:
        times = sorted(by_host[site["host"]])
        interval = kit.frontier.interval(urlsplit(site["base_url"]).netloc)
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert min(gaps) >= interval, (site["id"], interval, min(gaps))
    daejeon = kit.frontier.interval(urlsplit(kit.sites["daejeon"]["base_url"]).netloc)
    assert daejeon == 2.0  # its robots.txt Crawl-delay, honoured cluster-wide
    # robots.txt Disallow: /admin/ is never fetched
    assert not [p for _, _, _, p in farm.request_log() if p.startswith("/admin/")]


def test_killed_worker_loses_nothing(kit_factory, farm):
    kit = kit_factory(lease_seconds=4)
    kit.seed(QUICK_SITES)
    victim, *_ = kit.start_workers(3)
    wait_until(lambda: sum(int((kit.frontier.run(r) or {}).get("pages", 0)) for r in kit.runs.values()) > 120,
               60, "the crawl to be under way")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    runs = kit.wait()
    assert {r["status"] for r in runs.values()} == {"finished"}
    assert_matches_truth(kit, set(QUICK_SITES))


def test_redis_restart_mid_crawl_loses_nothing(kit_factory, farm, private_redis):
    kit = kit_factory(lease_seconds=4)
    kit.seed(QUICK_SITES)
    kit.start_workers(3)
    wait_until(lambda: sum(int((kit.frontier.run(r) or {}).get("pages", 0)) for r in kit.runs.values()) > 120,
               60, "the crawl to be under way")
    private_redis.kill()  # kill -9: the AOF (appendfsync everysec) is in the OS cache, so a process crash loses nothing
    private_redis.restart()
    kit.client = private_redis.client()
    kit.frontier.client = kit.client
    runs = kit.wait()
    assert {r["status"] for r in runs.values()} == {"finished"}
    assert_matches_truth(kit, set(QUICK_SITES))


class Exploit:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_planted_pickle_is_never_executed_and_is_reported(kit_factory, farm, tmp_path):
    marker = tmp_path / "pwned"
    kit = kit_factory()
    kit.seed(["seoul-press"])
    host = urlsplit(kit.sites["seoul-press"]["base_url"]).netloc
    kit.client.rpush(f"{kit.cluster.key_prefix}:q:{host}", pickle.dumps(Exploit(str(marker))))
    kit.start_workers(2)
    runs = kit.wait()
    assert {r["status"] for r in runs.values()} == {"finished"}
    assert not marker.exists()
    poisoned = kit.frontier.poison()
    assert len(poisoned) == 1 and "JSON" in poisoned[0]["reason"].upper()
    assert_matches_truth(kit, {"seoul-press"})


def test_faulty_sites_are_reported_and_healthy_ones_complete(kit_factory, farm):
    healthy = {"seoul", "ulsan", "korea-kr-press"}
    farm.set_faults("sejong", failure_rate=0.3, reset_rate=0.2, malformed=True)
    farm.set_faults("busan-announce", slow_paths=0.1, slow_seconds=3)
    farm.set_faults("incheon", redirect_loop=True, calendar_trap=True, huge_page=True)
    farm.set_faults("seoul-press", broken_layout=True)
    kit = kit_factory(retries=3, extra="max_page_bytes: 2000000\n")
    kit.seed(sorted(healthy | {"sejong", "busan-announce", "incheon", "seoul-press"}))
    kit.start_workers(3)
    runs = {r["site"]: r for r in kit.wait(timeout=300).values()}
    assert {r["status"] for r in runs.values()} == {"finished"}
    assert_matches_truth(kit, healthy | {"sejong", "busan-announce"})  # retries and patience recover these fully
    assert int(runs["sejong"]["retries"]) > 0
    incheon_errors = " | ".join(e["reason"] for e in kit.frontier.run_errors(kit.runs["incheon"]))
    assert "redirect" in incheon_errors and "crawl bound" in incheon_errors and "skipped" in incheon_errors
    layout_errors = " | ".join(e["reason"] for e in kit.frontier.run_errors(kit.runs["seoul-press"]))
    assert "no rows matched" in layout_errors
    assert int(runs["seoul-press"]["items"]) == 0
