"""The subscription query language, and its matching semantics (pure functions).

Syntax (Google-like, no parentheses):

- ``드론 예산``            every word must match (AND);
- ``"청년 일자리"``        a phrase: its words must appear one after the other;
- ``탄소중립 OR 온실가스`` either side (``OR`` in capitals; it binds tighter than AND:
  ``드론 OR 무인기 예산`` means (드론 OR 무인기) AND 예산);
- ``-채용`` / ``-"단순 채용"`` the post must not contain it.

Semantics, the same as the staff and post search (index.text): the post's title, body
and department are NFC-normalized and lower-cased, and every space and control character
is removed; a word matches when it is a substring of that text, so compounds are found (``드론`` matches ``드론산업육성``). A phrase is
its words with the spaces removed, so ``"청년 일자리"`` matches ``청년일자리`` and
``청년 일자리`` alike; it differs from two words only in requiring them to be adjacent.
Matching is exact substring matching: it also matches across noun boundaries
(``정산`` in ``행정산업``); that is the price of full recall on compounds.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from index.text import POST_SEARCH_FIELDS, SEP, clean, fold

# Fields of a post that a query searches, in this order (the same as the post search).
SEARCHED_FIELDS = POST_SEARCH_FIELDS
# Joins the fields: never part of a term, so no match spans two fields.
FIELD_SEPARATOR = SEP
_TOKEN = re.compile(r'\s*(?:(-?)"([^"]*)("?)|(\S+))')


class QuerySyntaxError(ValueError):
    """A query that cannot be parsed; the message says why, in plain words."""


def normalize(text: str | None) -> str:
    """The searchable form, as in the index (index.text): NFC, lower case, no spaces or control characters."""
    return fold(clean(text)) if text else ""


def post_text(post: dict) -> str:
    """The searchable text of a post: its searched fields normalized and joined."""
    return FIELD_SEPARATOR.join(normalize(post.get(name) or "") for name in SEARCHED_FIELDS)


@dataclass(frozen=True)
class Query:
    """A parsed query: an AND of OR-groups of terms, minus excluded terms (all normalized)."""

    source: str
    groups: tuple[tuple[str, ...], ...]
    excluded: tuple[str, ...] = ()

    @property
    def positive_terms(self) -> tuple[str, ...]:
        """Every term that can make the query match, in query order, without repeats."""
        return tuple(dict.fromkeys(term for group in self.groups for term in group))

    def matches(self, text: str) -> bool:
        """Whether the normalized `text` (see post_text) satisfies the query."""
        return all(any(term in text for term in group) for group in self.groups) \
            and not any(term in text for term in self.excluded)

    def matched_terms(self, text: str) -> tuple[str, ...] | None:
        """The positive terms found in `text` when the query matches, else None."""
        if not self.matches(text):
            return None
        return tuple(term for term in self.positive_terms if term in text)

    def evaluate(self, hits: set[str] | frozenset[str]) -> bool:
        """Whether the query matches a text in which exactly the terms `hits` occur."""
        return all(any(term in hits for term in group) for group in self.groups) \
            and not any(term in hits for term in self.excluded)


def _tokens(text: str) -> list[tuple[str, str, bool]]:
    """(kind, value, negated) for each token; kind is 'word', 'phrase' or 'or'."""
    tokens = []
    position = 0
    text = text.strip()
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None:  # only trailing spaces are left
            break
        negated, phrase, closing, word = found.groups()
        position = found.end()
        if word is not None:
            if '"' in word:
                raise QuerySyntaxError(f"quote inside a word: {word!r} (put spaces around a \"phrase\")")
            if word == "OR":
                tokens.append(("or", word, False))
            elif word.startswith("-"):
                if len(word) == 1:
                    raise QuerySyntaxError("'-' must be followed by the word or \"phrase\" to exclude")
                tokens.append(("word", word[1:], True))
            else:
                tokens.append(("word", word, False))
            continue
        if not closing:
            raise QuerySyntaxError(f"unbalanced quote: \"{phrase} has no closing \"")
        if not normalize(phrase):
            raise QuerySyntaxError('empty phrase ""')
        if position < len(text) and not text[position].isspace():
            raise QuerySyntaxError(f"put a space after the phrase \"{phrase}\"")
        tokens.append(("phrase", phrase, bool(negated)))
    return tokens


def parse_query(text: str) -> Query:
    """Parse a query; raises QuerySyntaxError with a readable reason."""
    if not isinstance(text, str) or not text.strip():
        raise QuerySyntaxError("empty query")
    groups: list[list[str]] = []
    excluded: list[str] = []
    pending_or = False
    for kind, value, negated in _tokens(text):
        if kind == "or":
            if pending_or or not groups:
                raise QuerySyntaxError("OR needs a word or phrase on both sides")
            pending_or = True
            continue
        term = normalize(value)
        if not term:
            raise QuerySyntaxError(f"nothing to search in {value!r}")
        if negated:
            if pending_or:
                raise QuerySyntaxError(f"an excluded term (-{value}) cannot be part of OR")
            excluded.append(term)
        elif pending_or:
            groups[-1].append(term)
        else:
            groups.append([term])
        pending_or = False
    if pending_or:
        raise QuerySyntaxError("OR needs a word or phrase on both sides")
    if not groups:
        raise QuerySyntaxError("the query needs at least one word or phrase that is not excluded")
    clash = set(excluded) & {t for g in groups if len(g) == 1 for t in g}
    if clash:
        raise QuerySyntaxError(f"{sorted(clash)[0]!r} is both required and excluded")
    return Query(text, tuple(tuple(dict.fromkeys(g)) for g in groups), tuple(dict.fromkeys(excluded)))


def check_query(text: str) -> str | None:
    """None when `text` parses, else the reason (for conf.schema.Str(check=...))."""
    try:
        parse_query(text)
    except QuerySyntaxError as exc:
        return f"invalid query {text!r}: {exc}"
    return None


def highlight_pattern(terms) -> re.Pattern | None:
    """A regex finding normalized `terms` in original text (any spaces between letters)."""
    parts = [r"\s*".join(re.escape(ch) for ch in term) for term in sorted(set(terms), key=len, reverse=True) if term]
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None
