"""Requests as the JSON dicts that cross Redis, and a site's first requests."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urljoin


def spec_of(site: Any) -> dict:
    return site.spec if hasattr(site, "spec") else site


def make_request(url: str, method: str = "GET", formdata: dict | None = None, **meta) -> dict:
    """A request as the JSON dict that crosses Redis."""
    request = {"url": url, "method": method, "headers": {}, "body": "", "meta": dict(meta)}
    if method == "POST":
        request["headers"]["Content-Type"] = "application/x-www-form-urlencoded"
        request["body"] = urlencode(formdata or {})
        request["meta"]["formdata"] = dict(formdata or {})
    return request


def start_requests(site: Any) -> list[dict]:
    spec = spec_of(site)
    return [make_request(urljoin(spec["base_url"], r["url"]), r["method"], r["formdata"], role="list", depth=0)
            for r in spec["start"]]
