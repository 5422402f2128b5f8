"""Post storage for search: append-only segments of posts with gram postings, merged in the background.

    index_dir/posts/
      manifest.json        the live segments and each one's deletions; replaced atomically per commit
      00000012.seg         one segment: up to 65,536 posts, immutable once written
      00000012.00000031.del  local ids of the segment's posts replaced or deleted (generation 31)

A segment file holds, for its posts (local ids 0..n-1): the stored rows (JSON, zlib per row), the
folded searchable text (title, body, department joined by SEP, UTF-16-LE, for the exact substring
check), per-post numbers (date, first seen, insertion sequence, content hash, site/region/board
kind codes), the ids with a sorted hash table (the writer's lookup by id), and the postings: every
1-, 2- and 3-character gram of the folded text -> sorted local ids (one flat array). A query word up
to 3 characters is answered by its gram exactly; a longer word by the intersection of its trigrams,
then the substring check on the candidates.

The single writer appends one segment per commit batch, marks replaced posts in `.del` files and
writes the manifest last (fsync'd): a crash leaves the previous manifest and some unreferenced files,
deleted at the next start. Segments of similar size are merged (MERGE_FACTOR at a time, up to
MAX_DOCS posts), dropping deleted posts; postings are merged with numpy, never re-tokenized.
Searchers map the files read-only and pick up a new manifest on refresh.
"""
from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import zlib
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

import numpy as np

from index.snapshot import write_atomic
from index.text import SEP

logger = logging.getLogger(__name__)

MAGIC = b"NUGOPST1\n"
MANIFEST = "manifest.json"
MAX_DOCS = 65536  # local ids fit uint16
MERGE_FACTOR = 8
LONG_MIN_DOCS = 32768  # segments this large also keep bitsets of their common 4..LONG_GRAM-unit grams
LONG_GRAM = 6
LEVEL_BASE = 512  # segments of < LEVEL_BASE * 8 posts are level 0, < LEVEL_BASE * 64 level 1, ...
COMPACT_RATIO = 0.4  # a segment with this share of deleted posts is rewritten
GRAM = 3
_SHIFT = 21  # bits per character of a gram key (code point + 1 < 2**21)
CATS = ("site", "region", "board_kind")
_U64 = np.uint64
_EMPTY = np.zeros(0, dtype=np.uint16)


# ---------------------------------------------------------------------------------------------- grams

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
        return _merge_pairs([a, b])
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


