"""Fetching for one person at a terminal (`nugo try-site`, `nugo draft-site`): one request at a time, the site's
interval (or its robots.txt Crawl-delay) between them, robots.txt obeyed, only the site's own hosts."""
from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from protego import Protego

from crawlers.links import LinkPolicy
from crawlers.robots import fetch_robots

logger = logging.getLogger(__name__)

USER_AGENT = "nugo-bot/0.1 (+staff directory search for public officials)"
MAX_BYTES = 5_000_000


class Refused(OSError):
    """A request this fetcher will not send (robots.txt, another host, a private address)."""


class PoliteFetcher:
    """fetch(request dict) -> (status, body, content type), politely; `log` keeps (method, url, status)."""

    def __init__(self, spec: dict, *, interval: float = 1.0, user_agent: str = USER_AGENT, timeout: float = 20.0,
                 obey_robots: bool = True):
        self.spec, self.user_agent, self.timeout = spec, user_agent, timeout
        self.interval = float(spec.get("interval") or interval)
        self.policy = LinkPolicy(spec)
        self.obey_robots = obey_robots and spec.get("obey_robots", True)
        self._robots: dict[str, Protego | None] = {}
        self._last = 0.0
        self.log: list[tuple[str, str, int]] = []

    def _wait(self) -> None:
        left = self._last + self.interval - time.monotonic()
        if left > 0:
            time.sleep(left)

    def robots(self, url: str) -> Protego | None:
        parts = urlsplit(url)
        if parts.netloc not in self._robots:
            self._wait()
            text = fetch_robots(f"{parts.scheme}://{parts.netloc}", self.user_agent, timeout=min(10.0, self.timeout))
            self._last = time.monotonic()
            self.log.append(("GET", f"{parts.scheme}://{parts.netloc}/robots.txt", 200 if text else 0))
            rules = Protego.parse(text) if text else None
            delay = rules.crawl_delay(self.user_agent) if rules else None
            if delay and float(delay) > self.interval:
                self.interval = float(delay)
            self._robots[parts.netloc] = rules
        return self._robots[parts.netloc]

    def allowed(self, url: str) -> bool:
        if not self.obey_robots:
            return True
        rules = self.robots(url)
        return rules is None or rules.can_fetch(url, self.user_agent)

    def __call__(self, request: dict) -> tuple[int, bytes, str]:
        url = request["url"]
        reason = self.policy.refusal(url)
        if reason:
            raise Refused(f"not fetched: {reason}")
        if not self.allowed(url):
            raise Refused("not fetched: robots.txt disallows it")
        self._wait()
        data = (request.get("body") or "").encode() if request["method"] == "POST" else None
        headers = {"User-Agent": self.user_agent, **(request.get("headers") or {})}
        req = urllib.request.Request(url, data=data, method=request["method"], headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                body, status, ctype = response.read(MAX_BYTES), response.status, response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            body, status, ctype = exc.read(MAX_BYTES), exc.code, exc.headers.get("Content-Type", "")
        finally:
            self._last = time.monotonic()
        self.log.append((request["method"], url, status))
        return status, body, ctype
