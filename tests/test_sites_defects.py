"""Issue 15's defects, each on the site farm with real Redis and real worker processes.

Each test names the defect it guards and how it failed before the fix (run against the code before it).
"""
from __future__ import annotations

import re
import time
from collections import defaultdict

import pytest

from conf.wire import RunEvent
from farm import Farm
from index.runs import judge
from tests.crawlkit import FARM_SITES, CrawlKit, assert_matches_truth

pytestmark = pytest.mark.slow


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


def crawl(kit: CrawlKit, sites: list[str], workers: int = 2) -> dict[str, dict]:
    kit.runs = {}
    kit.seed(sites)
    if not kit.workers:
        kit.start_workers(workers)
    return {r["site"]: r for r in kit.wait().values()}


def verdict(kit: CrawlKit, run: dict, live_rows: int = 0) -> str | None:
    """The index's healthy-run rule applied to a finished run record."""
    event = RunEvent("run_end", run["run_id"], run["site"], run["kind"], run["status"], time.time(),
                     {k: str(v) for k, v in run.items()})
    rows = sum(1 for r in kit.items("staff") if r["run_id"] == run["run_id"])
    return judge(event, rows, live_rows, 0.5)


def errors(kit: CrawlKit, site: str) -> list[dict]:
    return kit.frontier.run_errors(kit.runs[site])


def test_long_directory_with_a_javascript_next_link_is_read_whole(kit_factory, farm, tmp_path):
    """Defects 1 and 3, on the farm: changwon's cards take 64 pages by `next` links, and the last page's
    `다음` is `javascript:void(0)`. Before the fixes the 51st page was never requested (pagination counted
    toward max_depth 50: rows lost, no error) and a javascript: next link threw its page away ("request
    needs an absolute url"). A copy with max_list_pages 20 must stop there with a visible error and be refused."""
    sites = tmp_path / "sites"
    sites.mkdir()
    text = (FARM_SITES / "changwon.yaml").read_text(encoding="utf-8")
    (sites / "changwon.yaml").write_text(text, encoding="utf-8")
    (sites / "changwon-capped.yaml").write_text(text.replace("allow_private_addresses: true",
                                                             "allow_private_addresses: true\nmax_list_pages: 20"), encoding="utf-8")
    kit = kit_factory(sites_dir=sites)
    runs = crawl(kit, ["changwon", "changwon-capped"])
    assert_matches_truth(kit, {"changwon"})
    full = runs["changwon"]
    assert int(full["list_rows"]) == 317 and int(full.get("links_skipped") or 0) >= 1 and not full.get("bounds_hit")
    assert verdict(kit, full) is None
    capped = runs["changwon-capped"]
    assert int(capped["bounds_hit"]) == 1 and int(capped["list_rows"]) == 20 * 5
    assert any("crawl bound: max_list_pages 20" in e["reason"] for e in errors(kit, "changwon-capped"))
    assert "crawl bound" in verdict(kit, capped)


def test_lists_read_until_an_empty_page_go_live_and_an_empty_first_page_does_not(kit_factory, farm):
    """gyeonggi and jeju page `until_empty`: the empty page that ends the list keeps the start page's depth, and
    the rule for "a start page leading nowhere" refused every run of both ("list page with no rows (layout
    changed?)", found by the multi-host test): they never went live. Now they are healthy and complete, and a
    redesigned first page is still refused."""
    kit = kit_factory()
    runs = crawl(kit, ["gyeonggi", "jeju"])
    for site in ("gyeonggi", "jeju"):
        assert runs[site]["status"] == "finished" and int(runs[site].get("empty_lists") or 0) == 0, runs[site]
        assert verdict(kit, runs[site]) is None
    assert_matches_truth(kit, {"gyeonggi", "jeju"})
    farm.set_faults("gyeonggi", broken_layout=True)
    again = crawl(kit, ["gyeonggi"])
    assert "layout changed?" in (verdict(kit, again["gyeonggi"], live_rows=100) or "")


def test_a_layout_change_on_a_paginated_site_is_reported_and_refused(kit_factory, farm):
    """Defect 2, on the farm. (a) seoul (POST pagination) redesigned: its start page has no rows. (b) gwangju's
    department pages lose their staff table's class after a healthy run: each is the last page of its list,
    so before the fix the run ended with no error at all ("완료, 0 items, 0 errors"): now every list page
    that had rows in an earlier run and has none is "layout changed?" with its URL, and the run is refused."""
    kit = kit_factory()
    first = crawl(kit, ["gwangju"])
    assert verdict(kit, first["gwangju"]) is None
    farm.set_faults("seoul", broken_layout=True)
    farm.set_faults("gwangju", renamed_classes=("dept_staff",))
    runs = crawl(kit, ["seoul", "gwangju"])
    for site in ("seoul", "gwangju"):
        run = runs[site]
        assert run["status"] == "finished" and int(run["empty_lists"]) >= 1, run
        reasons = [e for e in errors(kit, site) if "layout changed?" in e["reason"]]
        assert reasons and all(e["url"].startswith("http://127.0.1.") for e in reasons)
        assert "layout changed?" in verdict(kit, run, live_rows=150)
    departments = {e["url"] for e in errors(kit, "gwangju") if "layout changed?" in e["reason"]}
    assert len(departments) == int(runs["gwangju"]["empty_lists"]) > 5 and all("dept.do?deptCode=" in u for u in departments)


