"""Scrapy settings of a worker, derived from the cluster configuration in one place."""
from __future__ import annotations

from conf.loader import Cluster
from crawlers.links import own_hosts


def scrapy_settings(cluster: Cluster, redis_url: str, *, exit_when_idle: bool = False, concurrency: int = 16) -> dict:
    return {
        "BOT_NAME": "nugo",
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "SCHEDULER_QUEUE_CLASS": "crawlers.queue.LeasedQueue",
        "SCHEDULER_SERIALIZER": "crawlers.serializer",
        "SCHEDULER_PERSIST": True,  # never flush the shared queue when one worker closes
        "DUPEFILTER_CLASS": "crawlers.queue.NoDupeFilter",  # dedup is per run, inside the frontier
        "REDIS_URL": redis_url,
        "NUGO_REDIS_PREFIX": cluster.key_prefix,
        "NUGO_LEASE_SECONDS": cluster.lease_seconds,
        "NUGO_LEASE_RENEW_SECONDS": cluster.lease_renew_seconds or cluster.lease_seconds / 3,
        "NUGO_RETRIES": cluster.retries,
        "NUGO_EXIT_WHEN_IDLE": exit_when_idle,
        "NUGO_OWN_HOSTS": sorted(own_hosts(cluster)),
        # Politeness is cluster-wide in the frontier; nothing per process may add to or undo it.
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "ROBOTSTXT_OBEY": False,  # robots.txt is read once per run at seeding and applied before queueing
        "CONCURRENT_REQUESTS": concurrency,
        # The spider yields nothing (records and requests leave through Redis), but Scrapy starts
        # CONCURRENT_ITEMS asyncio tasks per response to process its output: at the default 100 they were
        # the largest CPU cost of a worker (bench/bench_crawl.py, docs/BENCHMARKS.md "Crawl").
        "CONCURRENT_ITEMS": 1,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        # Retries and redirects go back through the frontier, so they are polite and leased too.
        "RETRY_ENABLED": False,
        "REDIRECT_ENABLED": False,
        "METAREFRESH_ENABLED": False,
        "HTTPERROR_ALLOW_ALL": True,
        "COOKIES_ENABLED": False,
        "DOWNLOAD_TIMEOUT": cluster.download_timeout,
        "DOWNLOAD_MAXSIZE": cluster.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "USER_AGENT": cluster.user_agent,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        # the send gate is the download handler itself: the slot is claimed just before the request leaves
        "DOWNLOAD_HANDLERS": {"http": "crawlers.politeness.PoliteDownloadHandler",
                              "https": "crawlers.politeness.PoliteDownloadHandler"},
        "DOWNLOADER_MIDDLEWARES": {
            "crawlers.links.LinkPolicyMiddleware": 100,  # the policy again, at fetch time (DNS may have changed)
            "crawlers.conditional.ConditionalGetMiddleware": 550,
        },
    }
