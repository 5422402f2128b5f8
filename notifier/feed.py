"""RSS and Atom feeds of an official's alerts (feedgen), with ETag / Last-Modified helpers.

The bytes depend on stored data only: every date comes from the alerts (never "now"),
entries are sorted explicitly newest first, ids are the posts' stable ids. Crawled text
is cleaned of control characters; titles are plain text (feedgen escapes them) and the
description is HTML built from escaped text, so markup in crawled text stays text.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import html
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote

import redis
from feedgen.feed import FeedGenerator

from notifier.store import AlertStore
from notifier.subscription import Subscription
from notifier.tokens import ensure_tokens
from notifier.text import (EPOCH, board_label, clean_text, from_epoch, korean_date, parse_time, safe_url,
                           snippet_html)

logger = logging.getLogger(__name__)

KINDS = {"rss": "application/rss+xml; charset=utf-8", "atom": "application/atom+xml; charset=utf-8"}
TTL_MINUTES = 30
_TOKEN_FILE = re.compile(r"[A-Za-z0-9_-]{32}\.(rss|atom)")


def feed_title(official: Subscription, topic: str | None = None) -> str:
    title = f"{clean_text(official.name)}님의 어딨노 키워드 브리핑"
    return f"{title} · {clean_text(topic)}" if topic else title


def alert_times(alert: dict) -> tuple[dt.datetime, dt.datetime]:
    """(published, updated): the post's date (or first_seen) and its first_seen — or its last re-publication."""
    seen = parse_time(alert.get("first_seen"), dt.timezone.utc)
    if seen is None:
        seen = from_epoch(alert["alert_score"]) if alert.get("alert_score") is not None else EPOCH
    reposted = [parse_time(r.get("first_seen"), dt.timezone.utc) for r in alert.get("reposts") or []]
    updated = max([seen, *(r for r in reposted if r)])
    return parse_time(alert.get("date")) or seen, updated


def _order_key(alert: dict) -> tuple:
    return (alert_times(alert)[1], str(alert.get("id")))


def description_html(alert: dict) -> str:
    """The entry's description: source, board kind, date, snippet with matched words marked."""
    published, _ = alert_times(alert)
    facts = [clean_text(alert.get("organization")), board_label(alert.get("board_kind")), korean_date(published),
             clean_text(alert.get("department"))]
    parts = [f"<p>{html.escape(' · '.join(f for f in facts if f))}</p>"]
    body = snippet_html(alert.get("body") or alert.get("title"), alert.get("terms") or ())
    if body:
        parts.append(f"<p>{body}</p>")
    reposts = alert.get("reposts") or []
    if reposts:
        last = parse_time(reposts[-1].get("first_seen"), dt.timezone.utc)
        parts.append(f"<p>재게시 {len(reposts)}회 (마지막 {html.escape(korean_date(last))})</p>")
    topics = ", ".join(clean_text(t) for t in alert.get("topics") or ())
    terms = ", ".join(clean_text(t) for t in alert.get("terms") or ())
    if topics:
        parts.append(f"<p>주제: {html.escape(topics)}" + (f" · 검색어: {html.escape(terms)}" if terms else "") + "</p>")
    return "".join(parts)


def render_feed(official: Subscription, alerts: Iterable[dict], kind: str = "rss", base_url: str = "",
                topic: str | None = None, self_url: str | None = None) -> bytes:
    """The feed as bytes; the same official and alerts always give the same bytes."""
    if kind not in KINDS:
        raise ValueError(f"unknown feed kind {kind!r}; known: {', '.join(KINDS)}")
    alerts = sorted((a for a in alerts if topic is None or topic in (a.get("topics") or ())), key=_order_key, reverse=True)
    base_url = (base_url or "http://localhost/").strip()
    fg = FeedGenerator()
    fg.id(f"urn:nugo:feed:{official.id}" + (f":{quote(topic, safe='')}" if topic else ""))
    fg.title(feed_title(official, topic))
    fg.subtitle(f"{clean_text(official.name)}님이 구독한 주제에 맞는 정부 게시물 (보도자료, 공지사항, 고시공고, 입법예고)")
    if self_url:
        fg.link(href=self_url, rel="self")
    fg.link(href=base_url, rel="alternate")  # last: feedgen gives RSS the last link
    fg.author({"name": "어딨노 키워드 브리핑"})  # Atom requires a feed author
    fg.language("ko")
    fg.generator("nugo 어딨노")
    fg.ttl(TTL_MINUTES)
    fg.updated(max((alert_times(a)[1] for a in alerts), default=EPOCH))
    for alert in alerts:
        published, updated = alert_times(alert)
        entry = fg.add_entry(order="append")
        entry.guid(f"urn:nugo:post:{clean_text(alert['id'])}", permalink=False)
        entry.title(clean_text(alert.get("title")) or "(제목 없음)")
        entry.link(href=safe_url(alert.get("url"), base_url), rel="alternate")
        entry.published(published)
        entry.updated(updated)
        entry.summary(description_html(alert), type="html")
        for name in alert.get("topics") or ():
            entry.category(term=clean_text(name))
    return fg.rss_str(pretty=True) if kind == "rss" else fg.atom_str(pretty=True)


