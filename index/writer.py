"""The single index writer: items stream -> Whoosh (staff) and post segments, committed before acknowledged."""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import redis
from whoosh.writing import CLEAR

from index.post_store import NewPost, PostStore
from index.runs import handle_run_event, purge_retired
from index.state import LiveState
from index.store import POSTS, STAFF, Store
from index.text import POST_SEARCH_FIELDS, SEP, clean, fold

logger = logging.getLogger(__name__)

GROUP = "indexer"
RUN_EVENTS = ("run_end", "run_failed")
KST = timezone(timedelta(hours=9))  # a post date without a zone is Korean time
STAFF_TEXT = ("organization", "region", "org_kind", "url", "department", "team", "position", "name",
              "phone", "duties", "email")
POST_TEXT = ("organization", "region", "org_kind", "board_kind", "url", "title", "department", "author", "body")


@dataclass
class ConsumeStats:
    """What one consume() call did."""

    batches: int = 0
    read: int = 0
    staff: int = 0
    posts: int = 0
    runs: int = 0
    swapped: int = 0
    dropped: int = 0
    late: int = 0
    bad: int = 0
    acked: int = 0
    recovered: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ("" if value is None else str(value))


def ensure_group(client: redis.Redis, stream: str) -> None:
    """Create the consumer group (from the start of the stream) unless it exists."""
    try:
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _seq(entry_id: str) -> list[int]:
    ms, _, n = entry_id.partition("-")
    return [int(ms), int(n or 0)]


def staff_doc(item: dict, run_id: str, entry_id: str) -> dict:
    row = {name: clean(item.get(name)) for name in STAFF_TEXT}
    row.update(type="staff", id=str(item["id"]), site=str(item.get("site") or ""), run_id=run_id)
    return {"key": f"{run_id}:{row['id']}", "run_id": run_id, "seq": _seq(entry_id), "row": row}


def _parse_date(value) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=KST)


def post_doc(item: dict, run_id: str, first_seen_us: int) -> NewPost:
    """The stored row (first_seen included) and searchable text of a post item."""
    first_seen = datetime.fromtimestamp(first_seen_us / 1_000_000, timezone.utc)
    row = {name: clean(item.get(name)) for name in POST_TEXT}
    date = _parse_date(item.get("date"))
    row.update(type="post", id=str(item["id"]), site=str(item.get("site") or ""), run_id=run_id,
               post_id=clean(item.get("post_id")), date=date.isoformat() if date else None,
               attachments=[clean(a) for a in item.get("attachments") or [] if clean(a)],
               first_seen=first_seen.isoformat(timespec="seconds"))
    return NewPost(id=row["id"], row=row, text=SEP.join(fold(row[f]) for f in POST_SEARCH_FIELDS),
                   date_sort=int((date or first_seen).timestamp()), first_seen_us=first_seen_us)


