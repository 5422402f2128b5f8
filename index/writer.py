"""The single index writer: items stream -> Whoosh, committed before acknowledged."""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import redis

from index.runs import handle_run_event, purge_retired
from index.state import LiveState
from index.store import POSTS, STAFF, Store
from index.text import POST_SEARCH_FIELDS, SEP, clean

logger = logging.getLogger(__name__)

GROUP = "indexer"
RUN_EVENTS = ("run_end", "run_failed")
UNIQUE = {STAFF: "key", POSTS: "id"}  # the field a document is replaced by
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


def post_doc(item: dict, run_id: str, first_seen: datetime) -> dict:
    row = {name: clean(item.get(name)) for name in POST_TEXT}
    date = _parse_date(item.get("date"))
    row.update(type="post", id=str(item["id"]), site=str(item.get("site") or ""), run_id=run_id,
               post_id=clean(item.get("post_id")), date=date.isoformat() if date else None,
               attachments=[clean(a) for a in item.get("attachments") or [] if clean(a)],
               first_seen=first_seen.isoformat(timespec="seconds"))
    first_us = int(first_seen.timestamp() * 1_000_000)
    return {
        "id": row["id"], "site": row["site"], "region": row["region"], "board_kind": row["board_kind"],
        "org_kind": row["org_kind"], "run_id": run_id,
        "date_sort": int((date or first_seen).timestamp()), "first_seen_us": first_us,
        "grams": SEP.join(row[f] for f in POST_SEARCH_FIELDS), "chars": SEP.join(row[f] for f in POST_SEARCH_FIELDS),
        "row": row,
    }


class _Batch:
    """Applies stream entries: documents pend by unique key, committed before anything is acked."""

    def __init__(self, store: Store, state: LiveState, stats: ConsumeStats, *, client, prefix, healthy_ratio,
                 crash_before_commit: int):
        self.store, self.state, self.stats = store, state, stats
        self.client, self.prefix, self.healthy_ratio = client, prefix, healthy_ratio
        self.crash_before_commit = crash_before_commit
        self.pending: dict[str, dict[str, dict]] = {STAFF: {}, POSTS: {}}  # index -> unique key -> document
        self.first_seen: dict[str, datetime] = {}
        self.now = datetime.now(timezone.utc)
        self.posts_searcher = None
        self.committed_posts: list[dict] = []  # rows (with first_seen) of the posts this batch committed

    def _first_seen(self, post_id: str) -> datetime:
        if post_id in self.first_seen:
            return self.first_seen[post_id]
        if self.posts_searcher is None:
            self.posts_searcher = self.store.open(POSTS).searcher()
        stored = self.posts_searcher.document(id=post_id)
        seen = self.now
        if stored and stored.get("first_seen_us"):
            seen = datetime.fromtimestamp(stored["first_seen_us"] / 1_000_000, timezone.utc)
        self.first_seen[post_id] = seen
        return seen

    def commit(self) -> None:
        """Write the pending documents (the last version of each key: Whoosh would keep both copies
        of a key added twice in one writer) and commit each index."""
        if not any(self.pending.values()):
            return
        if self.crash_before_commit and self.stats.batches + 1 >= int(self.crash_before_commit):
            logger.error("crash_before_commit: exiting without committing (test hook)")
            os._exit(1)
        self.close()
        for name, docs in self.pending.items():
            if not docs:
                continue
            ix = self.store.open(name)
            unique = UNIQUE[name]
            with ix.reader() as reader:  # one lookup per key, cheaper than update_document's delete query
                present = [key for key in docs if (unique, key) in reader]
            writer = ix.writer()
            for key in present:
                writer.delete_by_term(unique, key)
            for doc in docs.values():
                writer.add_document(**doc)
            writer.commit()
            if name == POSTS:
                self.committed_posts += [doc["row"] for doc in docs.values()]
            docs.clear()

    def close(self) -> None:
        if self.posts_searcher is not None:
            self.posts_searcher.close()
            self.posts_searcher = None

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
            self.pending[STAFF][doc["key"]] = doc
            self.stats.staff += 1
        else:
            post_id = str(item["id"])
            self.pending[POSTS][post_id] = post_doc(item, run_id, self._first_seen(post_id))
            self.stats.posts += 1


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
            job = _Batch(store, state, stats, client=client, prefix=prefix, healthy_ratio=healthy_ratio,
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
            stats.batches += 1
            stats.read += len(entries)
            if recovering:
                stats.recovered += len(entries)
    finally:
        store.release_writer()
    stats.seconds = round(time.monotonic() - started, 3)
    return stats
