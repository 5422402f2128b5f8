"""The one query language of posts: the search page, the JSON API, `nugo search --posts` and every topic.

Syntax (Google-like, no parentheses):

- ``드론 예산``              every term must match (AND);
- ``"청년 일자리"``          a phrase: its words one after the other (spaces are ignored, as everywhere);
- ``탄소중립 OR 온실가스``   either side (``OR`` in capitals; binds tighter than AND:
  ``드론 OR 무인기 예산`` means (드론 OR 무인기) AND 예산);
- ``-채용`` / ``-"단순 채용"`` the post must not contain it;
- ``제목:드론`` (``title:``), ``본문:드론`` (``body:``), ``부서:투자유치과`` (``dept:``): a term in one field only;
  any other label a board declares as an extra field (``공고번호:2024-123``, ``담당자:김민수``) scopes to it.

Semantics: a term matches when it is a substring of the field's text, NFC-normalized, lower-cased, every
space and control character removed (`드론` matches `드론산업육성`; `"청년 일자리"` matches `청년일자리`).
A term without a scope searches the **title and the body**; the department and the extra fields are
searched only when a term names them. Exact substring matching also matches across noun boundaries
(``정산`` in ``행정산업``): that is the price of full recall on compounds.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from index.text import clean_fold

FIELD_NAMES = {"제목": "title", "title": "title", "본문": "body", "내용": "body", "body": "body", "부서": "department",
               "담당부서": "department", "dept": "department", "department": "department"}
TEXT_FIELDS = ("title", "body", "department")      # the searchable text of a post, in this order (index.writer)
DEFAULT_FIELDS = ("title", "body")
EXTRA = "extra:"                                     # prefix of an extra field's scope: "extra:공고번호"
_TOKEN = re.compile(r'\s*(?:(-?)((?:[^\s":]{1,20}):)?"([^"]*)("?)|(\S+))')
_LABEL = re.compile(r"[가-힣A-Za-z_]{1,20}")


class QuerySyntaxError(ValueError):
    """A query that cannot be parsed; the message says why, in plain words."""


def normalize(text: str | None) -> str:
    """The searchable form: NFC, lower case, no spaces or control characters."""
    return clean_fold(text) if text else ""


@dataclass(frozen=True)
class Term:
    """One searched string (normalized) and the fields it is searched in."""

    text: str
    fields: tuple[str, ...] = DEFAULT_FIELDS

    @property
    def scoped(self) -> bool:
        return self.fields != DEFAULT_FIELDS


@dataclass(frozen=True)
class Query:
    """An AND of OR-groups of terms, minus excluded terms."""

    source: str
    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...] = ()

    @property
    def positive_terms(self) -> tuple[Term, ...]:
        """Every term that can make the query match, in query order, without repeats."""
        return tuple(dict.fromkeys(term for group in self.groups for term in group))

    @property
    def words(self) -> list[str]:
        """The positive terms' texts (for highlighting)."""
        return list(dict.fromkeys(t.text for t in self.positive_terms))

    def matches(self, fields: "PostFields") -> bool:
        return all(any(fields.has(t) for t in group) for group in self.groups) \
            and not any(fields.has(t) for t in self.excluded)

    def matched_terms(self, fields: "PostFields") -> tuple[str, ...] | None:
        if not self.matches(fields):
            return None
        return tuple(dict.fromkeys(t.text for t in self.positive_terms if fields.has(t)))


class PostFields:
    """The normalized searchable fields of one post: what a Term is tested against."""

    def __init__(self, post: dict):
        self.text = {name: normalize(post.get(name)) for name in TEXT_FIELDS}
        extra = post.get("extra") if isinstance(post.get("extra"), dict) else {}
        self.extra = {normalize(str(k)): normalize(str(v)) for k, v in extra.items()}

    def field(self, name: str) -> str:
        if name.startswith(EXTRA):
            return self.extra.get(name[len(EXTRA):], "")
        return self.text.get(name, "")

    def has(self, term: Term) -> bool:
        return any(term.text in self.field(name) for name in term.fields)


