"""Celery tasks: thin, idempotent wrappers over the plain functions (a re-delivered task does no harm).

    nugo.start_site_run(site, slot)   crawlers.seed.start_scheduled_run: one run per site and slot
    nugo.index_stream(slot)           workers.indexer.run_indexer for a while; a second writer steps back
    nugo.send_digest(official, slot)  the official's digest, once per slot
    nugo.housekeeping(slot)           ops.housekeeping: health, operator alerts, trimming, leases
    nugo.send_operator_mail()         operator alerts not yet mailed
"""
from __future__ import annotations

import logging
import threading

import redis
from celery import shared_task

from conf.connection import redis_client
from conf.keys import Keys, check_site
from conf.loader import load_site, site_files
from conf.yamlsource import ConfigError
from workers.celery_app import cluster_of

logger = logging.getLogger(__name__)

INDEX_SECONDS = 50   # an index task stops taking new batches after this long (the next slot continues)
_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def _client(cluster) -> redis.Redis:
    key = f"{cluster.conf_path}:{cluster.key_prefix}"
    with _lock:
        if key not in _clients:
            _clients[key] = redis_client(cluster, ping=False)
        return _clients[key]


def _site(cluster, site_id: str):
    check_site(site_id)
    for path in site_files([p for p in cluster.sites_paths if p.is_dir()]):
        if path.stem == site_id:
            from conf.loader import default_variables

            return load_site(path, default_variables())
    return None


@shared_task(name="nugo.start_site_run", bind=True, acks_late=True)
def start_site_run(self, site_id: str, slot: str) -> dict:
    from crawlers.seed import start_scheduled_run

    cluster = cluster_of(self.app)
    try:
        site = _site(cluster, site_id)
    except (ConfigError, ValueError) as exc:
        logger.error("site %s not started for slot %s: its file does not read: %s", site_id, slot, exc)
        return {"outcome": "refused", "site": site_id, "slot": slot}
    if site is None or not site["enabled"]:
        return {"outcome": "not configured", "site": site_id, "slot": slot}
    result = start_scheduled_run(_client(cluster), cluster, site, slot)
    logger.info("site %s slot %s: %s %s", site_id, slot, result["outcome"], result.get("run_id") or "")
    return result


@shared_task(name="nugo.index_stream", bind=True, acks_late=True)
def index_stream(self, slot: str | None = None) -> dict:
    from index.store import IndexerBusy
    from workers.indexer import run_indexer

    cluster = cluster_of(self.app)
    try:
        stats = run_indexer(cluster, once=True, client=_client(cluster), max_seconds=INDEX_SECONDS)
    except IndexerBusy:
        return {"outcome": "busy"}  # the other writer (or the previous slot's task) is at it
    return {"outcome": "indexed", **stats.as_dict()}


@shared_task(name="nugo.send_digest", bind=True, acks_late=True)
def send_digest(self, official_id: str, slot: str) -> dict:
    from notifier.digest import scheduled_digest

    cluster = cluster_of(self.app)
    client = _client(cluster)
    if not client.set(Keys(cluster.key_prefix).digest(official_id, slot), "1", nx=True, ex=8 * 24 * 3600):
        return {"outcome": "duplicate", "official": official_id, "slot": slot}
    return scheduled_digest(cluster, client, official_id)


@shared_task(name="nugo.housekeeping", bind=True, acks_late=True)
def housekeeping(self, slot: str | None = None) -> dict:
    from ops.housekeeping import run_housekeeping

    cluster = cluster_of(self.app)
    result = run_housekeeping(cluster, _client(cluster))
    if result.get("mail"):
        send_operator_mail.delay()
    return result


@shared_task(name="nugo.send_operator_mail", bind=True, acks_late=True)
def send_operator_mail(self) -> dict:
    from notifier.operator import send_pending_mail

    cluster = cluster_of(self.app)
    return send_pending_mail(cluster, _client(cluster))
