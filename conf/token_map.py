"""A two-way map of secret tokens in Redis: token -> owner and owner -> token, two hashes kept consistent
by one script each (feed and personal-page tokens of officials, 요있다's personal links)."""
from __future__ import annotations

import secrets

import redis

_ENSURE = """
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then return existing end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return ARGV[2]
"""

_REPLACE = """
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then redis.call('HDEL', KEYS[1], old) end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return ARGV[2]
"""


def new_token() -> str:
    """An unguessable token (24 random bytes, URL-safe)."""
    return secrets.token_urlsafe(24)


def _text(value) -> str | None:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def ensure(client, keys: list[str], owner: str) -> str:
    """The owner's token, created atomically when it has none (`keys`: [token -> owner, owner -> token]).
    `client` may be a pipeline (the result then comes from its execute())."""
    return _text(client.eval(_ENSURE, 2, *keys, owner, new_token()))


def replace(client: redis.Redis, keys: list[str], owner: str) -> str:
    """A new token for the owner; the old one stops working at once."""
    return _text(client.eval(_REPLACE, 2, *keys, owner, new_token()))
