"""The index service: the single writer, with the notifier matching each commit's posts."""
from __future__ import annotations

import logging
import time
from datetime import datetime

from conf.connection import redis_client
from conf.heartbeat import Throttled
from conf.loader import Cluster, site_ids
from index.state import site_status
from index.writer import ConsumeStats, consume
from notifier.process import process_new_posts
from notifier.subscription import SubscriptionSet, subscriptions_path

logger = logging.getLogger(__name__)


def index_dir(cluster: Cluster):
    return cluster.index_dir


def news_only(index_path, posts: list[dict]) -> list[dict]:
    """Drop the backlog: a board's first finished crawl is its baseline. A post is news when it came
    from a later run and was first seen after the baseline ended (a re-emitted old post keeps its
    first_seen). Without this, every post of a newly added board would be an alert."""
    status = site_status(index_path)

    def is_news(post: dict) -> bool:
        baseline = (status.get(post.get("site")) or {}).get("baseline")
        if not baseline or post.get("run_id") == baseline["run_id"]:
            return False
        try:
            return datetime.fromisoformat(post["first_seen"]) > datetime.fromisoformat(baseline["ended_at"])
        except (KeyError, TypeError, ValueError):
            return False
    return [p for p in posts if is_news(p)]


class ConfiguredSites:
    """The ids of the configured sites, re-listed at most every `seconds` (a new site file is picked up)."""

    def __init__(self, cluster: Cluster, seconds: float = 10.0):
        self.cluster, self.seconds = cluster, seconds
        self._ids: set[str] = set()
        self._at = float("-inf")

    def __call__(self) -> set[str]:
        if time.monotonic() - self._at > self.seconds:
            self._ids, self._at = site_ids(self.cluster.sites_paths), time.monotonic()
        return self._ids


_SETS: dict[tuple, SubscriptionSet] = {}


def _subscription_set(path, last_good) -> SubscriptionSet:
    """One SubscriptionSet per file in a process: the matcher is built once per version of the file, not once
    per index task (a Celery worker runs many)."""
    key = (str(path), str(last_good))
    if key not in _SETS:
        _SETS[key] = SubscriptionSet(path, last_good=last_good)
    return _SETS[key]


def run_indexer(cluster: Cluster, *, once: bool = False, stop=None, client=None, batch: int = 500,
                lock_wait: float = 0.0, max_seconds: float | None = None) -> ConsumeStats:
    """Consume the item stream into the index; new posts go to the notifier after each commit. Entries of
    sites that are not configured are refused; Redis down at start or later is waited out."""
    client = client or redis_client(cluster, ping=False)
    path = subscriptions_path(cluster)
    common = dict(batch=batch, once=once, stop=stop, healthy_ratio=cluster.healthy_ratio, lock_wait=lock_wait,
                  sites=ConfiguredSites(cluster), max_seconds=max_seconds, min_free_mb=cluster.min_free_disk_mb,
                  heartbeat=Throttled(client, cluster.key_prefix, "indexer", ttl_seconds=120))
    if not path.exists():
        logger.warning("no subscriptions at %s: posts are indexed, no alerts are made", path)
        return consume(client, cluster.key_prefix, index_dir(cluster), **common)
    subscriptions = _subscription_set(path, cluster.data_path / "notifier" / "last-good")

    def notify(posts: list[dict]) -> None:
        posts = news_only(index_dir(cluster), posts)
        new = process_new_posts(client, cluster.key_prefix, subscriptions, posts, cluster.repost_window_days)
        if new:
            logger.info("%d new alert(s)", new)

    return consume(client, cluster.key_prefix, index_dir(cluster), on_commit=notify, **common)
