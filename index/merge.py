"""Merge policy of the post segments: which segments to merge, and their merged columns and postings.

Segments of similar size are merged (MERGE_FACTOR at a time, up to MAX_DOCS posts), dropping
deleted posts; a segment with COMPACT_RATIO of its posts deleted is rewritten. Postings are merged
with numpy in key ranges, never re-tokenized.
"""
from __future__ import annotations

import numpy as np

from index.postings import csr, merge_pairs
from index.segment import CATS, MAX_DOCS, Columns, Segment

MERGE_FACTOR = 8
LEVEL_BASE = 512  # segments of < LEVEL_BASE * 8 posts are level 0, < LEVEL_BASE * 64 level 1, ...
COMPACT_RATIO = 0.4  # a segment with this share of deleted posts is rewritten
_U64 = np.uint64


def _level(n: int) -> int:
    level = 0
    while n >= LEVEL_BASE * MERGE_FACTOR ** (level + 1):
        level += 1
    return level


def merge_postings(parts: list[tuple[Segment, np.ndarray]], chunks: int = 8):
    """Postings of the concatenation of segments (each with its remap of local ids), built in key
    ranges so that memory stays a fraction of the postings."""
    biggest = max(parts, key=lambda p: p[0].docs)[0]
    counts = np.diff(biggest.gram_off.astype(np.int64))
    dense = biggest.gram_dense >= 0
    if dense.any():
        counts[dense] = np.bitwise_count(biggest.dense).sum(axis=1)[biggest.gram_dense[dense]]
    cum = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=cum[1:])
    if len(biggest.gram_keys) > chunks:
        targets = np.linspace(0, cum[-1], chunks + 1)[1:-1]
        splits = np.unique(biggest.gram_keys[np.minimum(np.searchsorted(cum, targets), len(biggest.gram_keys) - 1)])
    else:
        splits = np.zeros(0, dtype=_U64)
    bounds = [None] + splits.tolist() + [None]
    out_keys, out_counts, out_ids = [], [], []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        runs = []
        for seg, remap in parts:
            keys = seg.gram_keys
            a = 0 if lo is None else int(np.searchsorted(keys, _U64(lo)))
            b = len(keys) if hi is None else int(np.searchsorted(keys, _U64(hi)))
            if a >= b:
                continue
            krep, flat = seg.expand(a, b)
            new = remap[flat]
            ok = new >= 0
            runs.append((krep[ok], new[ok]))
        keys, ids = merge_pairs(runs)
        if not len(keys):
            continue
        k, offs, local = csr(keys, ids)
        out_keys.append(k)
        out_counts.append(np.diff(offs.astype(np.int64)))
        out_ids.append(local)
    if not out_keys:
        return np.zeros(0, dtype=_U64), np.zeros(1, dtype=np.uint32), np.zeros(0, dtype=np.uint16)
    counts = np.concatenate(out_counts)
    offs = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offs[1:])
    return np.concatenate(out_keys), offs.astype(np.uint32), np.concatenate(out_ids)



def merge_candidates(segments: list[Segment], live: list[np.ndarray]) -> list[int] | None:
    """Segments to merge now: MERGE_FACTOR of one level (smallest first), or one with many deletions."""
    by_level: dict[int, list[int]] = {}
    counts = [int(mask.sum()) for mask in live]
    for s, seg in enumerate(segments):
        n = counts[s]
        if seg.docs >= MAX_DOCS // 2 and n > seg.docs * (1 - COMPACT_RATIO):
            continue  # full enough, and few deletions
        by_level.setdefault(_level(n), []).append(s)
    for level in sorted(by_level):
        members = sorted(by_level[level], key=lambda s: counts[s])
        if len(members) >= MERGE_FACTOR or any(
                segments[s].docs - counts[s] > segments[s].docs * COMPACT_RATIO for s in members):
            chosen, total = [], 0
            for s in members:
                if total + counts[s] > MAX_DOCS:
                    break
                chosen.append(s)
                total += counts[s]
            if len(chosen) >= 2 or (chosen and segments[chosen[0]].docs > total):
                return sorted(chosen)
    return None


def merged(sources: list[tuple[Segment, np.ndarray]]):
    """(columns, postings) of the live posts of the segments (each with its live mask), insertion order kept."""
    cols = Columns()
    parts = []  # per source: (segment, remap old local -> new local or -1)
    base = 0
    for seg, live in sources:
        keep = np.flatnonzero(live)
        remap = np.full(seg.docs, -1, dtype=np.int64)
        remap[keep] = base + np.arange(len(keep))
        parts.append((seg, remap))
        base += len(keep)
        for i in keep.tolist():
            cols.ids.append(seg.post_id(i))
            cols.rows.append(seg.raw_row(i))
            cols.texts.append(seg.raw_text(i))
        cols.date_sort.extend(seg.date_sort[keep].tolist())
        cols.first_seen_us.extend(seg.first_seen_us[keep].tolist())
        cols.seq.extend(seg.seq[keep].tolist())
        cols.chash.extend(seg.chash[keep].tolist())
        for cat in CATS:
            values = seg.cats[cat]
            cols.cats[cat].extend(values[c] for c in getattr(seg, f"cat_{cat}")[keep].tolist())
    return cols, merge_postings(parts)
