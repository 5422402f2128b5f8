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


def bounds(seg) -> np.ndarray:
    """(docs, MAX_FIELDS + 1) absolute byte offsets in the segment map: field k of post i spans
    [b[i, k], b[i, k + 1] - 2) (the SEP after it excluded; an absent field is empty). Cached per segment."""
    cached = getattr(seg, "_field_bounds", None)
    if cached is not None:
        return cached
    offs = seg.text_off.astype(np.int64)
    units = np.frombuffer(seg.mm, dtype="<u2", count=int(offs[-1]) // 2, offset=seg.text_base)
    seps = np.flatnonzero(units == _SEP_UNIT).astype(np.int64) * 2  # byte offsets within the texts
    start, end = offs[:-1], offs[1:]
    out = np.empty((seg.docs, MAX_FIELDS + 1), dtype=np.int64)
    out[:, 0] = start
    first = np.searchsorted(seps, start)
    for k in range(1, MAX_FIELDS):
        at = first + (k - 1)
        found = np.zeros(seg.docs, dtype=bool)
        inside = at < len(seps)
        found[inside] = seps[at[inside]] < end[inside]
        out[:, k] = np.where(found, seps[np.minimum(at, len(seps) - 1)] + 2, end + 2)
    out[:, MAX_FIELDS] = end + 2
    out += seg.text_base
    seg._field_bounds = out
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
    b = bounds(seg)[cand.astype(np.int64)]
    held = np.zeros(len(cand), dtype=bool)
    for lo, hi in _ranges(indexes):
        held |= seg.find_each(word16, b[:, lo].tolist(), (b[:, hi] - 2).tolist())
    kept = cand[held]
    if any(f.startswith(EXTRA) for f in term.fields):  # one extra field by its label: the stored row decides
        kept = np.asarray([i for i in kept.tolist() if PostFields(seg.row(i)).has(term)], dtype=cand.dtype)
    return kept
