"""The officials' tokens: a feed token (its feeds) and a management token (its personal page), each
unguessable, stable until rotated, and resolved to the official in one Redis lookup.

A feed URL handed to a reader never grants edits: the personal page has a token of its own.
"""
from __future__ import annotations

import redis

from conf import token_map
from conf.keys import Keys

KINDS = ("feed", "me")


def token_keys(prefix: str, kind: str = "feed") -> list[str]:
    """[token -> official id, official id -> token] of one kind of token."""
    keys = Keys(prefix)
    if kind == "feed":
        return [keys.feed_tokens, keys.feed_tokens_by_official]
    if kind == "me":
        return [keys.me_tokens, keys.me_tokens_by_official]
    raise ValueError(f"unknown token kind {kind!r}")


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def ensure_tokens(client: redis.Redis, prefix: str, official_ids: list[str], kind: str = "feed") -> dict[str, str]:
    """Official id -> token, creating missing tokens (atomically; stable afterwards)."""
    official_ids = list(dict.fromkeys(official_ids))
    if not official_ids:
        return {}
    keys = token_keys(prefix, kind)
    existing = client.hmget(keys[1], official_ids)
    tokens = {o: _text(t) for o, t in zip(official_ids, existing) if t}
    missing = [o for o in official_ids if o not in tokens]
    if missing:
        pipe = client.pipeline(transaction=False)
        for official in missing:
            token_map.ensure(pipe, keys, official)
        for official, token in zip(missing, pipe.execute()):
            tokens[official] = _text(token)
    return tokens


def rotate_token(client: redis.Redis, prefix: str, official, kind: str = "feed") -> str:
    """Give the official a new token; the old one stops working at once."""
    official_id = getattr(official, "id", official)
    return token_map.replace(client, token_keys(prefix, kind), official_id)


def official_for_token(client: redis.Redis, prefix: str, token: str, kind: str = "feed") -> str | None:
    """The official id a token belongs to, or None for an unknown (or rotated) token."""
    return _text(client.hget(token_keys(prefix, kind)[0], token))


def token_for(client: redis.Redis, prefix: str, official_id: str, kind: str = "feed") -> str | None:
    return _text(client.hget(token_keys(prefix, kind)[1], official_id))
