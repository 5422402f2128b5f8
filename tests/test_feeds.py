"""Feeds: feedgen output read back by feedparser and by the real newsboat; tokens; static files."""
from __future__ import annotations

import datetime as dt
import http.server
import os
import sqlite3
import subprocess
import threading

import feedparser
import pytest

from notifier.feed import etag, feed_headers, http_date, not_modified, render_feed, write_static_feeds
from notifier.match import Matcher
from notifier.store import AlertStore, register
from notifier.subscription import load_subscriptions
from notifier.tokens import ensure_tokens, official_for_token, rotate_token, token_for

SUBSCRIPTIONS = """\
officials:
  - id: kim
    name: 김민수
    topics:
      - name: 드론
        query: 드론
      - name: 청년
        query: '"청년 일자리"'
  - id: lee
    name: 이서연
    topics:
      - name: 수소
        query: 수소
"""
NASTY_TITLE = "<script>alert(1)</script>\x08 드론 & 안전 \x1b[31m"


def make_post(number: int, title: str, body: str = "", day: int = 1, **extra) -> dict:
    record = {"type": "post", "id": f"post{number}", "site": "gyeongnam-press", "organization": "경상남도",
              "region": "경남", "org_kind": "province", "board_kind": "press",
              "url": f"https://www.gyeongnam.go.kr/board/view.do?idx={number}&utm_source=x", "title": title,
              "date": f"2024-05-{day:02d}T09:00:00+09:00", "department": "경제정책과", "author": "", "body": body,
              "attachments": [], "post_id": str(number), "first_seen": f"2024-05-{day:02d}T01:00:{number:02d}+00:00"}
    record.update(extra)
    return record


POSTS = [
    make_post(1, "드론 산업 육성 계획", "경남도는 드론산업 육성 계획을 발표했다.", day=1),
    make_post(2, "청년 일자리 박람회", "청년일자리 박람회를 연다.", day=2, board_kind="notice", date=None),
    make_post(3, NASTY_TITLE, "본문에 <img src=x onerror=alert(2)> 드론\x07 이야기", day=3),
    make_post(4, "수소 충전소 확충", "수소", day=4),
]


@pytest.fixture
def feed_store(redis_client, prefix, tmp_path):
    path = tmp_path / "subscriptions.yaml"
    path.write_text(SUBSCRIPTIONS, encoding="utf-8")
    subs = load_subscriptions(path)
    register(redis_client, prefix, subs, now=0)
    store = AlertStore(redis_client, prefix)
    assert store.record(Matcher(subs).match(POSTS), POSTS, now=1_714_000_000) == 4
    return {s.id: s for s in subs}, store


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_feed_parses_with_expected_entries(feed_store, kind):
    subs, store = feed_store
    body = render_feed(subs["kim"], store.alerts("kim"), kind, "https://nugo.example/")
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.feed.title == "김민수님의 어딨노 키워드 브리핑"
    assert [e.id for e in parsed.entries] == ["urn:nugo:post:post3", "urn:nugo:post:post2", "urn:nugo:post:post1"]
    assert [e.link for e in parsed.entries] == [p["url"] for p in (POSTS[2], POSTS[1], POSTS[0])]  # no redirect
    assert parsed.entries[1].title == "청년 일자리 박람회" and parsed.entries[2].title == "드론 산업 육성 계획"
    first = parsed.entries[2]
    assert first.published_parsed[:4] == (2024, 5, 1, 0)  # 09:00 +09:00
    assert "경상남도 · 보도자료 · 2024년 5월 1일" in first.summary and "<b>드론</b>" in first.summary
    assert "공지사항" in parsed.entries[1].summary  # board kind in Korean; no post date: first_seen is used
    if kind == "rss":
        assert b'<guid isPermaLink="false">urn:nugo:post:post1</guid>' in body


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_markup_and_control_characters_stay_text(feed_store, kind):
    subs, store = feed_store
    body = render_feed(subs["kim"], store.alerts("kim"), kind, "https://nugo.example/")
    assert b"<script" not in body and b"<img" not in body and b"\x08" not in body and b"\x1b" not in body
    entry = feedparser.parse(body).entries[0]
    assert entry.title == "<script>alert(1)</script> 드론 & 안전 [31m"
    assert "<script" not in entry.summary and "<img" not in entry.summary
    assert "&lt;img src=x onerror=alert(2)&gt;" in entry.summary


def test_same_input_gives_the_same_bytes_and_etag(feed_store):
    subs, store = feed_store
    for kind in ("rss", "atom"):
        alerts = store.alerts("kim")
        first = render_feed(subs["kim"], alerts, kind, "https://nugo.example/")
        again = render_feed(subs["kim"], list(reversed(store.alerts("kim"))), kind, "https://nugo.example/")
        assert first == again and etag(first) == etag(again)
    assert render_feed(subs["kim"], [], "rss") == render_feed(subs["kim"], [], "rss")


