"""Immutable per-site staff snapshots: a rows file and a gram-bitmap file, written once, loaded fast.

A snapshot is the live directory of one site. The writer cuts it from the Whoosh staff index when a
run is found healthy, then merges every live snapshot into the staff view (index.staff_view) that
searchers map and swap whole, so a search sees a site's old rows or its new rows, never a mix. The
view reads each site's rows from its snapshot rows file. Bitmaps are keyed three ways, all over the
folded text (`index.text`):

- `d`: the one-, two- and three-character grams of the department and team fields;
- `r`: the same for position, name, phone, duties and e-mail;
- `s`: the first one, two and three characters at each word start (field start, after a space,
  after punctuation): a query word stands alone in a row when the row has it at a word start.
"""
from __future__ import annotations

import json
import logging
import mmap
import os
import struct
from array import array
from collections import defaultdict
from pathlib import Path

from pyroaring import BitMap

from conf.files import write_atomic
from index.text import STAFF_DEPARTMENT_FIELDS, STAFF_SEARCH_FIELDS, SEP, fold_fields, grams

logger = logging.getLogger(__name__)

MAGIC = b"NUGOIDX1\n"
_LEN = struct.Struct("<Q")


def _department_end(folded: str) -> int:
    at = -1
    for _ in range(STAFF_DEPARTMENT_FIELDS):
        at = folded.find(SEP, at + 1)
    return at


def _word_starts(folded: str, starts: str) -> list[int]:
    out = [0]
    for p in range(1, len(folded)):
        before = folded[p - 1]
        if before == SEP or not before.isalnum():
            if folded[p] != SEP:
                out.append(p)
    out.extend(ord(c) for c in starts)
    return out


def _encode_grams(postings: dict[str, array]) -> bytes:
    keys, blobs = [], []
    for gram, ids in postings.items():
        blob = BitMap(ids).serialize()
        keys.append([gram, len(blob)])
        blobs.append(blob)
    head = json.dumps(keys, ensure_ascii=False).encode("utf-8")
    return _LEN.pack(len(head)) + head + b"".join(blobs)


def _decode_grams(data: memoryview) -> dict[str, BitMap]:
    (size,) = _LEN.unpack(data[:8])
    keys = json.loads(bytes(data[8:8 + size]))
    out, pos = {}, 8 + size
    for gram, length in keys:
        out[gram] = BitMap.deserialize(bytes(data[pos:pos + length]))
        pos += length
    return out


def build_index(rows: list[dict], offsets: array) -> bytes:
    """The gram-bitmap file of a snapshot whose rows are `rows` (at byte `offsets` of the rows file)."""
    dpost: dict[str, array] = defaultdict(lambda: array("I"))
    rpost: dict[str, array] = defaultdict(lambda: array("I"))
    spost: dict[str, array] = defaultdict(lambda: array("I"))
    texts, starts_all = [], []
    text_lens, start_lens, dept_ends = array("I"), array("I"), array("I")
    for i, row in enumerate(rows):
        folded, starts = fold_fields(row.get(f) or "" for f in STAFF_SEARCH_FIELDS)
        d = _department_end(folded)
        texts.append(folded)
        starts_all.append(starts)
        text_lens.append(len(folded))
        start_lens.append(len(starts))
        dept_ends.append(d)
        for post, part in ((dpost, folded[:d]), (rpost, folded[d + 1:])):
            keys = set()
            for field in part.split(SEP):
                keys |= grams(field)
            for gram in keys:
                post[gram].append(i)
        heads = set()
        for p in _word_starts(folded, starts):
            head = folded[p:p + 3].split(SEP, 1)[0]
            heads.update((head[:1], head[:2], head))
        heads.discard("")
        for head in heads:
            spost[head].append(i)
    blocks = [
        ("texts", "".join(texts).encode("utf-8")),
        ("text_lens", text_lens.tobytes()),
        ("starts", "".join(starts_all).encode("utf-8", "surrogatepass")),
        ("start_lens", start_lens.tobytes()),
        ("dept_ends", dept_ends.tobytes()),
        ("offsets", offsets.tobytes()),
        ("d", _encode_grams(dpost)), ("r", _encode_grams(rpost)), ("s", _encode_grams(spost)),
    ]
    table, pos = [], 0
    for name, blob in blocks:
        table.append([name, pos, len(blob)])
        pos += len(blob)
    head = json.dumps({"rows": len(rows), "blocks": table}).encode("utf-8") + b"\n"
    return MAGIC + head + b"".join(blob for _, blob in blocks)


def write_snapshot(rows_path: Path, index_path: Path, rows: list[dict]) -> None:
    """Write the rows (one JSON object per line, in crawl order) and their gram bitmaps."""
    lines = [(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8") for row in rows]
    offsets = array("Q", [0])
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    write_atomic(rows_path, b"".join(lines))
    write_atomic(index_path, build_index(rows, offsets))


def _split(text: str, lens: array) -> list[str]:
    out, pos = [], 0
    for n in lens:
        out.append(text[pos:pos + n])
        pos += n
    return out


class SitePart:
    """One loaded snapshot: its rows (memory-mapped) and its search data, which the staff view merges."""

    def __init__(self, rows_path: Path, index_path: Path, meta: dict):
        self.site = meta.get("site", "")
        self.run_id = meta.get("run_id", "")
        self.organization = meta.get("organization", "")
        self.region = meta.get("region", "")
        self.org_kind = meta.get("org_kind", "")
        self.paths = (Path(rows_path), Path(index_path))
        with open(rows_path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            self._rows = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        data = Path(index_path).read_bytes()
        if not data.startswith(MAGIC):
            raise ValueError(f"{index_path}: not a snapshot index")
        head_end = data.index(b"\n", len(MAGIC)) + 1
        head = json.loads(data[len(MAGIC):head_end])
        view = memoryview(data)[head_end:]
        blocks = {name: view[pos:pos + n] for name, pos, n in head["blocks"]}

        def ints(name, code="I"):
            out = array(code)
            out.frombytes(bytes(blocks[name]))
            return out

        self.texts = _split(bytes(blocks["texts"]).decode("utf-8"), ints("text_lens"))
        self.starts = _split(bytes(blocks["starts"]).decode("utf-8", "surrogatepass"), ints("start_lens"))
        self.dept_ends = ints("dept_ends")
        self.offsets = ints("offsets", "Q")
        self.size = len(self.texts)
        self._raw_grams = {kind: blocks[kind] for kind in ("d", "r", "s")}

    def __len__(self) -> int:
        return self.size

    def row(self, i: int) -> dict:
        return json.loads(self._rows[self.offsets[i]:self.offsets[i + 1]])

    def grams(self, kind: str) -> dict[str, BitMap]:
        """The gram bitmaps of one kind (d, r, s), decoded now: a view merges and drops them."""
        return _decode_grams(self._raw_grams[kind])

    def close(self) -> None:
        if isinstance(self._rows, mmap.mmap):
            self._rows.close()
