"""The long-running services of a PC, run in this process: the Celery scheduler and a Celery worker.

`nugo scheduler` and `nugo celery-worker` call these; `nugo up` (workers.up) starts them as child
processes together with the crawl workers and the web service.
"""
from __future__ import annotations

import logging
import threading

from celery import signals

from conf.heartbeat import beat, memory_mb
from conf.loader import Cluster
from workers.celery_app import QUEUES, make_celery

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10


def run_scheduler(cluster: Cluster, loglevel: str = "INFO") -> None:
    """Celery beat with the cluster scheduler (workers.beat): exactly one of them sends, whatever runs."""
    app = make_celery(cluster)
    app.Beat(scheduler="workers.beat:ClusterScheduler", max_interval=cluster.scheduler_tick_seconds,
             loglevel=loglevel, quiet=True).run()


def run_celery_worker(cluster: Cluster, queues: list[str], *, concurrency: int = 1, max_memory_mb: int | None = None,
                      max_tasks: int | None = None, loglevel: str = "INFO", name: str | None = None) -> None:
    """A Celery worker for `queues`; each child is replaced after `max_tasks` tasks or past `max_memory_mb`."""
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown:
        raise SystemExit(f"알 수 없는 큐: {', '.join(unknown)} (가능: {', '.join(QUEUES)})")
    app = make_celery(cluster)
    argv = ["worker", "-Q", ",".join(queues), "-c", str(concurrency), "-l", loglevel, "--without-gossip",
            "--without-mingle", "--without-heartbeat", "-n", name or f"{'-'.join(queues)}@%h"]
    if max_memory_mb:
        argv += ["--max-memory-per-child", str(int(max_memory_mb) * 1024)]
    if max_tasks:
        argv += ["--max-tasks-per-child", str(int(max_tasks))]
    _heartbeats(cluster, queues)
    app.worker_main(argv)


def _heartbeats(cluster: Cluster, queues: list[str]) -> None:
    """Once the worker is ready, a heartbeat every few seconds (with the memory of it and its children)."""
    stop = threading.Event()

    def loop():
        from conf.connection import redis_client

        client = redis_client(cluster, ping=False)
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                beat(client, cluster.key_prefix, "celery", queues=queues, memory_mb=memory_mb(children=True))
            except Exception:  # noqa: BLE001 - Redis down: the next beat will tell
                pass

    @signals.worker_ready.connect(weak=False)
    def started(**_):
        try:
            from conf.connection import redis_client

            beat(redis_client(cluster, ping=False), cluster.key_prefix, "celery", queues=queues,
                 memory_mb=memory_mb(children=True))
        except Exception:  # noqa: BLE001
            pass
        threading.Thread(target=loop, daemon=True, name="nugo-heartbeat").start()

    @signals.worker_shutdown.connect(weak=False)
    def stopping(**_):
        stop.set()
