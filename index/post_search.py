"""Post search in the one query language (index.query): terms, phrases, OR, exclusions and field scopes.

Over the segments of `index.post_store`: per segment, each term's candidates come from the postings of
its grams (a superset: the grams cover every field of the text); an OR-group's candidates are the union
of its terms', and the query's the intersection of its groups', narrowed by the live mask, the filters and
`since_first_seen`. Each group is then checked exactly: a candidate stays when one of the group's terms
occurs inside one of that term's fields (index.post_fields); excluded terms are checked the same way and
removed. So the total is exact. A term's checked posts in a large (immutable) segment are cached per
process. The page is the top `page * per_page` posts by date (or first seen) picked per segment with
numpy, then merged.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from index.post_store import MANIFEST
from index.postings import intersect, member, word_keys
from index.segment import Segment, read_deleted
from index.results import Results
from index.store import IndexPaths
from index.post_fields import field_set, holding
from index.query import Query, Term, try_parse
from index.text import POST_SEARCH_FIELDS, find_spans

logger = logging.getLogger(__name__)

SORTS = ("date", "first_seen")
FACETS = ("region", "board_kind")
CACHE_MIN_DOCS = 8192  # segments at least this large keep checked long words
CACHE_IDS = 8_000_000  # post ids (2 bytes each) the checked-word cache of a process keeps; 0: no cache


@dataclass(frozen=True)
class _Word:
    word: str
    keys: tuple
    exact: bool
    utf16: bytes
    units: tuple  # its UTF-16 code units (for the kept long grams of large segments)


def _word(word: str) -> _Word:
    word = "".join(word.split()).lower()
    keys, exact = word_keys(word)
    utf16 = word.encode("utf-16-le", "surrogatepass")
    units = tuple(np.frombuffer(utf16, dtype="<u2").tolist())
    return _Word(word, tuple(keys), exact, utf16, units)


def _word_ids(seg: Segment, w: _Word) -> tuple[np.ndarray, bool]:
    """(candidates of `w` in the segment, exact): exact for a gram, or for a word of 4..LONG_GRAM units the
    segment keeps as a common long gram; otherwise narrowed by the kept grams inside it, to be checked."""
    if not w.exact and seg.long_keys:
        packed, exact = seg.long_mask(w.units)
        if packed is not None:
            if exact:
                return np.flatnonzero(seg.unpack(packed)).astype(np.uint16), True
            ids = seg.word_ids(w.keys)
            return ids[seg.unpack(packed)[ids]], False
    return seg.word_ids(w.keys), w.exact


def _micros(moment: datetime | str | float) -> int:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if isinstance(moment, datetime):
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    return int(float(moment) * 1_000_000)


def _values(value) -> set[str] | None:
    if value is None or value == "" or value == []:
        return None
    return {value} if isinstance(value, str) else set(value)


class _Checked:
    """Process-wide LRU of (segment file, word) -> local ids whose text holds the word."""

    def __init__(self, budget: int):
        self.budget = budget
        self.used = 0
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key, ids: np.ndarray) -> None:
        if len(ids) > self.budget // 4:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = ids
            self.used += len(ids) + 16
            while self.used > self.budget and self._items:
                _, old = self._items.popitem(last=False)
                self.used -= len(old) + 16

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.used = 0


CHECKED = _Checked(CACHE_IDS)


@dataclass(frozen=True)
class _Part:
    """One segment as a view sees it: the segment and its live mask."""

    seg: Segment
    live: np.ndarray
    del_name: str | None
    live_count: int

    @property
    def all_live(self) -> bool:
        return self.live_count == self.seg.docs


class PostSearcher:
    """The live post segments, mapped read-only; `refresh()` picks up the writer's new manifest."""

    def __init__(self, index_dir: str | Path):
        self.root = IndexPaths(Path(index_dir)).posts
        self._lock = threading.Lock()
        self._parts: tuple[_Part, ...] = ()
        self._stamp = None
        self.refresh()

    def refresh(self) -> bool:
        """Pick up commits and merges since the last call; True when the view changed."""
        with self._lock:
            for attempt in range(5):
                try:
                    return self._refresh()
                except FileNotFoundError:  # a merge removed a file between manifest and open: read again
                    logger.info("post segment moved during refresh, retrying (%d)", attempt + 1)
                    self._stamp = None
            return self._refresh()

    def _refresh(self) -> bool:
        try:
            st = (self.root / MANIFEST).stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return False
        if stamp is None:
            changed = bool(self._parts)
            self._parts, self._stamp = (), None
            return changed
        manifest = json.loads((self.root / MANIFEST).read_text(encoding="utf-8"))
        current = {p.seg.name: p for p in self._parts}
        parts = []
        for entry in manifest["segments"]:
            old = current.get(entry["name"])
            seg = old.seg if old is not None else Segment(self.root / f"{entry['name']}.seg")
            del_name = entry.get("del")
            if old is not None and old.del_name == del_name:
                parts.append(old)
                continue
            live = read_deleted(self.root / del_name, seg.docs) if del_name else np.ones(seg.docs, dtype=bool)
            parts.append(_Part(seg, live, del_name, int(live.sum())))
        self._parts = tuple(parts)
        self._stamp = stamp
        return True

    def close(self) -> None:
        self._parts = ()

    def __len__(self) -> int:
        return sum(p.live_count for p in self._parts)

    # -- search
    def search(self, query: str | Query, *, site=None, region=None, board_kind=None, since_first_seen=None,
               sort: str = "date", page: int = 1, per_page: int = 50) -> Results:
        """Posts matching `query` (index.query: words, "phrases", OR, -excluded, field scopes), newest first.

        A query that does not parse gives no results and says why in `Results.error`.
        `since_first_seen`: a datetime, ISO string or epoch seconds; only posts the indexer first
        committed at or after it (alerts). `sort`: "date" (the post's date, or first seen when it
        has none) or "first_seen"."""
        started = time.perf_counter()
        if sort not in SORTS:
            raise KeyError(sort)
        page, per_page = max(1, int(page)), max(1, int(per_page))
        source = query.source if isinstance(query, Query) else query
        results = Results(query=source, words=[], total=0, page=page, per_page=per_page)
        if isinstance(query, Query):
            parsed = query
        elif not (query or "").strip():
            parsed = None
        else:
            parsed, results.error = try_parse(query)
        if parsed is None:
            results.took_ms = round((time.perf_counter() - started) * 1000, 3)
            return results
        results.words = parsed.words
        filters = [(cat, vals) for cat, vals in (("site", _values(site)), ("region", _values(region)),
                                                  ("board_kind", _values(board_kind))) if vals is not None]
        since_us = _micros(since_first_seen) if since_first_seen is not None else None
        need = page * per_page
        facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
        tops = []
        total = 0
        parts = self._parts  # one view for the whole search, whatever a refresh does meanwhile
        for number, part in enumerate(parts):
            ids = self._matches(part, parsed, filters, since_us)
            if ids is None or not len(ids):
                continue
            seg = part.seg
            total += len(ids)
            for name in FACETS:
                counts = np.bincount(getattr(seg, f"cat_{name}")[ids], minlength=len(seg.cats[name]))
                facet, values = facets[name], seg.cats[name]
                for code in np.flatnonzero(counts).tolist():
                    facet[values[code]] = facet.get(values[code], 0) + int(counts[code])
            first, second = (seg.date_sort, seg.first_seen_us) if sort == "date" else (seg.first_seen_us, seg.date_sort)
            primary = first[ids]
            if len(ids) > need:
                threshold = np.partition(primary, len(ids) - need)[len(ids) - need]
                keep = primary >= threshold
                ids, primary = ids[keep], primary[keep]
            tops.append((np.full(len(ids), number, dtype=np.int32), ids, primary, second[ids], seg.seq[ids]))
        results.total = total
        results.facets = {name: dict(sorted(f.items(), key=lambda kv: (-kv[1], kv[0]))) for name, f in facets.items()}
        if tops:
            where = np.concatenate([t[0] for t in tops])
            local = np.concatenate([t[1] for t in tops])
            order = np.lexsort((np.concatenate([t[4] for t in tops]), -np.concatenate([t[3] for t in tops]),
                                -np.concatenate([t[2] for t in tops])))
            words = parsed.words
            for k in order[(page - 1) * per_page:need].tolist():
                row = parts[int(where[k])].seg.row(int(local[k]))
                row["highlights"] = {name: spans for name in POST_SEARCH_FIELDS
                                     if (spans := find_spans(row.get(name) or "", words))}
                results.hits.append(row)
        results.took_ms = round((time.perf_counter() - started) * 1000, 3)
        return results

    def _candidates(self, seg: Segment, term: Term) -> tuple[np.ndarray, bool]:
        """(candidates of the term, exact). The grams cover the title and the body: for a term searching
        exactly those they decide (a word of up to 3 characters, or a common long gram); for one inside
        them they give candidates to check; for the department or an extra field every post is a candidate."""
        fields = field_set(term)
        if not fields <= seg.grams_fields:
            return np.arange(seg.docs, dtype=np.uint16), False
        ids, exact = _word_ids(seg, _word(term.text))
        return ids, exact and fields == seg.grams_fields

    def _matches(self, part: _Part, query: Query, filters, since_us) -> np.ndarray | None:
        """Local ids of the segment's live posts matching everything, sorted; None when none."""
        seg = part.seg
        if since_us is not None and seg.first_seen_max < since_us:
            return None
        groups = []
        for group in query.groups:
            found = [(term, *self._candidates(seg, term)) for term in group]
            union = _union([ids for _, ids, _ in found])
            if not len(union):
                return None
            groups.append((found, union))
        cand = intersect([union for _, union in groups])
        if not len(cand):
            return None
        if not part.all_live:
            cand = cand[part.live[cand]]
        narrowed = False
        for cat, values in filters:
            index = seg.cat_index[cat]
            codes = [index[v] for v in values if v in index]
            if not codes:
                return None
            if len(codes) < len(index):
                cand = cand[np.isin(getattr(seg, f"cat_{cat}")[cand], codes)]
                narrowed = True
        if since_us is not None and seg.first_seen_min < since_us:
            cand = cand[seg.first_seen_us[cand] >= since_us]
            narrowed = True
        for found, union in sorted(groups, key=lambda g: len(g[1])):
            if not len(cand):
                return None
            held = [intersect([ids, cand]) if exact else
                    self._holding(seg, term, intersect([ids, cand]), ids, narrowed or len(groups) > 1)
                    for term, ids, exact in found]
            cand = _union(held) if len(held) > 1 else held[0]
        for term in query.excluded:
            if not len(cand):
                break
            ids, exact = self._candidates(seg, term)
            hit = intersect([ids, cand])
            if len(hit) and not exact:
                hit = self._holding(seg, term, hit, None, True)
            if len(hit):
                cand = cand[~member(cand, hit)]
        return cand

    @staticmethod
    def _holding(seg: Segment, term: Term, cand: np.ndarray, all_cand: np.ndarray | None, narrowed: bool) -> np.ndarray:
        """The candidates whose text holds `term` in its fields, through the cache on large segments."""
        if CHECKED.budget and seg.docs >= CACHE_MIN_DOCS and all_cand is not None:
            key = (str(seg.path), term.text, term.fields)
            held = CHECKED.get(key)
            if held is not None:
                return intersect([cand, held])
            if not narrowed or len(cand) * 4 >= len(all_cand):
                held = holding(seg, all_cand, term)
                CHECKED.put(key, held)
                return intersect([cand, held])
        return holding(seg, cand, term)


def _union(lists: list[np.ndarray]) -> np.ndarray:
    lists = [x for x in lists if len(x)]
    if not lists:
        return np.zeros(0, dtype=np.uint16)
    return lists[0] if len(lists) == 1 else np.union1d(lists[0], np.concatenate(lists[1:])).astype(lists[0].dtype)