class _Batch:
    """Applies stream entries: documents pend by unique key, committed before anything is acked."""

    def __init__(self, store: Store, posts: PostStore, state: LiveState, stats: ConsumeStats, *, client, prefix,
                 healthy_ratio, crash_before_commit: int):
        self.store, self.posts, self.state, self.stats = store, posts, state, stats
        self.client, self.prefix, self.healthy_ratio = client, prefix, healthy_ratio
        self.crash_before_commit = crash_before_commit
        self.staff: dict[str, dict] = {}  # unique key -> Whoosh document
        self.post_items: dict[str, tuple[dict, str]] = {}  # post id -> (item, run id), the last delivery
        self.now_us = int(datetime.now(timezone.utc).timestamp() * 1_000_000)
        self.committed_posts: list[dict] = []  # rows (with first_seen) of the posts this batch committed

    def commit(self) -> None:
        """Write the pending staff rows (the last version of each key: Whoosh would keep both copies
        of a key added twice in one writer) and posts, each store committed durably."""
        if not self.staff and not self.post_items:
            return
        if self.crash_before_commit and self.stats.batches + 1 >= int(self.crash_before_commit):
            logger.error("crash_before_commit: exiting without committing (test hook)")
            os._exit(1)
        if self.staff:
            ix = self.store.open(STAFF)
            with ix.reader() as reader:  # one lookup per key, cheaper than update_document's delete query
                present = [key for key in self.staff if ("key", key) in reader]
            writer = ix.writer()
            for key in present:
                writer.delete_by_term("key", key)
            for doc in self.staff.values():
                writer.add_document(**doc)
            writer.commit()
            self.staff.clear()
        if self.post_items:
            self._commit_posts()

    def _commit_posts(self) -> None:
        """New and changed posts go to a new segment; a re-delivered post keeps its first_seen, and
        an unchanged one (only its run id differs) is not written again."""
        stored = self.posts.lookup(list(self.post_items))
        new, replaced, rows = [], [], []
        for post_id, (item, run_id) in self.post_items.items():
            old = stored.get(post_id)
            doc = post_doc(item, run_id, old.first_seen_us if old else self.now_us)
            rows.append(doc.row)
            if old is not None:
                if old.chash == doc.chash:
                    continue
                replaced.append(old)
            new.append(doc)
        self.posts.commit(new, replaced)
        self.committed_posts += rows
        self.post_items.clear()

    def close(self) -> None:
        pass

    def apply(self, entry_id: str, fields: dict) -> None:
        kind = _text(fields.get(b"type") or fields.get("type"))
        try:
            item = json.loads(_text(fields.get(b"json") or fields.get("json")))
            if not isinstance(item, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            logger.warning("entry %s: bad JSON (%s), skipped", entry_id, exc)
            self.stats.bad += 1
            return
        kind = kind or str(item.get("type") or "")
        run_id = str(item.get("run_id") or _text(fields.get(b"run_id") or fields.get("run_id")))
        if kind in RUN_EVENTS:
            self.commit()  # the run's rows must be committed before the run is judged
            outcome = handle_run_event(self.store, self.state, {"type": kind, **item}, healthy_ratio=self.healthy_ratio,
                                       client=self.client, prefix=self.prefix)
            self.stats.runs += 1
            self.stats.swapped += outcome == "live"
            self.stats.dropped += outcome == "dropped"
            return
        if kind not in ("staff", "post") or not item.get("id"):
            logger.warning("entry %s: unknown type %r or no id, skipped", entry_id, kind)
            self.stats.bad += 1
            return
        if kind == "staff":
            if run_id in self.state.outcomes:  # the run was judged already: its snapshot is immutable
                self.stats.late += 1
                return
            doc = staff_doc(item, run_id, entry_id)
            self.staff[doc["key"]] = doc
            self.stats.staff += 1
        else:
            post_id = str(item["id"])
            self.post_items.pop(post_id, None)  # the last delivery, in its stream position
            self.post_items[post_id] = (item, run_id)
            self.stats.posts += 1


def migrate_whoosh_posts(store: Store, posts: PostStore) -> int:
    """Move posts indexed by an older version (in the Whoosh `posts` index) into the post segments,
    first_seen kept; then empty the Whoosh index. Idempotent: a crash midway is finished next start."""
    ix = store.open(POSTS)
    if not ix.doc_count():
        return 0
    moved = {}
    with ix.searcher() as searcher:
        for stored in searcher.all_stored_fields():
            row = stored.get("row")
            if isinstance(row, dict) and row.get("id"):
                moved[str(row["id"])] = (row, int(stored.get("first_seen_us") or 0))
    present = posts.lookup(list(moved))
    docs = []
    for post_id, (row, first_us) in moved.items():
        if post_id in present:
            continue
        first_seen = datetime.fromtimestamp(first_us / 1_000_000, timezone.utc)
        date = _parse_date(row.get("date"))
        docs.append(NewPost(id=post_id, row=row, text=SEP.join(fold(row.get(f) or "") for f in POST_SEARCH_FIELDS),
                            date_sort=int((date or first_seen).timestamp()), first_seen_us=first_us))
    posts.commit(docs, [])
    writer = ix.writer()
    writer.commit(mergetype=CLEAR)
    logger.info("moved %d posts from the Whoosh posts index into post segments", len(docs))
    return len(docs)


def _read(client: redis.Redis, stream: str, consumer: str, batch: int, block_ms: int | None, cursor: str | None):
    """(entries, next recovery cursor). Recovery claims every pending entry (the lock says no other
    writer lives) in stream order; then new entries are read."""
    if cursor is not None:
        reply = client.xautoclaim(stream, GROUP, consumer, min_idle_time=0, start_id=cursor, count=batch)
        next_cursor, entries = _text(reply[0]), reply[1]
        deleted = reply[2] if len(reply) > 2 else []
        if deleted:
            client.xack(stream, GROUP, *deleted)
        return entries, (None if next_cursor == "0-0" else next_cursor)
    reply = client.xreadgroup(GROUP, consumer, {stream: ">"}, count=batch, block=block_ms)
    return (reply[0][1] if reply else []), None


def _stopped(stop) -> bool:
    if stop is None:
        return False
    return stop.is_set() if hasattr(stop, "is_set") else bool(stop())


def consume(client: redis.Redis, prefix: str, index_dir: str | Path, *, batch: int = 500, block_ms: int = 1000,
            stop=None, once: bool = False, healthy_ratio: float = 0.5, consumer: str = "writer",
            lock_wait: float = 0.0, crash_before_commit: int = 0, on_commit=None) -> ConsumeStats:
    """Index the items stream until `stop` (an Event or a callable) is set, or, with `once`, until
    the stream is drained. Entries are acknowledged only after their documents are committed.
    Raises IndexerBusy when another writer holds the index (after waiting `lock_wait` seconds).
    `crash_before_commit` (tests only): os._exit(1) before the commit of that batch (True: the first).
    `on_commit(posts)` is called with the committed post rows (first_seen included) after each commit and
    before the acknowledgement, so a crash re-delivers them; it must be idempotent (the notifier is)."""
    started = time.monotonic()
    stream = f"{prefix}:items"
    stats = ConsumeStats()
    store = Store(index_dir)
    store.acquire_writer(wait=lock_wait)
    try:
        ensure_group(client, stream)
        state = LiveState.load(store.paths)
        purge_retired(store, state)  # finish a swap interrupted by a crash
        posts = PostStore(store.paths.posts)
        migrate_whoosh_posts(store, posts)
        cursor: str | None = "0-0"
        while not _stopped(stop):
            recovering = cursor is not None
            entries, cursor = _read(client, stream, consumer, batch, None if once else block_ms, cursor)
            if not entries:
                if recovering:
                    continue
                if once:
                    break
                continue
            job = _Batch(store, posts, state, stats, client=client, prefix=prefix, healthy_ratio=healthy_ratio,
                         crash_before_commit=crash_before_commit)
            ids = []
            try:
                for entry_id, fields in entries:
                    entry_id = _text(entry_id)
                    ids.append(entry_id)
                    if fields:
                        job.apply(entry_id, fields)
                job.commit()
            finally:
                job.close()
            if on_commit and job.committed_posts:
                on_commit(job.committed_posts)
            stats.acked += client.xack(stream, GROUP, *ids)
            posts.maybe_merge()
            stats.batches += 1
            stats.read += len(entries)
            if recovering:
                stats.recovered += len(entries)
    finally:
        store.release_writer()
    stats.seconds = round(time.monotonic() - started, 3)
    return stats
