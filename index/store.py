"""On-disk layout, Whoosh schemas and the single-writer lock of the index directory.

    index_dir/
      whoosh/            the store of record, one Whoosh storage written only by the single writer:
                         `staff` (every row of every run not yet retired, keyed run:id, with its
                         stream position), `post_blocks` (every post: one block per writer commit
                         of the posts it added or changed, each with its id, stored row, run id,
                         first seen, insertion sequence, content hash; index.records), and the
                         `indexer.lock` file the writer holds
      staff/live.json    state: per site the live run, its snapshot, row count, flags, last runs
      staff/snapshots/   cache: per site, immutable rows + gram-bitmap files of live runs (index.snapshot)
      staff/views/       cache: every live snapshot merged into one file searchers map (index.staff_view)
      posts/             cache: post segments and their manifest (index.post_store)

Searchers read only the caches, which are derived from Whoosh: `nugo index --rebuild` (index.rebuild)
writes them anew from the records, and the writer does so by itself at start when one is missing
or of an older format. Staff rows are bulk-replaced per run and searched from snapshots; posts
arrive one by one, are replaced by id and are searched from append-only segments.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.columns import VarBytesColumn
from whoosh.fields import COLUMN, ID, STORED, Schema
from whoosh.filedb.filestore import FileStorage

from conf.keys import check_site
from conf.files import inside

logger = logging.getLogger(__name__)

STAFF = "staff"
POST_RECORDS = "post_blocks"
OLD_POST_RECORDS = "post_records"  # the first format, a document per post: converted by index.records
LOCK_NAME = "indexer.lock"


class IndexerBusy(RuntimeError):
    """Another process holds the index writer lock."""


def staff_schema() -> Schema:
    # Only two indexed fields: a term per document costs most of Whoosh's write time.
    return Schema(key=ID(unique=True), run_id=ID(stored=True), seq=STORED, row=STORED)


def post_records_schema() -> Schema:
    # a block of posts per writer commit (index.records): its number, and the posts' records
    return Schema(block=ID(unique=True, stored=True), posts=COLUMN(VarBytesColumn()))


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
    def views(self) -> Path:
        return self.staff / "views"

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
            for name, schema in ((STAFF, staff_schema()), (POST_RECORDS, post_records_schema())):
                if not whoosh_index.exists_in(str(self.paths.whoosh), indexname=name):
                    self.storage.create_index(schema, indexname=name)

    def open(self, name: str):
        return self.storage.open_index(indexname=name)

    def sync(self, name: str) -> None:
        """Make the last commit of the Whoosh index `name` durable: Whoosh writes its files without fsync,
        and the writer acknowledges stream entries after a commit (a power cut must not lose acked rows)."""
        folder = self.paths.whoosh
        for entry in os.scandir(folder):
            if entry.is_file() and (entry.name.startswith(f"{name}_") or entry.name.startswith(f"_{name}_")) \
                    and not entry.name.endswith("WRITELOCK"):
                fd = os.open(entry.path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

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
