"""Match a batch of posts against every subscription at once (reverse search).

One Aho-Corasick automaton holds the text of every term of every topic (normalized, see index.query).
Scanning a post's fields once gives, for each term text it contains, the fields it occurs in; each topic
is indexed under the terms of one of its AND-groups (its "anchor"), so only topics whose anchor was hit
are evaluated, by set operations on the hits. Any group can be the anchor (a match needs every group);
the best is the rarest. Until the matcher has seen posts it guesses that long terms are rare; as it
matches, it counts in how many posts each term occurs and re-anchors every check on the group that
occurred least (`learn`, and at batch ends after 100, 200, 400 ... posts): a long word common in the
posts (사회적경제 in a fifth of them) no longer makes every "keyword AND 사회적경제" topic a candidate. A term matches
when it occurs in one of its fields (title and body unless the topic names a field). Terms scoped to a
board's extra fields are checked on the post itself. The result equals evaluating every query on every
post (tests/test_notifier.py checks it, on the dense corpus and after re-anchoring).
"""
from __future__ import annotations

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

    groups: tuple[tuple[tuple[int, int], ...], ...]  # every OR-group, in query order: (term id, field bits)
    anchor: tuple[tuple[int, int], ...]  # the group the check is indexed under
    rest: tuple[tuple[tuple[int, int], ...], ...]  # the other OR-groups
    excluded: tuple[tuple[int, int], ...]
    positive: tuple[tuple[int, int], ...]  # query order, for reporting matched terms
    found: tuple[str, ...] | None  # the matched terms when there is one positive term: known in advance
    filters: tuple[frozenset[str] | None, frozenset[str] | None, frozenset[str] | None] | None  # sites, regions, kinds
    owners: list[tuple[str, str]]  # (official id, topic name)
    exact: Topic | None  # topics with extra-field terms: the query is evaluated on the post itself


_new_match = tuple.__new__
FIELD_BITS = {name: 1 << i for i, name in enumerate((*TEXT_FIELDS, "extra"))}  # a term's fields as one int
DEFAULT = sum(FIELD_BITS[name] for name in DEFAULT_FIELDS)
FIRST_REANCHOR = 100       # posts seen before the first re-anchoring by observed frequency
MAX_REANCHOR_STEP = 100_000  # re-anchoring at 100, 200, 400 ... posts seen, then every 100,000


class TermStats(NamedTuple):
    """In how many of the posts seen each term occurred (by term text): carried to the next Matcher
    when the subscriptions change, so a reload does not forget what the posts are like."""

    posts: int
    counts: dict[str, int]


def post_field_parts(post: dict) -> list[tuple[str, int]]:
    """The text the automaton scans, field by field: (normalized text, the field's bit). A term has no
    spaces or newlines, so no term spans two fields or two extra values (joined by SEP)."""
    parts = [(normalize(post.get(name) or ""), FIELD_BITS[name]) for name in TEXT_FIELDS]
    extra = post.get("extra") if isinstance(post.get("extra"), dict) else {}
    if extra:
        parts.append((SEP.join(normalize(str(v)) for v in extra.values()), FIELD_BITS["extra"]))
    return parts


