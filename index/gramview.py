"""Exact matching and rank tiers over the staff view: the rows holding every query word, split by rank.

The view (index.staff_view) maps every live site's rows into one id space, each site a contiguous
range; its gram bitmaps give candidates (exact for words up to GRAM characters), and a longer word
is checked in the candidates' folded texts. A searcher swaps views whole, so a search sees one
consistent set of sites.
"""
from __future__ import annotations

import logging
import threading
from array import array
from collections import OrderedDict
from itertools import repeat

import numpy as np
from pyroaring import BitMap

from index.postings import member
from index.staff_view import Range, StaffView
from index.text import GRAM, word_grams

logger = logging.getLogger(__name__)

_EMPTY = BitMap()
SCAN_CACHE_WORDS = 512  # long words whose scan a view keeps (views never change: nothing to invalidate)
SCAN_CACHE_ROWS = 4_000_000  # row ids those scans may hold in all


class GramView:
    """Matching and rank tiers over one staff view (index.staff_view): a view never changes, so what
    it learns (the scans of long words) is kept for its lifetime."""

    def __init__(self, view: StaffView | None = None):
        self.view = view if view is not None else StaffView.empty()
        self.ranges: list[Range] = self.view.ranges
        self._scans: OrderedDict[tuple, tuple[BitMap, ...]] = OrderedDict()  # (kind, word) -> what _kept computed
        self._scan_rows = 0
        self._scan_lock = threading.Lock()

    @property
    def rows(self) -> int:
        return sum(r.size for r in self.ranges)

    # matching -----------------------------------------------------------------------------
    def _all(self, kind: str, keys: list[str]) -> BitMap:
        sets = []
        for key in keys:
            bm = self.view.gram(kind, key)
            if bm is None:
                return _EMPTY
            sets.append(bm)
        sets.sort(key=len)
        result = sets[0]
        for bm in sets[1:]:
            result = result & bm
            if not result:
                break
        return result

    def _kept(self, key: tuple, everywhere: BitMap, cand: BitMap, compute) -> tuple[BitMap, ...]:
        """`compute(rows)` (a tuple of bitmaps, the first the rows found) for at least the candidates
        `cand`, a subset of `everywhere` (a word's gram candidates): rows outside `cand` may be in the
        answer, which `evaluate` intersects with the other words' rows anyway. The answer over
        `everywhere` is kept for the view's lifetime, and taken when the other words narrow little
        (a narrow set is computed alone, not kept)."""
        with self._scan_lock:
            found = self._scans.get(key)
            if found is not None:
                self._scans.move_to_end(key)
        if found is not None:
            return found
        if len(cand) * 4 < len(everywhere):
            return compute(cand)
        found = compute(everywhere)
        size = len(found[0])
        if size <= SCAN_CACHE_ROWS // 4:
            with self._scan_lock:
                if key not in self._scans:
                    self._scans[key] = found
                    self._scan_rows += size
                    while len(self._scans) > SCAN_CACHE_WORDS or self._scan_rows > SCAN_CACHE_ROWS:
                        _, old = self._scans.popitem(last=False)
                        self._scan_rows -= len(old[0])
        return found

    def _scan(self, cand: BitMap, word: str, heads: BitMap) -> tuple[BitMap, BitMap, BitMap]:
        """One pass over the candidates of a long word: (rows holding it, rows holding it outside
        the department fields, rows where it starts a word). All byte searches in the mapped UTF-8
        texts (a valid UTF-8 word found in valid UTF-8 text starts at a character), a round per
        occurrence checked against the view's word starts: no text is decoded."""
        view = self.view
        if not cand:
            return BitMap(), BitMap(), BitMap()
        needle = word.encode("utf-8", "surrogatepass")
        find = view.mm.find
        ids, starts, ends, at = self._first(cand, needle)
        held_mask = at >= 0
        held = ids[held_mask]
        if not len(held):
            return BitMap(), BitMap(), BitMap()
        first = at[held_mask]  # the first occurrence (find gives positions in the map)
        held_ends = ends[held_mask]
        rest = starts[held_mask] + view.outside_from[held]
        out = first >= rest  # already past the department fields; the others are searched from there
        inside = np.flatnonzero(~out)
        if len(inside):
            out[inside] = np.fromiter(map(find, repeat(needle, len(inside)), rest[inside].tolist(),
                                          held_ends[inside].tolist()), dtype=np.int64, count=len(inside)) >= 0
        held_bm = _bitmap(held)
        maybe = member(held, _ids(held_bm & heads))
        pending, pos, limit = held[maybe], first[maybe], held_ends[maybe]
        alone = []
        while len(pending):  # each round: the next occurrence in the rows where none stood alone yet
            hit = view.at_word_start(pos)
            alone.append(pending[hit])
            pending, pos, limit = pending[~hit], pos[~hit], limit[~hit]
            if not len(pending):
                break
            pos = np.fromiter(map(find, repeat(needle, len(pending)), (pos + 1).tolist(), limit.tolist()),
                              dtype=np.int64, count=len(pending))
            more = pos >= 0
            pending, pos, limit = pending[more], pos[more], limit[more]
        alone_ids = np.sort(np.concatenate(alone)) if alone else np.zeros(0, dtype=np.int64)
        return held_bm, _bitmap(held[out]), _bitmap(alone_ids)

    def evaluate(self, words: list[str], phrase: str | None) -> dict[tuple[int, int, int], BitMap]:
        """Rows holding every word, split into rank tiers keyed (phrase missing, words buried,
        department only); lower keys rank first."""
        keys = {w: word_grams(w) for w in words}
        dcand = {w: self._all("d", keys[w]) for w in words}
        rcand = {w: self._all("r", keys[w]) for w in words}
        cand = None
        for w in sorted(words, key=lambda w: len(dcand[w]) + len(rcand[w])):
            both = dcand[w] | rcand[w]
            cand = both if cand is None else cand & both
            if not cand:
                return {}
        matched, outside, alone = None, BitMap(), {}
        for w in words:
            heads = self.view.gram("s", w[:GRAM]) or _EMPTY
            if len(w) > GRAM:
                everywhere = dcand[w] | rcand[w]
                held, out, alone[w] = self._kept(("word", w), everywhere, everywhere & cand,
                                                 lambda rows, w=w, heads=heads: self._scan(rows, w, heads))
            else:  # the grams are exact
                out = rcand[w] & cand
                held = (dcand[w] & cand) | out
                alone[w] = held & heads
            matched = held if matched is None else matched & held
            outside |= out
        if not matched:
            return {}
        outside &= matched
        by_alone = [matched]  # by_alone[j]: rows where exactly j words stand alone
        for w in words:
            nxt = [BitMap() for _ in range(len(by_alone) + 1)]
            for j, bm in enumerate(by_alone):
                nxt[j] |= bm - alone[w]
                nxt[j + 1] |= bm & alone[w]
            by_alone = nxt
        with_phrase = BitMap()
        if phrase:
            pkeys = word_grams(phrase)
            everywhere = self._all("d", pkeys) | self._all("r", pkeys)
            if len(phrase) > GRAM:
                with_phrase = self._kept(("phrase", phrase), everywhere, everywhere & matched,
                                         lambda rows: (self._holding(rows, phrase),))[0]
            else:
                with_phrase = everywhere & matched
        tiers: dict[tuple[int, int, int], BitMap] = {}
        k = len(words)
        for j, bm in enumerate(by_alone):
            for miss, part in ((0, bm & with_phrase), (1, bm - with_phrase)):
                for dept_only, sub in ((0, part & outside), (1, part - outside)):
                    if sub:
                        tiers[(miss, k - j, dept_only)] = sub
        return tiers

    def _holding(self, cand: BitMap, word: str) -> BitMap:
        """The candidates whose folded text holds `word`."""
        if not cand:
            return BitMap()
        ids, _, _, at = self._first(cand, word.encode("utf-8", "surrogatepass"))
        return _bitmap(ids[at >= 0])

    def _first(self, cand: BitMap, needle: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(row ids, their texts' start and end in the map, where `needle` first occurs in each or -1)."""
        ids = _ids(cand)
        starts, ends = self.view.text_bounds(ids)
        at = np.fromiter(map(self.view.mm.find, repeat(needle, len(ids)), starts, ends), dtype=np.int64, count=len(ids))
        return ids, np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64), at


def _ids(rows: BitMap) -> np.ndarray:
    return np.frombuffer(rows.to_array(), dtype=np.uint32).astype(np.int64)


def _bitmap(ids: np.ndarray) -> BitMap:
    """A bitmap of sorted row ids (through array('I'): pyroaring's fast path)."""
    return BitMap(array("I", ids.astype(np.uint32).tobytes()))
