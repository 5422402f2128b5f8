"""The notifier's entry point for the indexer: match newly first-seen posts and record alerts."""
from __future__ import annotations

import logging
from collections.abc import Iterable

import redis

from notifier.match import Matcher
from notifier.store import REPOST_WINDOW_DAYS, AlertStore, register
from notifier.subscription import Subscription, SubscriptionSet

logger = logging.getLogger(__name__)


def process_new_posts(client: redis.Redis, prefix: str, subscriptions: SubscriptionSet | Iterable[Subscription],
                      posts: Iterable[dict], repost_window_days: float = REPOST_WINDOW_DAYS) -> int:
    """Match a batch of new posts against every subscription; returns the number of new alerts.

    Pass a SubscriptionSet: it hot-reloads the file and builds the Matcher (and registers start
    times and feed tokens) once per version. A plain list is registered and compiled on every call.
    """
    posts = [p for p in posts if p.get("type", "post") == "post" and p.get("id")]
    if isinstance(subscriptions, SubscriptionSet):
        subscriptions.ensure_registered(client, prefix)
        matcher = subscriptions.matcher()
    else:
        subscriptions = list(subscriptions)
        register(client, prefix, subscriptions)
        matcher = Matcher(subscriptions)
    if not posts:
        return 0
    matches = matcher.match(posts)
    new = AlertStore(client, prefix, repost_window_days).record(matches, posts)
    logger.info("%d post(s): %d match(es), %d new alert(s)", len(posts), len(matches), new)
    return new
