"""Alerts in Redis: once per (official, post), only for posts first seen after the topic's start.

Keys (P = the cluster prefix):

- ``P:notifier:posts``              hash post id -> post JSON (snapshot at the first alert; shared)
- ``P:notifier:alerts:{official}``  sorted set post id -> first_seen (epoch seconds)
- ``P:notifier:hits:{official}``    hash post id -> {"topics": [...], "terms": [...]} JSON
- ``P:notifier:modified``           hash official -> epoch seconds of its last new alert (Last-Modified)
- ``P:notifier:since``              hash official -> explicit `since` of the YAML (epoch seconds)
- ``P:notifier:topic_start``        hash "official<US>topic" -> when the notifier first saw the topic
- ``P:notifier:pending:{official}`` sorted set of alerts not yet sent by e-mail (see notifier.digest)
- ``P:notifier:sent:{official}``    set of post ids already sent by e-mail
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from collections.abc import Iterable

import redis

from conf.keys import Keys

from notifier.subscription import Subscription
from notifier.tokens import ensure_tokens
from index.text import clean, fold
from notifier.text import from_epoch, parse_time

logger = logging.getLogger(__name__)

_US = "\x1f"
REPOST_WINDOW_DAYS = 14  # a post re-published with the same title within this window is one alert

_RECORD = """
if redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
local old = tonumber(redis.call('HGET', KEYS[5], ARGV[5]) or '0')
if tonumber(ARGV[6]) > old then redis.call('HSET', KEYS[5], ARGV[5], ARGV[6]) end
return 1
"""


def _key(prefix: str, name: str, official: str | None = None) -> str:
    return Keys(prefix).notifier(name, official)


def _official_id(official: str | Subscription) -> str:
    return official.id if isinstance(official, Subscription) else official


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def loaded_at(subscription: Subscription, default: float) -> float:
    """When the official's file was written (sub-second): a topic found in it began then, not when a later
    index commit first met it. The file's change time, or `default` for subscriptions without a file."""
    try:
        return os.stat(subscription.file).st_mtime_ns / 1e9 if subscription.file else default
    except OSError:
        return default


def register(client: redis.Redis, prefix: str, subscriptions: Iterable[Subscription], now: float | None = None,
             chunk: int = 10_000) -> None:
    """Remember when each topic began (the change time of the file it was first found in, or `now` when
    given), the explicit `since` dates, and create feed tokens; the starts of topics removed are forgotten
    (a topic added again later begins again)."""
    subscriptions = list(subscriptions)
    fallback = time.time()
    since_key, start_key = _key(prefix, "since"), _key(prefix, "topic_start")
    current = set()
    for i in range(0, len(subscriptions), chunk):
        pipe = client.pipeline(transaction=False)
        for sub in subscriptions[i:i + chunk]:
            start = now if now is not None else min(loaded_at(sub, fallback), fallback)
            if sub.since is not None:
                pipe.hset(since_key, sub.id, repr(sub.since.timestamp()))
            else:
                pipe.hdel(since_key, sub.id)
            for topic in sub.topics:
                field = f"{sub.id}{_US}{topic.name}"
                current.add(field)
                pipe.hsetnx(start_key, field, repr(start))
        pipe.execute()
        ensure_tokens(client, prefix, [s.id for s in subscriptions[i:i + chunk]])
    officials = {s.id for s in subscriptions}
    stale = [f for f in (_text(k) for k in client.hkeys(start_key))
             if f.split(_US, 1)[0] in officials and f not in current]
    if stale:
        client.hdel(start_key, *stale)


