"""The notifier's rules for the posts the index writer commits: which are news, which topics they
match, and the alerts recorded (once per official and post; a re-published title is one alert).

The index writer calls `Notifier.on_commit(posts, sites)` after each commit, with its live state of
the sites: a board's first healthy crawl is its baseline (its posts are the backlog, not news).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

import redis

from notifier.match import Matcher
from notifier.store import REPOST_WINDOW_DAYS, AlertStore, register
from notifier.subscription import Subscription, SubscriptionSet, report_problems

logger = logging.getLogger(__name__)


def is_news(post: dict, baseline: dict | None) -> bool:
    """A post is news when its board has a baseline (a first healthy crawl), it came from a later run and
    was first seen after the baseline ended (a re-emitted old post keeps its first_seen). Without this,
    every post of a newly added board would be an alert."""
    if not baseline or post.get("run_id") == baseline.get("run_id"):
        return False
    try:
        return datetime.fromisoformat(post["first_seen"]) > datetime.fromisoformat(baseline["ended_at"])
    except (KeyError, TypeError, ValueError):
        return False


class Notifier:
    """Alerts for one cluster prefix from a set of subscriptions: a SubscriptionSet is hot-reloaded, its
    Matcher built and its topics registered once per version; a plain list is used as given."""

    def __init__(self, subscriptions: SubscriptionSet | Iterable[Subscription], prefix: str,
                 repost_window_days: float = REPOST_WINDOW_DAYS):
        self.subscriptions = subscriptions if isinstance(subscriptions, SubscriptionSet) else list(subscriptions)
        self.prefix = prefix
        self.repost_window_days = repost_window_days
        self._matcher: tuple[int, Matcher] | None = None
        self._registered: dict[int, tuple] = {}

    def _version(self) -> int:
        if isinstance(self.subscriptions, SubscriptionSet):
            self.subscriptions.reload()
            return self.subscriptions.version
        return 0

    def current(self) -> list[Subscription]:
        return self.subscriptions.current() if isinstance(self.subscriptions, SubscriptionSet) else self.subscriptions

    def matcher(self) -> Matcher:
        """The Matcher of the current version of the subscriptions, built once per version."""
        version = self._version()
        if self._matcher is None or self._matcher[0] != version:  # what the old one learned of the posts carries over
            self._matcher = (version, Matcher(self.current(), stats=self._matcher[1].stats() if self._matcher else None))
        return self._matcher[1]

    def ensure_registered(self, client: redis.Redis) -> None:
        """Record start times and feed tokens of the current version once per version and Redis, and publish
        the file's problems (or their absence) for the status page."""
        version = self._version()
        problems = tuple(self.subscriptions.problems) if isinstance(self.subscriptions, SubscriptionSet) else ()
        state = (version, problems)
        if self._registered.get(id(client)) != state:
            register(client, self.prefix, self.current())
            if isinstance(self.subscriptions, SubscriptionSet):
                report_problems(client, self.prefix, "subscriptions", list(problems))
            self._registered[id(client)] = state

    def process(self, client: redis.Redis, posts: Iterable[dict]) -> int:
        """Match posts against every subscription and record the alerts; returns how many are new."""
        self.ensure_registered(client)
        posts = [p for p in posts if p.get("type", "post") == "post" and p.get("id")]
        if not posts:
            return 0
        matches = self.matcher().match(posts)
        new = AlertStore(client, self.prefix, self.repost_window_days).record(matches, posts)
        logger.info("%d post(s): %d match(es), %d new alert(s)", len(posts), len(matches), new)
        return new

    def on_commit(self, client: redis.Redis, posts: list[dict], sites: dict[str, dict]) -> int:
        """The writer's commit: the news among `posts` (by each board's baseline in the writer's live
        state `sites`) are matched and recorded."""
        return self.process(client, [p for p in posts if is_news(p, (sites.get(p.get("site")) or {}).get("baseline"))])
