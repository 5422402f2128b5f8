"""Gram postings of post texts: gram keys, building them with numpy, intersecting them, dense bitsets.

Every 1-, 2- and 3-character gram (index.text.GRAM) of a post's folded title and body maps to the
sorted local ids of the posts holding it. A query word up to 3 characters is answered by its gram
exactly; a longer word by the intersection of its trigrams, then the substring check on the
candidates (index.segment.Segment.holding). Large segments also keep bitsets of their common grams
of 4..LONG_GRAM UTF-16 units (`dense_grams`).
"""
from __future__ import annotations

import numpy as np

from index.text import GRAM, SEP

LONG_GRAM = 10  # common compounds typed without spaces are mostly 4-10 characters (지역경제활성화, 누리집을참고하거나)
_SHIFT = 21  # bits per character of a gram key (code point + 1 < 2**21)
_U64 = np.uint64


def gram_key(gram: str) -> int:
    """The integer key of a gram of 1-3 characters: (c0 + 1) << 42 | (c1 + 1) << 21 | (c2 + 1), absent 0."""
    key = 0
    for j, ch in enumerate(gram):
        key |= (ord(ch) + 1) << (_SHIFT * (GRAM - 1 - j))
    return key


def word_keys(word: str) -> tuple[list[int], bool]:
    """(gram keys whose postings intersect to the candidates of `word`, exact): exact when the word is
    itself a gram; otherwise its trigrams, and candidates need the substring check."""
    if len(word) <= GRAM:
        return [gram_key(word)], True
    return sorted({gram_key(word[i:i + GRAM]) for i in range(len(word) - GRAM + 1)}), False


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _postings_chunk(texts: list[str], base: int) -> tuple[np.ndarray, np.ndarray]:
    """(gram key, local id) pairs, sorted and distinct, of the texts (ids from `base`)."""
    blob = SEP.join(texts) + SEP
    codes = _codes(blob)
    alphabet = np.unique(codes)
    local = np.searchsorted(alphabet, codes).astype(_U64) + _U64(1)  # 1..A, order of code points
    bits = int(len(alphabet) + 1).bit_length()
    docbits = max(1, (len(texts) - 1).bit_length())
    if 3 * bits + docbits > 64:  # too many distinct characters for one composite key: split
        half = len(texts) // 2
        a, b = _postings_chunk(texts[:half], base), _postings_chunk(texts[half:], base + half)
        return merge_pairs([a, b])
    ok = codes != ord(SEP)
    lens = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
    doc = np.repeat(np.arange(len(texts), dtype=_U64), lens)
    k1 = local << _U64(2 * bits)
    k2 = k1[:-1] | (local[1:] << _U64(bits))
    k3 = k2[:-1] | local[2:]
    ok2 = ok[:-1] & ok[1:]
    ok3 = ok2[:-1] & ok[2:]
    db = _U64(docbits)
    pairs = np.concatenate((((k1 << db) | doc)[ok], ((k2 << db) | doc[:-1])[ok2], ((k3 << db) | doc[:-2])[ok3]))
    pairs.sort()
    if len(pairs):
        keep = np.empty(len(pairs), dtype=bool)
        keep[0] = True
        np.not_equal(pairs[1:], pairs[:-1], out=keep[1:])
        pairs = pairs[keep]
    ids = (pairs & _U64((1 << docbits) - 1)).astype(np.int64) + base
    lk = pairs >> db
    table = np.concatenate((np.zeros(1, dtype=_U64), alphabet.astype(_U64) + _U64(1)))
    mask = _U64((1 << bits) - 1)
    keys = ((table[(lk >> _U64(2 * bits)) & mask] << _U64(2 * _SHIFT))
            | (table[(lk >> _U64(bits)) & mask] << _U64(_SHIFT)) | table[lk & mask])
    return keys, ids


