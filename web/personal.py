"""An official's personal page, `/me/TOKEN`: topics with their feeds, a preview of what each matched, and
adding, editing, removing topics and rotating either token — written to the official's own YAML file.

The page is reached by its own management token (notifier.tokens, kind "me"), never by the feed token: a
feed URL handed to a reader grants no edits; any wrong token gets the same 404 as a missing one. POSTs are
refused unless they come from this site (Origin or Referer equal to the configured public URL) and carry a
form token (an HMAC of the page token, the action and the time, with a key kept in the data dir).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

from conf.specs import BOARD_KINDS, REGIONS
from notifier.edit import EditError, TopicForm, add_topic, remove_topic, replace_topic
from notifier.text import BOARD_KIND_LABELS
from notifier.tokens import ensure_tokens, official_for_token, rotate_token
from web.http import HTML_HEADERS, Request, text
from web.render import render

logger = logging.getLogger(__name__)

ME_PATH = re.compile(r"/me/(?P<token>[A-Za-z0-9_-]{16,64})(?P<rest>/opml)?")
FORM_SECONDS = 2 * 3600
# same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on the page's own form POSTs,
# and the cross-site check could not tell them from a forged one. Nothing leaves the site either way.
PAGE_HEADERS = [(k, "same-origin" if k == "Referrer-Policy" else v) for k, v in HTML_HEADERS]
PREVIEW_DAYS = 30
NOT_FOUND = "페이지를 찾을 수 없습니다. 주소를 다시 확인하거나 담당자에게 새 주소를 받으세요.\n"
DONE = {"added": "주제를 추가했습니다. 다음 수집부터 새 글이 피드에 들어옵니다.", "saved": "주제를 고쳤습니다.",
        "removed": "주제를 지웠습니다.", "feed": "피드 주소를 바꿨습니다. 예전 피드 주소는 더는 열리지 않습니다.",
        "me": "이 페이지의 주소를 바꿨습니다. 새 주소를 즐겨찾기에 저장하세요."}


class FormKeys:
    """Per-form tokens: HMAC(key, page token | action | issued) with a key made once under the data dir."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / "form.key"
        self._key: bytes | None = None

    @property
    def key(self) -> bytes:
        if self._key is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(secrets.token_bytes(32))
            except FileExistsError:
                pass
            self._key = self.path.read_bytes()
        return self._key

    def issue(self, page_token: str, action: str, now: float | None = None) -> str:
        stamp = str(int(now or time.time()))
        mac = hmac.new(self.key, f"{page_token}|{action}|{stamp}".encode(), hashlib.sha256).hexdigest()[:32]
        return f"{stamp}.{mac}"

    def valid(self, page_token: str, action: str, form_token: str, now: float | None = None) -> bool:
        stamp, _, mac = (form_token or "").partition(".")
        if not stamp.isdigit() or (now or time.time()) - int(stamp) > FORM_SECONDS:
            return False
        want = hmac.new(self.key, f"{page_token}|{action}|{stamp}".encode(), hashlib.sha256).hexdigest()[:32]
        return hmac.compare_digest(want, mac)