# Raise when render_feed gives other bytes for the same alerts, so that readers holding an ETag of
# the old rendering get the new one (the state ETag below does not look at the bytes).
FEED_FORMAT = 1


def etag(body: bytes) -> str:
    """A strong ETag of the feed bytes (static feeds, the operators' feed)."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def state_etag(official: Subscription, kind: str, version: tuple[int, str], *, topic: str | None = None,
               base_url: str = "", self_url: str | None = None) -> str:
    """The ETag of an official's feed from what its bytes depend on, known before rendering: the alerts'
    version (AlertStore.version: count and last change), the official's id and name, the feed's kind, topic
    and URLs, and FEED_FORMAT. Rendering is deterministic, so the tag is strong. A 304 then costs one round trip to Redis
    and no rendering; the tag is equal in every process (no hash seed)."""
    state = json.dumps([FEED_FORMAT, kind, topic, base_url, self_url, official.id, official.name, list(version)],
                       ensure_ascii=False, separators=(",", ":"))
    return '"' + hashlib.sha256(state.encode("utf-8")).hexdigest()[:32] + '"'


def http_date(stamp: dt.datetime) -> str:
    """An HTTP date (Last-Modified) of a tz-aware datetime."""
    return email.utils.format_datetime(stamp.astimezone(dt.timezone.utc).replace(microsecond=0), usegmt=True)


def feed_headers(body: bytes | None, kind: str, last_modified: dt.datetime | None, tag: str | None = None) -> dict[str, str]:
    """Content type, ETag (`tag`, or the hash of `body`), Cache-Control and Last-Modified of a feed."""
    headers = {"Content-Type": KINDS[kind], "ETag": tag or etag(body), "Cache-Control": f"max-age={TTL_MINUTES * 60 // 2}"}
    if last_modified is not None:
        headers["Last-Modified"] = http_date(last_modified)
    return headers


def not_modified(request_headers: Mapping[str, str], tag: str, last_modified: dt.datetime | None) -> bool:
    """Whether a conditional GET may be answered 304 (If-None-Match wins over If-Modified-Since)."""
    get = request_headers.get
    match = get("If-None-Match") or get("if-none-match")
    if match:
        candidates = [c.strip().removeprefix("W/") for c in match.split(",")]
        return "*" in candidates or tag in candidates
    since = get("If-Modified-Since") or get("if-modified-since")
    if since and last_modified is not None:
        try:
            stamp = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.timezone.utc)
        return last_modified.replace(microsecond=0) <= stamp
    return False


def _write_if_changed(path: Path, body: bytes, mtime: float | None) -> bool:
    try:
        if path.read_bytes() == body:
            return False
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".feed-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
        os.chmod(tmp, 0o644)
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def write_static_feeds(directory: str | Path, client: redis.Redis, prefix: str, subscriptions: Iterable[Subscription],
                       base_url: str = "", feeds_url: str | None = None, kinds: tuple[str, ...] = ("rss", "atom"),
                       limit: int = 50) -> list[Path]:
    """Write {token}.rss / {token}.atom for every official (files changed only when the feed did;
    their mtime is the alerts' last change, for a web server's Last-Modified); remove files of
    tokens no longer in use (rotated). Returns the files written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    subscriptions = list(subscriptions)
    store = AlertStore(client, prefix)
    tokens = ensure_tokens(client, prefix, [s.id for s in subscriptions])
    feeds_url = (feeds_url or f"{(base_url or 'http://localhost').rstrip('/')}/feeds").rstrip("/")
    written, keep = [], set()
    for official in subscriptions:
        alerts = store.alerts(official.id, limit=limit)
        modified = store.last_modified(official.id)
        for kind in kinds:
            name = f"{tokens[official.id]}.{kind}"
            keep.add(name)
            body = render_feed(official, alerts, kind, base_url, self_url=f"{feeds_url}/{name}")
            if _write_if_changed(directory / name, body, modified.timestamp() if modified else None):
                written.append(directory / name)
    for path in directory.iterdir():
        if _TOKEN_FILE.fullmatch(path.name) and path.name not in keep:
            path.unlink()
            logger.info("removed the feed of a retired token: %s…", path.name[:4])
    return written
