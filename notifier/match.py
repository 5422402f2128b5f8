"""Match a batch of posts against every subscription at once (reverse search).

One Aho-Corasick automaton holds the text of every term of every topic (normalized, see index.query).
Scanning a post's fields once gives, for each term text it contains, the fields it occurs in; each topic
is indexed under the terms of one of its AND-groups (its "anchor", the group of longest terms, likely the
rarest), so only topics whose anchor was hit are evaluated, by set operations on the hits. A term matches
when it occurs in one of its fields (title and body unless the topic names a field). Terms scoped to a
board's extra fields are checked on the post itself. The result equals evaluating every query on every
post (tests/test_notifier.py and tests/test_query_language.py check it).
"""
from __future__ import annotations

import bisect
import contextlib
import gc
import logging
from collections.abc import Iterable
from typing import NamedTuple

import ahocorasick

from index.query import DEFAULT_FIELDS, EXTRA, TEXT_FIELDS, PostFields, Term, normalize
from notifier.subscription import Subscription, Topic

logger = logging.getLogger(__name__)
SEP = "\n"


class Match(NamedTuple):
    official_id: str
    topic_name: str
    post_id: str
    matched_terms: tuple[str, ...]


class _Check(NamedTuple):
    """The evaluation shared by every topic with the same query and filters."""

    anchor: tuple[tuple[int, frozenset[str]], ...]  # the group the check is indexed under: (term id, fields)
    rest: tuple[tuple[tuple[int, frozenset[str]], ...], ...]  # the other OR-groups
    excluded: tuple[tuple[int, frozenset[str]], ...]
    positive: tuple[tuple[int, frozenset[str]], ...]  # query order, for reporting matched terms
    topic: Topic | None  # the source filters, when there are any
    owners: list[tuple[str, str]]  # (official id, topic name)
    exact: Topic | None  # topics with extra-field terms: the query is evaluated on the post itself


_new_match = tuple.__new__
DEFAULT = frozenset(DEFAULT_FIELDS)


def _hit(term: tuple[int, frozenset[str]], hits: dict[int, set[str]]) -> bool:
    fields = hits.get(term[0])
    return bool(fields) and not fields.isdisjoint(term[1])


def post_fields_text(post: dict) -> tuple[str, list[int], list[str]]:
    """The text the automaton scans (the post's fields joined by SEP), the start of each field, their names."""
    names = list(TEXT_FIELDS)
    parts = [normalize(post.get(name) or "") for name in names]
    extra = post.get("extra") if isinstance(post.get("extra"), dict) else {}
    if extra:
        names.append("extra")
        parts.append(SEP.join(normalize(str(v)) for v in extra.values()))
    starts, pos = [], 0
    for part in parts:
        starts.append(pos)
        pos += len(part) + 1
    return SEP.join(parts), starts, names


class Matcher:
    """Built once per version of the subscriptions; `match(posts)` scans each post once.

    A topic whose query is one unscoped term without filters needs no evaluation: its owners are
    listed under the term (`simple`). Every other distinct (query, filters) is one `_Check`,
    indexed under the terms of its anchor group.
    """

    def __init__(self, subscriptions: Iterable[Subscription]):
        with _no_cyclic_gc():
            self._build(subscriptions)
        logger.debug("matcher: %d topics, %d checks, %d terms", self.topic_count, len(self.checks), len(self.terms))

    def _build(self, subscriptions: Iterable[Subscription]) -> None:
        self.terms: list[str] = []
        number: dict[str, int] = {}

        def term_id(text: str) -> int:
            if text not in number:
                number[text] = len(self.terms)
                self.terms.append(text)
            return number[text]

        def ref(term: Term) -> tuple[int, frozenset[str]]:
            fields = frozenset("extra" if f.startswith(EXTRA) else f for f in term.fields)
            return term_id(term.text), fields

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
                if len(positive) == 1 and not query.excluded and not filtered and not positive[0].scoped:
                    self.simple.setdefault(term_id(positive[0].text), []).append((subscription.id, topic.name))
                    continue
                key = (query.groups, query.excluded, topic.sites, topic.regions, topic.board_kinds)
                if key in by_key:
                    self.checks[by_key[key]].owners.append((subscription.id, topic.name))
                    continue
                anchor = max(query.groups, key=lambda group: (min(len(t.text) for t in group), -len(group)))
                rest = tuple(tuple(ref(t) for t in group) for group in query.groups if group is not anchor)
                excluded = tuple(ref(t) for t in query.excluded)
                extra = any(f.startswith(EXTRA) for t in (*positive, *query.excluded) for f in t.fields)
                by_key[key] = len(self.checks)
                self.checks.append(_Check(tuple(ref(t) for t in anchor), rest, excluded,
                                          tuple(ref(t) for t in positive),
                                          topic if filtered else None, [(subscription.id, topic.name)],
                                          topic if extra else None))
                for term in anchor:
                    self.anchors.setdefault(term_id(term.text), []).append(by_key[key])
        self.automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        for text, n in number.items():
            self.automaton.add_word(text, n)
        if self.terms:
            self.automaton.make_automaton()

    def hits(self, post: dict) -> dict[int, set[str]]:
        """Term number -> the fields of the post it occurs in."""
        if not self.terms:
            return {}
        text, starts, names = post_fields_text(post)
        out: dict[int, set[str]] = {}
        for end, n in self.automaton.iter(text):
            field = names[bisect.bisect_right(starts, end - len(self.terms[n]) + 1) - 1]
            out.setdefault(n, set()).add(field)
        return out

    def match_post(self, post: dict) -> list[Match]:
        hits = self.hits(post)
        if not hits:
            return []
        simple, anchors, checks, terms = self.simple, self.anchors, self.checks, self.terms
        post_id = post["id"]
        out: list[Match] = []
        candidates: set[int] = set()
        for n in sorted(hits):
            owners = simple.get(n)
            if owners and not hits[n].isdisjoint(DEFAULT):
                found = (terms[n],)
                out += [_new_match(Match, (official_id, name, post_id, found)) for official_id, name in owners]
            anchored = anchors.get(n)
            if anchored:
                candidates.update(anchored)
        fields = None
        for index in sorted(candidates):
            anchor, rest, excluded, positive, topic, owners, exact = checks[index]
            if exact is not None:  # extra-field terms: the query decides, on the post's own fields
                fields = fields or PostFields(post)
                if not exact.query.matches(fields) or not exact.accepts(post):
                    continue
                found = exact.query.matched_terms(fields)
            else:
                if not any(_hit(t, hits) for t in anchor):
                    continue
                if excluded and any(_hit(t, hits) for t in excluded):
                    continue
                if rest and not all(any(_hit(t, hits) for t in group) for group in rest):
                    continue
                if topic is not None and not topic.accepts(post):
                    continue
                found = tuple(dict.fromkeys(terms[t[0]] for t in positive if _hit(t, hits)))
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
