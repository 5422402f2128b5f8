"""A crawl of the site farm with real Redis and real worker processes, and its comparison with the ground truth."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from conf.embedded_redis import EmbeddedRedis
from conf.loader import Site, load_cluster, load_sites
from crawlers.dates import parse_date
from crawlers.frontier import Frontier
from crawlers.progress import wait_for_runs
from crawlers.seed import seed_sites
from crawlers.worker import start_workers

FARM_SITES = Path(__file__).resolve().parent.parent / "conf" / "sites" / "farm"
TEST_INTERVAL = 0.05  # short politeness intervals for the farm's hosts keep the suite fast


class CrawlKit:
    """Cluster config, Redis, workers and ground-truth checks for one test."""

    def __init__(self, tmp: Path, farm, redis: EmbeddedRedis, *, interval: float = TEST_INTERVAL,
                 lease_seconds: float = 10, retries: int = 3, sites_dir: Path = FARM_SITES, extra: str = ""):
        self.tmp, self.farm, self.redis = Path(tmp), farm, redis
        self.conf = self.tmp / "cluster.yaml"
        self.conf.write_text(
            f"data_dir: {self.tmp}\ndefault_interval: {interval}\nlease_seconds: {lease_seconds}\n"
            f"retries: {retries}\ndownload_timeout: 10\nsites_dirs: [{sites_dir}]\n{extra}", encoding="utf-8")
        self.cluster = load_cluster(self.conf)
        self.sites: dict[str, Site] = load_sites(self.cluster.sites_paths, {"FARM_PORT": str(farm.port)})
        self.client = redis.client()
        self.frontier = Frontier(self.client, self.cluster.key_prefix, self.cluster.lease_seconds)
        self.workers: list = []
        self.runs: dict[str, str] = {}

    def seed(self, site_ids: list[str] | None = None) -> dict[str, str]:
        chosen = [self.sites[s] for s in site_ids] if site_ids else list(self.sites.values())
        self.runs.update(seed_sites(self.client, self.cluster, chosen))
        return self.runs

    def start_workers(self, count: int) -> list:
        procs = start_workers(count, self.redis.url, conf=str(self.conf), log_dir=str(self.tmp))
        self.workers += procs
        return procs

    def wait(self, timeout: float = 240) -> dict[str, dict]:
        runs = wait_for_runs(self.frontier, list(self.runs.values()), timeout=timeout, poll=0.2)
        unfinished = {r.get("site"): r.get("status") for r in runs.values() if r.get("status") == "running"}
        assert not unfinished, f"runs still going after {timeout} s: {unfinished}; logs in {self.tmp}"
        return runs

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.workers:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except Exception:
                proc.kill()
                proc.wait()
        self.workers = []

    # --- what was collected ---------------------------------------------------------------
    def items(self, kind: str) -> list[dict]:
        out = []
        for _, fields in self.client.xrange(f"{self.cluster.key_prefix}:items"):
            if fields[b"type"] == kind.encode():
                out.append(json.loads(fields[b"json"]))
        return out


def _date_key(value: str | None):
    parsed = parse_date(value) if value else None
    return parsed.replace(tzinfo=None).isoformat(timespec="minutes") if parsed else None


def staff_key(row: dict) -> tuple:
    return tuple((row.get(k) or "").strip() for k in ("site", "bureau", "department", "team", "position", "name", "phone",
                                                      "duties", "email")) + (json.dumps(row.get("lines") or None),)


def post_key(post: dict) -> tuple:
    return (post["site"], post["url"], post["title"], _date_key(post.get("date")), post.get("department") or "",
            post.get("body") or "", tuple(post.get("attachments") or ()),
            json.dumps(post.get("attachment_links") or None, ensure_ascii=False),
            json.dumps(post.get("extra") or None, ensure_ascii=False, sort_keys=True), bool(post.get("pinned")))


def truth(farm, sites: set[str] | None = None) -> tuple[list[tuple], list[tuple]]:
    manifest = farm.manifest()
    staff = [staff_key(r) for r in manifest["staff"] if sites is None or r["site"] in sites]
    posts = [post_key(p) for p in manifest["posts"] if sites is None or p["site"] in sites]
    return staff, posts


def assert_matches_truth(kit: CrawlKit, sites: set[str] | None = None) -> None:
    """Every staff row and post of the chosen sites, each once, fields equal after normalisation."""
    staff_truth, post_truth = truth(kit.farm, sites)
    staff = {}
    for row in kit.items("staff"):
        if sites is None or row["site"] in sites:
            staff.setdefault(row["id"], staff_key(row))  # at-least-once delivery: ids make it idempotent
    posts = {}
    for post in kit.items("post"):
        if sites is None or post["site"] in sites:
            posts.setdefault(post["id"], post_key(post))
    assert len(set(staff_truth)) == len(staff_truth)
    missing = set(staff_truth) - set(staff.values())
    extra = set(staff.values()) - set(staff_truth)
    assert not missing and not extra, f"staff: {len(missing)} missing e.g. {list(missing)[:2]}, {len(extra)} extra e.g. {list(extra)[:2]}"
    assert len(staff) == len(staff_truth)
    missing = set(post_truth) - set(posts.values())
    extra = set(posts.values()) - set(post_truth)
    assert not missing and not extra, f"posts: {len(missing)} missing e.g. {list(missing)[:1]}, {len(extra)} extra e.g. {list(extra)[:1]}"
    assert len(posts) == len(post_truth)


def diff_posts(kit: CrawlKit, limit: int = 3) -> list[tuple]:
    """Debug helper: (truth, crawled) pairs of posts that differ, matched by URL."""
    crawled = {p["url"]: post_key(p) for p in kit.items("post")}
    out = []
    for post in kit.farm.manifest()["posts"]:
        if post["site"] not in kit.runs:
            continue
        key = post_key(post)
        if crawled.get(post["url"]) != key:
            out.append((key, crawled.get(post["url"])))
    return out[:limit]
