"""Text folding for Korean substring search: one definition shared by the writer and the searchers."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Fields of a staff row that a query searches, in this order inside the folded text.
STAFF_SEARCH_FIELDS = ("bureau", "department", "team", "position", "name", "phone", "duties", "email")
# The department-like fields (실·국, department, team) come first: a match past them is a match in duties, name, phone...
STAFF_DEPARTMENT_FIELDS = 3
POST_SEARCH_FIELDS = ("title", "body", "department")
SEP = "\n"  # joins folded fields; never inside a query word, so no word matches across fields

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_WS = re.compile(r"\s+")


def clean(value) -> str:
    """Stored form of crawled text: NFC, no control characters, single spaces."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    return _WS.sub(" ", _CONTROL.sub("", text)).strip()


def fold(text: str) -> str:
    """Searchable form: lower case, every whitespace removed (the query word is folded the same way)."""
    return "".join(text.split()).lower()


def clean_fold(value) -> str:
    """fold(clean(value)) in one pass: the collapsing of spaces is skipped, since folding removes them all
    (tests/test_text.py checks the two agree on random text with every kind of space and control)."""
    if value is None:
        return ""
    return "".join(_CONTROL.sub("", unicodedata.normalize("NFC", str(value))).split()).lower()


def query_words(query: str) -> list[str]:
    """Folded words of a query, duplicates and words contained in other words dropped."""
    words = [w.lower() for w in clean(query).split()]
    kept: list[str] = []
    for w in sorted(set(words), key=len, reverse=True):
        if not any(w in k for k in kept):
            kept.append(w)
    return kept


def fold_fields(values) -> tuple[str, str]:
    """(folded text of the fields joined by SEP, token starts) for one record.

    Token starts are the positions in the folded text where a word began in the original
    (after a space); a position after punctuation or a SEP is recognised from the text itself.
    They are encoded as a string of code points (positions < 1,114,112) to stay compact.
    """
    folded: list[str] = []
    starts: list[str] = []
    pos = 0
    for i, value in enumerate(values):
        if i:
            folded.append(SEP)
            pos += 1
        words = (value or "").lower().split()
        for j, word in enumerate(words):
            if j:
                starts.append(chr(pos))
            folded.append(word)
            pos += len(word)
    return "".join(folded), "".join(starts)


GRAM = 3  # the longest gram indexed; a word up to this length is answered by its gram alone


def word_grams(word: str) -> list[str]:
    """Grams whose intersection holds every text containing `word` (the word itself when short)."""
    if len(word) <= GRAM:
        return [word]
    return sorted({word[i:i + GRAM] for i in range(len(word) - GRAM + 1)})


def grams(field: str) -> set[str]:
    """Every gram of one folded field: its characters, bigrams and trigrams."""
    out = set(field)
    for n in range(2, GRAM + 1):
        out.update(field[i:i + n] for i in range(len(field) - n + 1))
    return out


@lru_cache(maxsize=4096)
def span_pattern(words: tuple[str, ...]) -> re.Pattern | None:
    """One pattern finding every (overlapping) occurrence of any word, spaces of the text allowed
    between its characters; longer words first so a position reports its longest match."""
    alternatives = ["\\s*".join(re.escape(c) for c in w) for w in sorted({fold(w) for w in words} - {""}, key=len,
                                                                        reverse=True)]
    if not alternatives:
        return None
    return re.compile("(?=(" + "|".join(alternatives) + "))", re.IGNORECASE)


def find_spans(text: str, words) -> list[tuple[int, int]]:
    """(start, end) spans of `text` where a query word occurs, spaces inside the text ignored."""
    pattern = span_pattern(tuple(words))
    if pattern is None or not text:
        return []
    merged: list[tuple[int, int]] = []
    for m in pattern.finditer(text):
        start, end = m.span(1)
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged
