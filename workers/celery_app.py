"""The Celery app of a cluster: its Redis as broker, JSON only, late acknowledgement, named queues, Seoul time.

Queues (every Celery worker serves some of them; see `nugo celery-worker --help`):

    crawl         starting a site's run for a scheduled slot (any PC)
    index         the single index writer (the head PC, one worker, concurrency 1)
    notify        e-mail digests, operator mail (any PC)
    housekeeping  health checks, operator alerts, stream trimming (any PC)

Tasks are acknowledged after they ran (`acks_late`) and given back when their worker dies
(`task_reject_on_worker_lost`); each worker takes one task at a time (prefetch 1); the broker's
visibility timeout is far longer than any task. Every task is idempotent (workers.tasks), so a
re-delivered one does no harm. Broker keys live under `{prefix}:celery:` (conf.keys).
"""
from __future__ import annotations

import logging

from celery import Celery
from kombu import Exchange, Queue

from conf.connection import redis_url
from conf.loader import Cluster, load_cluster
from conf.defaults import TIMEZONE

logger = logging.getLogger(__name__)

QUEUES = ("crawl", "index", "notify", "housekeeping")
ROUTES = {
    "nugo.start_site_run": {"queue": "crawl"},
    "nugo.index_stream": {"queue": "index"},
    "nugo.send_digest": {"queue": "notify"},
    "nugo.send_operator_mail": {"queue": "notify"},
    "nugo.housekeeping": {"queue": "housekeeping"},
}
TASK_MODULES = ["workers.tasks"]
EXCHANGE = Exchange("nugo", type="direct")


def make_celery(cluster: Cluster | None = None, *, url: str | None = None) -> Celery:
    """The Celery app of `cluster` (conf/cluster.yaml by default), on its Redis (the embedded one when none is set)."""
    cluster = cluster or load_cluster()
    broker = url or redis_url(cluster)
    app = Celery("nugo", broker=broker, include=TASK_MODULES)
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],  # never pickle
        task_ignore_result=True, result_backend=None,
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_acks_on_failure_or_timeout=True,
        broker_transport_options={"visibility_timeout": cluster.celery_visibility_timeout,
                                  "unacked_restore_interval": 10, "unacked_restore_throttle": 1,
                                  "socket_timeout": 30, "socket_keepalive": True, "health_check_interval": 30,
                                  "global_keyprefix": f"{cluster.key_prefix}:celery:"},
        broker_connection_retry=True, broker_connection_retry_on_startup=True, broker_connection_max_retries=None,
        task_queues=[Queue(name, EXCHANGE, routing_key=name) for name in QUEUES], task_default_queue="housekeeping",
        task_default_exchange="nugo", task_default_routing_key="housekeeping", task_routes=ROUTES,
        timezone=TIMEZONE, enable_utc=True,
        worker_enable_remote_control=False, worker_send_task_events=False, task_send_sent_event=False,
        worker_hijack_root_logger=False, worker_redirect_stdouts=False,
        beat_max_loop_interval=cluster.scheduler_tick_seconds,
    )
    app.nugo_cluster = cluster
    return app


def cluster_of(app: Celery) -> Cluster:
    """The cluster settings a task runs with (loaded again in a worker that was started from a config path)."""
    cluster = getattr(app, "nugo_cluster", None)
    if cluster is None:
        cluster = app.nugo_cluster = load_cluster()
    return cluster
