"""Crawl worker processes: each runs the generic spider against the shared frontier."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

from conf.loader import load_cluster


def run_worker(conf: str | None, redis_url: str, *, exit_when_idle: bool = False, concurrency: int = 16) -> None:
    """Run one worker in this process until stopped (or until idle, when asked)."""
    from scrapy.crawler import CrawlerProcess

    from crawlers.settings import scrapy_settings
    from crawlers.spider import FrontierSpider

    # Parsing runs in threads; a short GIL switch interval keeps the reactor thread (which sends) on time.
    sys.setswitchinterval(0.001)
    cluster = load_cluster(conf)
    process = CrawlerProcess(scrapy_settings(cluster, redis_url, exit_when_idle=exit_when_idle, concurrency=concurrency),
                             install_root_handler=True)
    process.crawl(FrontierSpider)
    process.start()


def start_workers(count: int, redis_url: str, *, conf: str | None = None, exit_when_idle: bool = False,
                  log_dir: str | None = None, concurrency: int = 16) -> list[subprocess.Popen]:
    """Start `count` worker processes on this machine; the Redis URL travels in the environment, not argv."""
    env = {**os.environ, "NUGO_REDIS_URL": redis_url}  # read by conf/env.py in the child
    procs = []
    for n in range(count):
        args = [sys.executable, "-m", "crawlers.worker", "--concurrency", str(concurrency)]
        if conf:
            args += ["--conf", conf]
        if exit_when_idle:
            args.append("--exit-when-idle")
        out = open(os.path.join(log_dir, f"worker-{n}.log"), "ab") if log_dir else subprocess.DEVNULL
        procs.append(subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
    return procs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one crawl worker (use `nugo worker -n N` to start several)")
    parser.add_argument("--conf")
    parser.add_argument("--exit-when-idle", action="store_true")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    from conf.connection import redis_url

    url = redis_url(load_cluster(args.conf))
    run_worker(args.conf, url, exit_when_idle=args.exit_when_idle, concurrency=args.concurrency)


if __name__ == "__main__":
    main()
