"""Post search in Whoosh: the same substring semantics over title, body and department, newest first."""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from whoosh.query import And, AndNot, NumericRange, Or, Phrase, Query, Term

from index.results import Results
from index.store import POSTS, Store
from index.text import POST_SEARCH_FIELDS, find_spans, query_words

logger = logging.getLogger(__name__)

SORTS = {"date": "date_sort", "first_seen": "first_seen_us"}


def word_query(word: str) -> Query:
    """Whoosh query matching the posts whose folded title, body or department contain `word`.

    One character: the `chars` field; two: one bigram; longer: the phrase of its bigrams at
    consecutive positions (exact: bigrams are positioned over the text with spaces removed).
    """
    word = "".join(word.split()).lower()
    if len(word) == 1:
        return Term("chars", word)
    if len(word) == 2:
        return Term("grams", word)
    return Phrase("grams", [word[i:i + 2] for i in range(len(word) - 1)])


def _any(field: str, value) -> Query | None:
    if value is None or value == "" or value == []:
        return None
    values = [value] if isinstance(value, str) else list(value)
    return Term(field, values[0]) if len(values) == 1 else Or([Term(field, v) for v in values])


def _micros(moment: datetime | str | float) -> int:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if isinstance(moment, datetime):
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    return int(float(moment) * 1_000_000)


class PostSearcher:
    """One Whoosh searcher kept open; `refresh()` reopens it only when the posts index changed."""

    def __init__(self, index_dir: str | Path):
        self.store = Store(index_dir)
        self._lock = threading.Lock()
        self._searcher = self.store.open(POSTS).searcher()

    def refresh(self) -> bool:
        with self._lock:
            newer = self._searcher.refresh()
            changed = newer is not self._searcher
            self._searcher = newer
            return changed

    def close(self) -> None:
        self._searcher.close()

    def __len__(self) -> int:
        return self._searcher.doc_count()

    def search(self, query: str, *, site=None, region=None, board_kind=None, since_first_seen=None,
               exclude=(), sort: str = "date", page: int = 1, per_page: int = 50) -> Results:
        """Posts holding every word of `query` (none of `exclude`), newest `sort` first.

        `since_first_seen`: a datetime, ISO string or epoch seconds; only posts the indexer first
        committed at or after it (alerts). `sort`: "date" (the post's date, or first seen when it
        has none) or "first_seen"."""
        started = time.perf_counter()
        page, per_page = max(1, int(page)), max(1, int(per_page))
        words = query_words(query)
        results = Results(query=query, words=words, total=0, page=page, per_page=per_page)
        if not words:
            results.took_ms = round((time.perf_counter() - started) * 1000, 3)
            return results
        q: Query = And([word_query(w) for w in words]) if len(words) > 1 else word_query(words[0])
        not_words = [w for e in exclude for w in query_words(e)]
        if not_words:
            q = AndNot(q, Or([word_query(w) for w in not_words]))
        filters = [f for f in (_any("site", site), _any("region", region), _any("board_kind", board_kind)) if f]
        if since_first_seen is not None:
            filters.append(NumericRange("first_seen_us", _micros(since_first_seen), None))
        searcher = self._searcher
        hits = searcher.search(q, filter=And(filters) if filters else None, sortedby=SORTS[sort], reverse=True,
                               limit=page * per_page, groupedby=["region", "board_kind"])
        results.total = len(hits)
        results.facets = {name: {k: len(v) for k, v in hits.groups(name).items()} for name in ("region", "board_kind")}
        for hit in hits[(page - 1) * per_page:page * per_page]:
            row = dict(hit["row"])
            row["highlights"] = {name: spans for name in POST_SEARCH_FIELDS
                                 if (spans := find_spans(row.get(name) or "", words))}
            results.hits.append(row)
        results.took_ms = round((time.perf_counter() - started) * 1000, 3)
        return results
