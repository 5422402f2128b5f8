"""A whole cluster on this machine for a test: real Celery workers, a real scheduler, crawl workers and the web,
each a process of its own (`python -m workers.cli …`), over a real redis-server and the site farm."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from conf.loader import load_cluster
from crawlers.frontier import Frontier

ROOT = Path(__file__).resolve().parent.parent
FARM_SITES = ROOT / "conf" / "sites" / "farm"


class ClusterKit:
    """cluster.yaml with short schedules for the chosen farm sites; processes started by name, logs in tmp."""

    def __init__(self, tmp: Path, farm, redis, sites: list[str], *, board: str = "every 10s",
                 directory: str = "every 20s", extra: str = "", subscriptions: str | None = None):
        self.tmp, self.farm, self.redis = Path(tmp), farm, redis
        folder = self.tmp / "sites"
        folder.mkdir(parents=True, exist_ok=True)
        for site in sites:
            shutil.copy(FARM_SITES / f"{site}.yaml", folder / f"{site}.yaml")
        subs = self.tmp / "subscriptions.yaml"
        subs.write_text(subscriptions or "officials: []\n", encoding="utf-8")
        self.conf = self.tmp / "cluster.yaml"
        self.conf.write_text(
            f"data_dir: {self.tmp / 'data'}\nsites_dirs: [{folder}]\nsubscriptions: {subs}\ndefault_interval: 0.05\n"
            f"lease_seconds: 10\ndownload_timeout: 10\nretries: 1\ndirectory_schedule: \"{directory}\"\n"
            f"board_schedule: \"{board}\"\nindex_schedule: \"every 2s\"\nhousekeeping_schedule: \"every 2s\"\n"
            f"scheduler_tick_seconds: 0.5\ncelery_visibility_timeout: 15\nweb: {{host: 127.0.0.1, port: 8080}}\n{extra}",
            encoding="utf-8")
        self.cluster = load_cluster(self.conf)
        self.client = redis.client()
        self.frontier = Frontier(self.client, self.cluster.key_prefix, self.cluster.lease_seconds)
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = {**os.environ, "NUGO_REDIS_URL": redis.url, "NUGO_FARM_PORT": str(farm.port),
                    "PYTHONPATH": str(ROOT)}
        self.env.pop("NUGO_DATA_DIR", None)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "workers.cli", "--conf", str(self.conf), "-v", *args]

    def start(self, name: str, *args: str, env: dict | None = None) -> subprocess.Popen:
        """Start `nugo ARGS` in a session of its own (so a whole Celery worker can be killed as a PC dies)."""
        log = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen(self.command(*args), env={**self.env, **(env or {})}, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def start_cluster(self, *, crawl_workers: int = 1, scheduler: bool = True) -> None:
        """Crawl workers, the index writer (queue index, concurrency 1), a Celery worker for the other queues
        and — once the workers are up — the scheduler, as on the head PC."""
        if crawl_workers:
            self.start("crawl", "worker", "-n", str(crawl_workers))
        self.start("index", "celery-worker", "--queues", "index", "--concurrency", "1")
        self.start("celery", "celery-worker", "--queues", "crawl,notify,housekeeping", "--concurrency", "2")
        self.wait(lambda: len([k for k in self.client.scan_iter(match=f"{self.cluster.key_prefix}:heartbeat:celery:*")]) >= 2
                  and (not crawl_workers or any(self.client.scan_iter(match=f"{self.cluster.key_prefix}:heartbeat:crawl:*"))),
                  timeout=90, what="the workers' heartbeats")
        if scheduler:
            self.scheduler_started = time.time()
            self.start("scheduler", "scheduler")

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def kill(self, name: str) -> None:
        """kill -9 of the process and all its children (a PC switched off)."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()

    def status(self) -> dict:
        out = subprocess.run(self.command("status", "--json"), env=self.env, capture_output=True, text=True, timeout=60)
        return json.loads(out.stdout)

    def runs(self, site: str, n: int = 50) -> list[dict]:
        return self.frontier.latest_runs(site, n)

    def wait(self, condition, timeout: float = 120, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            assert time.monotonic() < deadline, f"timed out waiting for {what}; logs in {self.tmp}"
            time.sleep(0.25)
