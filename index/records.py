"""The post records: every post the index holds, in Whoosh, keyed by id (the store of record).

A record is the stored row (with its first_seen), the run that delivered it, first seen in
microseconds, the insertion sequence and the content hash. The post segments searchers read are
derived from the records (index.segment, index.rebuild); only the single writer writes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from index.segment import NewPost
from index.store import POST_RECORDS, Store


@dataclass(frozen=True)
class Record:
    """What the writer needs to know of a stored post."""

    first_seen_us: int
    seq: int
    chash: int


class PostRecords:
    def __init__(self, store: Store):
        self.ix = store.open(POST_RECORDS)

    def __len__(self) -> int:
        return self.ix.doc_count()

    def lookup(self, ids: list[str]) -> dict[str, Record]:
        """The record of each of `ids` that exists."""
        found: dict[str, Record] = {}
        if not ids:
            return found
        with self.ix.searcher() as searcher:
            for post_id in ids:
                docnum = searcher.document_number(id=post_id)
                if docnum is not None:
                    stored = searcher.stored_fields(docnum)
                    found[post_id] = Record(int(stored["first_seen_us"]), int(stored["seq"]), int(stored["chash"]))
        return found

    def write(self, posts: list[NewPost], replaced: set[str]) -> None:
        """Add the records of `posts` (their stored versions `replaced` by id go) in one durable commit."""
        if not posts:
            return
        writer = self.ix.writer()
        try:
            for post_id in replaced:
                writer.delete_by_term("id", post_id)
            for post in posts:
                writer.add_document(id=post.id, run_id=post.row.get("run_id") or "", first_seen_us=post.first_seen_us,
                                    seq=post.seq, chash=post.chash, row=post.row)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

    def scan(self) -> Iterator[tuple[dict, int, int]]:
        """(row, first_seen_us, seq) of every record, in Whoosh's order."""
        with self.ix.searcher() as searcher:
            for stored in searcher.all_stored_fields():
                yield stored["row"], int(stored["first_seen_us"]), int(stored["seq"])