def test_robots_txt_waits_its_turn_at_the_send_gate(kit_factory, farm):
    """Defect 4: robots.txt was fetched with urllib outside the politeness gate, so daejeon's first page came
    under a second after it although its robots.txt says Crawl-delay: 2. Now robots.txt is a request like
    any other: the first page comes at least the Crawl-delay after it."""
    kit = kit_factory()
    host = farm.site("daejeon").site.host
    kit.seed(["daejeon"])
    kit.start_workers(1)
    deadline = time.monotonic() + 60
    log = []
    while time.monotonic() < deadline:
        log = [(at, path) for h, at, _, path in farm.request_log() if h == host]
        if any(p != "/robots.txt" for _, p in log):
            break
        time.sleep(0.05)
    kit.frontier.cancel_run(kit.runs["daejeon"], "test done")
    robots_at = next(at for at, p in log if p == "/robots.txt")
    first_page = next(at for at, p in log if p != "/robots.txt")
    assert first_page - robots_at >= 2.0 - 0.01, first_page - robots_at


def test_retry_after_is_honoured_through_the_queue(kit_factory, farm):
    """Defect 5: a 429 with Retry-After: 2 was retried after the fixed backoff (0.5 s). Now the retried
    request waits what the site asked (capped), still through the leased queue; nothing is lost."""
    farm.set_faults("korea-kr-press", throttle_rate=0.15, retry_after=2)
    kit = kit_factory()
    runs = crawl(kit, ["korea-kr-press"])
    assert_matches_truth(kit, {"korea-kr-press"})
    assert int(runs["korea-kr-press"]["retries"]) >= 3
    host = farm.site("korea-kr-press").site.host
    arrivals = defaultdict(list)
    for h, at, method, path in farm.request_log():
        if h == host and path != "/robots.txt":
            arrivals[(method, path)].append(at)
    retried = [times for times in arrivals.values() if len(times) > 1]
    assert len(retried) >= 3
    assert min(b - a for a, b, *_ in retried) >= 2.0 - 0.01


def test_a_list_reached_by_post_and_by_get_is_paginated_once(kit_factory, farm):
    """Defect 6: changwon-gosi starts with a POST of its list and links the same list by GET (the 전체 tab).
    Before the fix both page-1s planned the pagination, with different form bodies: every later page was
    requested twice (13 POSTs for 7 pages). Now one list is paginated once per run."""
    kit = kit_factory()
    runs = crawl(kit, ["changwon-gosi"])
    assert_matches_truth(kit, {"changwon-gosi"})
    site = farm.site("changwon-gosi")
    pages = -(-len(site.posts()) // site.site.page_size)
    posts = [p for h, _, method, p in farm.request_log() if h == site.site.host and method == "POST"]
    assert len(posts) == pages, (len(posts), pages)
    assert int(runs["changwon-gosi"]["pagination_repeats"]) == 1


def test_escape_sequences_labels_and_group_rows(kit_factory, farm):
    """Defect 7 and the layouts that need the new schema keys, crawled to the truth: suwon's page has
    `\\x1b[1m…\\x1b[0m` in a duty (the old clean-up stored "[1m…[0m" and the crawl missed the truth),
    team separator rows, columns known by their headers and the 실·국 in a breadcrumb; changwon's cards
    are read by their labels with multi-line duties."""
    kit = kit_factory()
    crawl(kit, ["suwon"])
    assert_matches_truth(kit, {"suwon"})
    staff = kit.items("staff")
    assert not [r for r in staff if re.search(r"\[\d+m", r["duties"])]
    assert {r["bureau"] for r in staff} >= {"기획조정실"} and any(len(r.get("lines", {}).get("duties", [])) > 1 for r in staff)


def test_calendar_trap_stops_by_default_or_is_denied(kit_factory, farm, tmp_path):
    """Trap bounds: gwangju's file without its own bounds (the defaults: max_depth 10) meets the endless
    calendar linked from every page and stops it in well under 100 requests, with a visible bound error;
    the same file with `deny: ["/calendar", "date="]` never asks for it and is not stopped by a bound."""
    sites = tmp_path / "sites"
    sites.mkdir()
    text = (FARM_SITES / "gwangju.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(max_pages|max_depth): \d+\n", "", text)
    (sites / "gwangju.yaml").write_text(text, encoding="utf-8")
    (sites / "gwangju-deny.yaml").write_text(text + 'deny: ["/calendar", "date="]\n', encoding="utf-8")
    farm.set_faults("gwangju", calendar_trap=True)
    kit = kit_factory(sites_dir=sites)
    runs = crawl(kit, ["gwangju"])
    assert_matches_truth(kit, {"gwangju"})
    calendar = [p for _, _, _, p in farm.request_log() if p.startswith("/calendar")]
    assert 0 < len(calendar) <= 12
    assert int(runs["gwangju"]["bounds_hit"]) >= 1
    assert any("max_depth 10" in e["reason"] for e in errors(kit, "gwangju"))
    farm.clear_request_log()
    runs = crawl(kit, ["gwangju-deny"])
    assert not [p for _, _, _, p in farm.request_log() if p.startswith("/calendar")]
    assert int(runs["gwangju-deny"]["links_denied"]) > 0 and not runs["gwangju-deny"].get("bounds_hit")
