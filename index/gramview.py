"""All live snapshots in one id space: global gram bitmaps, exact matching and rank tiers.

Each site's rows take a contiguous id range. A view is never changed once searches use it: a
refresh builds the next view copy-on-write (only the grams of the sites that changed are copied),
so a search sees one consistent set of sites. Texts are kept in append-only lists shared by
successive views; ids of replaced sites become holes, and the view is rebuilt from the snapshot
files when holes outnumber live rows.
"""
from __future__ import annotations

import logging
import threading
from array import array
from collections import OrderedDict
from dataclasses import dataclass

from pyroaring import BitMap

from index.results import organization_key
from index.snapshot import SitePart
from index.text import GRAM, SEP, word_grams

logger = logging.getLogger(__name__)

_EMPTY = BitMap()
KINDS = ("d", "r", "s")
SCAN_CACHE_WORDS = 512  # long words whose scan a view keeps (views never change: nothing to invalidate)
SCAN_CACHE_ROWS = 4_000_000  # row ids those scans may hold in all


@dataclass(eq=False)
class Range:
    """The ids of one site's live rows."""

    part: SitePart
    base: int
    size: int

    @property
    def end(self) -> int:
        return self.base + self.size

    @property
    def order(self) -> tuple:
        p = self.part
        return organization_key(p.organization, p.region, p.org_kind), p.site


