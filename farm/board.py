"""Board sites: posts, publishing while running, attachments and ground truth; families in board_pages."""
from __future__ import annotations

import threading
from datetime import datetime
from urllib.parse import quote

from farm.content import KST, Post, collapse, format_date, generate_posts, manifest_date, person_name, rng_for
from farm.site import FarmSite, Request, Response, page_count


class BoardSite(FarmSite):
    """A board; subclasses give paths and markup. Pinned posts are shown on top of every page (if `pins`)."""

    pins = False

    def __init__(self, seed, site):
        super().__init__(seed, site)
        self._lock = threading.Lock()
        self._posts: list[Post] | None = None

    # -- data
    def posts(self) -> list[Post]:
        """A snapshot, newest first."""
        with self._lock:
            if self._posts is None:
                self._posts = generate_posts(self.seed, self.site)
            return list(self._posts)

    def find(self, post_id: str) -> Post | None:
        if not post_id.isdigit():
            return None
        return next((p for p in self.posts() if p.post_id == int(post_id)), None)

    def page(self, number: int) -> tuple[list[tuple[int, Post]], list[Post], int, int]:
        """(numbered rows of the page, pinned rows, last page number, total) for a list page."""
        posts = self.posts()
        size = self.site.page_size
        first = (number - 1) * size
        rows = [(len(posts) - i, p) for i, p in enumerate(posts[first:first + size], start=first)] if number >= 1 else []
        pinned = [p for p in posts if p.pinned] if self.pins else []
        return rows, pinned, page_count(len(posts), size), len(posts)

    def publish(self, title: str, body: str, department: str | None = None) -> dict:
        """Add a post at the top of the board; it gets the next id and the current time in Asia/Seoul."""
        self.posts()
        now = datetime.now(KST).replace(second=0, microsecond=0)
        paragraphs = [line.strip() for line in body.splitlines() if line.strip()] or [body]
        if department is None:
            department = self.site.short_name if self.site.org_kind == "ministry" else (
                "대변인" if self.site.board_kind == "press" else "자치행정과")
        with self._lock:
            post_id = max(p.post_id for p in self._posts) + self.site.id_step if self._posts else self.site.id_base
            post = Post(post_id, collapse(title), now, department, f"{self.site.phone_prefix}-0114", paragraphs)
            self._posts.insert(0, post)
        return self.record(post)

    # -- ground truth
    def record(self, post: Post) -> dict:
        return {**self.base_record(), "post_id": str(post.post_id), "title": post.title,
                "date": manifest_date(post.date, self.site.date_style), "department": post.department,
                "body": post.body, "attachments": list(post.attachments), "pinned": post.pinned,
                "url": self.base_url + self.detail_path(post),
                "attachment_links": [{"name": name, "url": self.base_url + self.file_path(post, k)}
                                     for k, name in enumerate(post.attachments)],
                **({"extra": self.extra(post)} if self.extra(post) else {})}

    def extra(self, post: Post) -> dict:
        """More fields of a post that the board shows (고시공고번호, 담당자 …); none by default."""
        return {}

    def manifest(self) -> list[dict]:
        return [self.record(p) for p in self.posts()]

    # -- shared pieces of markup
    def date(self, post: Post) -> str:
        return format_date(post.date, self.site.date_style)

    def hits(self, post: Post) -> int:
        return post.post_id * 7919 % 900 + 12

    def author(self, post: Post) -> str:
        return person_name(rng_for(self.seed, self.site.id, post.post_id))

    def summary(self, post: Post, length: int = 90) -> str:
        body = post.body
        return body if len(body) <= length else body[:length] + "···"

    def title(self) -> str:
        return {"press": "보도자료", "notice": "공지사항", "announcement": "고시공고", "legislation": "입법예고"}[self.site.board_kind]

    def file_response(self, post: Post | None, number: str) -> Response | None:
        if post is None or not number.isdigit() or int(number) >= len(post.attachments):
            return None
        name = post.attachments[int(number)]
        data = (b"%PDF-1.4\n% farm placeholder\n" if name.endswith(".pdf") else b"HWP Document File\x00farm placeholder\n")
        return Response(body=data, content_type="application/octet-stream",
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})

    # -- to implement per family
    def detail_path(self, post: Post) -> str:
        raise NotImplementedError

    def file_path(self, post: Post, number: int) -> str:
        """Path of the post's attachment `number` (a download link: shown, never needed by a crawler)."""
        raise NotImplementedError

    def route(self, req: Request, traps):
        raise NotImplementedError
