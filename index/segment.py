"""The post segment file format: up to 65,536 posts, written once, mapped read-only by every reader.

A segment file holds, for its posts (local ids 0..n-1): the stored rows (JSON, zlib per row), the
folded searchable text (title, body, department and extra fields joined by SEP, UTF-16-LE, for the
exact substring check), per-post numbers (date, first seen, insertion sequence, content hash,
site/region/board kind codes), the ids with a sorted hash table (the writer finds the segment and
local id of a post it replaces), and the postings of index.postings. A segment is a cache: the
post records in Whoosh (index.records) are the data, and `nugo index --rebuild` writes segments anew.
"""
from __future__ import annotations

import hashlib
import json
import mmap
import os
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from itertools import repeat
from pathlib import Path

import numpy as np

from index import blockfile
from index.post_fields import field_starts
from index.postings import SEARCHED_FIELDS, unpack_bits, dense_grams, intersect, searched16

MAGIC = b"NUGOPST1\n"
MAX_DOCS = 65536  # local ids fit uint16
LONG_MIN_DOCS = 32768  # segments this large also keep bitsets of their common 4..LONG_GRAM-unit grams
CATS = ("site", "region", "board_kind")
_U64 = np.uint64
_EMPTY = np.zeros(0, dtype=np.uint16)


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

    @cached_property
    def packed(self) -> bytes:
        """The stored row as a segment and a post record keep it (zlib of the JSON), made once for both."""
        return zlib.compress(self.json, 1)


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
    text_off = blockfile.offsets(cols.texts)
    starts_of_fields = field_starts(np.frombuffer(texts, dtype="<u2"), text_off)
    if n >= LONG_MIN_DOCS:
        covered = [searched16(t) for t in cols.texts]
        long_grams = dense_grams(b"".join(covered), blockfile.offsets(covered), n)
    else:
        long_grams = []
    blocks: list[tuple[str, np.ndarray | bytes]] = [
        ("date_sort", np.asarray(cols.date_sort, dtype=np.int64)),
        ("first_seen_us", np.asarray(cols.first_seen_us, dtype=np.int64)),
        ("seq", np.asarray(cols.seq, dtype=np.int64)),
        ("chash", np.asarray(cols.chash, dtype=_U64)),
        *((f"cat_{c}", cat_codes[c]) for c in CATS),
        ("id_off", blockfile.offsets(ids_b)), ("ids", b"".join(ids_b)),
        ("id_hash", hashes[order]), ("id_perm", order.astype(np.uint32)),
        ("text_off", text_off), ("texts", texts), ("field_starts", starts_of_fields.reshape(-1)),
        ("row_off", blockfile.offsets(cols.rows)), ("rows", b"".join(cols.rows)),
        ("gram_keys", keys.astype(_U64)), ("gram_off", offs.astype(np.uint32)), ("gram_dense", gram_dense),
        ("post_ids", ids.astype(np.uint16)), ("dense", dense.reshape(-1)),
        *((f"long{4 + i}_keys", keys_) for i, (keys_, _) in enumerate(long_grams)),
        *((f"long{4 + i}_bits", bits_.reshape(-1)) for i, (_, bits_) in enumerate(long_grams)),
    ]
    head = {"docs": n, "cats": cat_values, "long": len(long_grams), "grams_fields": SEARCHED_FIELDS}
    with open(path, "wb") as fh:
        for piece in blockfile.encode(MAGIC, head, blocks):
            fh.write(piece)
        fh.flush()
        os.fsync(fh.fileno())


class StaleSegment(ValueError):
    """A segment file of another format version (or not a segment): the posts are rebuilt from their records."""


class Segment:
    """A segment file mapped read-only; arrays are views of the map (shared by every process)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.name = self.path.stem
        with open(self.path, "rb") as fh:
            self.mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        found = blockfile.read(self.mm, MAGIC)
        if found is None:
            raise StaleSegment(f"{path}: not a post segment of this version")
        head, arrays, self._base = found
        if head.get("grams_fields") != SEARCHED_FIELDS:  # written before field scopes: grams of every field
            raise StaleSegment(f"{path}: a post segment of an older version (rebuild: nugo index --rebuild)")
        self.docs: int = head["docs"]
        self.grams_fields = frozenset(range(SEARCHED_FIELDS))  # the fields (title, body) its grams cover
        self.cats: dict[str, list[str]] = head["cats"]
        self.cat_index = {c: {v: k for k, v in enumerate(vals)} for c, vals in self.cats.items()}
        for name, array in arrays.items():
            setattr(self, name, array)
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
            return np.flatnonzero(unpack_bits(packed, self.docs)).astype(np.uint16)
        ids = intersect(sparse)
        return ids[unpack_bits(packed, self.docs)[ids]] if packed is not None and len(ids) else ids

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
        return unpack_bits(packed, self.docs)

    def expand(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """(key per posting, local id) of grams a..b-1, sorted by key, ids ascending within a key."""
        offs = self.gram_off
        keys = self.gram_keys[a:b]
        dense = self.gram_dense[a:b]
        counts = np.diff(offs[a:b + 1].astype(np.int64))
        rows = [np.flatnonzero(unpack_bits(self.dense[d], self.docs)) for d in dense[dense >= 0].tolist()]
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
        return cand[self.find_each(word16, starts, ends)]

    def find_each(self, word16: bytes, starts: list[int], ends: list[int]) -> np.ndarray:
        """Per byte range of the map: does it hold the UTF-16-LE word at a character boundary (an even offset)?"""
        find = self.mm.find
        at = np.fromiter(map(find, repeat(word16, len(starts)), starts, ends), dtype=np.int64, count=len(starts))
        held = at >= 0
        for j in np.flatnonzero(held & (at & 1).astype(bool)).tolist():  # a match across two UTF-16 units
            pos = int(at[j])
            while pos >= 0 and pos & 1:
                pos = find(word16, pos + 1, ends[j])
            held[j] = pos >= 0
        return held

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