def merge_pairs(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate (keys, ids) runs whose ids grow from run to run; sorted by key, ids ascending
    within a key (a stable sort of already sorted runs)."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.zeros(0, dtype=_U64), np.zeros(0, dtype=np.int64)
    if len(parts) == 1:
        return parts[0]
    keys = np.concatenate([p[0] for p in parts])
    ids = np.concatenate([p[1] for p in parts])
    order = np.argsort(keys, kind="stable")
    return keys[order], ids[order]


def csr(keys: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct keys, offsets, ids) of sorted (key, id) pairs."""
    if not len(keys):
        return np.zeros(0, dtype=_U64), np.zeros(1, dtype=np.uint32), np.zeros(0, dtype=np.uint16)
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    offs = np.append(starts, len(keys)).astype(np.uint32)
    return keys[starts], offs, ids.astype(np.uint16)


SEARCHED_FIELDS = 2  # the grams cover a post's first two fields (title, body): what a term searches by default
_SEP16 = SEP.encode("utf-16-le")


def searched(text: str) -> str:
    """The part of a post's text its grams cover: the title and the body (index.query's default fields)."""
    return SEP.join(text.split(SEP)[:SEARCHED_FIELDS])


def searched16(text16: bytes) -> bytes:
    """`searched` of a UTF-16-LE text."""
    pos = -2
    for _ in range(SEARCHED_FIELDS):
        pos = text16.find(_SEP16, pos + 2)
        while pos >= 0 and pos & 1:
            pos = text16.find(_SEP16, pos + 1)
        if pos < 0:
            return text16
    return text16[:pos]


def build_postings(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Postings (keys, offsets, local ids) of the folded texts of one segment."""
    parts = [_postings_chunk(texts[i:i + 4096], i) for i in range(0, len(texts), 4096)]
    return csr(*merge_pairs(parts))


_MASK_LIMIT = 1 << 20  # ids below this are looked up in a mask rather than by binary search


