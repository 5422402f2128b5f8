"""The searchers of one web process, and the site status beside them, refreshed at most once per interval."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from index.post_search import PostSearcher
from index.results import Results
from index.search import StaffSearcher
from index.state import site_status

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0


class Searchers:
    """One StaffSearcher and one PostSearcher per process. Searches never wait for each other: a refresh
    swaps in a new view, and a search keeps the view it started with."""

    def __init__(self, index_dir: str | Path, interval: float = REFRESH_SECONDS):
        self.index_dir = Path(index_dir)
        self.interval = interval
        self.staff = StaffSearcher(self.index_dir)
        self.posts = PostSearcher(self.index_dir)
        self._refresh_lock = threading.Lock()
        self._checked = 0.0
        self._status: dict[str, dict] = {}
        self._status_generation = object()
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < self.interval:
            return
        if not self._refresh_lock.acquire(blocking=force):
            return  # another thread is refreshing
        try:
            self._checked = now
            self.staff.refresh()
            if self.staff.generation != self._status_generation:
                self._status = site_status(self.index_dir)
                self._status_generation = self.staff.generation
            self.posts.refresh()
        except Exception:  # noqa: BLE001 - keep serving the last view
            logger.exception("refreshing the searchers of %s failed; serving the last view", self.index_dir)
        finally:
            self._refresh_lock.release()

    def status(self) -> dict[str, dict]:
        return self._status

    def organizations(self) -> dict[str, dict]:
        """Per organization with live staff rows: when its directory was last crawled, and a flag reason."""
        orgs: dict[str, dict] = {}
        for entry in self._status.values():
            if not entry.get("live_run") or not entry.get("organization"):
                continue
            org = orgs.setdefault(entry["organization"], {"crawled_at": None, "flagged": None})
            if entry.get("healthy_at") and (org["crawled_at"] or "") < entry["healthy_at"]:
                org["crawled_at"] = entry["healthy_at"]
            org["flagged"] = org["flagged"] or entry.get("flagged")
        return orgs

    def search_staff(self, query: str, **kwargs) -> Results:
        self.refresh()
        return self.staff.search(query, **kwargs)

    def search_posts(self, query: str, **kwargs) -> Results:
        self.refresh()
        return self.posts.search(query, **kwargs)

    def post_count(self) -> int:
        return len(self.posts)
