"""The file layout the post segments and the staff view share: a magic line, a JSON header, aligned blocks.

    MAGIC, then the header as one JSON line (it holds "blocks": {name: [dtype or "bytes", position, size]}),
    then each block, 8-byte aligned, positions counted from the end of the padded header.

Readers map the file and take numpy arrays as views of the map (no copy, shared by every process through
the page cache); a `bytes` block is given by its absolute offset in the map.
"""
from __future__ import annotations

import json
import mmap
from collections.abc import Iterator

import numpy as np

Block = tuple[str, "np.ndarray | bytes"]


def _pad(n: int) -> int:
    return (-n) % 8


def offsets(blobs: list[bytes]) -> np.ndarray:
    """Offsets (uint64, len + 1) of the blobs laid end to end."""
    out = np.zeros(len(blobs) + 1, dtype=np.uint64)
    np.cumsum(np.fromiter(map(len, blobs), dtype=np.uint64, count=len(blobs)), out=out[1:])
    return out


def encode(magic: bytes, head: dict, blocks: list[Block]) -> Iterator[bytes]:
    """The file's bytes, piece by piece: the magic, `head` with the block table added, the blocks."""
    table, pos = {}, 0
    for name, data in blocks:
        size = data.nbytes if isinstance(data, np.ndarray) else len(data)
        table[name] = [data.dtype.str if isinstance(data, np.ndarray) else "bytes", pos, size]
        pos += size + _pad(size)
    line = magic + json.dumps({**head, "blocks": table}, ensure_ascii=False).encode("utf-8") + b"\n"
    yield line + b"\0" * _pad(len(line))
    for _, data in blocks:
        raw = data.tobytes() if isinstance(data, np.ndarray) else data
        yield raw
        yield b"\0" * _pad(len(raw))


def read(mm: mmap.mmap, magic: bytes) -> tuple[dict, dict[str, np.ndarray], dict[str, int]] | None:
    """(header, arrays by name, absolute offsets of the bytes blocks) of a mapped file; None when it does
    not start with `magic` and a header line."""
    end = mm.find(b"\n", len(magic))
    if mm[:len(magic)] != magic or end < 0:
        return None
    head = json.loads(mm[len(magic):end])
    data = end + 1 + _pad(end + 1)
    arrays, bases = {}, {}
    for name, (dtype, pos, size) in head["blocks"].items():
        if dtype == "bytes":
            bases[name] = data + pos
        else:
            dt = np.dtype(dtype)
            arrays[name] = np.frombuffer(mm, dtype=dt, count=size // dt.itemsize, offset=data + pos)
    return head, arrays, bases
