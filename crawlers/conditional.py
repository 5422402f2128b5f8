"""Conditional GET for board list pages on recrawls (ETag / Last-Modified kept in Redis)."""
from __future__ import annotations

import json

from crawlers.spider import validators_key


class ConditionalGetMiddleware:
    """Adds If-None-Match / If-Modified-Since to GET list pages of boards seen in earlier runs."""

    def process_request(self, request, spider):
        if request.method != "GET" or request.meta.get("role") != "list" or request.meta.get("page_refresh"):
            return None
        site = spider.site_for(request.meta["run_id"])
        if site["kind"] != "board":
            return None
        raw = spider.client.hget(validators_key(spider.prefix, site.id), request.url)
        if raw:
            validators = json.loads(raw)
            if validators.get("etag"):
                request.headers.setdefault("If-None-Match", validators["etag"])
            if validators.get("last_modified"):
                request.headers.setdefault("If-Modified-Since", validators["last_modified"])
        return None
