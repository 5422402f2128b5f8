"""robots.txt, fetched once per run at seeding and shared with every worker through Redis."""
from __future__ import annotations

import logging
import secrets
import time
import urllib.error
import urllib.request
from functools import lru_cache
from urllib.parse import urlsplit

from protego import Protego

from conf.keys import Keys

logger = logging.getLogger(__name__)
ROBOTS_TTL = 24 * 3600


def robots_key(prefix: str, host: str) -> str:
    return Keys(prefix).robots(host)


def fetch_robots(base_url: str, user_agent: str, timeout: float = 10.0) -> str:
    """The robots.txt text of a site; empty (allow all) when it has none or cannot be read."""
    url = base_url.rstrip("/") + "/robots.txt"
    request = urllib.request.Request(url, headers={"User-Agent": user_agent})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read(512_000).decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            logger.warning("%s answered %s: treating the whole site as disallowed", url, exc.code)
            return "User-agent: *\nDisallow: /\n"
        return ""
    except (urllib.error.URLError, OSError) as exc:
        logger.warning("robots.txt of %s unreadable (%s): allowing all", base_url, exc)
        return ""


def fetch_robots_politely(client, prefix: str, frontier, scheme: str, host: str, user_agent: str, *,
                          timeout: float = 10.0, interval_after=None, max_wait: float = 300.0) -> str:
    """robots.txt of `host`, fetched through the cluster's send gate like every other request to it: not
    while another request to the host is in flight, not sooner than its interval after the last one; the
    next request waits its interval after this one (`interval_after(text)` sets that interval first, so a
    Crawl-delay already applies to the first page)."""
    from crawlers.politeness import SendGate, slot_seconds

    token = secrets.token_hex(8)
    slot = slot_seconds(timeout)
    gate = SendGate(client, prefix, frontier, slot_seconds=slot)
    deadline = time.monotonic() + max_wait
    while True:
        wait = gate.claim(host, token)
        if wait <= 0:
            break
        if time.monotonic() + wait > deadline:
            logger.warning("robots.txt of %s: the host stayed busy for %.0f s; fetching anyway", host, max_wait)
            token = None
            break
        time.sleep(min(wait, 1.0))
    text = ""
    try:
        text = fetch_robots(f"{scheme}://{host}", user_agent, timeout=timeout)
    finally:
        if interval_after is not None:
            interval_after(text)
        if token:  # a fresh gate reads the interval just set; the start is recorded at the finish
            SendGate(client, prefix, frontier, slot_seconds=slot).release(host, token)
    return text


def store_robots(client, prefix: str, host: str, text: str) -> None:
    client.set(robots_key(prefix, host), text, ex=ROBOTS_TTL)


@lru_cache(maxsize=1024)
def _parse(text: str) -> Protego:
    return Protego.parse(text)


def crawl_delay(text: str, user_agent: str) -> float | None:
    delay = _parse(text).crawl_delay(user_agent)
    return float(delay) if delay else None


class RobotsCache:
    """Per-process view of the robots rules stored in Redis."""

    def __init__(self, client, prefix: str, user_agent: str):
        self.client, self.prefix, self.user_agent = client, prefix, user_agent
        self._texts: dict[str, str] = {}

    def allowed(self, url: str) -> bool:
        host = urlsplit(url).netloc
        if host not in self._texts:
            raw = self.client.get(robots_key(self.prefix, host))
            self._texts[host] = raw.decode("utf-8", errors="replace") if raw else ""
        text = self._texts[host]
        return True if not text else _parse(text).can_fetch(url, self.user_agent)
