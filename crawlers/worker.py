"""Crawl worker processes: each runs the generic spider against the shared frontier.

`run_worker` is one worker (a process of its own). On SIGTERM or SIGINT it returns every lease it holds
and frees its send slots at once, then stops (the requests in flight are fetched again elsewhere; nothing
waits for `lease_seconds`). Over its memory cap it does the same and exits with EXIT_RESTART.

`Supervisor` runs N workers on this PC (`nugo worker -n N`): their logs go to its terminal (or a file),
a worker that dies or hits its memory cap is restarted, and SIGTERM/SIGINT stop every one of them.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from conf.heartbeat import beat
from conf.loader import load_cluster

logger = logging.getLogger(__name__)

EXIT_RESTART = 75     # a worker that asks to be restarted (memory cap)
STOP_GRACE = 5.0      # seconds a stopping worker may take after its leases are back, before it is ended
MEMORY_CHECK = 10.0   # seconds between two looks at a worker's memory


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def run_worker(conf: str | None, redis_url: str, *, exit_when_idle: bool = False, concurrency: int = 16,
               max_memory_mb: float | None = None) -> int:
    """Run one worker in this process until stopped (or until idle, when asked); returns the exit code."""
    from scrapy.crawler import CrawlerProcess

    from crawlers.settings import scrapy_settings
    from crawlers.spider import FrontierSpider

    # Parsing runs in threads; a short GIL switch interval keeps the reactor thread (which sends) on time.
    sys.setswitchinterval(0.001)
    cluster = load_cluster(conf)
    cap = cluster.crawl_worker_max_memory_mb if max_memory_mb is None else max_memory_mb
    process = CrawlerProcess(scrapy_settings(cluster, redis_url, exit_when_idle=exit_when_idle, concurrency=concurrency),
                             install_root_handler=True)
    crawler = process.create_crawler(FrontierSpider)
    outcome = {"code": 0, "stopping": False}

    def stop(reason: str, code: int = 0) -> None:
        if outcome["stopping"]:
            logger.warning("second stop request: ending now")
            os._exit(code or 1)
        outcome.update(stopping=True, code=code)
        logger.warning("%s: stopping", reason)
        spider = getattr(crawler, "spider", None)
        if spider is not None:
            spider.stop_now()
        threading.Timer(STOP_GRACE, lambda: os._exit(code)).start()  # leases are back: no need to wait long
        from twisted.internet import reactor  # installed by the time a signal can arrive

        reactor.callFromThread(process.stop)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop(signal.Signals(signum).name))

    def check_memory() -> None:
        used = _rss_mb()
        spider = getattr(crawler, "spider", None)
        if spider is not None:
            try:
                beat(spider.client, spider.prefix, "crawl", memory_mb=round(used, 1))
            except Exception:  # noqa: BLE001 - Redis down: the worker waits for it anyway
                pass
        if cap and used > cap and not outcome["stopping"]:
            stop(f"memory {used:.0f} MB over the cap of {cap:.0f} MB (restart)", EXIT_RESTART)

    def watch_memory() -> None:  # once the engine runs, so on the reactor Scrapy installed
        from twisted.internet import task

        crawler.memory_watch = task.LoopingCall(check_memory)
        crawler.memory_watch.start(MEMORY_CHECK, now=True)

    from scrapy import signals

    crawler.signals.connect(watch_memory, signal=signals.engine_started)
    process.crawl(crawler)
    process.start(install_signal_handlers=False)
    return outcome["code"]


def worker_command(*, conf: str | None = None, exit_when_idle: bool = False, concurrency: int = 16) -> list[str]:
    args = [sys.executable, "-m", "crawlers.worker", "--concurrency", str(concurrency)]
    if conf:
        args += ["--conf", conf]
    if exit_when_idle:
        args.append("--exit-when-idle")
    return args


def start_workers(count: int, redis_url: str, *, conf: str | None = None, exit_when_idle: bool = False,
                  log_dir: str | None = None, log_file: str | None = None, concurrency: int = 16) -> list[subprocess.Popen]:
    """Start `count` worker processes on this machine; the Redis URL travels in the environment, not argv.
    Logs: one file per worker in `log_dir`, or all in `log_file`, or this process's stdout/stderr."""
    env = {**os.environ, "NUGO_REDIS_URL": redis_url}  # read by conf/env.py in the child
    procs = []
    for n in range(count):
        procs.append(_spawn(worker_command(conf=conf, exit_when_idle=exit_when_idle, concurrency=concurrency), env,
                            os.path.join(log_dir, f"worker-{n}.log") if log_dir else log_file))
    return procs


