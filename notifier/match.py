"""Match a batch of posts against every subscription at once (reverse search).

One Aho-Corasick automaton holds every term of every topic (normalized, see notifier.query).
Scanning a post once gives the exact set of terms it contains; each topic is indexed under
the terms of one of its AND-groups (its "anchor", the group of longest terms, likely the
rarest), so only topics whose anchor was hit are evaluated, by set operations on the hits.
The result equals evaluating every query on every post (tests/test_notifier.py checks it).
"""
from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Iterable
from typing import NamedTuple

import ahocorasick

from notifier.query import post_text
from notifier.subscription import Subscription, Topic

logger = logging.getLogger(__name__)


class Match(NamedTuple):
    official_id: str
    topic_name: str
    post_id: str
    matched_terms: tuple[str, ...]


class _Check(NamedTuple):
    """The evaluation shared by every topic with the same query and filters."""

    rest: tuple[frozenset[int], ...]  # OR-groups (term numbers) other than the anchor, all required
    excluded: frozenset[int] | None
    positive: tuple[int, ...]  # query order, for reporting matched terms
    topic: Topic | None  # the source filters, when there are any
    owners: list[tuple[str, str]]  # (official id, topic name)


_new_match = tuple.__new__


def _all_hit(groups: tuple[frozenset[int], ...], hits: set[int]) -> bool:
    for group in groups:
        if group.isdisjoint(hits):
            return False
    return True


class Matcher:
    """Built once per version of the subscriptions; `match(posts)` scans each post once.

    A topic whose query is one word without filters needs no evaluation: its owners are
    listed under the word (`simple`). Every other distinct (query, filters) is one `_Check`,
    indexed under the terms of its anchor group.
    """

    def __init__(self, subscriptions: Iterable[Subscription]):
        with _no_cyclic_gc():
            self._build(subscriptions)
        logger.debug("matcher: %d topics, %d checks, %d terms", self.topic_count, len(self.checks), len(self.terms))

    def _build(self, subscriptions: Iterable[Subscription]) -> None:
        self.terms: list[str] = []
        number: dict[str, int] = {}

        def term_id(term: str) -> int:
            if term not in number:
                number[term] = len(self.terms)
                self.terms.append(term)
            return number[term]

        self.simple: dict[int, list[tuple[str, str]]] = {}
        self.checks: list[_Check] = []
        self.anchors: dict[int, list[int]] = {}
        by_key: dict[tuple, int] = {}
        self.topic_count = 0
        for subscription in subscriptions:
            for topic in subscription.topics:
                self.topic_count += 1
                query = topic.query
                filtered = bool(topic.sites or topic.regions or topic.board_kinds)
                positive = query.positive_terms
                if len(positive) == 1 and not query.excluded and not filtered:
                    self.simple.setdefault(term_id(positive[0]), []).append((subscription.id, topic.name))
                    continue
                key = (query.groups, query.excluded, topic.sites, topic.regions, topic.board_kinds)
                if key in by_key:
                    self.checks[by_key[key]].owners.append((subscription.id, topic.name))
                    continue
                anchor = max(query.groups, key=lambda group: (min(map(len, group)), -len(group)))
                rest = tuple(frozenset(term_id(t) for t in group) for group in query.groups if group is not anchor)
                excluded = frozenset(term_id(t) for t in query.excluded) if query.excluded else None
                by_key[key] = len(self.checks)
                self.checks.append(_Check(rest, excluded, tuple(term_id(t) for t in positive),
                                          topic if filtered else None, [(subscription.id, topic.name)]))
                for term in anchor:
                    self.anchors.setdefault(term_id(term), []).append(by_key[key])
        self.automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        for term, n in number.items():
            self.automaton.add_word(term, n)
        if self.terms:
            self.automaton.make_automaton()

    def hits(self, text: str) -> set[int]:
        """Numbers of the terms occurring in the normalized text."""
        if not self.terms:
            return set()
        return {n for _, n in self.automaton.iter(text)}

    def match_post(self, post: dict, text: str | None = None) -> list[Match]:
        hits = self.hits(post_text(post) if text is None else text)
        if not hits:
            return []
        simple, anchors, checks, terms = self.simple, self.anchors, self.checks, self.terms
        post_id = post["id"]
        out: list[Match] = []
        candidates: set[int] = set()
        for n in sorted(hits):
            owners = simple.get(n)
            if owners:
                found = (terms[n],)
                out += [_new_match(Match, (official_id, name, post_id, found)) for official_id, name in owners]
            anchored = anchors.get(n)
            if anchored:
                candidates.update(anchored)
        for index in sorted(candidates):
            rest, excluded, positive, topic, owners = checks[index]
            if excluded is not None and not excluded.isdisjoint(hits):
                continue
            if rest and not _all_hit(rest, hits):
                continue
            if topic is not None and not topic.accepts(post):
                continue
            found = tuple([terms[n] for n in positive if n in hits])
            if len(owners) == 1:
                out.append(_new_match(Match, (owners[0][0], owners[0][1], post_id, found)))
            else:
                out += [_new_match(Match, (official_id, name, post_id, found)) for official_id, name in owners]
        return out

    def match(self, posts: Iterable[dict]) -> list[Match]:
        """(official id, topic name, post id, matched terms) for every topic a post satisfies."""
        out: list[Match] = []
        with _no_cyclic_gc():
            for post in posts:
                out.extend(self.match_post(post))
        return out


@contextlib.contextmanager
def _no_cyclic_gc():
    """Pause the cyclic garbage collector: with a large Matcher alive, its full collections,
    triggered by the many small objects a batch creates, cost more than the matching itself.
    Reference counting still frees everything; cycles wait until the batch ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