class AlertStore:
    """Alerts of every official; see the module docstring for the keys."""

    def __init__(self, client: redis.Redis, prefix: str, repost_window_days: float = REPOST_WINDOW_DAYS):
        self.client = client
        self.prefix = prefix
        self.repost_window = float(repost_window_days) * 86400
        self._record = client.register_script(_RECORD)

    def key(self, name: str, official: str | None = None) -> str:
        return _key(self.prefix, name, official)

    def starts(self, pairs: list[tuple[str, str]], now: float) -> dict[tuple[str, str], float]:
        """Start time of each (official, topic); a topic never registered starts now."""
        officials = sorted({o for o, _ in pairs})
        since = dict(zip(officials, self.client.hmget(self.key("since"), officials))) if officials else {}
        fields = [f"{o}{_US}{t}" for o, t in pairs]
        started = self.client.hmget(self.key("topic_start"), fields) if fields else []
        out = {}
        for (official, topic), field, value in zip(pairs, fields, started):
            if since.get(official) is not None:
                out[(official, topic)] = float(since[official])
            elif value is not None:
                out[(official, topic)] = float(value)
            else:
                self.client.hsetnx(self.key("topic_start"), field, repr(now))
                out[(official, topic)] = float(self.client.hget(self.key("topic_start"), field))
        return out

    def record(self, matches: Iterable, posts: Iterable[dict], now: float | None = None) -> int:
        """Store the alerts of `matches` (official, topic, post id, terms); returns how many are new. A post
        re-published on the same board with the same title within the repost window is no new alert: the
        first one notes it (재게시) and is shown again as changed."""
        now = time.time() if now is None else now
        by_id = {post["id"]: post for post in posts}
        grouped: dict[tuple[str, str], dict] = {}
        for official, topic, post_id, terms in matches:
            if post_id not in by_id:
                logger.warning("match for unknown post %s ignored", post_id)
                continue
            entry = grouped.setdefault((official, post_id), {"topics": [], "terms": []})
            entry["topics"].append(topic)
            entry["terms"] += [t for t in terms if t not in entry["terms"]]
        if not grouped:
            return 0
        starts = self.starts(sorted({(o, t) for (o, _), e in grouped.items() for t in e["topics"]}), now)
        pipe = self.client.pipeline(transaction=False)
        count = 0
        for (official, post_id), entry in grouped.items():
            post = by_id[post_id]
            seen = parse_time(post.get("first_seen"), dt.timezone.utc)
            score = seen.timestamp() if seen else now
            topics = [t for t in entry["topics"] if score >= starts[(official, t)]]
            if not topics:
                continue
            if self._repost(official, post, score, now):
                continue
            snapshot = dict(post)
            snapshot.setdefault("first_seen", from_epoch(score).isoformat())
            hit = json.dumps({"topics": topics, "terms": entry["terms"]}, ensure_ascii=False)
            keys = [self.key("alerts", official), self.key("hits", official), self.key("posts"),
                    self.key("pending", official), self.key("modified")]
            self._record(keys=keys, args=[post_id, repr(score), hit, json.dumps(snapshot, ensure_ascii=False),
                                          official, repr(now)], client=pipe)
            count += 1
        new = sum(pipe.execute()) if count else 0
        logger.info("recorded %d new alert(s) of %d match(es)", new, len(grouped))
        return new

    def _repost(self, official: str, post: dict, score: float, now: float) -> bool:
        """Whether `post` repeats an alert of the official (same board, same normalized title, within the
        window); if so, the first alert records it and its feed entry changes."""
        if not self.repost_window or not post.get("title"):
            return False
        field = f"{post.get('site')}{_US}{fold(clean(post.get('title')))}"
        titles = self.key("titles", official)
        raw = self.client.hget(titles, field)
        first = json.loads(raw) if raw else None
        if first is None or first["id"] == post["id"] or score - first["at"] > self.repost_window:
            if first is None or first["id"] != post["id"]:
                self.client.hset(titles, field, json.dumps({"id": post["id"], "at": score}))
            return False
        hits = self.key("hits", official)
        held = json.loads(self.client.hget(hits, first["id"]) or "{}")
        reposts = held.setdefault("reposts", [])
        if post["id"] not in {r["id"] for r in reposts}:
            reposts.append({"id": post["id"], "url": post.get("url"), "first_seen": from_epoch(score).isoformat()})
            pipe = self.client.pipeline()
            pipe.hset(hits, first["id"], json.dumps(held, ensure_ascii=False))
            pipe.hset(self.key("modified"), official, repr(now))
            pipe.execute()
            logger.info("post %s of %s repeats %s (재게시): one alert", post["id"], official, first["id"])
        return True

    def alerts(self, official: str | Subscription, topic: str | None = None, limit: int = 50) -> list[dict]:
        """Newest first (by first_seen): post dict + `topics`, `terms`, `first_seen`."""
        official = _official_id(official)
        out: list[dict] = []
        start, chunk = 0, max(limit, 50) if topic is None else max(limit * 4, 200)
        while len(out) < limit:
            rows = self.client.zrevrange(self.key("alerts", official), start, start + chunk - 1, withscores=True)
            if not rows:
                break
            start += len(rows)
            out += [a for a in self.load(official, rows) if topic is None or topic in a["topics"]]
        return out[:limit]

    def load(self, official: str, rows: list[tuple]) -> list[dict]:
        """Alert dicts of (post id, score) rows, in the given order."""
        ids = [_text(post_id) for post_id, _ in rows]
        if not ids:
            return []
        posts = self.client.hmget(self.key("posts"), ids)
        hits = self.client.hmget(self.key("hits", official), ids)
        out = []
        for (post_id, score), post, hit in zip(rows, posts, hits):
            if post is None:
                continue
            alert = json.loads(post)
            alert.update(json.loads(hit) if hit else {"topics": [], "terms": []})
            alert.setdefault("first_seen", from_epoch(score).isoformat())
            alert["alert_score"] = float(score)
            out.append(alert)
        return out

    def count(self, official: str | Subscription) -> int:
        return self.client.zcard(self.key("alerts", _official_id(official)))

    def version(self, official: str | Subscription) -> tuple[int, str]:
        """(number of alerts, raw stamp of their last change) in one round trip: every change of an
        official's alerts adds one (the count grows) or moves the stamp (a 재게시 note), so the pair
        changes whenever the feed's content can (the feed's ETag is derived from it)."""
        official = _official_id(official)
        pipe = self.client.pipeline(transaction=False)
        pipe.zcard(self.key("alerts", official))
        pipe.hget(self.key("modified"), official)
        count, stamp = pipe.execute()
        return int(count), _text(stamp) or ""

    def last_modified(self, official: str | Subscription) -> dt.datetime | None:
        """When the official's alerts last changed (for Last-Modified), or None without alerts."""
        value = self.client.hget(self.key("modified"), _official_id(official))
        return from_epoch(float(value)) if value is not None else None