def member(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mask of the items of sorted `a` present in sorted `b` (both of distinct items).

    Binary search of the shorter list in the longer one when the lengths differ a lot; otherwise a
    mask over the id range (local ids are below 65,536): two linear passes instead of a binary search
    per item, 3-5x faster on lists of similar length."""
    if not len(b) or not len(a):
        return np.zeros(len(a), dtype=bool)
    if len(a) * 32 <= len(b):
        at = np.searchsorted(b, a)
        at[at >= len(b)] = 0
        return b[at] == a
    if len(b) * 32 <= len(a):
        at = np.searchsorted(a, b)
        at[at >= len(a)] = 0
        out = np.zeros(len(a), dtype=bool)
        out[at[a[at] == b]] = True
        return out
    top = int(max(a[-1], b[-1]))
    if a.dtype.kind == "u" and b.dtype.kind == "u" and top < _MASK_LIMIT:
        mask = np.zeros(top + 1, dtype=bool)
        mask[b] = True
        return mask[a]
    at = np.searchsorted(b, a)
    at[at >= len(b)] = 0
    return b[at] == a


def intersect(lists: list[np.ndarray]) -> np.ndarray:
    """Items in every sorted list (smallest first)."""
    lists = sorted(lists, key=len)
    out = lists[0]
    for other in lists[1:]:
        if not len(out):
            break
        out = out[member(out, other)]
    return out


def unpack_bits(packed: np.ndarray, docs: int) -> np.ndarray:
    return np.unpackbits(packed, count=docs, bitorder="little").view(bool)


def _dense_level(keys: np.ndarray, holder: np.ndarray, docs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For windows (`keys`, each in post `holder`): (row of each window's key among the kept keys or
    -1, the kept keys sorted, their packed bitsets); kept: keys held by more than 1/16 of the posts."""
    none = np.full(len(keys), -1, dtype=np.int32)
    empty = (none, np.zeros(0, dtype=_U64), np.zeros((0, (docs + 7) // 8), dtype=np.uint8))
    if not len(keys):
        return empty
    ordered = np.sort(keys)
    first = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    counts = np.diff(np.append(first, len(ordered)))
    cand = ordered[first[counts * 16 > docs]]  # occurrences >= posts holding it: a superset
    del ordered, first, counts
    if not len(cand) or len(cand) >= 1 << 15:
        return empty
    table_bits = 22
    shift = _U64(64 - table_bits)
    cand_slots = (cand.astype(_U64) * _U64(0x9E3779B97F4A7C15)) >> shift
    if len(set(cand_slots.tolist())) == len(cand):
        table = np.zeros(1 << table_bits, dtype=np.int32)
        table[cand_slots] = np.arange(1, len(cand) + 1, dtype=np.int32)
        slots = keys.astype(_U64) * _U64(0x9E3779B97F4A7C15)
        slots >>= shift
        row = table[slots]
        del slots
        row -= 1
        ok = row >= 0
        ok[ok] = cand[row[ok]] == keys[ok]
    else:  # two common keys share a slot: the slower exact mapping
        row = np.searchsorted(cand, keys).astype(np.int32)
        row[row >= len(cand)] = 0
        ok = cand[row] == keys
    pairs = (row[ok].astype(np.uint32) << np.uint32(16)) | holder[ok].astype(np.uint32)
    pairs.sort()
    pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
    rows, holders = (pairs >> np.uint32(16)).astype(np.intp), (pairs & np.uint32(0xFFFF)).astype(np.intp)
    dense = np.bincount(rows, minlength=len(cand)) * 16 > docs
    if not dense.any():
        return empty
    renumber = np.where(dense, np.cumsum(dense) - 1, -1).astype(np.int32)
    keep = dense[rows]
    bits = np.zeros((int(dense.sum()), docs), dtype=bool)
    bits[renumber[rows[keep]], holders[keep]] = True
    out = none
    out[ok] = renumber[row[ok]]
    return out, cand[dense].astype(_U64), np.packbits(bits, axis=1, bitorder="little")


def dense_grams(blob: bytes, text_off: np.ndarray, docs: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per length 4..LONG_GRAM (in UTF-16 units): (sorted keys, packed bitsets) of the grams of the
    folded texts (UTF-16-LE, one after the other at byte offsets `text_off`) held by more than 1/16
    of the posts. A 4-gram's key is its 8 bytes; a longer gram's key is (row of its prefix among the
    kept grams one shorter) << 16 | its last unit, so each length costs one pass over the windows
    whose prefix is common. All numpy: a strided 8-byte view reads every window."""
    units = len(blob) // 2
    levels: list[tuple[np.ndarray, np.ndarray]] = []
    if units < 4 or docs < 16:
        return levels
    u = np.frombuffer(blob, dtype="<u2")
    starts = text_off.astype(np.int64) // 2
    doc = np.repeat(np.arange(docs, dtype=np.uint16), np.diff(starts))  # docs <= MAX_DOCS
    sep = u == ord(SEP)
    bad = sep[:-3] | sep[1:-2] | sep[2:-1] | sep[3:]
    for back in (1, 2, 3):  # a window must end inside its post
        ends = starts[1:] - back
        bad[ends[(ends >= 0) & (ends < units - 3)]] = True
    pos = np.flatnonzero(~bad)
    keys = np.ndarray(shape=(units - 3,), dtype="<u8", buffer=blob, offset=0, strides=(2,))[pos]
    length = 4
    while True:
        rows, kept, bits = _dense_level(keys, doc[pos], docs)
        if not len(kept):
            break
        levels.append((kept, bits))
        if length == LONG_GRAM:
            break
        nxt = pos + length  # the unit that extends each window by one
        ok = rows >= 0
        ok[ok] = nxt[ok] < units
        ok[ok] = (doc[nxt[ok]] == doc[pos[ok]]) & ~sep[nxt[ok]]
        pos = pos[ok]
        keys = (rows[ok].astype(np.uint32) << np.uint32(16)) | u[pos + length].astype(np.uint32)
        length += 1
    return levels

