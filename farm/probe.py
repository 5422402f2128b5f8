"""A reader of site definitions that is not the crawler: walks a farm site as its YAML says, over plain HTTP.

Tests use it to check that every YAML of conf/sites/farm yields exactly the farm's manifest. It reads
pages with the engine's pure extraction functions (`crawlers.walk`), in one process, with no Redis, no
politeness and no retries; robots.txt is obeyed.
"""
from __future__ import annotations

import urllib.error
import urllib.request
import urllib.robotparser
from urllib.parse import urljoin

from crawlers.walk import walk


def fetch(request: dict, timeout: float = 10) -> tuple[int, bytes, str]:
    data = request["body"].encode() if request["method"] == "POST" else None
    req = urllib.request.Request(request["url"], data=data, method=request["method"], headers=request.get("headers") or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "")


def read_site(spec: dict, max_pages: int = 2000) -> list[dict]:
    """Every record the definition yields (the engine's staff rows and posts, detail pages read)."""
    robots = urllib.robotparser.RobotFileParser(urljoin(spec["base_url"], "/robots.txt"))
    robots.read()
    return walk(spec, fetch, max_list_pages=max_pages, allowed=lambda url: robots.can_fetch("*", url)).records