def _spawn(args: list[str], env: dict, log_path: str | None) -> subprocess.Popen:
    out = open(log_path, "ab") if log_path else None  # None: inherit the terminal (or the journal)
    try:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT if out else None,
                                stdin=subprocess.DEVNULL)
    finally:
        if out is not None:
            out.close()


class Supervisor:
    """N crawl workers on this PC: restarted when they die, all stopped on SIGTERM/SIGINT."""

    def __init__(self, count: int, redis_url: str, *, conf: str | None = None, concurrency: int = 16,
                 exit_when_idle: bool = False, log_file: str | None = None, on_death: Callable[[int], None] | None = None):
        """`on_death(pid)`: called for a worker that died, before its replacement starts (crawlers.reclaim)."""
        self.on_death = on_death
        self.args = worker_command(conf=conf, exit_when_idle=exit_when_idle, concurrency=concurrency)
        self.env = {**os.environ, "NUGO_REDIS_URL": redis_url}
        self.count, self.exit_when_idle, self.log_file = count, exit_when_idle, log_file
        self.procs: list[subprocess.Popen | None] = [None] * count
        self.stopping = threading.Event()
        self.restarts: list[float] = []

    def start(self) -> "Supervisor":
        for n in range(self.count):
            self.procs[n] = _spawn(self.args, self.env, self.log_file)
        return self

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p is not None]

    def run(self, poll: float = 0.5) -> int:
        """Watch the workers until stopped; returns 0 (or 1 when workers kept crashing)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        while not self.stopping.wait(poll):
            alive = 0
            for n, proc in enumerate(self.procs):
                if proc is None:
                    continue
                code = proc.poll()
                if code is None:
                    alive += 1
                    continue
                if self.exit_when_idle and code == 0:
                    self.procs[n] = None
                    continue
                self._reclaim(proc.pid)
                self._restart(n, code)
                alive += 1
            if not alive:
                break
        self.stop()
        return 0

    def _reclaim(self, pid: int) -> None:
        if self.on_death is None:
            return
        try:
            self.on_death(pid)
        except Exception as exc:  # Redis away: the slots and leases come back by expiry instead
            logger.warning("작업자 %d의 작업을 바로 돌려놓지 못함 (%s) / could not reclaim worker %d: %s", pid, exc, pid, exc)

    def _restart(self, n: int, code: int) -> None:
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < 60] + [now]
        if len(self.restarts) > 3 * self.count:
            logger.error("크롤 작업자가 1분에 %d번 재시작됨: 30초 기다립니다 / workers keep dying; waiting 30 s", len(self.restarts))
            if self.stopping.wait(30):
                return
        why = "memory cap" if code == EXIT_RESTART else f"exit code {code}"
        logger.warning("크롤 작업자 %d 재시작 (%s) / restarting crawl worker %d (%s)", n, why, n, why)
        self.procs[n] = _spawn(self.args, self.env, self.log_file)

    def stop(self, timeout: float = STOP_GRACE + 10) -> None:
        """SIGTERM to every worker (each returns its leases at once), then SIGKILL what is left."""
        stop_processes([p for p in self.procs if p is not None], timeout)


def stop_processes(procs: list[subprocess.Popen], timeout: float) -> None:
    """One SIGTERM to each running process (a second one makes Scrapy stop uncleanly), then SIGKILL what is
    still running after `timeout` seconds in all."""
    live = [p for p in procs if p.poll() is None]
    for proc in live:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in live:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one crawl worker (use `nugo worker -n N` to start several)")
    parser.add_argument("--conf")
    parser.add_argument("--exit-when-idle", action="store_true")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    os.umask(0o077)
    from conf.connection import redis_url

    url = redis_url(load_cluster(args.conf))
    sys.exit(run_worker(args.conf, url, exit_when_idle=args.exit_when_idle, concurrency=args.concurrency))


if __name__ == "__main__":
    main()
