"""On-disk layout, Whoosh schemas and the single-writer lock of the index directory.

    index_dir/
      whoosh/            one Whoosh storage: the `staff` index (every row of every run not yet
                         retired, keyed run:id), the `posts` index (kept empty: its presence tells
                         searchers the index exists; posts of an older version are moved out of it
                         by the writer), and the `indexer.lock` file the single writer holds
      staff/live.json    live runs map: per site the live run, its snapshot, row count, flags
      staff/snapshots/   per site, immutable rows + gram-bitmap files of live runs (index.snapshot)
      posts/             post segments and their manifest (index.post_store)

Staff rows are bulk-replaced per run and searched from snapshots; posts arrive one by one, are
replaced by id and are searched from append-only segments; their sizes and commit rhythms differ,
and a staff swap never rewrites post segments.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.analysis import Token, Tokenizer
from whoosh.fields import ID, NUMERIC, STORED, TEXT, Schema
from whoosh.filedb.filestore import FileStorage

from conf.keys import check_site
from conf.paths import inside
from index.text import SEP, fold

logger = logging.getLogger(__name__)

STAFF = "staff"
POSTS = "posts"
LOCK_NAME = "indexer.lock"


class IndexerBusy(RuntimeError):
    """Another process holds the index writer lock."""


class GramTokenizer(Tokenizer):
    """Folded text as overlapping grams of `size` characters; fields (split by SEP) never share a gram.

    size 2: every bigram with its position (a longer word is a phrase of its bigrams);
    size 1: the distinct characters (one-character words).
    """

    def __init__(self, size: int = 2):
        self.size = size

    def __eq__(self, other):
        return other is not None and self.__class__ is other.__class__ and self.size == other.size

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        pos = start_pos
        seen: set[str] = set()
        for part in value.split(SEP):
            folded = fold(part)
            if self.size == 1:
                grams = [c for c in folded if c not in seen]
                seen.update(grams)
            else:
                grams = [folded[i:i + self.size] for i in range(len(folded) - self.size + 1)]
            for gram in grams:
                token.text = gram
                token.boost = 1.0
                token.stopped = False
                if positions:
                    token.pos = pos
                if chars:
                    token.startchar = token.endchar = start_char
                pos += 1
                yield token
            pos += self.size + 1  # a gap: no phrase spans two fields


def staff_schema() -> Schema:
    # Only two indexed fields: a term per document costs most of Whoosh's write time.
    return Schema(key=ID(unique=True), run_id=ID(stored=True), seq=STORED, row=STORED)


def posts_schema() -> Schema:
    return Schema(
        id=ID(unique=True, stored=True), site=ID(stored=True), region=ID(stored=True),
        board_kind=ID(stored=True), org_kind=ID(stored=True), run_id=ID(stored=True),
        date_sort=NUMERIC(bits=64, sortable=True), first_seen_us=NUMERIC(bits=64, stored=True, sortable=True),
        grams=TEXT(analyzer=GramTokenizer(2), phrase=True), chars=TEXT(analyzer=GramTokenizer(1), phrase=False),
        row=STORED,
    )


@dataclass
class IndexPaths:
    root: Path

    @property
    def whoosh(self) -> Path:
        return self.root / "whoosh"

    @property
    def staff(self) -> Path:
        return self.root / "staff"

    @property
    def live(self) -> Path:
        return self.staff / "live.json"

    @property
    def snapshots(self) -> Path:
        return self.staff / "snapshots"

    @property
    def posts(self) -> Path:
        return self.root / "posts"

    def site_snapshots(self, site: str) -> Path:
        """The snapshot folder of a site; the id must be a slug and the folder stays under snapshots/."""
        return inside(self.snapshots, check_site(site))


class Store:
    """The Whoosh storage of an index directory, both indexes created on first use."""

    def __init__(self, index_dir: str | Path, create: bool = True):
        self.paths = IndexPaths(Path(index_dir))
        if create:
            self.paths.whoosh.mkdir(parents=True, exist_ok=True)
            self.paths.snapshots.mkdir(parents=True, exist_ok=True)
        self.storage = FileStorage(str(self.paths.whoosh))
        self._lock = None
        if create:
            for name, schema in ((STAFF, staff_schema()), (POSTS, posts_schema())):
                if not whoosh_index.exists_in(str(self.paths.whoosh), indexname=name):
                    self.storage.create_index(schema, indexname=name)

    def open(self, name: str):
        return self.storage.open_index(indexname=name)

    def acquire_writer(self, wait: float = 0.0) -> None:
        """Take the single-writer lock, waiting up to `wait` seconds, or raise IndexerBusy."""
        lock = self.storage.lock(LOCK_NAME)
        deadline = time.monotonic() + wait
        while not lock.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise IndexerBusy(f"another indexer is writing {self.paths.root} "
                                  f"(lock {self.paths.whoosh / LOCK_NAME}); only one writer may run")
            time.sleep(0.1)
        self._lock = lock

    def release_writer(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
