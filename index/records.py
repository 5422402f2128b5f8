"""The post records: every post the index holds, in Whoosh (the store of record), one block per commit.

Each writer commit of posts adds one Whoosh document, a *block*, numbered in commit order and never
changed: for each post of the commit (new, or changed since its last version) its id, stored row (with
its first_seen and run id; the zlib-compressed JSON the post segments also store), first seen in
microseconds, insertion sequence and content hash. A post's record is its version in the newest block
that holds it. One document per commit rather than per post, because Whoosh's per-document cost
(about 0.25 ms: its id term and stored fields in Python) would halve the writer's throughput.

The post segments searchers read are derived from the records (index.segment, index.rebuild); their
manifest names the last block they reflect (`records_block`). The writer looks posts up in the
segments, which equal the records once every block is reflected; a block written just before a crash
(or a failed segment commit) is applied to the segments before the next commit (`unreflected`).
Only the single writer writes blocks.
"""
from __future__ import annotations

import json
import logging
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Iterator

from whoosh import index as whoosh_index

from index.segment import NewPost
from index.store import OLD_POST_RECORDS, POST_RECORDS, Store

logger = logging.getLogger(__name__)

_BLOCK = "{:012d}"


@dataclass(frozen=True)
class Record:
    """A post's newest version in the records."""

    row: dict
    first_seen_us: int
    seq: int
    chash: int


_HEAD = struct.Struct("<I")


def _pack(posts: list[NewPost]) -> bytes:
    """A block's bytes: the length of a JSON head (ids; first seen, sequence and content hash; the
    length of each row), the head, then each post's zlib-compressed JSON row (compressed once, for the
    segment and the record alike). Stored in an uncompressed Whoosh column: compressing the rows
    again would cost more than the rest of the commit."""
    rows = [p.packed for p in posts]
    head = json.dumps({"ids": [p.id for p in posts], "meta": [[p.first_seen_us, p.seq, p.chash] for p in posts],
                       "lens": [len(r) for r in rows]}, ensure_ascii=False, separators=(",", ":")).encode()
    return b"".join([_HEAD.pack(len(head)), head, *rows])


def _head(data: bytes) -> tuple[dict, int]:
    (size,) = _HEAD.unpack_from(data)
    return json.loads(data[_HEAD.size:_HEAD.size + size]), _HEAD.size + size


def _unpack(data: bytes) -> Iterator[tuple[str, Record]]:
    head, at = _head(data)
    for post_id, (first_seen_us, seq, chash), length in zip(head["ids"], head["meta"], head["lens"]):
        row = json.loads(zlib.decompress(data[at:at + length]))
        at += length
        yield post_id, Record(row, int(first_seen_us), int(seq), int(chash))


class PostRecords:
    def __init__(self, store: Store):
        self.store = store
        self.ix = store.open(POST_RECORDS)
        self._convert_old(store)
        self.last_block = self._newest_block()

    def _newest_block(self) -> int:
        with self.ix.reader() as reader:
            return max((int(t) for t in reader.lexicon("block")), default=0)

    def empty(self) -> bool:
        return self.last_block == 0

    def write(self, posts: list[NewPost]) -> int:
        """Add a block of `posts` (each new, or a newer version of a post) in one durable commit; returns
        its number (0: nothing written)."""
        if not posts:
            return 0
        number = self.last_block + 1
        writer = self.ix.writer()
        try:
            writer.add_document(block=_BLOCK.format(number), posts=_pack(posts))
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        self.store.sync(POST_RECORDS)
        self.last_block = number
        return number

    def _blocks(self, after: int) -> Iterator[tuple[int, bytes]]:
        with self.ix.searcher() as searcher:
            column = searcher.reader().column_reader("posts")
            numbered = sorted((int(searcher.stored_fields(docnum)["block"]), docnum)
                              for docnum in searcher.document_numbers())
            for number, docnum in numbered:
                if number > after:
                    yield number, column[docnum]

    def blocks(self, after: int = 0) -> Iterator[tuple[int, list[tuple[str, Record]]]]:
        """(number, its posts) of every block numbered above `after`, in order."""
        for number, data in self._blocks(after):
            yield number, list(_unpack(data))

    def latest(self, after: int = 0) -> dict[str, Record]:
        """The newest version of each post written in the blocks after `after`."""
        found: dict[str, Record] = {}
        for _, posts in self.blocks(after):
            found.update(posts)
        return found

    def scan(self) -> Iterator[Record]:
        """The record of every post (its newest version), block by block: two passes over the blocks
        (which block holds each post's newest version; then those versions), so memory stays one
        block's posts and one number per post."""
        newest: dict[str, int] = {}
        for number, data in self._blocks(0):
            for post_id in _head(data)[0]["ids"]:  # the ids only: the rows stay compressed
                newest[post_id] = number
        for number, posts in self.blocks():
            for post_id, record in posts:
                if newest.get(post_id) == number:
                    yield record

    def _convert_old(self, store: Store) -> None:
        """Records of the first format (a Whoosh document per post, index `post_records`) become blocks
        once; the old index is removed after the blocks are committed."""
        folder = str(store.paths.whoosh)
        if not whoosh_index.exists_in(folder, indexname=OLD_POST_RECORDS):
            return
        old = store.storage.open_index(OLD_POST_RECORDS)
        if not self._newest_block():  # not converted yet (a crash may have come before the old files went)
            posts = []
            with old.searcher() as searcher:
                for stored in searcher.all_stored_fields():
                    post = NewPost(id=stored["id"], row=stored["row"], text="", date_sort=0,
                                   first_seen_us=int(stored["first_seen_us"]), seq=int(stored["seq"]))
                    posts.append(post)
            posts.sort(key=lambda p: p.seq)
            writer = self.ix.writer()
            for n, start in enumerate(range(0, len(posts), 2000), 1):
                writer.add_document(block=_BLOCK.format(n), posts=_pack(posts[start:start + 2000]))
            writer.commit()
            store.sync(POST_RECORDS)
            logger.warning("post records of the first format converted: %d posts in %d blocks",
                           len(posts), -(-len(posts) // 2000))
        old.close()
        pattern = re.compile(rf"(_{OLD_POST_RECORDS}_\d+\.toc|{OLD_POST_RECORDS}_(\w+\.\w+|WRITELOCK))")
        for name in list(store.storage.list()):
            if pattern.fullmatch(name):
                store.storage.delete_file(name)
