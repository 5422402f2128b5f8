"""Redis state of the pages: per-official link tokens, one-time form tokens, rate limits, recent proofs.

Every key is under `{prefix}:visit:` and holds JSON or plain strings (never pickle); what is read back is
validated before use. The table of keys is in docs/VISITS.md.
"""
from __future__ import annotations

import json
import logging
import re
import secrets

import redis

from conf import token_map

from conf.keys import template

logger = logging.getLogger(__name__)

# The Redis keys of 요있다, from the cluster's one key table (conf/keys.py; docs/VISITS.md lists them too).
KEYS = {
    "links": template("visit:links"),
    "links_by_official": template("visit:links:by_official"),
    "form": template("visit:form:{form_token}"),
    "last": template("visit:last:{official}"),
    "hour": template("visit:hour:{official}:{hour}"),
    "recent": template("visit:recent:{official}"),
}


def redis_key(name: str, prefix: str, **parts) -> str:
    return KEYS[name].format(prefix=prefix, **parts)


TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
OFFICIAL_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")



def _text(value) -> str | None:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class VisitState:
    """The Redis keys of 요있다 for one cluster prefix."""

    def __init__(self, client: redis.Redis, prefix: str):
        self.client = client
        self.prefix = prefix
        self.links = redis_key("links", prefix)
        self.links_by_official = redis_key("links_by_official", prefix)

    # --- personal links -------------------------------------------------------

    def link_token(self, official_id: str, new: bool = False) -> str:
        """The official's link token, created on first use; `new` replaces it (the old link stops working)."""
        keys = [self.links, self.links_by_official]
        return (token_map.replace if new else token_map.ensure)(self.client, keys, official_id)

    def official_for(self, token: str) -> str | None:
        """The official id a link token belongs to; None for a malformed, unknown or replaced token."""
        if not TOKEN.fullmatch(token or ""):
            return None
        official = _text(self.client.hget(self.links, token))
        return official if official and OFFICIAL_ID.fullmatch(official) else None

    # --- one-time form tokens -------------------------------------------------

    def form_token(self, official_id: str, ttl: int) -> str:
        token = secrets.token_urlsafe(24)
        self.client.set(redis_key("form", self.prefix, form_token=token), official_id, ex=ttl)
        return token

    def use_form_token(self, token: str, official_id: str) -> bool:
        """True once for a token handed to this official's page and still valid; it is spent either way."""
        if not TOKEN.fullmatch(token or ""):
            return False
        return _text(self.client.getdel(redis_key("form", self.prefix, form_token=token))) == official_id

    # --- recent proofs (to show again on the phone) ---------------------------

    def remember(self, official_id: str, index: int, text: str, keep: int, days: int) -> None:
        key = redis_key("recent", self.prefix, official=official_id)
        pipe = self.client.pipeline()
        pipe.lpush(key, json.dumps({"index": index, "proof": text}))
        pipe.ltrim(key, 0, keep - 1)
        pipe.expire(key, days * 86400)
        pipe.execute()

    def recent(self, official_id: str, keep: int) -> list[tuple[int, str]]:
        """(ledger index, proof text) of the official's recent proofs, newest first; malformed items skipped."""
        out = []
        for raw in self.client.lrange(redis_key("recent", self.prefix, official=official_id), 0, keep - 1):
            try:
                item = json.loads(raw)
                index, text = item["index"], item["proof"]
            except (ValueError, KeyError, TypeError):
                logger.warning("skipping a malformed recent proof of %s", official_id)
                continue
            if isinstance(index, int) and not isinstance(index, bool) and index >= 0 and isinstance(text, str) \
                    and len(text) < 4000:
                out.append((index, text))
        return out