class PersonalPages:
    """The /me/ routes of the web app (it gives the Redis client, the subscriptions and the post searcher)."""

    def __init__(self, app, root: str, data_dir: Path):
        self.app, self.root = app, root.rstrip("/")
        self.forms = FormKeys(Path(data_dir) / "web")

    def handle(self, request: Request):
        match = ME_PATH.fullmatch(request.path)
        if match is None:
            return text(404, NOT_FOUND)
        client, subscriptions = self.app.feed_sources()
        token = match["token"]
        official_id = official_for_token(client, self.app.prefix, token, kind="me")
        official = subscriptions.get(official_id) if official_id else None
        if official is None:
            return text(404, NOT_FOUND)
        if match["rest"] == "/opml":
            return self.opml(client, official)
        if request.method == "POST":
            return self.post(request, client, subscriptions, official, token)
        return self.page(request, client, official, token)

    # --- reading ---------------------------------------------------------------------------------
    def feed_urls(self, client, official) -> dict:
        feed = ensure_tokens(client, self.app.prefix, [official.id])[official.id]
        base = f"{self.root}/feeds/{feed}"
        return {"rss": f"{base}.rss", "atom": f"{base}.atom",
                "topics": {t.name: {"rss": f"{base}/{quote(t.name, safe='')}.rss",
                                    "atom": f"{base}/{quote(t.name, safe='')}.atom"} for t in official.topics}}

    def page(self, request: Request, client, official, token: str, error: str | None = None, form: dict | None = None,
             status: int = 200):
        since = time.time() - PREVIEW_DAYS * 86400
        topics = []
        for topic in official.topics:
            found = self.app.searchers.search_posts(topic.query, site=sorted(topic.sites) if topic.sites else None,
                                                    region=sorted(topic.regions) if topic.regions else None,
                                                    board_kind=sorted(topic.board_kinds) if topic.board_kinds else None,
                                                    since_first_seen=since, per_page=5)
            topics.append({"topic": topic, "preview": found, "edit_token": self.forms.issue(token, "edit"),
                           "remove_token": self.forms.issue(token, "remove")})
        q = request.arg("q")
        search = self.app.searchers.search_posts(q, per_page=10) if q else None
        html = render("me.html", title=f"{official.name}님의 어딨노", tab="posts", q="", autofocus=False, tabs=(),
                      referrer="same-origin",
                      placeholder="", search_form=False, official=official, topics=topics, feeds=self.feed_urls(client, official),
                      token=token, search=search, query=q, error=error, form=form or {},
                      done=DONE.get(request.arg("done")), regions=REGIONS, board_kinds=BOARD_KINDS,
                      board_labels=BOARD_KIND_LABELS, add_token=self.forms.issue(token, "add"),
                      rotate_token=self.forms.issue(token, "rotate"), days=PREVIEW_DAYS)
        return status, PAGE_HEADERS, html.encode()

    def opml(self, client, official):
        from xml.sax.saxutils import escape, quoteattr

        feeds = self.feed_urls(client, official)
        outlines = [f'<outline type="rss" text={quoteattr(official.name + " (전체)")} xmlUrl={quoteattr(feeds["rss"])}/>']
        outlines += [f'<outline type="rss" text={quoteattr(name)} xmlUrl={quoteattr(urls["rss"])}/>'
                     for name, urls in feeds["topics"].items()]
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><head><title>{escape(official.name)}님의 '
                f'어딨노 피드</title></head><body>{"".join(outlines)}</body></opml>\n').encode()
        return 200, [("Content-Type", "text/x-opml; charset=utf-8"), ("Cache-Control", "no-store"),
                     ("Content-Disposition", 'attachment; filename="eodinno.opml"')], body

    # --- writing ---------------------------------------------------------------------------------
    def same_site(self, request: Request) -> bool:
        origin = request.headers.get("Origin") or request.headers.get("Referer") or ""
        want = urlsplit(self.root)
        got = urlsplit(origin)
        return bool(got.scheme) and (got.scheme, got.netloc) == (want.scheme, want.netloc)

    def post(self, request: Request, client, subscriptions, official, token: str):
        form = {k: v for k, v in request.form.items()}
        action = (form.get("action") or [""])[0]
        kind = {"add": "add", "save": "edit", "remove": "remove", "rotate-feed": "rotate", "rotate-me": "rotate"}.get(action)
        if kind is None or not self.same_site(request) or not self.forms.valid(token, kind, (form.get("form") or [""])[0]):
            logger.warning("personal page: a POST refused (action %r, origin %r)", action, request.headers.get("Origin"))
            return text(403, "요청을 처리하지 않았습니다. 페이지를 새로 열어 다시 시도해 주세요.\n")
        one = lambda name: " ".join(((form.get(name) or [""])[0]).split())[:200]  # noqa: E731
        topic = TopicForm(one("name"), one("query"), [r for r in form.get("regions", []) if r in REGIONS],
                          [b for b in form.get("board_kinds", []) if b in BOARD_KINDS])
        folder = subscriptions.path.is_dir()
        try:
            if action == "add":
                add_topic(official.file, official.id, topic, folder=folder)
                done = "added"
            elif action == "save":
                replace_topic(official.file, official.id, one("old"), topic, folder=folder)
                done = "saved"
            elif action == "remove":
                remove_topic(official.file, official.id, one("old"), folder=folder)
                done = "removed"
            elif action == "rotate-feed":
                rotate_token(client, self.app.prefix, official.id, kind="feed")
                done = "feed"
            else:
                token = rotate_token(client, self.app.prefix, official.id, kind="me")
                done = "me"
        except EditError as exc:
            return self.page(request, client, official, token, error=str(exc),
                             form={"name": topic.name, "query": topic.query, "regions": topic.regions,
                                   "board_kinds": topic.board_kinds}, status=400)
        subscriptions.reload()
        logger.info("personal page of %s: %s", official.id, done)
        return 303, [("Location", f"{self.root}/me/{token}?done={done}"), ("Cache-Control", "no-store")], b""