def test_topic_feed_and_headers(feed_store):
    subs, store = feed_store
    body = render_feed(subs["kim"], store.alerts("kim"), "atom", "https://nugo.example/", topic="청년")
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0 and parsed.feed.title == "김민수님의 어딨노 키워드 브리핑 · 청년"
    assert [e.id for e in parsed.entries] == ["urn:nugo:post:post2"]
    assert [a["id"] for a in store.alerts("kim", topic="청년")] == ["post2"]
    modified = store.last_modified("kim")
    headers = feed_headers(body, "atom", modified)
    assert headers["ETag"] == etag(body) and headers["Last-Modified"] == "Wed, 24 Apr 2024 23:06:40 GMT"
    assert not_modified({"If-None-Match": headers["ETag"]}, etag(body), modified)
    assert not_modified({"If-None-Match": f'"x", W/{headers["ETag"]}'}, etag(body), modified)
    assert not not_modified({"If-None-Match": '"other"', "If-Modified-Since": headers["Last-Modified"]}, etag(body), modified)
    assert not_modified({"If-Modified-Since": headers["Last-Modified"]}, etag(body), modified)
    assert not not_modified({"If-Modified-Since": http_date(modified - dt.timedelta(seconds=5))}, etag(body), modified)
    assert not not_modified({}, etag(body), modified)


def test_tokens_are_stable_unguessable_and_rotate(redis_client, prefix):
    tokens = ensure_tokens(redis_client, prefix, ["kim", "lee"])
    assert tokens == ensure_tokens(redis_client, prefix, ["lee", "kim"])
    assert len(tokens["kim"]) == 32 and tokens["kim"] != tokens["lee"]
    assert official_for_token(redis_client, prefix, tokens["kim"]) == "kim"
    new = rotate_token(redis_client, prefix, "kim")
    assert new != tokens["kim"] and token_for(redis_client, prefix, "kim") == new
    assert official_for_token(redis_client, prefix, tokens["kim"]) is None
    assert official_for_token(redis_client, prefix, new) == "kim"


def test_static_feeds_follow_the_tokens(feed_store, redis_client, prefix, tmp_path):
    subs, store = feed_store
    out = tmp_path / "feeds"
    written = write_static_feeds(out, redis_client, prefix, subs.values(), "https://nugo.example/")
    kim = token_for(redis_client, prefix, "kim")
    assert sorted(p.name for p in written) == sorted(f"{token_for(redis_client, prefix, o)}.{k}"
                                                     for o in ("kim", "lee") for k in ("rss", "atom"))
    parsed = feedparser.parse((out / f"{kim}.atom").read_bytes())
    assert parsed.bozo == 0 and len(parsed.entries) == 3
    assert any(link.href == f"https://nugo.example/feeds/{kim}.atom" and link.rel == "self" for link in parsed.feed.links)
    assert (out / f"{kim}.rss").stat().st_mtime == store.last_modified("kim").timestamp()
    assert write_static_feeds(out, redis_client, prefix, subs.values(), "https://nugo.example/") == []
    new = rotate_token(redis_client, prefix, "kim")
    write_static_feeds(out, redis_client, prefix, subs.values(), "https://nugo.example/")
    assert not (out / f"{kim}.rss").exists() and (out / f"{new}.rss").exists()


# --- a real feed reader -------------------------------------------------------

