"""The index service: the single writer, with the notifier matching each commit's posts."""
from __future__ import annotations

import logging
import time

from conf.connection import redis_client
from conf.heartbeat import Throttled
from conf.loader import Cluster, site_ids
from index.writer import ConsumeStats, consume
from notifier.process import Notifier
from notifier.subscription import SubscriptionSet

logger = logging.getLogger(__name__)


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


_NOTIFIERS: dict[tuple, Notifier] = {}


def _notifier(cluster: Cluster) -> Notifier:
    """One Notifier per subscriptions file and prefix in a process: the matcher is built once per version of
    the file, not once per index task (a Celery worker runs many)."""
    last_good = cluster.data_path / "notifier" / "last-good"
    key = (str(cluster.subscriptions_path), str(last_good), cluster.key_prefix)
    if key not in _NOTIFIERS:
        _NOTIFIERS[key] = Notifier(SubscriptionSet(cluster.subscriptions_path, last_good=last_good), cluster.key_prefix,
                                   cluster.repost_window_days)
    return _NOTIFIERS[key]


def run_indexer(cluster: Cluster, *, once: bool = False, stop=None, client=None, batch: int = 500,
                lock_wait: float = 0.0, max_seconds: float | None = None) -> ConsumeStats:
    """Consume the item stream into the index; new posts go to the notifier after each commit. Entries of
    sites that are not configured are refused; Redis down at start or later is waited out."""
    client = client or redis_client(cluster, ping=False)
    common = dict(batch=batch, once=once, stop=stop, healthy_ratio=cluster.healthy_ratio, lock_wait=lock_wait,
                  sites=ConfiguredSites(cluster), max_seconds=max_seconds, min_free_mb=cluster.min_free_disk_mb,
                  heartbeat=Throttled(client, cluster.key_prefix, "indexer", ttl_seconds=120))
    if not cluster.subscriptions_path.exists():
        logger.warning("no subscriptions at %s: posts are indexed, no alerts are made", cluster.subscriptions_path)
        return consume(client, cluster.key_prefix, cluster.index_dir, **common)
    notifier = _notifier(cluster)

    def notify(posts: list[dict], sites: dict[str, dict]) -> None:
        new = notifier.on_commit(client, posts, sites)
        if new:
            logger.info("%d new alert(s)", new)

    return consume(client, cluster.key_prefix, cluster.index_dir, on_commit=notify, **common)