class Matcher:
    """Built once per version of the subscriptions; `match(posts)` scans each post once.

    A topic whose query is one unscoped term without filters needs no evaluation: its owners are
    listed under the term (`simple`). Every other distinct (query, filters) is one `_Check`,
    indexed under the terms of its anchor group.
    """

    def __init__(self, subscriptions: Iterable[Subscription], stats: TermStats | None = None):
        with _no_cyclic_gc():
            self._build(subscriptions)
            self.seen = stats.posts if stats else 0
            self.counts = [stats.counts.get(text, 0) for text in self.terms] if stats else [0] * len(self.terms)
            self._next_anchoring = FIRST_REANCHOR
            if self.seen:
                self._reanchor()
        logger.debug("matcher: %d topics, %d checks, %d terms", self.topic_count, len(self.checks), len(self.terms))

    def _build(self, subscriptions: Iterable[Subscription]) -> None:
        self.terms: list[str] = []
        number: dict[str, int] = {}

        def term_id(text: str) -> int:
            if text not in number:
                number[text] = len(self.terms)
                self.terms.append(text)
            return number[text]

        def ref(term: Term) -> tuple[int, int]:
            fields = {"extra" if f.startswith(EXTRA) else f for f in term.fields}
            return term_id(term.text), sum(FIELD_BITS[f] for f in fields)

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
                groups = tuple(tuple(ref(t) for t in group) for group in query.groups)
                excluded = tuple(ref(t) for t in query.excluded)
                extra = any(f.startswith(EXTRA) for t in (*positive, *query.excluded) for f in t.fields)
                by_key[key] = len(self.checks)
                self.checks.append(_Check(groups, (), (), excluded, tuple(ref(t) for t in positive),
                                          (positive[0].text,) if len(positive) == 1 else None,
                                          (topic.sites, topic.regions, topic.board_kinds) if filtered else None,
                                          [(subscription.id, topic.name)], topic if extra else None))
        self._anchor_all(lambda group: (-min(len(self.terms[n]) for n, _ in group), len(group)))
        self.automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        for text, n in number.items():
            self.automaton.add_word(text, n)
        if self.terms:
            self.automaton.make_automaton()

    def _anchor_all(self, cost) -> None:
        """Index every check under its group of least `cost(group)` (ties: the first in query order)."""
        anchors: dict[int, list[int]] = {}
        checks = self.checks
        for index, check in enumerate(checks):
            groups = check.groups
            if len(groups) > 1:
                best = min(range(len(groups)), key=lambda g: cost(groups[g]))
                if check.anchor is not groups[best]:
                    checks[index] = check._replace(anchor=groups[best], rest=groups[:best] + groups[best + 1:])
            elif not check.anchor:
                checks[index] = check._replace(anchor=groups[0])
            for n, _ in checks[index].anchor:
                anchors.setdefault(n, []).append(index)
        self.anchors = anchors

    def _reanchor(self) -> None:
        """Anchor each check on the group that occurred in the fewest posts seen (the sum over its terms:
        an OR-group is hit when any of its terms is); ties go to longer terms, as before any post."""
        counts, terms = self.counts, self.terms
        self._anchor_all(lambda group: (sum(counts[n] for n, _ in group), -min(len(terms[n]) for n, _ in group),
                                        len(group)))
        while self._next_anchoring <= self.seen:
            self._next_anchoring += min(self._next_anchoring, MAX_REANCHOR_STEP)

    def stats(self) -> TermStats:
        """What the matcher has learned of the posts, for the next Matcher (see TermStats)."""
        return TermStats(self.seen, {self.terms[n]: c for n, c in enumerate(self.counts) if c})

    def learn(self, posts: Iterable[dict]) -> None:
        """Count the terms of `posts` (recent posts, not to be matched) and re-anchor on what was seen."""
        counts = self.counts
        for post in posts:
            self.seen += 1
            for n in self.hits(post):
                counts[n] += 1
        if self.seen:
            with _no_cyclic_gc():
                self._reanchor()

    def hits(self, post: dict) -> dict[int, int]:
        """Term number -> the fields of the post it occurs in (FIELD_BITS)."""
        if not self.terms:
            return {}
        out: dict[int, int] = {}
        get, scan = out.get, self.automaton.iter
        for text, bit in post_field_parts(post):
            if text:
                for _, n in scan(text):
                    out[n] = get(n, 0) | bit
        return out

    def match_post(self, post: dict) -> list[Match]:
        self.seen += 1  # with the counts below: the frequencies re-anchoring uses
        hits = self.hits(post)
        if not hits:
            return []
        simple, anchors, checks, terms, counts = self.simple, self.anchors, self.checks, self.terms, self.counts
        get = hits.get
        post_id = post["id"]
        out: list[Match] = []
        candidates: set[int] = set()
        for n in sorted(hits):
            counts[n] += 1
            owners = simple.get(n)
            if owners and hits[n] & DEFAULT:
                found = (terms[n],)
                out += [_new_match(Match, (official_id, name, post_id, found)) for official_id, name in owners]
            anchored = anchors.get(n)
            if anchored:
                candidates.update(anchored)
        fields = None
        site, region, kind = post.get("site"), post.get("region"), post.get("board_kind")
        for index in sorted(candidates):
            _, anchor, rest, excluded, positive, found, filters, owners, exact = checks[index]
            if exact is not None:  # extra-field terms: the query decides, on the post's own fields
                fields = fields or PostFields(post)
                if not exact.query.matches(fields) or not exact.accepts(post):
                    continue
                found = exact.query.matched_terms(fields)
            else:
                for n, bits in anchor:
                    if get(n, 0) & bits:
                        break
                else:
                    continue
                if filters is not None:
                    sites, regions, kinds = filters
                    if (sites is not None and site not in sites) or (regions is not None and region not in regions) \
                            or (kinds is not None and kind not in kinds):
                        continue
                if excluded and any(get(n, 0) & bits for n, bits in excluded):
                    continue
                if rest and not all(any(get(n, 0) & bits for n, bits in group) for group in rest):
                    continue
                if found is None:
                    found = tuple(dict.fromkeys(terms[n] for n, bits in positive if get(n, 0) & bits))
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
            if self.seen >= self._next_anchoring:
                self._reanchor()
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