def _merge_pairs(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
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


def _csr(keys: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    return _csr(*_merge_pairs(parts))


def member(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mask of the items of sorted `a` present in sorted `b`."""
    if not len(b) or not len(a):
        return np.zeros(len(a), dtype=bool)
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


def _unpack(packed: np.ndarray, docs: int) -> np.ndarray:
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


def id_hash(post_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(post_id.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def row_json(row: dict) -> tuple[int, bytes]:
    """(hash of what a re-delivery may change, the stored JSON of the row): one serialization for
    both; the run id is not content, so it is appended after hashing."""
    rest = {k: v for k, v in row.items() if k != "run_id"}
    body = json.dumps(rest, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    digest = int.from_bytes(hashlib.blake2b(body, digest_size=8).digest(), "little")
    if "run_id" in row:
        run = json.dumps(row["run_id"], ensure_ascii=False).encode("utf-8", "surrogatepass")
        body = body[:-1] + (b',"run_id":' if rest else b'{"run_id":') + run + b"}"
    return digest, body


# ---------------------------------------------------------------------------------------------- files

@dataclass
class NewPost:
    """One post to write: its stored row, folded searchable text and sort numbers."""

    id: str
    row: dict
    text: str
    date_sort: int
    first_seen_us: int
    chash: int = 0
    seq: int = 0
    json: bytes = b""

    def __post_init__(self):
        if not self.json:
            self.chash, self.json = row_json(self.row)


@dataclass
class Columns:
    """The posts of a segment to be written, column by column."""

    ids: list[str] = field(default_factory=list)
    rows: list[bytes] = field(default_factory=list)      # zlib-compressed JSON
    texts: list[bytes] = field(default_factory=list)     # UTF-16-LE folded text
    date_sort: list = field(default_factory=list)
    first_seen_us: list = field(default_factory=list)
    seq: list = field(default_factory=list)
    chash: list = field(default_factory=list)
    cats: dict = field(default_factory=lambda: {c: [] for c in CATS})

    def __len__(self) -> int:
        return len(self.ids)


def _pad(n: int) -> int:
    return (-n) % 8


def _offsets(blobs: list[bytes]) -> np.ndarray:
    out = np.zeros(len(blobs) + 1, dtype=np.uint64)
    np.cumsum(np.fromiter(map(len, blobs), dtype=np.uint64, count=len(blobs)), out=out[1:])
    return out


def write_segment(path: Path, cols: Columns, postings: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Write a segment file (fsync'd); it is unreferenced until the manifest names it."""
    n = len(cols)
    if n > MAX_DOCS:
        raise ValueError(f"a segment holds at most {MAX_DOCS} posts, not {n}")
    ids_b = [i.encode("utf-8", "surrogatepass") for i in cols.ids]
    hashes = np.fromiter((id_hash(i) for i in cols.ids), dtype=_U64, count=n)
    order = np.argsort(hashes, kind="stable")
    cat_values, cat_codes = {}, {}
    for cat in CATS:
        values = sorted(set(cols.cats[cat]))
        index = {v: k for k, v in enumerate(values)}
        cat_values[cat] = values
        cat_codes[cat] = np.fromiter((index[v] for v in cols.cats[cat]), dtype=np.uint16, count=n)
    keys, offs, ids = postings
    counts = np.diff(offs.astype(np.int64))
    dense_at = np.flatnonzero(counts * 16 > n)  # a bitset is smaller than the id list
    row_bytes = (n + 7) // 8
    gram_dense = np.full(len(keys), -1, dtype=np.int32)
    gram_dense[dense_at] = np.arange(len(dense_at), dtype=np.int32)
    dense = np.zeros((len(dense_at), row_bytes), dtype=np.uint8)
    bits = np.zeros(n, dtype=bool)
    offs64 = offs.astype(np.int64)
    for row, g in enumerate(dense_at.tolist()):
        bits[:] = False
        bits[ids[offs64[g]:offs64[g + 1]]] = True
        dense[row] = np.packbits(bits, bitorder="little")
    sparse = np.ones(len(ids), dtype=bool)
    for g in dense_at.tolist():
        sparse[offs64[g]:offs64[g + 1]] = False
    kept = np.where(np.isin(np.arange(len(keys)), dense_at), 0, counts)
    offs = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(kept, out=offs[1:])
    ids = ids[sparse]
    texts = b"".join(cols.texts)
    text_off = _offsets(cols.texts)
    if n >= LONG_MIN_DOCS:
        covered = [searched16(t) for t in cols.texts]
        long_grams = dense_grams(b"".join(covered), _offsets(covered), n)
    else:
        long_grams = []
    blocks: list[tuple[str, np.ndarray | bytes]] = [
        ("date_sort", np.asarray(cols.date_sort, dtype=np.int64)),
        ("first_seen_us", np.asarray(cols.first_seen_us, dtype=np.int64)),
        ("seq", np.asarray(cols.seq, dtype=np.int64)),
        ("chash", np.asarray(cols.chash, dtype=_U64)),
        *((f"cat_{c}", cat_codes[c]) for c in CATS),
        ("id_off", _offsets(ids_b)), ("ids", b"".join(ids_b)),
        ("id_hash", hashes[order]), ("id_perm", order.astype(np.uint32)),
        ("text_off", text_off), ("texts", texts),
        ("row_off", _offsets(cols.rows)), ("rows", b"".join(cols.rows)),
        ("gram_keys", keys.astype(_U64)), ("gram_off", offs.astype(np.uint32)), ("gram_dense", gram_dense),
        ("post_ids", ids.astype(np.uint16)), ("dense", dense.reshape(-1)),
        *((f"long{4 + i}_keys", keys_) for i, (keys_, _) in enumerate(long_grams)),
        *((f"long{4 + i}_bits", bits_.reshape(-1)) for i, (_, bits_) in enumerate(long_grams)),
    ]
    table, pos = {}, 0
    for name, data in blocks:
        size = data.nbytes if isinstance(data, np.ndarray) else len(data)
        table[name] = [data.dtype.str if isinstance(data, np.ndarray) else "bytes", pos, size]
        pos += size + _pad(size)
    head = MAGIC + json.dumps({"docs": n, "cats": cat_values, "long": len(long_grams), "grams_fields": SEARCHED_FIELDS,
                               "blocks": table},
                              ensure_ascii=False).encode() + b"\n"
    head += b"\0" * _pad(len(head))
    with open(path, "wb") as fh:
        fh.write(head)
        for _, data in blocks:
            raw = data.tobytes() if isinstance(data, np.ndarray) else data
            fh.write(raw)
            fh.write(b"\0" * _pad(len(raw)))
        fh.flush()
        os.fsync(fh.fileno())


class Segment:
    """A segment file mapped read-only; arrays are views of the map (shared by every process)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.name = self.path.stem
        with open(self.path, "rb") as fh:
            self.mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        end = self.mm.find(b"\n", len(MAGIC))
        if self.mm[:len(MAGIC)] != MAGIC or end < 0:
            raise ValueError(f"{path}: not a post segment")
        head = json.loads(self.mm[len(MAGIC):end])
        data = end + 1 + _pad(end + 1)
        self.docs: int = head["docs"]
        # the fields its grams cover: title and body; segments written before field scopes cover all three
        self.grams_fields = frozenset(range(head.get("grams_fields", 3)))
        self.cats: dict[str, list[str]] = head["cats"]
        self.cat_index = {c: {v: k for k, v in enumerate(vals)} for c, vals in self.cats.items()}
        self._base: dict[str, int] = {}
        for name, (dtype, pos, size) in head["blocks"].items():
            if dtype == "bytes":
                self._base[name] = data + pos
            else:
                dt = np.dtype(dtype)
                setattr(self, name, np.frombuffer(self.mm, dtype=dt, count=size // dt.itemsize, offset=data + pos))
        self.text_base = self._base["texts"]
        self.row_base = self._base["rows"]
        self.id_base = self._base["ids"]
        self.dense = self.dense.reshape(-1, (self.docs + 7) // 8)
        row_bytes = (self.docs + 7) // 8
        self.long_keys = [getattr(self, f"long{4 + i}_keys") for i in range(head.get("long", 0))]
        self.long_bits = [getattr(self, f"long{4 + i}_bits").reshape(-1, row_bytes) for i in range(head.get("long", 0))]
        self.first_seen_min = int(self.first_seen_us.min()) if self.docs else 0
        self.first_seen_max = int(self.first_seen_us.max()) if self.docs else 0

    def __len__(self) -> int:
        return self.docs

    def word_ids(self, keys) -> np.ndarray:
        """Local ids (sorted, uint16) of the posts holding every gram key."""
        wanted = np.asarray(keys, dtype=_U64)
        at = np.searchsorted(self.gram_keys, wanted)
        if (at >= len(self.gram_keys)).any() or (self.gram_keys[at] != wanted).any():
            return _EMPTY
        sparse, packed = [], None
        offs = self.gram_off
        for i in at.tolist():
            d = int(self.gram_dense[i])
            if d >= 0:
                packed = self.dense[d] if packed is None else packed & self.dense[d]
            else:
                sparse.append(self.post_ids[offs[i]:offs[i + 1]])
        if not sparse:
            return np.flatnonzero(_unpack(packed, self.docs)).astype(np.uint16)
        ids = intersect(sparse)
        return ids[_unpack(packed, self.docs)[ids]] if packed is not None and len(ids) else ids

    def _chain(self, units: tuple[int, ...], start: int) -> tuple[int, int] | None:
        """(level, row) of the longest kept gram of `units` beginning at `start`, or None."""
        levels = self.long_keys
        key = units[start] | units[start + 1] << 16 | units[start + 2] << 32 | units[start + 3] << 48
        found = None
        for level, keys in enumerate(levels):
            if level:
                if start + 4 + level > len(units):
                    break
                key = found[1] << 16 | units[start + 3 + level]
            at = int(np.searchsorted(keys, _U64(key)))
            if at >= len(keys) or int(keys[at]) != key:
                break
            found = (level, at)
        return found

    def long_mask(self, units: tuple[int, ...]) -> tuple[np.ndarray | None, bool]:
        """(packed AND of the kept grams inside a word of 4+ UTF-16 units, exact): exact when one
        kept gram is the whole word. A gram not kept is held by at most 1/16 of the posts."""
        if not self.long_keys or len(units) < 4:
            return None, False
        packed = None
        for start in range(len(units) - 3):
            found = self._chain(units, start)
            if found is None:
                continue
            level, row = found
            if start == 0 and 4 + level == len(units):
                return self.long_bits[level][row], True
            bits = self.long_bits[level][row]
            packed = bits if packed is None else packed & bits
        return packed, False

    def unpack(self, packed: np.ndarray) -> np.ndarray:
        return _unpack(packed, self.docs)

    def expand(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """(key per posting, local id) of grams a..b-1, sorted by key, ids ascending within a key."""
        offs = self.gram_off
        keys = self.gram_keys[a:b]
        dense = self.gram_dense[a:b]
        counts = np.diff(offs[a:b + 1].astype(np.int64))
        rows = [np.flatnonzero(_unpack(self.dense[d], self.docs)) for d in dense[dense >= 0].tolist()]
        if rows:
            counts = counts.copy()
            counts[dense >= 0] = [len(r) for r in rows]
        ids = np.empty(int(counts.sum()), dtype=np.int64)
        starts = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        sparse = dense < 0
        if sparse.any():
            mask = np.repeat(sparse, counts)
            ids[mask] = self.post_ids[int(offs[a]):int(offs[b])]
        for g, r in zip(np.flatnonzero(~sparse).tolist(), rows):
            ids[starts[g]:starts[g + 1]] = r
        return np.repeat(keys, counts), ids

    def post_id(self, i: int) -> str:
        a, b = int(self.id_off[i]), int(self.id_off[i + 1])
        return self.mm[self.id_base + a:self.id_base + b].decode("utf-8", "surrogatepass")

    def row(self, i: int) -> dict:
        a, b = int(self.row_off[i]), int(self.row_off[i + 1])
        return json.loads(zlib.decompress(self.mm[self.row_base + a:self.row_base + b]))

    def raw_row(self, i: int) -> bytes:
        a, b = int(self.row_off[i]), int(self.row_off[i + 1])
        return self.mm[self.row_base + a:self.row_base + b]

    def raw_text(self, i: int) -> bytes:
        a, b = int(self.text_off[i]), int(self.text_off[i + 1])
        return self.mm[self.text_base + a:self.text_base + b]

    def holding(self, cand: np.ndarray, word16: bytes) -> np.ndarray:
        """The candidates (local ids) whose folded text contains the word (UTF-16-LE bytes).
        Hot loop: one mmap.find per candidate, on the map itself (no copy)."""
        if not len(cand):
            return cand
        c = cand.astype(np.int64)
        starts = (self.text_off[c] + _U64(self.text_base)).tolist()
        ends = (self.text_off[c + 1] + _U64(self.text_base)).tolist()
        find = self.mm.find
        at = np.fromiter(map(find, repeat(word16, len(starts)), starts, ends), dtype=np.int64, count=len(starts))
        held = at >= 0
        for j in np.flatnonzero(held & (at & 1).astype(bool)).tolist():  # a match across two UTF-16 units
            pos = int(at[j])
            while pos >= 0 and pos & 1:
                pos = find(word16, pos + 1, ends[j])
            held[j] = pos >= 0
        return cand[held]

    def lookup(self, hashes: np.ndarray, ids: list[str]) -> list[tuple[int, int]]:
        """(index into `ids`, local id) of the given posts present in this segment."""
        table = self.id_hash
        if not len(table):
            return []
        at = np.searchsorted(table, hashes)
        at[at >= len(table)] = len(table) - 1
        out = []
        for j in np.flatnonzero(table[at] == hashes).tolist():
            k = int(at[j])
            while k < len(table) and table[k] == hashes[j]:
                local = int(self.id_perm[k])
                if self.post_id(local) == ids[j]:
                    out.append((j, local))
                    break
                k += 1
        return out


def read_deleted(path: Path, docs: int) -> np.ndarray:
    """The live mask of a segment from its deletion file."""
    live = np.ones(docs, dtype=bool)
    dead = np.fromfile(path, dtype=np.uint16)
    live[dead] = False
    return live


def read_manifest(root: Path) -> dict:
    try:
        return json.loads((Path(root) / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"generation": 0, "next_segment": 1, "next_seq": 0, "segments": []}


def _level(n: int) -> int:
    level = 0
    while n >= LEVEL_BASE * MERGE_FACTOR ** (level + 1):
        level += 1
    return level


# ---------------------------------------------------------------------------------------------- writer

@dataclass
class Found:
    """A post already stored (live)."""

    segment: int  # index into PostStore.segments
    local: int
    first_seen_us: int
    chash: int


class PostStore:
    """The writer's side: lookups by id, commits (one new segment + deletions + manifest), merges.
    Only the process holding the index writer lock may create one."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.manifest = read_manifest(self.root)
        self.segments: list[Segment] = []
        self.live: list[np.ndarray] = []
        self.dels: list[str | None] = []
        for entry in self.manifest["segments"]:
            seg = Segment(self.root / f"{entry['name']}.seg")
            self.segments.append(seg)
            self.dels.append(entry.get("del"))
            self.live.append(read_deleted(self.root / entry["del"], seg.docs) if entry.get("del")
                             else np.ones(seg.docs, dtype=bool))
        self._collect_garbage()

    def __len__(self) -> int:
        return int(sum(int(live.sum()) for live in self.live))

    # -- lookups
    def lookup(self, ids: list[str]) -> dict[str, Found]:
        """The live stored version of each of `ids` that exists."""
        if not ids or not self.segments:
            return {}
        hashes = np.fromiter((id_hash(i) for i in ids), dtype=_U64, count=len(ids))
        found: dict[str, Found] = {}
        for s, seg in enumerate(self.segments):
            live = self.live[s]
            for j, local in seg.lookup(hashes, ids):
                if live[local]:
                    found[ids[j]] = Found(s, local, int(seg.first_seen_us[local]), int(seg.chash[local]))
        return found

    # -- commits
    def commit(self, posts: list[NewPost], replaced: list[Found]) -> None:
        """Write `posts` (new or changed) and retire the stored versions `replaced`, atomically."""
        if not posts and not replaced:
            return
        dirty = set()
        for old in replaced:
            self.live[old.segment][old.local] = False
            dirty.add(old.segment)
        seq = self.manifest["next_seq"]
        for post in posts:
            post.seq = seq
            seq += 1
        self.manifest["next_seq"] = seq
        new = []
        for i in range(0, len(posts), MAX_DOCS):
            new.append(self._write_new(posts[i:i + MAX_DOCS]))
        self._publish(dirty, new, [])

    def _next_name(self) -> str:
        number = self.manifest["next_segment"]
        self.manifest["next_segment"] = number + 1
        return f"{number:08d}"

    def _write_new(self, posts: list[NewPost]) -> Segment:
        cols = Columns()
        texts = []
        for p in posts:
            cols.ids.append(p.id)
            cols.rows.append(zlib.compress(p.json, 1))
            cols.texts.append(p.text.encode("utf-16-le", "surrogatepass"))
            texts.append(searched(p.text))
            cols.date_sort.append(p.date_sort)
            cols.first_seen_us.append(p.first_seen_us)
            cols.seq.append(p.seq)
            cols.chash.append(p.chash)
            for cat in CATS:
                cols.cats[cat].append(str(p.row.get(cat) or ""))
        path = self.root / f"{self._next_name()}.seg"
        write_segment(path, cols, build_postings(texts))
        return Segment(path)

    def _publish(self, dirty: set[int], new: list[Segment], merged: list[int]) -> None:
        """Deletion files of `dirty` segments, then the manifest: `merged` segments leave, `new` join."""
        generation = self.manifest["generation"] + 1
        for s in sorted(dirty):
            if s in merged:
                continue
            seg = self.segments[s]
            dead = np.flatnonzero(~self.live[s]).astype(np.uint16)
            if len(dead) == seg.docs:
                merged = merged + [s]  # nothing live: the segment leaves
                continue
            name = f"{seg.name}.{generation:08d}.del"
            with open(self.root / name, "wb") as fh:
                fh.write(dead.tobytes())
                fh.flush()
                os.fsync(fh.fileno())
            self.dels[s] = name
        keep = [s for s in range(len(self.segments)) if s not in set(merged)]
        self.segments = [self.segments[s] for s in keep] + new
        self.live = [self.live[s] for s in keep] + [np.ones(seg.docs, dtype=bool) for seg in new]
        self.dels = [self.dels[s] for s in keep] + [None] * len(new)
        self.manifest["generation"] = generation
        self.manifest["segments"] = [
            {"name": seg.name, "docs": seg.docs, "deleted": int(seg.docs - live.sum()), "del": d}
            for seg, live, d in zip(self.segments, self.live, self.dels)]
        write_atomic(self.root / MANIFEST, json.dumps(self.manifest, ensure_ascii=False, indent=1).encode())
        self._collect_garbage()

    def _collect_garbage(self) -> None:
        """Delete files no manifest entry names (merged segments, old deletion files, a crash's leftovers)."""
        wanted = {MANIFEST}
        for entry in self.manifest["segments"]:
            wanted.add(f"{entry['name']}.seg")
            if entry.get("del"):
                wanted.add(entry["del"])
        for path in self.root.iterdir():
            if path.name not in wanted and not path.name.startswith("."):
                path.unlink(missing_ok=True)
            elif path.name.startswith(".") and path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)

    # -- merges
    def merge_candidates(self) -> list[int] | None:
        """Segments to merge now: MERGE_FACTOR of one level (smallest first), or one with many deletions."""
        by_level: dict[int, list[int]] = {}
        for s, (seg, live) in enumerate(zip(self.segments, self.live)):
            n = int(live.sum())
            if seg.docs >= MAX_DOCS // 2 and n > seg.docs * (1 - COMPACT_RATIO):
                continue  # full enough, and few deletions
            by_level.setdefault(_level(n), []).append(s)
        for level in sorted(by_level):
            members = sorted(by_level[level], key=lambda s: int(self.live[s].sum()))
            if len(members) >= MERGE_FACTOR or any(
                    self.segments[s].docs - int(self.live[s].sum()) > self.segments[s].docs * COMPACT_RATIO
                    for s in members):
                chosen, total = [], 0
                for s in members:
                    n = int(self.live[s].sum())
                    if total + n > MAX_DOCS:
                        break
                    chosen.append(s)
                    total += n
                if len(chosen) >= 2 or (chosen and self.segments[chosen[0]].docs > total):
                    return sorted(chosen)
        return None

    def maybe_merge(self, limit: int = 100) -> int:
        """Merge while a merge is due (at most `limit` merges); returns how many were done."""
        done = 0
        while done < limit:
            chosen = self.merge_candidates()
            if not chosen:
                break
            self.merge(chosen)
            done += 1
        return done

    def merge(self, chosen: list[int]) -> None:
        """Rewrite the live posts of the `chosen` segments as one segment (insertion order kept)."""
        cols = Columns()
        parts = []  # per source: (segment, remap old local -> new local or -1)
        base = 0
        for s in chosen:
            seg, live = self.segments[s], self.live[s]
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
        if all(seg.grams_fields == frozenset(range(SEARCHED_FIELDS)) for seg, _ in parts):
            postings = merge_postings(parts)
        else:  # an older segment's grams cover every field: grams of the searched part, anew
            postings = build_postings([searched(t.decode("utf-16-le", "surrogatepass")) for t in cols.texts])
        path = self.root / f"{self._next_name()}.seg"
        write_segment(path, cols, postings)
        self._publish(set(), [Segment(path)], list(chosen))
        logger.info("merged %d post segments into %s (%d posts)", len(chosen), path.name, len(cols))


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
        keys, ids = _merge_pairs(runs)
        if not len(keys):
            continue
        k, offs, local = _csr(keys, ids)
        out_keys.append(k)
        out_counts.append(np.diff(offs.astype(np.int64)))
        out_ids.append(local)
    if not out_keys:
        return np.zeros(0, dtype=_U64), np.zeros(1, dtype=np.uint32), np.zeros(0, dtype=np.uint16)
    counts = np.concatenate(out_counts)
    offs = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offs[1:])
    return np.concatenate(out_keys), offs.astype(np.uint32), np.concatenate(out_ids)
