"""`nugo up`: everything of a one-machine cluster in one command, stopped cleanly with Ctrl+C.

The embedded Redis (unless `redis_url` is set), the crawl workers, the index writer (a Celery worker on
the `index` queue, concurrency 1), a Celery worker for the other queues, the scheduler and the web
service — each a child process, restarted if it dies; SIGINT/SIGTERM stops them all (the crawl workers
return their leases at once). With a site farm (`--farm`, the demo), the farm runs in this process.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

STOP_SECONDS = 20


@dataclass
class Child:
    name: str
    args: list[str]
    proc: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)


class ProcessGroup:
    """Named child processes: started together, restarted when one dies, stopped together."""

    def __init__(self, env: dict):
        self.env = env
        self.children: list[Child] = []
        self.stopping = threading.Event()

    def add(self, name: str, args: list[str]) -> None:
        self.children.append(Child(name, args))

    def start(self) -> None:
        for child in self.children:
            child.proc = subprocess.Popen(child.args, env=self.env, stdin=subprocess.DEVNULL)

    def watch(self, poll: float = 1.0) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stopping.set())
        while not self.stopping.wait(poll):
            for child in self.children:
                if child.proc is not None and child.proc.poll() is not None:
                    now = time.monotonic()
                    child.restarts = [t for t in child.restarts if now - t < 60] + [now]
                    delay = 0 if len(child.restarts) < 3 else 10
                    print(f"[nugo up] {child.name} 종료(코드 {child.proc.returncode}): "
                          f"{'다시 시작' if not delay else f'{delay}초 뒤 다시 시작'}", file=sys.stderr, flush=True)
                    if delay and self.stopping.wait(delay):
                        break
                    child.proc = subprocess.Popen(child.args, env=self.env, stdin=subprocess.DEVNULL)
        self.stop()

    def stop(self) -> None:
        from crawlers.worker import stop_processes

        stop_processes([c.proc for c in reversed(self.children) if c.proc is not None], STOP_SECONDS)


def nugo(conf: str | None, *args: str) -> list[str]:
    return [sys.executable, "-m", "workers.cli", *(["--conf", conf] if conf else []), *args]


def run_up(conf: str | None, *, crawl_workers: int = 2, web_port: int | None = None, farm_port: int | None = None,
           news_every: float | None = None) -> int:
    """Start everything and watch it until Ctrl+C; returns the exit code."""
    from conf.connection import redis_url
    from conf.loader import load_cluster

    cluster = load_cluster(conf)
    url = redis_url(cluster)  # starts the embedded Redis when none is configured (it outlives `nugo up`)
    env = {**os.environ, "NUGO_REDIS_URL": url}
    farm = None
    if farm_port is not None:
        from farm import Farm

        farm = Farm(seed=1, port=farm_port).start()
        env["NUGO_FARM_PORT"] = str(farm.port)
    group = ProcessGroup(env)
    group.add("crawl workers", nugo(conf, "worker", "-n", str(crawl_workers)))
    group.add("index writer", nugo(conf, "celery-worker", "--queues", "index", "--concurrency", "1"))
    group.add("celery worker", nugo(conf, "celery-worker", "--queues", "crawl,notify,housekeeping", "--concurrency", "2"))
    group.add("scheduler", nugo(conf, "scheduler"))
    group.add("web", nugo(conf, "serve", *(["--port", str(web_port)] if web_port is not None else []), "--workers", "1"))
    root = cluster.public_url if web_port is None else cluster.public_url.rsplit(":", 1)[0] + f":{web_port}"
    print("누고 · 어딨노 클러스터를 이 PC에서 시작합니다 (Ctrl+C로 모두 멈춤)")
    print(f"  Redis      : {url.split('@')[-1]}{' (내장)' if not cluster.redis_url else ''}")
    if farm is not None:
        print(f"  사이트 농장: 포트 {farm.port}, 사이트 {len(farm.sites)}개")
    print(f"  검색       : {root}/?q=드론")
    print(f"  상태       : {root}/status   (명령: nugo status)")
    print(f"  일정       : 직원 명부 '{cluster.directory_schedule}', 게시판 '{cluster.board_schedule}' (Asia/Seoul)",
          flush=True)
    group.start()
    stop_news = threading.Event()
    if farm is not None and news_every:
        threading.Thread(target=_publish_news, args=(farm, news_every, stop_news), daemon=True).start()
    try:
        group.watch()
    finally:
        stop_news.set()
        if farm is not None:
            farm.stop()
    print("모두 멈췄습니다.")
    return 0


def _publish_news(farm, every: float, stop: threading.Event) -> None:
    import itertools

    from workers.demo import SAMPLE_NEWS

    for site_id, title, body in itertools.cycle(SAMPLE_NEWS):
        if stop.wait(every):
            return
        if site_id in {s["id"] for s in farm.sites}:
            farm.publish(site_id, title=title, body=body)