def _scope(label: str | None) -> tuple[str, ...] | None:
    """The fields of a scope label, or None when the label is not one (then the colon is part of the word)."""
    if label is None:
        return DEFAULT_FIELDS
    name = FIELD_NAMES.get(label.lower())
    if name:
        return (name,)
    if _LABEL.fullmatch(label) and not label.isascii():
        return (EXTRA + normalize(label),)
    return None


def _tokens(text: str) -> list[tuple[str, str, bool, tuple[str, ...]]]:
    """(kind, value, negated, fields) for each token; kind is 'term' or 'or'."""
    tokens = []
    position = 0
    text = text.strip()
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None:  # only trailing spaces are left
            break
        negated, label, phrase, closing, word = found.groups()
        position = found.end()
        if word is not None:
            if word == "OR":
                tokens.append(("or", word, False, ()))
                continue
            negated = word.startswith("-")
            if negated:
                word = word[1:]
                if not word:
                    raise QuerySyntaxError("'-' must be followed by the word or \"phrase\" to exclude")
            label, sep, rest = word.partition(":")
            fields = _scope(label) if sep and rest and label else None
            if fields is None:
                fields, rest = DEFAULT_FIELDS, word
            if '"' in rest:
                raise QuerySyntaxError(f"quote inside a word: {word!r} (put spaces around a \"phrase\")")
            tokens.append(("term", rest, negated, fields))
            continue
        if not closing:
            raise QuerySyntaxError(f"unbalanced quote: \"{phrase} has no closing \"")
        if not normalize(phrase):
            raise QuerySyntaxError('empty phrase ""')
        if position < len(text) and not text[position].isspace():
            raise QuerySyntaxError(f"put a space after the phrase \"{phrase}\"")
        fields = _scope(label[:-1] if label else None)
        if fields is None:
            raise QuerySyntaxError(f"unknown field {label[:-1]!r} (fields: 제목, 본문, 부서, or an extra field's label)")
        tokens.append(("term", phrase, bool(negated), fields))
    return tokens


def parse_query(text: str) -> Query:
    """Parse a query; raises QuerySyntaxError with a readable reason."""
    if not isinstance(text, str) or not text.strip():
        raise QuerySyntaxError("empty query")
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = False
    for kind, value, negated, fields in _tokens(text):
        if kind == "or":
            if pending_or or not groups:
                raise QuerySyntaxError("OR needs a word or phrase on both sides")
            pending_or = True
            continue
        normalized = normalize(value)
        if not normalized:
            raise QuerySyntaxError(f"nothing to search in {value!r}")
        term = Term(normalized, fields)
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
        raise QuerySyntaxError(f"{sorted(clash, key=lambda t: t.text)[0].text!r} is both required and excluded")
    return Query(text, tuple(tuple(dict.fromkeys(g)) for g in groups), tuple(dict.fromkeys(excluded)))


def try_parse(text: str) -> tuple[Query | None, str | None]:
    """(query, None), or (None, the reason in Korean and English) for the search box."""
    try:
        return parse_query(text), None
    except QuerySyntaxError as exc:
        return None, f"검색어를 이해하지 못했습니다: {exc}"


def check_query(text: str) -> str | None:
    """None when `text` parses, else the reason (for conf.schema.Str(check=...))."""
    try:
        parse_query(text)
    except QuerySyntaxError as exc:
        return f"invalid query {text!r}: {exc}"
    return None


def highlight_pattern(terms) -> re.Pattern | None:
    """A regex finding normalized `terms` in original text (any spaces between letters)."""
    texts = [t.text if isinstance(t, Term) else t for t in terms]
    parts = [r"\s*".join(re.escape(ch) for ch in term) for term in sorted(set(texts), key=len, reverse=True) if term]
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None