class GramView:
    def __init__(self, grams=None, texts=None, starts=None, dept_ends=None, ranges=(), next_id: int = 0):
        self.grams: dict[str, dict[str, BitMap]] = grams or {k: {} for k in KINDS}
        self.texts: list[str] = [] if texts is None else texts
        self.starts: list[str] = [] if starts is None else starts
        self.dept_ends = array("I") if dept_ends is None else dept_ends
        self.ranges: list[Range] = list(ranges)
        self.next_id = next_id
        self._scans: OrderedDict[str, tuple[BitMap, BitMap, BitMap]] = OrderedDict()
        self._scan_rows = 0
        self._scan_lock = threading.Lock()

    @property
    def rows(self) -> int:
        return sum(r.size for r in self.ranges)

    def changed(self, remove: list[Range], add: list[SitePart]) -> "GramView":
        """The next view: `remove` ranges gone, `add` parts appended (their search data moves in).
        Bitmaps of this view are never modified; the ones the next view changes are copies."""
        removed = sum(r.size for r in remove)
        holes = self.next_id - self.rows + removed
        if remove and holes > self.rows - removed + sum(p.size for p in add):
            keep = [SitePart(*r.part.paths, _meta(r.part)) for r in self.ranges if r not in remove]
            return GramView().changed([], keep + list(add))
        grams = {kind: dict(g) for kind, g in self.grams.items()}
        for rng in remove:
            for g in grams.values():
                for key, bm in list(g.items()):
                    if bm.range_cardinality(rng.base, rng.end):
                        bm = bm.copy()
                        bm.remove_range(rng.base, rng.end)
                        if bm:
                            g[key] = bm
                        else:
                            del g[key]
        ranges = [r for r in self.ranges if r not in remove]
        next_id = self.next_id
        owned: dict[str, set[str]] = {kind: set() for kind in KINDS}  # bitmaps created here: grown in place
        for part in add:
            base = next_id
            for kind in KINDS:
                g, own = grams[kind], owned[kind]
                for key, bm in part.grams(kind).items():
                    shifted = bm.shift(base) if base else bm
                    old = g.get(key)
                    if old is None:
                        g[key] = shifted
                    elif key in own:
                        old |= shifted
                        continue
                    else:
                        g[key] = old | shifted
                    own.add(key)
            self.texts.extend(part.texts)
            self.starts.extend(part.starts)
            self.dept_ends.extend(part.dept_ends)
            part.release_search_data()
            ranges.append(Range(part, base, part.size))
            next_id += part.size
        ranges.sort(key=lambda r: r.order)
        return GramView(grams, self.texts, self.starts, self.dept_ends, ranges, next_id)

    # matching -----------------------------------------------------------------------------
    @staticmethod
    def _all(grams: dict[str, BitMap], keys: list[str]) -> BitMap:
        sets = []
        for key in keys:
            bm = grams.get(key)
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

    def _scan_cached(self, everywhere: BitMap, cand: BitMap, word: str, heads: BitMap) -> tuple[BitMap, BitMap, BitMap]:
        """`_scan` of at least the candidates `cand` (a subset of `everywhere`, the word's gram
        candidates): rows outside `cand` may be in the answer, which `evaluate` intersects with the
        other words' rows anyway. A word's scan over all its gram candidates is kept for the view's
        lifetime, and taken when the other words narrow little (a narrow set is scanned alone, not kept)."""
        with self._scan_lock:
            found = self._scans.get(word)
            if found is not None:
                self._scans.move_to_end(word)
        if found is None:
            if len(cand) * 4 < len(everywhere):
                return self._scan(cand, word, heads)
            found = self._scan(everywhere, word, heads)
            size = len(found[0])
            if size <= SCAN_CACHE_ROWS // 4:
                with self._scan_lock:
                    if word not in self._scans:
                        self._scans[word] = found
                        self._scan_rows += size
                        while len(self._scans) > SCAN_CACHE_WORDS or self._scan_rows > SCAN_CACHE_ROWS:
                            _, old = self._scans.popitem(last=False)
                            self._scan_rows -= len(old[0])
        return found

    def _scan(self, cand: BitMap, word: str, heads: BitMap) -> tuple[BitMap, BitMap, BitMap]:
        """One pass over the candidates of a long word: (rows holding it, rows holding it outside
        the department fields, rows where it starts a word). Hot loop: kept to operators."""
        texts, ends, starts = self.texts, self.dept_ends, self.starts
        held, outside, alone = [], [], []
        keep, keep_out, keep_alone = held.append, outside.append, alone.append
        for i in cand:
            text = texts[i]
            if word not in text:
                continue
            keep(i)
            if text.find(word, ends[i] + 1) >= 0:
                keep_out(i)
            if i in heads:
                marks = starts[i]
                at = text.find(word)
                while at >= 0:
                    if at == 0 or text[at - 1] == SEP or not text[at - 1].isalnum() or chr(at) in marks:
                        keep_alone(i)
                        break
                    at = text.find(word, at + 1)
        return BitMap(held), BitMap(outside), BitMap(alone)

    def evaluate(self, words: list[str], phrase: str | None) -> dict[tuple[int, int, int], BitMap]:
        """Rows holding every word, split into rank tiers keyed (phrase missing, words buried,
        department only); lower keys rank first."""
        dgrams, rgrams = self.grams["d"], self.grams["r"]
        keys = {w: word_grams(w) for w in words}
        dcand = {w: self._all(dgrams, keys[w]) for w in words}
        rcand = {w: self._all(rgrams, keys[w]) for w in words}
        cand = None
        for w in sorted(words, key=lambda w: len(dcand[w]) + len(rcand[w])):
            both = dcand[w] | rcand[w]
            cand = both if cand is None else cand & both
            if not cand:
                return {}
        matched, outside, alone = None, BitMap(), {}
        for w in words:
            heads = self.grams["s"].get(w[:GRAM], _EMPTY)
            if len(w) > GRAM:
                everywhere = dcand[w] | rcand[w]
                held, out, alone[w] = self._scan_cached(everywhere, everywhere & cand, w, heads)
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
            pc = (self._all(dgrams, pkeys) | self._all(rgrams, pkeys)) & matched
            texts = self.texts
            with_phrase = BitMap([i for i in pc if phrase in texts[i]]) if len(phrase) > GRAM else pc
        tiers: dict[tuple[int, int, int], BitMap] = {}
        k = len(words)
        for j, bm in enumerate(by_alone):
            for miss, part in ((0, bm & with_phrase), (1, bm - with_phrase)):
                for dept_only, sub in ((0, part & outside), (1, part - outside)):
                    if sub:
                        tiers[(miss, k - j, dept_only)] = sub
        return tiers


def _meta(part: SitePart) -> dict:
    return {"site": part.site, "run_id": part.run_id, "organization": part.organization, "region": part.region,
            "org_kind": part.org_kind}