class FeedServer:
    """A tiny HTTP server of one feed with ETag / Last-Modified, on a free port, in a thread."""

    def __init__(self):
        self.body = b""
        self.modified = None
        self.log: list[tuple[dict, int]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                headers = feed_headers(server.body, "rss", server.modified)
                if not_modified(self.headers, headers["ETag"], server.modified):
                    server.log.append((dict(self.headers), 304))
                    self.send_response(304)
                    self.send_header("ETag", headers["ETag"])
                    self.end_headers()
                    return
                server.log.append((dict(self.headers), 200))
                self.send_response(200)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/feed.rss"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def test_newsboat_reads_the_feed_once_per_item(feed_store, tmp_path):
    subs, store = feed_store
    home = tmp_path / "home"
    home.mkdir()
    (home / "config").write_text("reload-threads 1\ndownload-timeout 20\n", encoding="utf-8")

    def newsboat(*commands: str) -> str:
        result = subprocess.run(["newsboat", "-u", str(home / "urls"), "-c", str(home / "cache.db"),
                                 "-C", str(home / "config"), "-x", *commands],
                                capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(home)})
        assert result.returncode == 0, result.stderr
        return result.stdout

    def items() -> list[tuple[str, str]]:
        with sqlite3.connect(home / "cache.db") as db:
            return sorted(db.execute("SELECT guid, title FROM rss_item"))

    with FeedServer() as server:
        (home / "urls").write_text(server.url + "\n", encoding="utf-8")
        server.body, server.modified = render_feed(subs["kim"], store.alerts("kim"), "rss", "https://nugo.example/"), \
            store.last_modified("kim")
        newsboat("reload")
        assert newsboat("print-unread").strip() == "3 unread articles"
        assert [g for g, _ in items()] == ["urn:nugo:post:post1", "urn:nugo:post:post2", "urn:nugo:post:post3"]
        assert ("urn:nugo:post:post3", "<script>alert(1)</script> 드론 & 안전 [31m") in items()
        # Unchanged feed: nothing added. Newsboat 2.21 stores the ETag only once the feed is in its
        # cache (second fetch), so the third fetch is the first conditional one, answered 304.
        newsboat("reload")
        newsboat("reload")
        assert newsboat("print-unread").strip() == "3 unread articles" and len(items()) == 3
        assert [status for _, status in server.log] == [200, 200, 304]
        assert server.log[-1][1] == 304 and server.log[-1][0].get("If-None-Match") == etag(server.body)
        # The same posts rendered again (new bytes because of a new post) keep their guids.
        later = [make_post(5, "드론 택배 실증", day=5)]
        store.record(Matcher(subs.values()).match(later), later, now=1_714_100_000)
        server.body, server.modified = render_feed(subs["kim"], store.alerts("kim"), "rss", "https://nugo.example/"), \
            store.last_modified("kim")
        newsboat("reload")
        assert newsboat("print-unread").strip() == "4 unread articles" and len(items()) == 4


def _get(app, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    from tests.test_web import call
    return call(app, path, headers)


def _commands(client, name: str) -> int:
    """How many times the real server ran the command `name` so far (INFO commandstats)."""
    return int(client.info("commandstats").get(f"cmdstat_{name}", {}).get("calls", 0))


def test_feed_etag_follows_the_alerts_and_a_304_reads_no_alert(feed_store, redis_client, prefix, tmp_path):
    """The ETag comes from the alerts' version, so a 304 is answered without reading or rendering them
    (counted by the real server), and every change of the feed's content gives another tag.
    Guards: with the tag derived from the count alone, the 재게시 step below keeps the old tag (a reader would
    miss the note); with the official's name left out, the rename step does."""
    from web.app import make_app
    subs_path = tmp_path / "subscriptions.yaml"
    subs_path.write_text(SUBSCRIPTIONS, encoding="utf-8")
    token = token_for(redis_client, prefix, "kim")
    apps = [make_app(index_dir=tmp_path / "index", client=redis_client, prefix=prefix, subscriptions=subs_path)
            for _ in range(2)]  # two processes of the web service in effect: the tag must not differ
    path = f"/feeds/{token}.rss"
    status, headers, body = _get(apps[0], path)
    assert status == 200 and headers["ETag"] == _get(apps[1], path)[1]["ETag"]
    tags = {headers["ETag"]}
    before = _commands(redis_client, "hmget"), _commands(redis_client, "zrevrange")
    status, kept, empty = _get(apps[1], path, {"If-None-Match": headers["ETag"]})
    assert (status, empty) == (304, b"") and kept["ETag"] == headers["ETag"] and kept["Last-Modified"]
    assert (_commands(redis_client, "hmget"), _commands(redis_client, "zrevrange")) == before  # no alert read
    assert _get(apps[0], f"/feeds/{token}.atom")[1]["ETag"] not in tags  # another kind, another tag

    def changed() -> bytes:
        status, now, new_body = _get(apps[0], path, {"If-None-Match": ", ".join(tags)})
        assert status == 200 and now["ETag"] not in tags, "changed feed answered 304"
        tags.add(now["ETag"])
        return new_body

    _, store = feed_store
    new = make_post(5, "드론 배송 시범", "드론", day=5)
    assert store.record([("kim", "드론", "post5", ["드론"])], [new], now=1_714_000_100) == 1
    assert b"post5" in changed()  # a new alert
    repost = make_post(6, "드론 배송 시범", "드론", day=6)  # same board, same title: 재게시 of post5
    assert store.record([("kim", "드론", "post6", ["드론"])], [repost], now=1_714_000_200) == 0
    assert "재게시 1회".encode() in changed()
    subs_path.write_text(SUBSCRIPTIONS.replace("김민수", "김민수(경제정책과)"), encoding="utf-8")
    os.utime(subs_path, (1, 1))  # another mtime for certain: the set reloads by stat
    assert "김민수(경제정책과)".encode() in changed()  # the official's name is in the feed's title
