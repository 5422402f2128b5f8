"""Which field of a post a match falls in: the field bounds of a segment's texts, and field-scoped checks.

A post's searchable text in a segment is its folded fields joined by SEP: title, body, department and
(in segments written since extra fields exist) the extra fields' values. A query term searches some of
them (index.query: title and body unless it names a field), so a candidate found by the grams is kept
only when the term occurs inside one of the term's fields. Terms scoped to one extra field's label are
checked on the stored row itself.
"""
from __future__ import annotations


import numpy as np

from index.query import EXTRA, PostFields, Term
from index.text import SEP

FIELD_INDEX = {"title": 0, "body": 1, "department": 2, "extra": 3}
MAX_FIELDS = 4
_SEP_UNIT = ord(SEP)


def field_starts(units: np.ndarray, offs: np.ndarray) -> np.ndarray:
    """(posts, MAX_FIELDS - 1) byte offsets, from each post's text start, where its fields 1..3 begin
    (after the SEP that ends the field before; an absent field begins at the text's length + 2), for
    the folded texts `units` (UTF-16 code units, laid end to end at byte offsets `offs`). Written in
    the segment (`field_starts`) so a reader never scans the texts for them."""
    offs = offs.astype(np.int64)
    docs = len(offs) - 1
    seps = np.flatnonzero(units == _SEP_UNIT).astype(np.int64) * 2  # byte offsets within the texts
    start, end = offs[:-1], offs[1:]
    out = np.repeat((end + 2)[:, None], MAX_FIELDS - 1, axis=1)  # absent fields
    if len(seps):
        first = np.searchsorted(seps, start)
        for k in range(1, MAX_FIELDS):
            at = first + (k - 1)
            found = np.zeros(docs, dtype=bool)
            inside = at < len(seps)
            found[inside] = seps[at[inside]] < end[inside]
            out[found, k - 1] = seps[at[found]] + 2
    return (out - start[:, None]).astype(np.uint32)


def bounds(seg) -> np.ndarray:
    """(docs, MAX_FIELDS + 1) absolute byte offsets in the segment map: field k of post i spans
    [b[i, k], b[i, k + 1] - 2) (the SEP after it excluded; an absent field is empty). Cached per
    segment; from the segment's `field_starts` block (segments written before it: the texts are scanned)."""
    cached = getattr(seg, "_field_bounds", None)
    if cached is not None:
        return cached
    offs = seg.text_off.astype(np.int64)
    stored = getattr(seg, "field_starts", None)
    if stored is not None:
        rel = stored.reshape(-1, MAX_FIELDS - 1)
    else:
        units = np.frombuffer(seg.mm, dtype="<u2", count=int(offs[-1]) // 2, offset=seg.text_base)
        rel = field_starts(units, offs)
    start, end = offs[:-1], offs[1:]
    out = np.empty((seg.docs, MAX_FIELDS + 1), dtype=np.int64)
    out[:, 0] = start
    out[:, 1:MAX_FIELDS] = rel.astype(np.int64) + start[:, None]
    out[:, MAX_FIELDS] = end + 2
    out += seg.text_base
    seg._field_bounds = out
    return out


def bounds_of(seg, ids: np.ndarray) -> np.ndarray:
    """`bounds(seg)[ids]`, from the stored field starts of only these posts when the segment has them."""
    stored = getattr(seg, "field_starts", None)
    if stored is None:
        return bounds(seg)[ids]
    start = seg.text_off[ids].astype(np.int64) + seg.text_base
    out = np.empty((len(ids), MAX_FIELDS + 1), dtype=np.int64)
    out[:, 0] = start
    out[:, 1:MAX_FIELDS] = stored.reshape(-1, MAX_FIELDS - 1)[ids].astype(np.int64) + start[:, None]
    out[:, MAX_FIELDS] = seg.text_off[ids + 1].astype(np.int64) + seg.text_base + 2
    return out


def _ranges(fields: frozenset[int]) -> list[tuple[int, int]]:
    """Runs of consecutive field indexes: [(first, last + 1)], so one search covers title and body at once
    (a term never holds SEP, so no match spans two fields)."""
    runs, ordered = [], sorted(fields)
    for k in ordered:
        if runs and runs[-1][1] == k:
            runs[-1] = (runs[-1][0], k + 1)
        else:
            runs.append((k, k + 1))
    return runs


def field_set(term: Term) -> frozenset[int]:
    return frozenset(FIELD_INDEX["extra" if f.startswith(EXTRA) else f] for f in term.fields)


def holding(seg, cand: np.ndarray, term: Term) -> np.ndarray:
    """The candidates (local ids) whose text holds `term` inside one of its fields."""
    if not len(cand):
        return cand
    indexes = field_set(term)
    if indexes >= {0, 1, 2, 3}:
        return seg.holding(cand, term.text.encode("utf-16-le", "surrogatepass"))
    word16 = term.text.encode("utf-16-le", "surrogatepass")
    b = bounds_of(seg, cand.astype(np.int64))
    held = np.zeros(len(cand), dtype=bool)
    for lo, hi in _ranges(indexes):
        held |= seg.find_each(word16, b[:, lo].tolist(), (b[:, hi] - 2).tolist())
    kept = cand[held]
    if any(f.startswith(EXTRA) for f in term.fields):  # one extra field by its label: the stored row decides
        kept = np.asarray([i for i in kept.tolist() if PostFields(seg.row(i)).has(term)], dtype=cand.dtype)
    return kept
